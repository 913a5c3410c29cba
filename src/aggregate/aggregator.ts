// The aggregator folds batches of flows into per-edge counters in memory and hands them over as one
// GraphDelta per flush. Between flushes memory grows with the number of distinct peers, pods and edges
// (plus hour buckets and capped L7 detail per edge), never with the number of flows.
//
// What counts:
//   - One edge per (source peer, destination peer, protocol, port). Its flow count is the number of
//     records (Hubble) or their num_flows (Calico): Hubble reports a connection at each observation
//     point, so a pod-to-pod connection seen on egress and on ingress counts 2. "Flows" here means
//     records seen, not connections: comparable between edges, not a connection count.
//   - Replies (`reply === true`) are never edges; their DNS answers and endpoint names still teach the
//     names of external addresses. `reply === null` (unknown) counts as a request.
//   - Calico records count whichever ends reported them, and a connection reported from both ends
//     once: their counts are kept per end, edge and hour and combined (model/reports.ts).
//   - Peers and pods are recorded from every flow, replies included: they show what exists and when.
//
// add() runs for every flow, so it looks things up by object identity and numbers where it can:
// pods are remembered by name (compared field by field), identity's resolvePeer returns shared peer
// objects, which key a Map directly; edges hang off their source peer, keyed by destination peer and
// a number made of port and protocol. No string is built per flow unless the flow carries L7 detail.
import { normalizeDnsName, resolvePeer } from '../identity/index.js';
import {
  type Checkpoint,
  combineReports,
  type DetailCount,
  type Endpoint,
  type Flow,
  type GraphDelta,
  type HourCounts,
  type HttpCounts,
  MAX_DETAILS_PER_EDGE,
  type Peer,
  type PeerSighting,
  type PodRecord,
  type Protocol,
  peerKey,
  totalOf,
  VERDICTS,
  type Verdict,
  type VerdictCounts,
} from '../model/index.js';

const HOUR_MS = 3_600_000;

export interface AggregateStats {
  /** Records that became edge evidence. */
  flows: number;
  /** Reply records: not dependencies, skipped. */
  replies: number;
  /** Records whose source could not tell request from reply; counted as requests. */
  unknownReply: number;
  /** Of those, Calico records reported by one end (`src`/`dst`), combined per edge and hour. */
  reported: number;
  /** Sum over flushes of the edges each flush touched. */
  edgesTouched: number;
}

export interface Aggregator {
  /** The hot path: folds a batch of flows into the pending delta. */
  add(flows: Flow[]): void;
  /** Records how far a source has been read; the latest per `cp.source` goes into the next delta. */
  setCheckpoint(cp: Checkpoint): void;
  /** What take() would return: records added (replies included) and distinct edges, since the last take(). */
  pending(): { flows: number; edges: number };
  /** Everything accumulated since the last take(), sorted; the aggregator starts empty again. */
  take(): GraphDelta;
  /** Cumulative over the aggregator's life. */
  readonly stats: AggregateStats;
}

// Verdicts and protocols as small numbers, for arrays of counters and numeric map keys.
const VERDICT_INDEX: Record<string, number> = Object.fromEntries(VERDICTS.map((v, i) => [v, i]));
const UNKNOWN_VERDICT = VERDICT_INDEX.unknown!;
const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP', 'ICMPv4', 'ICMPv6', 'UNKNOWN'];
const PROTOCOL_INDEX: Record<string, number> = Object.fromEntries(PROTOCOLS.map((p, i) => [p, i]));
const PROTOCOL_SLOTS = 8;

interface PeerAcc {
  key: string;
  peer: Peer;
  names: Set<string>;
  ips: Set<string>;
  serviceAccounts: Set<string>;
  namespaceLabels: Record<string, string> | undefined;
  namespaceLabelsAt: number;
  firstSeen: number;
  lastSeen: number;
  /** Pods of this workload, by pod name (the namespace is the workload's). */
  pods: Map<string, PodAcc>;
  /** Outgoing edges: destination peer → (port * 8 + protocol index) → edge. */
  out: Map<PeerAcc, Map<number, EdgeAcc>>;
}

