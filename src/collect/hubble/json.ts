// Hubble flows as JSON (`hubble observe -o json` / `-o jsonpb`, Hubble exporter files) and as the plain
// objects protobufjs makes of gRPC messages, normalized onto the shared Flow model.
//
// One normalizer accepts every rendering, because they differ only in small ways:
//   - key names: proto names as written in flow.proto (`pod_name`, `IP`, `is_reply`) or lowerCamelCase
//     (`podName`, `isReply`), as other protobuf JSON printers write them;
//   - enums: names (`"FORWARDED"`) or numbers (`1`);
//   - time: an RFC 3339 string, or a Timestamp object {seconds, nanos} whose seconds may be a number, a
//     decimal string or a Long;
//   - is_reply: a boolean, or the BoolValue wrapper {value} (protobufjs renders {value: false} as {}).
// Fields left out (or null) mean what proto3 says (the default), except where a default would invent data.
import type {
  CollectStats,
  DnsInfo,
  Endpoint,
  Flow,
  HttpInfo,
  KafkaInfo,
  L7Info,
  Origin,
  Protocol,
  ReservedEntity,
  TrafficDirection,
  Verdict,
  WorkloadKind,
} from '../../model/index.js';
import { checkFlowNames, FlowwrightError } from '../../model/index.js';

type Obj = Record<string, unknown>;

export type HubbleRecordKind = 'flow' | 'node_status' | 'lost_events' | 'other-event' | 'unknown';

/** Keys that only a flow.Flow object has at its top level (GetFlowsResponse and Calico records have none). */
const BARE_FLOW_KEYS = [
  'verdict',
  'IP',
  'l4',
  'Type',
  'event_type',
  'eventType',
  'traffic_direction',
  'trafficDirection',
  'is_reply',
  'isReply',
  'trace_observation_point',
  'traceObservationPoint',
];

/**
 * What one parsed line (or gRPC response object) of Hubble output is. The rule, in order:
 *   1. not a plain object                                   → 'unknown'
 *   2. `flow` holds an object (the GetFlowsResponse wrapper) → 'flow'
 *   3. `node_status` / `lost_events` (or camelCase) present  → 'node_status' / 'lost_events'
 *   4. `agent_event` / `debug_event` (GetAgentEvents, GetDebugEvents responses) → 'other-event'
 *   5. a bare flow, as the exporter without wrapper and older `hubble observe -o json` print it: it has
 *      one of the keys only flow.Flow has at its top level (`verdict`, `IP`, `l4`, `Type`, `event_type`,
 *      `traffic_direction`, `is_reply`, `trace_observation_point`), or both `source` and `destination`
 *      as objects                                           → 'flow'
 *   6. anything else                                        → 'unknown'
 * A wrapper's own `time` and `node_name` alone never make a flow.
 */
export function classifyHubbleRecord(obj: unknown): HubbleRecordKind {
  if (!isObj(obj)) return 'unknown';
  if (obj.flow !== undefined) return isObj(obj.flow) ? 'flow' : 'unknown';
  if (obj.node_status !== undefined || obj.nodeStatus !== undefined) return 'node_status';
  if (obj.lost_events !== undefined || obj.lostEvents !== undefined) return 'lost_events';
  if (
    obj.agent_event !== undefined ||
    obj.agentEvent !== undefined ||
    obj.debug_event !== undefined ||
    obj.debugEvent !== undefined
  )
    return 'other-event';
  for (const key of BARE_FLOW_KEYS) if (obj[key] !== undefined) return 'flow';
  if (isObj(obj.source) && isObj(obj.destination)) return 'flow';
  return 'unknown';
}

/**
 * Handles one Hubble record (a parsed JSON line or a gRPC response as a plain object): appends its flow
 * to `out`, or counts it as a non-flow record in `stats` (lost events also add to stats.lostEvents).
 * Throws a FlowwrightError('input') naming the field when the record is not usable; the caller counts it.
 * A wrapper's `time` and `node_name` stand in for the flow's own when those are missing.
 */
