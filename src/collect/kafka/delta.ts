// The message format a shipping collector (`collect --to-kafka`) publishes and analyzers consume: a
// fragment of a GraphDelta (no checkpoints) as one JSON object. One fragment per edge, keyed by the edge,
// so every delta of one edge lands on one partition and is counted by exactly one analyzer; the fragment
// carries the sightings of both ends so that the analyzer can store the edge on its own. Pods travel
// with their workload, and peers seen without any edge (replies only) travel alone.
//
//   {"flowwright":"graph-delta","version":1,"peers":[PeerSighting...],"pods":[PodRecord...],"edges":[EdgeDelta...]}
import {
  checkLabels,
  checkName,
  checkPeerNames,
  type EdgeDelta,
  edgeKey,
  FlowwrightError,
  type GraphDelta,
  type Peer,
  type PeerSighting,
  type PodRecord,
} from '../../model/index.js';

export const DELTA_KIND = 'graph-delta';
export const DELTA_VERSION = 1;

/** A GraphDelta without checkpoints: what one message carries. */
export type DeltaFragment = Omit<GraphDelta, 'checkpoints'>;

export interface KeyedFragment {
  key: string;
  fragment: DeltaFragment;
}

/** Whether a parsed JSON record is a shipped delta (as opposed to a Hubble or Calico flow record). */
export function isDeltaRecord(record: unknown): boolean {
  return (
    typeof record === 'object' && record !== null && (record as { flowwright?: unknown }).flowwright === DELTA_KIND
  );
}

/**
 * Splits one flush of an aggregator into keyed fragments: one per edge (with its two peers), one per pod
 * (with its workload), one per peer that appears in neither. Replaying all fragments in any order gives
 * the same counts as applying the delta itself.
 */
export function splitDelta(delta: GraphDelta): KeyedFragment[] {
  const peers = new Map<string, PeerSighting>();
  for (const p of delta.peers) peers.set(p.key, p);
  const used = new Set<string>();
  const pick = (key: string): PeerSighting[] => {
    const p = peers.get(key);
    if (!p) return [];
    used.add(key);
    return [p];
  };
  const out: KeyedFragment[] = [];
  for (const e of delta.edges) {
    const ends = e.src === e.dst ? pick(e.src) : [...pick(e.src), ...pick(e.dst)];
    out.push({ key: edgeKey(e), fragment: { peers: ends, pods: [], edges: [e] } });
  }
  for (const pod of delta.pods)
    out.push({
      key: `pod:${pod.namespace}/${pod.name}`,
      fragment: { peers: pick(pod.workload), pods: [pod], edges: [] },
    });
  for (const p of delta.peers)
    if (!used.has(p.key)) out.push({ key: `peer:${p.key}`, fragment: { peers: [p], pods: [], edges: [] } });
  return out;
}

export function encodeFragment(fragment: DeltaFragment): string {
  return JSON.stringify({ flowwright: DELTA_KIND, version: DELTA_VERSION, ...fragment });
}

/** Appends the fragments' parts to `into` (peers first, as the store needs them before pods and edges). */
export function mergeFragment(into: DeltaFragment, fragment: DeltaFragment): void {
  for (const p of fragment.peers) into.peers.push(p);
  for (const p of fragment.pods) into.pods.push(p);
  for (const e of fragment.edges) into.edges.push(e);
}

/**
 * Checks a parsed delta record field by field (it comes from the network and goes into the store's
 * counters) and returns it as a fragment. Throws FlowwrightError('input') naming the field.
 */
export function parseDeltaRecord(record: unknown): DeltaFragment {
  const r = record as Record<string, unknown>;
  if (r.version !== DELTA_VERSION)
    throw new FlowwrightError('input', `unsupported graph-delta version ${JSON.stringify(r.version)}`, {
      field: 'version',
    });
  const peers = list(r.peers, 'peers').map((p, i) => checkPeer(p, `peers[${i}]`));
  const pods = list(r.pods, 'pods').map((p, i) => checkPod(p, `pods[${i}]`));
  const edges = list(r.edges, 'edges').map((e, i) => checkEdge(e, `edges[${i}]`));
  return { peers, pods, edges };
}

function fail(field: string, what: string): never {
  throw new FlowwrightError('input', `expected ${what}`, { field });
}

function list(v: unknown, field: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(field, 'an array');
  return v;
}

function obj(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(field, 'an object');
  return v as Record<string, unknown>;
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') fail(field, 'a non-empty string');
  return v;
}

function count(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(field, 'a count (integer >= 0)');
  return v;
}

function time(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(field, 'a time in ms');
  return v;
}

function strings(v: unknown, field: string): string[] {
  const a = list(v, field);
  for (let i = 0; i < a.length; i++) str(a[i], `${field}[${i}]`);
  return a as string[];
}

function counts(v: unknown, field: string): Record<string, number> {
  const o = obj(v ?? {}, field);
  for (const [k, n] of Object.entries(o)) count(n, `${field}.${k}`);
  return o as Record<string, number>;
}