/** A pod endpoint's resolved peer, remembered by pod name. */
interface PodPeer {
  namespace: string;
  cluster: string | undefined;
  kind: string | undefined;
  workload: string | undefined;
  acc: PeerAcc;
}

interface PodAcc {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  labelsAt: number;
  serviceAccount: string | undefined;
  ips: string[];
  firstSeen: number;
  lastSeen: number;
}

interface HourAcc {
  /** Records without a reporter. */
  flows: number;
  verdicts: number[];
  /** Calico records by reporting end, verdict counts (combined at take()). */
  src: number[] | undefined;
  dst: number[] | undefined;
}

interface HttpAcc {
  method: string;
  status: number;
  count: number;
  firstSeen: number;
  lastSeen: number;
}

interface DetailAcc {
  count: number;
  firstSeen: number;
  lastSeen: number;
}

interface EdgeAcc {
  src: PeerAcc;
  dst: PeerAcc;
  protocol: Protocol;
  port: number;
  flows: number;
  verdicts: number[];
  firstSeen: number;
  lastSeen: number;
  hours: Map<number, HourAcc>;
  /** Most flows arrive in time order: the last bucket used saves a Map lookup. */
  lastHour: number;
  lastHourAcc: HourAcc | undefined;
  /** path → the method/status combinations seen on it. */
  http: Map<string, HttpAcc[]>;
  httpDistinct: number;
  httpOverflow: number;
  dnsNames: Map<string, DetailAcc>;
  dnsOverflow: number;
  kafkaTopics: Map<string, DetailAcc>;
  dropReasons: Map<string, DetailAcc>;
  policies: Map<string, DetailAcc>;
  services: Map<string, DetailAcc>;
  /** Services named by Calico reports, per reporting end: both ends name the same one. */
  reportedServices: { src: Map<string, DetailAcc>; dst: Map<string, DetailAcc> } | undefined;
}