export function handleHubbleRecord(obj: unknown, origin: Origin, out: Flow[], stats: CollectStats): void {
  const kind = classifyHubbleRecord(obj);
  const record = obj as Obj;
  switch (kind) {
    case 'flow': {
      const wrapped = isObj(record.flow);
      const inner = wrapped ? (record.flow as Obj) : record;
      if (wrapped && inner.time === undefined && record.time !== undefined) inner.time = record.time;
      const flow = normalizeHubbleFlow(inner, origin);
      if (flow.node === undefined && wrapped) {
        const node = record.node_name ?? record.nodeName;
        if (typeof node === 'string' && node !== '') flow.node = node;
      }
      out.push(flow);
      stats.flows++;
      return;
    }
    case 'lost_events': {
      const lost = (record.lost_events ?? record.lostEvents) as Obj | undefined;
      const n = isObj(lost) ? toNumber(lost.num_events_lost ?? lost.numEventsLost) : undefined;
      stats.nonFlow++;
      if (n !== undefined && n > 0) stats.lostEvents += n;
      return;
    }
    case 'node_status':
    case 'other-event':
      stats.nonFlow++;
      return;
    default:
      throw new FlowwrightError('input', 'not a Hubble flow, node status, lost events or event record');
  }
}

/**
 * One Hubble flow (the object inside the `flow` wrapper, or a bare one) as a Flow, with `origin` as given.
 * Throws a FlowwrightError('input', message, {field}) when the object is not a usable flow.
 */
export function normalizeHubbleFlow(flow: Record<string, unknown>, origin: Origin): Flow {
  const time = parseTime(flow.time);

  const ip = asObj(flow.IP ?? flow.ip, 'IP');
  const l4 = asObj(flow.l4, 'l4');
  const l4Info = readL4(l4);

  const source = readEndpoint(asObj(flow.source, 'source'), 'source');
  const destination = readEndpoint(asObj(flow.destination, 'destination'), 'destination');
  if (ip) {
    if (typeof ip.source === 'string' && ip.source !== '') source.ip = ip.source;
    if (typeof ip.destination === 'string' && ip.destination !== '') destination.ip = ip.destination;
  }
  if (l4Info.sourcePort !== undefined) source.port = l4Info.sourcePort;
  if (l4Info.destinationPort !== undefined) destination.port = l4Info.destinationPort;
  const sourceNames = stringList(flow.source_names ?? flow.sourceNames);
  if (sourceNames) source.names = sourceNames;
  const destinationNames = stringList(flow.destination_names ?? flow.destinationNames);
  if (destinationNames) destination.names = destinationNames;

  const result: Flow = {
    time,
    source,
    destination,
    protocol: l4Info.protocol,
    verdict: enumValue(flow.verdict, VERDICT_NAMES, VERDICT_NUMBERS, 'unknown'),
    reply: readReply(flow, l4Info),
    direction: enumValue(
      flow.traffic_direction ?? flow.trafficDirection,
      DIRECTION_NAMES,
      DIRECTION_NUMBERS,
      'unknown',
    ),
    count: 1,
    origin,
  };
  const port = l4Info.protocol === 'ICMPv4' || l4Info.protocol === 'ICMPv6' ? l4Info.icmpType : l4Info.destinationPort;
  if (port !== undefined) result.port = port;

  const dropReason = readDropReason(
    flow.drop_reason_desc ?? flow.dropReasonDesc ?? flow.drop_reason ?? flow.dropReason,
  );
  if (dropReason) result.dropReason = dropReason;

  const service = asObj(flow.destination_service ?? flow.destinationService, 'destination_service');
  if (service && typeof service.name === 'string' && service.name !== '') {
    result.service =
      typeof service.namespace === 'string' && service.namespace !== ''
        ? serviceName(service.namespace, service.name)
        : service.name;
  }

  const node = flow.node_name ?? flow.nodeName;
  if (typeof node === 'string' && node !== '') result.node = node;

  const l7 = asObj(flow.l7, 'l7');
  if (l7) result.l7 = readL7(l7);
  checkFlowNames(result);
  return result;
}