function checkPeer(v: unknown, field: string): PeerSighting {
  const p = obj(v, field);
  str(p.key, `${field}.key`);
  const peer = obj(p.peer, `${field}.peer`);
  if (!['workload', 'reserved', 'external', 'networkset'].includes(peer.type as string))
    fail(`${field}.peer.type`, 'workload, reserved, external or networkset');
  if (peer.type === 'workload') {
    str(peer.namespace, `${field}.peer.namespace`);
    str(peer.name, `${field}.peer.name`);
  } else if (peer.type === 'networkset') str(peer.name, `${field}.peer.name`);
  checkPeerNames(peer as Peer, `${field}.peer`);
  time(p.firstSeen, `${field}.firstSeen`);
  time(p.lastSeen, `${field}.lastSeen`);
  if (p.namespaceLabels !== undefined)
    checkLabels(
      obj(p.namespaceLabels, `${field}.namespaceLabels`) as Record<string, string>,
      `${field}.namespaceLabels`,
    );
  const names = strings(p.names, `${field}.names`);
  for (const [i, n] of names.entries()) checkName('DNS', n, `${field}.names[${i}]`);
  const serviceAccounts = strings(p.serviceAccounts, `${field}.serviceAccounts`);
  for (const [i, n] of serviceAccounts.entries()) checkName('service account', n, `${field}.serviceAccounts[${i}]`);
  return {
    ...(p as unknown as PeerSighting),
    names,
    ips: strings(p.ips, `${field}.ips`),
    serviceAccounts,
  };
}

function checkPod(v: unknown, field: string): PodRecord {
  const p = obj(v, field);
  for (const k of ['namespace', 'name', 'workload'] as const) str(p[k], `${field}.${k}`);
  checkName('namespace', p.namespace, `${field}.namespace`);
  checkName('pod', p.name, `${field}.name`);
  checkLabels(obj(p.labels, `${field}.labels`) as Record<string, string>, `${field}.labels`);
  if (p.serviceAccount !== undefined) checkName('service account', p.serviceAccount, `${field}.serviceAccount`);
  time(p.firstSeen, `${field}.firstSeen`);
  time(p.lastSeen, `${field}.lastSeen`);
  return { ...(p as unknown as PodRecord), ips: strings(p.ips, `${field}.ips`) };
}

function details(v: unknown, field: string, keys: string[]): never[] {
  return list(v, field).map((d, i) => {
    const o = obj(d, `${field}[${i}]`);
    for (const k of keys)
      if (typeof o[k] !== 'string' && typeof o[k] !== 'number') fail(`${field}[${i}].${k}`, 'a value');
    count(o.count, `${field}[${i}].count`);
    return o;
  }) as never[];
}

/** DNS names queried over an edge: learned from traffic, so checked like a flow's DNS query. */
function dnsDetails(v: unknown, field: string): never[] {
  const out = details(v, field, ['value']);
  for (const [i, d] of (out as { value: unknown }[]).entries()) checkName('DNS', d.value, `${field}[${i}].value`);
  return out;
}

/** HTTP requests over an edge: their methods are learned from traffic, so checked like a flow's method. */
function httpDetails(v: unknown, field: string): never[] {
  const out = details(v, field, ['method', 'path', 'status']);
  for (const [i, d] of (out as { method: unknown }[]).entries())
    if (d.method !== '') checkName('HTTP method', d.method, `${field}[${i}].method`);
  return out;
}

function checkEdge(v: unknown, field: string): EdgeDelta {
  const e = obj(v, field);
  str(e.src, `${field}.src`);
  str(e.dst, `${field}.dst`);
  str(e.protocol, `${field}.protocol`);
  count(e.port, `${field}.port`);
  count(e.flows, `${field}.flows`);
  counts(e.verdicts, `${field}.verdicts`);
  time(e.firstSeen, `${field}.firstSeen`);
  time(e.lastSeen, `${field}.lastSeen`);
  const hours = list(e.hours, `${field}.hours`).map((h, i) => {
    const o = obj(h, `${field}.hours[${i}]`);
    count(o.hour, `${field}.hours[${i}].hour`);
    count(o.flows, `${field}.hours[${i}].flows`);
    counts(o.verdicts, `${field}.hours[${i}].verdicts`);
    if (o.reports !== undefined) {
      const r = obj(o.reports, `${field}.hours[${i}].reports`);
      r.src = counts(r.src, `${field}.hours[${i}].reports.src`);
      r.dst = counts(r.dst, `${field}.hours[${i}].reports.dst`);
    }
    return o;
  });
  return {
    ...(e as unknown as EdgeDelta),
    hours: hours as unknown as EdgeDelta['hours'],
    http: httpDetails(e.http, `${field}.http`),
    httpOverflow: count(e.httpOverflow ?? 0, `${field}.httpOverflow`),
    dnsNames: dnsDetails(e.dnsNames, `${field}.dnsNames`),
    dnsOverflow: count(e.dnsOverflow ?? 0, `${field}.dnsOverflow`),
    kafkaTopics: details(e.kafkaTopics, `${field}.kafkaTopics`, ['value']),
    dropReasons: details(e.dropReasons, `${field}.dropReasons`, ['value']),
    policies: details(e.policies, `${field}.policies`, ['value']),
    services: details(e.services, `${field}.services`, ['value']),
  };
}