export function createAggregator(): Aggregator {
  const stats: AggregateStats = { flows: 0, replies: 0, unknownReply: 0, reported: 0, edgesTouched: 0 };
  let peersByKey = new Map<string, PeerAcc>();
  // resolvePeer hands out shared objects; this skips peerKey() for peers already seen in this delta.
  let peersByObject = new Map<Peer, PeerAcc>();
  let podPeers = new Map<string, PodPeer>();
  let edges: EdgeAcc[] = [];
  let checkpoints = new Map<string, Checkpoint>();
  let pendingFlows = 0;
  // Reused to resolve DNS answers through identity, so that one address has one spelling.
  const answerEndpoint: Endpoint = { labels: {}, reserved: 'world', ip: '' };

  function peerAccOf(peer: Peer, time: number): PeerAcc {
    let acc = peersByObject.get(peer);
    if (acc === undefined) {
      const key = peerKey(peer);
      acc = peersByKey.get(key);
      if (acc === undefined) {
        acc = {
          key,
          peer,
          names: new Set(),
          ips: new Set(),
          serviceAccounts: new Set(),
          namespaceLabels: undefined,
          namespaceLabelsAt: Number.NEGATIVE_INFINITY,
          firstSeen: time,
          lastSeen: time,
          pods: new Map(),
          out: new Map(),
        };
        // An external peer is one address (a /32 or /128): keep it in identity's canonical spelling.
        if (peer.type === 'external') acc.ips.add(peer.cidr.slice(0, peer.cidr.lastIndexOf('/')));
        peersByKey.set(key, acc);
      }
      peersByObject.set(peer, acc);
    }
    if (time < acc.firstSeen) acc.firstSeen = time;
    if (time > acc.lastSeen) acc.lastSeen = time;
    return acc;
  }

  /**
   * resolvePeer for one endpoint, memoized for pods by the fields that decide a pod's workload
   * (the same ones identity's own cache uses), compared without building a key string.
   */
  function peerOfEndpoint(ep: Endpoint, time: number): PeerAcc {
    const pod = ep.pod;
    const namespace = ep.namespace;
    if (!pod || !namespace || ep.reserved !== undefined || ep.networkSet !== undefined)
      return peerAccOf(resolvePeer(ep), time);
    const hit = podPeers.get(pod);
    if (
      hit !== undefined &&
      hit.namespace === namespace &&
      hit.cluster === ep.cluster &&
      hit.kind === ep.workload?.kind &&
      hit.workload === ep.workload?.name
    ) {
      const acc = hit.acc;
      if (time < acc.firstSeen) acc.firstSeen = time;
      if (time > acc.lastSeen) acc.lastSeen = time;
      return acc;
    }
    const acc = peerAccOf(resolvePeer(ep), time);
    podPeers.set(pod, { namespace, cluster: ep.cluster, kind: ep.workload?.kind, workload: ep.workload?.name, acc });
    return acc;
  }

  /** The peer of one end of a flow, with what the endpoint says about it (names, addresses, pod). */
  function observe(ep: Endpoint, time: number): PeerAcc {
    const acc = peerOfEndpoint(ep, time);
    const type = acc.peer.type;
    if (type === 'workload') {
      if (ep.serviceAccount) acc.serviceAccounts.add(ep.serviceAccount);
      if (ep.namespaceLabels && time >= acc.namespaceLabelsAt) {
        acc.namespaceLabels = ep.namespaceLabels;
        acc.namespaceLabelsAt = time;
      }
      if (ep.pod) observePod(acc, ep, time);
    } else if (type === 'external') {
      if (ep.names) for (const n of ep.names) if (n) acc.names.add(normalizeDnsName(n));
    } else if (ep.ip) acc.ips.add(ep.ip); // the addresses behind host, kube-apiserver, a network set...
    return acc;
  }

  function observePod(workload: PeerAcc, ep: Endpoint, time: number): void {
    const name = ep.pod!;
    let pod = workload.pods.get(name);
    if (pod === undefined) {
      pod = {
        namespace: (workload.peer as { namespace: string }).namespace,
        name,
        labels: ep.labels,
        labelsAt: time,
        serviceAccount: ep.serviceAccount,
        ips: [],
        firstSeen: time,
        lastSeen: time,
      };
      workload.pods.set(name, pod);
    } else {
      if (time >= pod.labelsAt) {
        pod.labels = ep.labels;
        pod.labelsAt = time;
        if (ep.serviceAccount) pod.serviceAccount = ep.serviceAccount;
      }
      if (time < pod.firstSeen) pod.firstSeen = time;
      if (time > pod.lastSeen) pod.lastSeen = time;
    }
    if (ep.ip && !pod.ips.includes(ep.ip)) pod.ips.push(ep.ip);
  }

  /** A DNS answer names an external address: `cidr:<ip>/32` (or /128) gets the query as a name. */
  function harvestDnsAnswers(query: string, answers: string[], time: number): void {
    const name = normalizeDnsName(query);
    for (const ip of answers) {
      answerEndpoint.ip = ip;
      const peer = resolvePeer(answerEndpoint);
      if (peer.type !== 'external') continue; // not an address (a CNAME target)
      peerAccOf(peer, time).names.add(name);
    }
  }

  function edgeOf(src: PeerAcc, dst: PeerAcc, protocol: Protocol, port: number, time: number): EdgeAcc {
    let byPort = src.out.get(dst);
    if (byPort === undefined) {
      byPort = new Map();
      src.out.set(dst, byPort);
    }
    const slot = port * PROTOCOL_SLOTS + (PROTOCOL_INDEX[protocol] ?? PROTOCOL_INDEX.UNKNOWN!);
    let edge = byPort.get(slot);
    if (edge === undefined) {
      edge = {
        src,
        dst,
        protocol,
        port,
        flows: 0,
        verdicts: [0, 0, 0, 0, 0, 0, 0, 0],
        firstSeen: time,
        lastSeen: time,
        hours: new Map(),
        lastHour: Number.NaN,
        lastHourAcc: undefined,
        http: new Map(),
        httpDistinct: 0,
        httpOverflow: 0,
        dnsNames: new Map(),
        dnsOverflow: 0,
        kafkaTopics: new Map(),
        dropReasons: new Map(),
        policies: new Map(),
        services: new Map(),
        reportedServices: undefined,
      };
      byPort.set(slot, edge);
      edges.push(edge);
    }
    return edge;
  }

  function countFlow(edge: EdgeAcc, flow: Flow): void {
    const time = flow.time;
    const n = flow.count;
    const v = VERDICT_INDEX[flow.verdict] ?? UNKNOWN_VERDICT;
    const reporter = flow.reporter;
    if (reporter === undefined) {
      edge.flows += n;
      edge.verdicts[v]! += n;
    }
    if (time < edge.firstSeen) edge.firstSeen = time;
    if (time > edge.lastSeen) edge.lastSeen = time;

    const hour = Math.floor(time / HOUR_MS);
    let bucket = edge.lastHourAcc;
    if (hour !== edge.lastHour || bucket === undefined) {
      bucket = edge.hours.get(hour);
      if (bucket === undefined) {
        bucket = { flows: 0, verdicts: [0, 0, 0, 0, 0, 0, 0, 0], src: undefined, dst: undefined };
        edge.hours.set(hour, bucket);
      }
      edge.lastHour = hour;
      edge.lastHourAcc = bucket;
    }
    if (reporter === undefined) {
      bucket.flows += n;
      bucket.verdicts[v]! += n;
    } else {
      let byEnd = bucket[reporter];
      if (byEnd === undefined) {
        byEnd = [0, 0, 0, 0, 0, 0, 0, 0];
        bucket[reporter] = byEnd;
      }
      byEnd[v]! += n;
    }

    const l7 = flow.l7;
    if (l7 !== undefined) {
      if (l7.http) countHttp(edge, l7.http.method, l7.http.path, l7.http.status ?? 0, n, time);
      if (l7.dns?.query) {
        if (!countDetail(edge.dnsNames, normalizeDnsName(l7.dns.query), n, time, MAX_DETAILS_PER_EDGE))
          edge.dnsOverflow += n;
      }
      if (l7.kafka?.topic) countDetail(edge.kafkaTopics, l7.kafka.topic, n, time, Number.POSITIVE_INFINITY);
    }
    if (flow.dropReason) countDetail(edge.dropReasons, flow.dropReason, n, time, Number.POSITIVE_INFINITY);
    // Each end reports the policies that decided at that end: different ones, so both count.
    if (flow.policies) for (const p of flow.policies) countDetail(edge.policies, p, n, time, Number.POSITIVE_INFINITY);
    if (flow.service) {
      let into = edge.services;
      if (reporter !== undefined) {
        edge.reportedServices ??= { src: new Map(), dst: new Map() };
        into = edge.reportedServices[reporter];
      }
      countDetail(into, flow.service, n, time, Number.POSITIVE_INFINITY);
    }
  }

  function countHttp(edge: EdgeAcc, method: string, path: string, status: number, n: number, time: number): void {
    let variants = edge.http.get(path);
    if (variants !== undefined) {
      for (const h of variants) {
        if (h.method === method && h.status === status) {
          h.count += n;
          if (time < h.firstSeen) h.firstSeen = time;
          if (time > h.lastSeen) h.lastSeen = time;
          return;
        }
      }
    }
    if (edge.httpDistinct >= MAX_DETAILS_PER_EDGE) {
      edge.httpOverflow += n;
      return;
    }
    if (variants === undefined) {
      variants = [];
      edge.http.set(path, variants);
    }
    variants.push({ method, status, count: n, firstSeen: time, lastSeen: time });
    edge.httpDistinct++;
  }

  return {
    stats,

    add(flows: Flow[]): void {
      pendingFlows += flows.length;
      for (let i = 0; i < flows.length; i++) {
        const flow = flows[i]!;
        const time = flow.time;
        const dns = flow.l7?.dns;
        if (dns?.query && dns.answers.length > 0) harvestDnsAnswers(dns.query, dns.answers, time);
        const src = observe(flow.source, time);
        const dst = observe(flow.destination, time);

        if (flow.reply === true) {
          stats.replies++;
          continue;
        }
        if (flow.reply === null) stats.unknownReply++;
        if (flow.reporter !== undefined) stats.reported++;
        stats.flows++;
        countFlow(edgeOf(src, dst, flow.protocol, flow.port ?? 0, time), flow);
      }
    },

    setCheckpoint(cp: Checkpoint): void {
      checkpoints.set(cp.source, cp);
    },

    pending() {
      return { flows: pendingFlows, edges: edges.length };
    },

    take(): GraphDelta {
      const delta: GraphDelta = {
        peers: [...peersByKey.values()].map(peerSighting).sort(byKey),
        pods: podRecords(peersByKey),
        edges: edges.map(edgeDelta).sort(compareEdges),
        checkpoints: [...checkpoints.values()].sort((a, b) => compareStrings(a.source, b.source)),
      };
      stats.edgesTouched += edges.length;
      peersByKey = new Map();
      peersByObject = new Map();
      podPeers = new Map();
      edges = [];
      checkpoints = new Map();
      pendingFlows = 0;
      return delta;
    },
  };
}