/** A few services carry most flows: `namespace/name` is built once per service, not once per flow. */
const serviceNames = new Map<string, Map<string, string>>();
const SERVICE_CACHE_MAX = 16_384;
let serviceNamesCached = 0;

function serviceName(namespace: string, name: string): string {
  if (serviceNamesCached >= SERVICE_CACHE_MAX) {
    serviceNames.clear();
    serviceNamesCached = 0;
  }
  let byName = serviceNames.get(namespace);
  if (byName === undefined) {
    byName = new Map();
    serviceNames.set(namespace, byName);
  }
  let full = byName.get(name);
  if (full === undefined) {
    full = `${namespace}/${name}`;
    byName.set(name, full);
    serviceNamesCached++;
  }
  return full;
}

// ---------------------------------------------------------------------------------------------------
// Time

/** Milliseconds since the epoch from an RFC 3339 string or a Timestamp object; fractions below 1 ms are cut off. */
function parseTime(value: unknown): number {
  if (typeof value === 'string') {
    const fast = timeInLastMinute(value);
    if (fast !== undefined) return fast;
    // Date.parse alone also takes forms such as "2024-06-03" or "June 3"; insist on RFC 3339's shape first.
    if (
      value.length >= 20 &&
      value.charCodeAt(4) === 45 && // '-'
      value.charCodeAt(7) === 45 &&
      (value.charCodeAt(10) === 84 || value.charCodeAt(10) === 116 || value.charCodeAt(10) === 32) && // 'T' 't' ' '
      value.charCodeAt(13) === 58 && // ':'
      value.charCodeAt(16) === 58
    ) {
      const last = value.charCodeAt(value.length - 1);
      const zoned = last === 90 || last === 122 || value.charCodeAt(value.length - 3) === 58; // 'Z', 'z', '+hh:mm'
      const ms = zoned ? Date.parse(value) : Number.NaN;
      if (!Number.isNaN(ms)) {
        rememberMinute(value, ms);
        return ms;
      }
    }
    throw new FlowwrightError('input', `not an RFC 3339 time: ${JSON.stringify(value.slice(0, 40))}`, {
      field: 'time',
    });
  }
  if (isObj(value)) {
    const seconds = toNumber(value.seconds ?? 0);
    const nanos = toNumber(value.nanos ?? 0);
    if (seconds === undefined || nanos === undefined || nanos < 0 || nanos >= 1e9)
      throw new FlowwrightError('input', 'not a timestamp {seconds, nanos}', { field: 'time' });
    return seconds * 1000 + Math.floor(nanos / 1e6);
  }
  if (value === undefined || value === null) throw new FlowwrightError('input', 'missing time', { field: 'time' });
  throw new FlowwrightError('input', 'time must be an RFC 3339 string', { field: 'time' });
}

// Exports are in time order, so flow after flow falls in the same minute: Date.parse runs once for it
// and the seconds and fraction of the next times are read by hand. Only the shape that Hubble writes,
// `YYYY-MM-DDTHH:MM:SS[.1 to 9 digits]Z`, takes this path; anything else goes through Date.parse.
let lastMinute = ''; // `YYYY-MM-DDTHH:MM` of the last time parsed, '' before the first
let lastMinuteMs = 0;

function rememberMinute(value: string, ms: number): void {
  const sinceMinute = hubbleSecondsAndFraction(value);
  // Hour 24 is valid only as 24:00:00, so its minute cannot stand for other seconds.
  if (sinceMinute === undefined || value.startsWith('24', 11)) return;
  lastMinute = value.slice(0, 16);
  lastMinuteMs = ms - sinceMinute;
}

function timeInLastMinute(value: string): number | undefined {
  if (lastMinute === '' || !value.startsWith(lastMinute)) return undefined;
  const sinceMinute = hubbleSecondsAndFraction(value);
  return sinceMinute === undefined ? undefined : lastMinuteMs + sinceMinute;
}