/** Adds to a detail counter; false (nothing recorded) when the value is new and `cap` values exist already. */
function countDetail(into: Map<string, DetailAcc>, value: string, n: number, time: number, cap: number): boolean {
  const d = into.get(value);
  if (d !== undefined) {
    d.count += n;
    if (time < d.firstSeen) d.firstSeen = time;
    if (time > d.lastSeen) d.lastSeen = time;
    return true;
  }
  if (into.size >= cap) return false;
  into.set(value, { count: n, firstSeen: time, lastSeen: time });
  return true;
}

// --- from accumulators to the plain, sorted GraphDelta -------------------------------------------

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byKey(a: { key: string }, b: { key: string }): number {
  return compareStrings(a.key, b.key);
}

function compareEdges(
  a: { src: string; dst: string; protocol: string; port: number },
  b: { src: string; dst: string; protocol: string; port: number },
) {
  return (
    compareStrings(a.src, b.src) ||
    compareStrings(a.dst, b.dst) ||
    compareStrings(a.protocol, b.protocol) ||
    a.port - b.port
  );
}

function sorted(values: Iterable<string>): string[] {
  return [...values].sort(compareStrings);
}

function verdictCounts(counts: number[]): VerdictCounts {
  const out: VerdictCounts = {};
  for (let i = 0; i < VERDICTS.length; i++) if (counts[i]! > 0) out[VERDICTS[i] as Verdict] = counts[i]!;
  return out;
}