/** Milliseconds after the minute of `...:SS[.fraction]Z` (fraction cut to ms, as Date.parse does); else undefined. */
function hubbleSecondsAndFraction(value: string): number | undefined {
  const n = value.length;
  if (n < 20 || n === 21 || n > 30 || value.charCodeAt(16) !== 58 || value.charCodeAt(n - 1) !== 90) return undefined;
  const tens = value.charCodeAt(17) - 48;
  const ones = value.charCodeAt(18) - 48;
  if (tens < 0 || tens > 5 || ones < 0 || ones > 9) return undefined;
  let ms = 0;
  let msDigits = 0;
  if (n > 20) {
    if (value.charCodeAt(19) !== 46) return undefined; // '.'
    for (let i = 20; i < n - 1; i++) {
      const digit = value.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) return undefined;
      if (msDigits < 3) {
        ms = ms * 10 + digit;
        msDigits++;
      }
    }
  }
  for (; msDigits < 3; msDigits++) ms *= 10;
  return (tens * 10 + ones) * 1000 + ms;
}

// ---------------------------------------------------------------------------------------------------
// Enums: names or numbers, mapped onto the model's lowercase values

const VERDICT_NAMES = new Map<string, Verdict>([
  ['VERDICT_UNKNOWN', 'unknown'],
  ['FORWARDED', 'forwarded'],
  ['DROPPED', 'dropped'],
  ['ERROR', 'error'],
  ['AUDIT', 'audit'],
  ['REDIRECTED', 'redirected'],
  ['TRACED', 'traced'],
  ['TRANSLATED', 'translated'],
]);
const VERDICT_NUMBERS: readonly Verdict[] = [
  'unknown',
  'forwarded',
  'dropped',
  'error',
  'audit',
  'redirected',
  'traced',
  'translated',
];

const DIRECTION_NAMES = new Map<string, TrafficDirection>([
  ['TRAFFIC_DIRECTION_UNKNOWN', 'unknown'],
  ['INGRESS', 'ingress'],
  ['EGRESS', 'egress'],
]);
const DIRECTION_NUMBERS: readonly TrafficDirection[] = ['unknown', 'ingress', 'egress'];

type L7Type = L7Info['type'];
const L7_TYPE_NAMES = new Map<string, L7Type>([
  ['UNKNOWN_L7_TYPE', 'unknown'],
  ['REQUEST', 'request'],
  ['RESPONSE', 'response'],
  ['SAMPLE', 'sample'],
]);
const L7_TYPE_NUMBERS: readonly L7Type[] = ['unknown', 'request', 'response', 'sample'];

/** Values that upstream may add later fall back to `fallback` rather than failing the flow. */
function enumValue<T>(value: unknown, names: ReadonlyMap<string, T>, numbers: readonly T[], fallback: T): T {
  if (typeof value === 'string') return names.get(value) ?? fallback;
  if (typeof value === 'number') return numbers[value] ?? fallback;
  return fallback;
}

const DROP_REASON_NUMBERS: Record<number, string> = { 133: 'POLICY_DENIED', 181: 'POLICY_DENY' };