function peerSighting(acc: PeerAcc): PeerSighting {
  const s: PeerSighting = {
    key: acc.key,
    peer: acc.peer,
    names: sorted(acc.names),
    ips: sorted(acc.ips),
    serviceAccounts: sorted(acc.serviceAccounts),
    firstSeen: acc.firstSeen,
    lastSeen: acc.lastSeen,
  };
  if (acc.namespaceLabels) s.namespaceLabels = acc.namespaceLabels;
  return s;
}

/**
 * Pods by namespace and name. A pod seen under two workloads (e.g. with and without the source's
 * workload report) is kept once, under the workload it was seen with last.
 */
function podRecords(peers: Map<string, PeerAcc>): PodRecord[] {
  const byName = new Map<string, PodRecord>();
  for (const acc of peers.values()) {
    for (const p of acc.pods.values()) {
      const id = `${p.namespace}/${p.name}`;
      const other = byName.get(id);
      if (other && other.lastSeen > p.lastSeen) {
        other.firstSeen = Math.min(other.firstSeen, p.firstSeen);
        continue;
      }
      const record: PodRecord = {
        namespace: p.namespace,
        name: p.name,
        workload: acc.key,
        labels: p.labels,
        ips: sorted(p.ips),
        firstSeen: other ? Math.min(other.firstSeen, p.firstSeen) : p.firstSeen,
        lastSeen: p.lastSeen,
      };
      if (p.serviceAccount) record.serviceAccount = p.serviceAccount;
      byName.set(id, record);
    }
  }
  return [...byName.values()].sort(
    (a, b) => compareStrings(a.namespace, b.namespace) || compareStrings(a.name, b.name),
  );
}