function readDropReason(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' || value === 'DROP_REASON_UNKNOWN' ? undefined : value;
  if (typeof value === 'number' && value > 0) return DROP_REASON_NUMBERS[value] ?? `DROP_REASON_${value}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Layer 4 and reply detection

interface L4Info {
  protocol: Protocol;
  sourcePort?: number;
  destinationPort?: number;
  icmpType?: number;
  /** TCP flags, when the l4 is TCP and flags were reported. */
  syn?: boolean;
  ack?: boolean;
}

function readL4(l4: Obj | undefined): L4Info {
  if (!l4) return { protocol: 'UNKNOWN' };
  const tcp = asObj(l4.TCP ?? l4.tcp, 'l4.TCP');
  if (tcp) {
    const info = ports('TCP', tcp);
    const flags = asObj(tcp.flags, 'l4.TCP.flags');
    if (flags) {
      info.syn = flags.SYN === true;
      info.ack = flags.ACK === true;
    }
    return info;
  }
  const udp = asObj(l4.UDP ?? l4.udp, 'l4.UDP');
  if (udp) return ports('UDP', udp);
  const sctp = asObj(l4.SCTP ?? l4.sctp, 'l4.SCTP');
  if (sctp) return ports('SCTP', sctp);
  const icmp4 = asObj(l4.ICMPv4 ?? l4.icmpv4, 'l4.ICMPv4');
  if (icmp4) return { protocol: 'ICMPv4', icmpType: icmpType(icmp4) };
  const icmp6 = asObj(l4.ICMPv6 ?? l4.icmpv6, 'l4.ICMPv6');
  if (icmp6) return { protocol: 'ICMPv6', icmpType: icmpType(icmp6) };
  return { protocol: 'UNKNOWN' };
}

/** Port 0 is not a port: a missing port (proto3 leaves out zero) stays unknown. */
function ports(protocol: Protocol, o: Obj): L4Info {
  const info: L4Info = { protocol };
  const sp = toNumber(o.source_port ?? o.sourcePort);
  const dp = toNumber(o.destination_port ?? o.destinationPort);
  if (sp) info.sourcePort = sp;
  if (dp) info.destinationPort = dp;
  return info;
}

/** ICMP type 0 is echo reply, a real value: once the ICMP header is present, a missing type means 0. */
function icmpType(o: Obj): number {
  return toNumber(o.type) ?? 0;
}

/**
 * Whether the flow is reply traffic, in order of trust:
 *   1. `is_reply` (a boolean, or the BoolValue wrapper {value}) when present: Cilium's connection tracker knows;
 *   2. the deprecated `reply: true` (its false cannot be told from absent, so false falls through);
 *   3. for TCP, the handshake flags: SYN without ACK opens a connection (request), SYN+ACK answers it (reply);
 *   4. otherwise null: unknown. The aggregator decides what unknown means.
 */
function readReply(flow: Obj, l4: L4Info): boolean | null {
  const isReply = flow.is_reply ?? flow.isReply;
  if (typeof isReply === 'boolean') return isReply;
  if (isObj(isReply)) return isReply.value === true;
  if (flow.reply === true) return true;
  if (l4.syn) return l4.ack === true;
  return null;
}

// ---------------------------------------------------------------------------------------------------
// Endpoints

const WORKLOAD_KINDS: readonly WorkloadKind[] = [
  'Deployment',
  'ReplicaSet',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'ReplicationController',
  'Pod',
];
const KIND_BY_NAME = new Map<string, WorkloadKind>(WORKLOAD_KINDS.map((k) => [k, k]));
const KIND_BY_LOWERCASE = new Map<string, WorkloadKind>(WORKLOAD_KINDS.map((k) => [k.toLowerCase(), k]));

/** A reported workload kind, in any letter case; the usual spelling is found without lowercasing. */
function workloadKind(kind: string): WorkloadKind | undefined {
  return KIND_BY_NAME.get(kind) ?? KIND_BY_LOWERCASE.get(kind.toLowerCase());
}

const RESERVED: Record<string, ReservedEntity> = {
  world: 'world',
  // Dual-stack clusters split world into two identities; for policy they are the same entity.
  'world-ipv4': 'world',
  'world-ipv6': 'world',
  host: 'host',
  'remote-node': 'remote-node',
  'kube-apiserver': 'kube-apiserver',
  health: 'health',
  ingress: 'ingress',
  init: 'init',
  unmanaged: 'unmanaged',
};

const SERVICE_ACCOUNT_LABEL = 'io.cilium.k8s.policy.serviceaccount=';
const CLUSTER_LABEL = 'io.cilium.k8s.policy.cluster=';
/**
 * Cilium's cluster name when none was configured. A single cluster is not named in workload keys and
 * proposal paths (`shop/frontend.networkpolicy.yaml`, as for Calico, which names no cluster); a cluster
 * mesh gives every cluster its own name, and those names are kept.
 */
const UNNAMED_CLUSTER = 'default';
const NAMESPACE_LABELS = 'io.cilium.k8s.namespace.labels.';
const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace=';

function readEndpoint(o: Obj | undefined, field: string): Endpoint {
  if (!o) return { labels: NO_LABELS };
  const labels = o.labels;
  if (labels !== undefined && labels !== null && !Array.isArray(labels))
    throw new FlowwrightError('input', 'labels must be a list', { field: `${field}.labels` });
  const pod = o.pod_name ?? o.podName;
  if (typeof pod !== 'string' || pod === '') return buildEndpoint(o, labels, undefined);
  return copyEndpoint(podEndpoint(o, labels, pod));
}

/** A pod endpoint's own copy, its fields added in the order buildEndpoint adds them (one hidden class). */
function copyEndpoint(t: Endpoint): Endpoint {
  const ep: Endpoint = { labels: t.labels };
  if (t.namespaceLabels !== undefined) ep.namespaceLabels = t.namespaceLabels;
  if (t.serviceAccount !== undefined) ep.serviceAccount = t.serviceAccount;
  if (t.reserved !== undefined) ep.reserved = t.reserved;
  if (t.namespace !== undefined) ep.namespace = t.namespace;
  if (t.pod !== undefined) ep.pod = t.pod;
  if (t.identity !== undefined) ep.identity = t.identity;
  if (t.cluster !== undefined) ep.cluster = t.cluster;
  if (t.workload !== undefined) ep.workload = t.workload;
  return ep;
}

/** An endpoint from its fields; `labels` is a list, or absent. */
function buildEndpoint(o: Obj, labels: unknown[] | undefined | null, pod: string | undefined): Endpoint {
  const facts = labels ? labelFacts(labels) : NO_FACTS;
  const ep: Endpoint = { labels: facts.labels };
  if (facts.namespaceLabels) ep.namespaceLabels = facts.namespaceLabels;
  if (facts.serviceAccount !== undefined) ep.serviceAccount = facts.serviceAccount;
  if (facts.reserved !== undefined) ep.reserved = facts.reserved;

  // The endpoint's own fields come first; labels fill in what they leave out.
  const namespace = o.namespace;
  if (typeof namespace === 'string' && namespace !== '') ep.namespace = namespace;
  else if (facts.podNamespace !== undefined) ep.namespace = facts.podNamespace;
  if (pod !== undefined) ep.pod = pod;
  const identity = toNumber(o.identity);
  if (identity !== undefined) ep.identity = identity;
  const cluster = facts.cluster ?? o.cluster_name ?? o.clusterName;
  if (typeof cluster === 'string' && cluster !== '' && cluster !== UNNAMED_CLUSTER) ep.cluster = cluster;

  const workload = firstWorkload(o.workloads);
  if (workload) {
    const { name, kind } = workload;
    const mapped = typeof kind === 'string' ? workloadKind(kind) : undefined;
    // Frozen: pod endpoints of many flows share it (see podEndpoint).
    if (mapped && typeof name === 'string' && name !== '') ep.workload = Object.freeze({ kind: mapped, name });
  }
  return ep;
}

function firstWorkload(workloads: unknown): Obj | undefined {
  return Array.isArray(workloads) && isObj(workloads[0]) ? workloads[0] : undefined;
}

// The same pods appear in flow after flow with the same fields, so a pod's endpoint is built once and
// copied for each flow (the copy gets the flow's address and port). A cached endpoint is used only when
// every field it was built from is the same; the strings it holds are then the same objects flow after
// flow, which makes later lookups by pod, namespace or service account cheap.
interface PodEndpointInput {
  labels: unknown[] | undefined | null;
  namespace: unknown;
  identity: unknown;
  cluster: unknown;
  workloadName: unknown;
  workloadKind: unknown;
  endpoint: Endpoint;
}
const endpointsByPod = new Map<string, PodEndpointInput>();
const POD_CACHE_MAX = 16_384;

function podEndpoint(o: Obj, labels: unknown[] | undefined | null, pod: string): Endpoint {
  const cluster = o.cluster_name ?? o.clusterName;
  const workload = firstWorkload(o.workloads);
  const workloadName = workload?.name;
  const workloadKind = workload?.kind;
  const hit = endpointsByPod.get(pod);
  if (
    hit !== undefined &&
    hit.namespace === o.namespace &&
    hit.identity === o.identity &&
    hit.cluster === cluster &&
    hit.workloadName === workloadName &&
    hit.workloadKind === workloadKind &&
    sameLabels(hit.labels, labels)
  )
    return hit.endpoint;
  const endpoint = buildEndpoint(o, labels, pod);
  if (endpointsByPod.size >= POD_CACHE_MAX) endpointsByPod.clear();
  endpointsByPod.set(pod, {
    // A copy: the cached list must not change with the record it came from.
    labels: labels ? labels.slice() : labels,
    namespace: o.namespace,
    identity: o.identity,
    cluster,
    workloadName,
    workloadKind,
    endpoint,
  });
  return endpoint;
}

function sameLabels(a: unknown[] | undefined | null, b: unknown[] | undefined | null): boolean {
  if (!a || !b) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What an endpoint's label list says, sorted into the pod's own labels and Cilium's metadata. */
interface LabelFacts {
  labels: Record<string, string>;
  namespaceLabels?: Record<string, string>;
  serviceAccount?: string;
  cluster?: string;
  reserved?: ReservedEntity;
  /** From `k8s:io.kubernetes.pod.namespace`, used when the endpoint has no `namespace` field. */
  podNamespace?: string;
}

const NO_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NO_FACTS: LabelFacts = { labels: NO_LABELS };

// Label lists repeat too (pods of one workload, reserved entities), so the parsed result is cached and
// shared (frozen: endpoints of different flows hold the same objects). The key is the list itself; a
// NUL inside a label could make two lists collide, which no Kubernetes label can contain.
const labelCache = new Map<string, LabelFacts>();
const LABEL_CACHE_MAX = 16_384;

function labelFacts(labels: unknown[]): LabelFacts {
  const key = labels.join('\u0000');
  let facts = labelCache.get(key);
  if (facts === undefined) {
    facts = parseLabels(labels);
    Object.freeze(facts.labels);
    if (facts.namespaceLabels) Object.freeze(facts.namespaceLabels);
    if (labelCache.size >= LABEL_CACHE_MAX) labelCache.clear();
    labelCache.set(key, facts);
  }
  return facts;
}

/**
 * `k8s:` labels without the `io.kubernetes.pod.*` / `io.cilium.*` prefixes are the pod's own labels (prefix
 * stripped); `io.cilium.k8s.policy.*` give service account and cluster, `io.cilium.k8s.namespace.labels.*`
 * the namespace's labels; the first `reserved:` label names the entity. Other sources (`cidr:`, `fqdn:`,
 * `container:`) say nothing the model keeps.
 */
function parseLabels(labels: unknown[]): LabelFacts {
  const facts: LabelFacts = { labels: {} };
  for (const label of labels) {
    if (typeof label !== 'string') continue;
    if (label.startsWith('k8s:')) readK8sLabel(facts, label.slice(4));
    else if (label.startsWith('reserved:') && facts.reserved === undefined)
      facts.reserved = RESERVED[label.slice(9)] ?? 'unknown';
  }
  return facts;
}

function readK8sLabel(facts: LabelFacts, text: string): void {
  if (text.startsWith('io.cilium.')) {
    if (text.startsWith(SERVICE_ACCOUNT_LABEL)) facts.serviceAccount = text.slice(SERVICE_ACCOUNT_LABEL.length);
    else if (text.startsWith(CLUSTER_LABEL)) facts.cluster = text.slice(CLUSTER_LABEL.length);
    else if (text.startsWith(NAMESPACE_LABELS)) {
      const rest = text.slice(NAMESPACE_LABELS.length);
      const eq = rest.indexOf('=');
      if (eq > 0) {
        facts.namespaceLabels ??= {};
        facts.namespaceLabels[rest.slice(0, eq)] = rest.slice(eq + 1);
      }
    }
    return;
  }
  if (text.startsWith('io.kubernetes.pod.')) {
    if (text.startsWith(POD_NAMESPACE_LABEL)) facts.podNamespace = text.slice(POD_NAMESPACE_LABEL.length);
    return;
  }
  const eq = text.indexOf('=');
  if (eq < 0) facts.labels[text] = '';
  else if (eq > 0) facts.labels[text.slice(0, eq)] = text.slice(eq + 1);
}

// ---------------------------------------------------------------------------------------------------
// Layer 7

function readL7(l7: Obj): L7Info {
  const info: L7Info = { type: enumValue(l7.type, L7_TYPE_NAMES, L7_TYPE_NUMBERS, 'unknown') };
  const http = asObj(l7.http, 'l7.http');
  if (http) info.http = readHttp(http);
  const dns = asObj(l7.dns, 'l7.dns');
  if (dns) info.dns = readDns(dns, info.type);
  const kafka = asObj(l7.kafka, 'l7.kafka');
  if (kafka) info.kafka = readKafka(kafka);
  return info;
}

function readHttp(o: Obj): HttpInfo {
  const url = typeof o.url === 'string' ? o.url : '';
  const { host, path } = splitUrl(url);
  const info: HttpInfo = { method: typeof o.method === 'string' ? o.method : '', path };
  const status = toNumber(o.code);
  if (status) info.status = status;
  if (host) info.host = host;
  return info;
}

/**
 * Host and path of a URL as Hubble reports it: absolute (`http://host:port/p?q`) or a bare path (`/p?q`).
 * The query string and fragment are dropped: policy matches paths, and queries may carry secrets.
 */
export function splitUrl(url: string): { host?: string; path: string } {
  let rest = url;
  let host: string | undefined;
  const scheme = rest.indexOf('://');
  // Absolute only when the first '/' is the one of '://' (so `/login?next=http://x` stays a path).
  if (scheme >= 0 && rest.indexOf('/') === scheme + 1) {
    rest = rest.slice(scheme + 3);
    let end = rest.length;
    for (const stop of ['/', '?', '#']) {
      const at = rest.indexOf(stop);
      if (at >= 0 && at < end) end = at;
    }
    const authority = rest.slice(0, end);
    const at = authority.lastIndexOf('@'); // user info is not part of the host
    host = at >= 0 ? authority.slice(at + 1) : authority;
    rest = rest.slice(end);
  }
  let cut = rest.length;
  const q = rest.indexOf('?');
  if (q >= 0) cut = q;
  const f = rest.indexOf('#');
  if (f >= 0 && f < cut) cut = f;
  const path = rest.slice(0, cut);
  // `http://host` asks for the root; an empty URL says nothing about the path.
  return { host: host || undefined, path: path === '' && host !== undefined ? '/' : path };
}

function readDns(o: Obj, type: L7Type): DnsInfo {
  let query = typeof o.query === 'string' ? o.query : '';
  if (query.endsWith('.')) query = query.slice(0, -1);
  const info: DnsInfo = { query, answers: stringList(o.ips) ?? [] };
  // proto3 leaves out rcode 0 (NOERROR); on a response a missing rcode therefore means success.
  const rcode = toNumber(o.rcode);
  if (rcode !== undefined) info.rcode = rcode;
  else if (type === 'response') info.rcode = 0;
  const qtypes = stringList(o.qtypes);
  if (qtypes) info.qtypes = qtypes;
  return info;
}

function readKafka(o: Obj): KafkaInfo {
  const info: KafkaInfo = { topic: typeof o.topic === 'string' ? o.topic : '' };
  const apiKey = o.api_key ?? o.apiKey;
  if (typeof apiKey === 'string' && apiKey !== '') info.apiKey = apiKey;
  return info;
}

// ---------------------------------------------------------------------------------------------------
// Small helpers

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An optional sub-object: absent or null is undefined; anything else but an object is malformed. */
function asObj(value: unknown, field: string): Obj | undefined {
  if (value === undefined || value === null) return undefined;
  if (isObj(value)) return value;
  throw new FlowwrightError('input', 'object expected', { field });
}

/** A number from a JSON number, a decimal string (64-bit integers in JSON) or a Long-like object. */
function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') {
    if (value === '') return undefined;
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  if (isObj(value) && typeof value.toString === 'function' && value.toString !== Object.prototype.toString) {
    const n = Number(String(value));
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function stringList(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const out: string[] = [];
  for (const v of value) if (typeof v === 'string') out.push(v);
  return out.length > 0 ? out : undefined;
}