function details(from: Map<string, DetailAcc>): DetailCount[] {
  return sorted(from.keys()).map((value) => {
    const d = from.get(value)!;
    return { value, count: d.count, firstSeen: d.firstSeen, lastSeen: d.lastSeen };
  });
}

function edgeDelta(e: EdgeAcc): GraphDelta['edges'][number] {
  // Records without a reporter were counted as they came; Calico's are combined per hour here.
  const edgeVerdicts = e.verdicts.slice();
  const hours: HourCounts[] = [...e.hours.keys()]
    .sort((a, b) => a - b)
    .map((hour) => {
      const h = e.hours.get(hour)!;
      if (h.src === undefined && h.dst === undefined)
        return { hour, flows: h.flows, verdicts: verdictCounts(h.verdicts) };
      const reports = { src: verdictCounts(h.src ?? []), dst: verdictCounts(h.dst ?? []) };
      const combined = combineReports(reports.src, reports.dst);
      const verdicts = h.verdicts.slice();
      VERDICTS.forEach((v, i) => {
        const n = combined[v] ?? 0;
        verdicts[i]! += n;
        edgeVerdicts[i]! += n;
      });
      return { hour, flows: h.flows + totalOf(combined), verdicts: verdictCounts(verdicts), reports };
    });
  const http: HttpCounts[] = [];
  for (const path of sorted(e.http.keys())) {
    const variants = e.http.get(path)!;
    for (const h of variants) {
      http.push({
        method: h.method,
        path,
        status: h.status,
        count: h.count,
        firstSeen: h.firstSeen,
        lastSeen: h.lastSeen,
      });
    }
  }
  http.sort((a, b) => compareStrings(a.path, b.path) || compareStrings(a.method, b.method) || a.status - b.status);
  const verdicts = verdictCounts(edgeVerdicts);
  return {
    src: e.src.key,
    dst: e.dst.key,
    protocol: e.protocol,
    port: e.port,
    flows: totalOf(verdicts),
    verdicts,
    firstSeen: e.firstSeen,
    lastSeen: e.lastSeen,
    hours,
    http,
    httpOverflow: e.httpOverflow,
    dnsNames: details(e.dnsNames),
    dnsOverflow: e.dnsOverflow,
    kafkaTopics: details(e.kafkaTopics),
    dropReasons: details(e.dropReasons),
    policies: details(e.policies),
    services: details(servicesOf(e)),
  };
}

/**
 * The Services of an edge: both ends of a Calico connection name the same Service, so the two ends'
 * counts combine like the connections (the larger), and add to those of records without a reporter.
 */
function servicesOf(e: EdgeAcc): Map<string, DetailAcc> {
  const reported = e.reportedServices;
  if (reported === undefined) return e.services;
  const out = new Map<string, DetailAcc>();
  for (const [value, d] of e.services) out.set(value, { ...d });
  for (const value of new Set([...reported.src.keys(), ...reported.dst.keys()])) {
    const a = reported.src.get(value);
    const b = reported.dst.get(value);
    const count = Math.max(a?.count ?? 0, b?.count ?? 0);
    const firstSeen = Math.min(a?.firstSeen ?? Number.POSITIVE_INFINITY, b?.firstSeen ?? Number.POSITIVE_INFINITY);
    const lastSeen = Math.max(a?.lastSeen ?? Number.NEGATIVE_INFINITY, b?.lastSeen ?? Number.NEGATIVE_INFINITY);
    const plain = out.get(value);
    if (plain === undefined) out.set(value, { count, firstSeen, lastSeen });
    else {
      plain.count += count;
      plain.firstSeen = Math.min(plain.firstSeen, firstSeen);
      plain.lastSeen = Math.max(plain.lastSeen, lastSeen);
    }
  }
  return out;
}
