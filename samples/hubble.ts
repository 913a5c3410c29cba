// Renders scenario traffic as `hubble observe -o json` lines: `{"flow":{...},"node_name":"...","time":"..."}`.
// One connection becomes several records, as Cilium reports it: at the client's egress and the server's
// ingress, for the request and for the reply (`is_reply: true`), plus L7 records for DNS (and HTTP with
// `l7`). A few `node_status` and `lost_events` lines are mixed in, as Hubble Relay sends them.
//
// Speed matters (benchmarks need millions of lines), so each endpoint's JSON is built once and records
// are assembled by string concatenation.
import { createRng } from './prng.js';
import type { Pod, Scenario } from './scenario.js';
import { createTraffic, type EventEnd, type TrafficEvent } from './traffic.js';

export interface HubbleOptions {
  /** Number of flow records to produce (node_status and lost_events lines come on top). */
  flows: number;
  seed: number;
  /** Time of the first record, ms since the epoch. */
  startMs: number;
  /** Records are spread evenly over this span; the rollout happens halfway. */
  spanMs: number;
  /** Add HTTP L7 request/response records for connections that carry HTTP. */
  l7: boolean;
}

export const DEFAULT_START = '2024-06-03T00:00:00Z';
export const DEFAULT_SPAN_MS = 2 * 24 * 3600 * 1000;

/** Share of SYN / SYN-ACK records that leave out `is_reply`, as agents before it existed did. */
const NO_IS_REPLY_SHARE = 0.03;
/** Spacing of the records of one event, at most (they are also kept below the spacing of events). */
const RECORD_GAP_NS = 40_000;
const LOST_EVENTS_EVERY = 250_000;

/** Cilium's reserved identities. */
const RESERVED_IDENTITY = { host: 1, world: 2, 'kube-apiserver': 7 } as const;

interface Draft {
  node: string;
  verdict: 'FORWARDED' | 'DROPPED';
  src: EventEnd;
  dst: EventEnd;
  /** The `l4` object's JSON. */
  l4: string;
  direction: 'INGRESS' | 'EGRESS';
  /** undefined: leave `is_reply` out. */
  reply: boolean | undefined;
  summary: string;
  /** Trace observation point for L3/L4 forwarded records. */
  point?: string;
  /** The `l7` object's JSON, for L7 records. */
  l7?: string;
}

/** Lines of Hubble JSON, without newlines, for `opts.flows` flow records. */
export function* hubbleLines(scenario: Scenario, opts: HubbleOptions): Generator<string> {
  const rng = createRng(opts.seed ^ 0x5eed);
  const traffic = createTraffic(scenario, { seed: opts.seed, rolloutAt: opts.startMs + opts.spanMs / 2 });
  const endpointJson = buildEndpointJson(scenario);
  const serviceJson = buildServiceJson(scenario);
  const clock = createClock(opts.startMs);
  const stepNs = (opts.spanMs * 1e6) / opts.flows;
  const gapNs = Math.min(RECORD_GAP_NS, stepNs);

  // Times are derived from the number of flows emitted so far, so records are spread evenly over the span.
  let emitted = 0;
  let recordInEvent = 0;
  let eventNs = 0;
  let time = '';

  const stamp = () => {
    time = clock(eventNs + recordInEvent * gapNs);
    recordInEvent++;
  };

  const endpoint = (end: EventEnd): string => {
    if (end.pod) return endpointJson.get(end.pod)!;
    return `{"identity":${RESERVED_IDENTITY[end.reserved!]},"labels":["reserved:${end.reserved}"]}`;
  };

  const render = (d: Draft): string => {
    stamp();
    const dropped = d.verdict === 'DROPPED';
    let s =
      `{"flow":{"time":"${time}","uuid":"${uuid(rng.u32(), rng.u32(), rng.u32(), rng.u32())}",` +
      `"verdict":"${d.verdict}",` +
      (dropped ? '"drop_reason":133,' : '') +
      `"IP":{"source":"${d.src.ip}","destination":"${d.dst.ip}","ipVersion":"IPv4"},` +
      `"l4":${d.l4},"source":${endpoint(d.src)},"destination":${endpoint(d.dst)},` +
      `"Type":"${d.l7 ? 'L7' : 'L3_L4'}","node_name":"${d.node}",`;
    // Names and Services belong to the server end, whichever way the packet goes.
    const server = d.reply ? d.src : d.dst;
    if (server.names && server.names.length > 0)
      s += `"${d.reply ? 'source' : 'destination'}_names":${JSON.stringify(server.names)},`;
    if (d.l7) s += `"l7":${d.l7},`;
    s += dropped
      ? '"event_type":{"type":1,"sub_type":133},'
      : d.l7
        ? '"event_type":{"type":129},'
        : `"event_type":{"type":4,"sub_type":${TRACE_SUB_TYPE[d.point!]}},`;
    // Pods reach servers through Services; kubelet probes and outside clients hit pod addresses.
    const client = d.reply ? d.dst : d.src;
    const service = !client.pod
      ? undefined
      : server.pod
        ? serviceJson.get(server.pod.workload.key)
        : server.reserved === 'kube-apiserver'
          ? KUBERNETES_SERVICE
          : undefined;
    if (service) s += `"${d.reply ? 'source' : 'destination'}_service":${service},`;
    s += `"traffic_direction":"${d.direction}",`;
    if (d.point && !d.l7 && !dropped) s += `"trace_observation_point":"${d.point}",`;
    if (dropped) s += '"drop_reason_desc":"POLICY_DENIED",';
    if (d.reply !== undefined) s += `"is_reply":${d.reply},`;
    s += `"Summary":${JSON.stringify(d.summary)}},"node_name":"${d.node}","time":"${time}"}`;
    return s;
  };

  const pending: string[] = [];

  /** The records of one event, client side before server side, request before reply. */
  const renderEvent = (e: TrafficEvent): void => {
    if (e.lookup) renderEvent(e.lookup);
    const c = e.connection;
    const client = e.src.pod;
    const server = e.dst.pod;
    const sameNode = client !== undefined && server !== undefined && client.node === server.node;
    const outPoint = sameNode || !server ? 'TO_STACK' : 'TO_OVERLAY';
    const inPoint = 'TO_ENDPOINT';

    if (e.dropped) {
      // Denied at the client's egress when the client is a pod, else at the server's ingress; the
      // client retries its SYN a few times.
      const tries = rng.between(1, 3);
      for (let i = 0; i < tries; i++) {
        pending.push(
          render({
            node: (client ?? server)!.node.name,
            verdict: 'DROPPED',
            src: e.src,
            dst: e.dst,
            l4: tcp(e.srcPort, c.port, '{"SYN":true}'),
            direction: client ? 'EGRESS' : 'INGRESS',
            reply: false,
            summary: 'TCP Flags: SYN',
          }),
        );
      }
      return;
    }

    let request: string;
    let response: string;
    let requestSummary: string;
    let responseSummary: string;
    let synLike = false;
    if (c.protocol === 'TCP') {
      request = tcp(e.srcPort, c.port, '{"SYN":true}');
      response = tcp(c.port, e.srcPort, '{"SYN":true,"ACK":true}');
      requestSummary = 'TCP Flags: SYN';
      responseSummary = 'TCP Flags: SYN, ACK';
      synLike = true;
    } else if (c.protocol === 'UDP') {
      request = `{"UDP":{"source_port":${e.srcPort},"destination_port":${c.port}}}`;
      response = `{"UDP":{"source_port":${c.port},"destination_port":${e.srcPort}}}`;
      requestSummary = responseSummary = 'UDP';
    } else {
      request = `{"ICMPv4":{"type":${c.port}}}`;
      response = '{"ICMPv4":{}}';
      requestSummary = 'ICMPv4 EchoRequest';
      responseSummary = 'ICMPv4 EchoReply';
    }
    const replyFlag = (isReply: boolean) => (synLike && rng.chance(NO_IS_REPLY_SHARE) ? undefined : isReply);

    // Request: client egress, then server ingress (only ends that are pods have an agent watching them).
    if (client)
      pending.push(
        render({
          node: client.node.name,
          verdict: 'FORWARDED',
          src: e.src,
          dst: e.dst,
          l4: request,
          direction: 'EGRESS',
          reply: replyFlag(false),
          summary: requestSummary,
          point: outPoint,
        }),
      );
    if (server)
      pending.push(
        render({
          node: server.node.name,
          verdict: 'FORWARDED',
          src: e.src,
          dst: e.dst,
          l4: request,
          direction: 'INGRESS',
          reply: replyFlag(false),
          summary: requestSummary,
          point: inPoint,
        }),
      );
    if (e.dns && client && server) renderDns(e, client);
    if (opts.l7 && e.http && server) renderHttp(e, server);
    // Reply: leaves the server (its connection is still INGRESS), arrives at the client (EGRESS).
    if (server)
      pending.push(
        render({
          node: server.node.name,
          verdict: 'FORWARDED',
          src: e.dst,
          dst: e.src,
          l4: response,
          direction: 'INGRESS',
          reply: replyFlag(true),
          summary: responseSummary,
          point: client ? outPoint : 'TO_STACK',
        }),
      );
    if (client)
      pending.push(
        render({
          node: client.node.name,
          verdict: 'FORWARDED',
          src: e.dst,
          dst: e.src,
          l4: response,
          direction: 'EGRESS',
          reply: replyFlag(true),
          summary: responseSummary,
          point: inPoint,
        }),
      );
    // Half the TCP connections also show the client's first data segment.
    if (c.protocol === 'TCP' && rng.chance(0.5)) {
      const data = tcp(e.srcPort, c.port, '{"PSH":true,"ACK":true}');
      for (const [pod, direction, point] of [
        [client, 'EGRESS', outPoint],
        [server, 'INGRESS', inPoint],
      ] as const) {
        if (pod)
          pending.push(
            render({
              node: pod.node.name,
              verdict: 'FORWARDED',
              src: e.src,
              dst: e.dst,
              l4: data,
              direction,
              reply: false,
              summary: 'TCP Flags: ACK, PSH',
              point,
            }),
          );
      }
    }
  };

  /** DNS as seen by Cilium's DNS proxy at the client: a query and its answer. */
  const renderDns = (e: TrafficEvent, client: Pod): void => {
    const dns = e.dns!;
    const ports = `{"UDP":{"source_port":${e.srcPort},"destination_port":53}}`;
    const replyPorts = `{"UDP":{"source_port":53,"destination_port":${e.srcPort}}}`;
    pending.push(
      render({
        node: client.node.name,
        verdict: 'FORWARDED',
        src: e.src,
        dst: e.dst,
        l4: ports,
        direction: 'EGRESS',
        reply: false,
        summary: `DNS Query ${dns.query} A`,
        l7: `{"type":"REQUEST","dns":{"query":"${dns.query}","qtypes":["A"],"observation_source":"proxy"}}`,
      }),
    );
    pending.push(
      render({
        node: client.node.name,
        verdict: 'FORWARDED',
        src: e.dst,
        dst: e.src,
        l4: replyPorts,
        direction: 'EGRESS',
        reply: true,
        summary: `DNS Answer "${dns.answers.join(',')}" TTL: 30 (Proxy ${dns.query} A)`,
        l7:
          `{"type":"RESPONSE","latency_ns":"${rng.between(100_000, 3_000_000)}","dns":{"query":"${dns.query}",` +
          `"ips":${JSON.stringify(dns.answers)},"ttl":30,"qtypes":["A"],"rrtypes":["A"],"observation_source":"proxy"}}`,
      }),
    );
  };

  /** HTTP as seen by the server's proxy: the request, then the response with its latency. */
  const renderHttp = (e: TrafficEvent, server: Pod): void => {
    const http = e.http!;
    const authority = `${server.workload.service ?? server.workload.name}:${e.connection.port}`;
    const url = `http://${authority}${http.path}`;
    const ports = tcp(e.srcPort, e.connection.port, '');
    const replyPorts = tcp(e.connection.port, e.srcPort, '');
    const protocol = e.protocol ?? 'HTTP/1.1';
    pending.push(
      render({
        node: server.node.name,
        verdict: 'FORWARDED',
        src: e.src,
        dst: e.dst,
        l4: ports,
        direction: 'INGRESS',
        reply: false,
        summary: `${protocol} ${http.method} ${url}`,
        l7:
          `{"type":"REQUEST","http":{"method":"${http.method}","url":"${url}","protocol":"${protocol}",` +
          `"headers":[{"key":"user-agent","value":"${e.src.pod ? e.src.pod.workload.name : 'kube-probe/1.30'}"}]}}`,
      }),
    );
    pending.push(
      render({
        node: server.node.name,
        verdict: 'FORWARDED',
        src: e.dst,
        dst: e.src,
        l4: replyPorts,
        direction: 'INGRESS',
        reply: true,
        summary: `${protocol} ${http.status} ${Math.round(http.latencyNs / 1e6)}ms (${http.method} ${url})`,
        l7:
          `{"type":"RESPONSE","latency_ns":"${http.latencyNs}","http":{"code":${http.status},` +
          `"method":"${http.method}","url":"${url}","protocol":"${protocol}"}}`,
      }),
    );
  };

  // Non-flow lines: every node connects at the start; events are lost now and then; one node drops
  // out and comes back three quarters of the way through.
  const lostAt = new Set([Math.floor(opts.flows / 3), Math.floor((2 * opts.flows) / 3)]);
  for (let k = LOST_EVENTS_EVERY; k < opts.flows; k += LOST_EVENTS_EVERY) lostAt.add(k);
  const flappingNode = scenario.spec.nodes[scenario.spec.nodes.length - 1]!.name;
  const flapAt = Math.floor((3 * opts.flows) / 4);
  const relayNode = scenario.spec.nodes[0]!.name;

  time = clock(0);
  for (const n of scenario.spec.nodes) yield nodeStatus('NODE_CONNECTED', n.name, relayNode, time);

  let next = 0;
  while (emitted < opts.flows) {
    if (next === pending.length) {
      pending.length = 0;
      next = 0;
      eventNs = Math.floor(stepNs * emitted);
      recordInEvent = 0;
      renderEvent(traffic.next(opts.startMs + eventNs / 1e6));
      continue;
    }
    yield pending[next++]!;
    emitted++;
    if (lostAt.has(emitted)) {
      const node = scenario.spec.nodes[rng.int(scenario.spec.nodes.length)]!.name;
      yield `{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"${rng.between(1, 400)}",` +
        `"cpu":${rng.int(4)}},"node_name":"${node}","time":"${time}"}`;
    }
    if (emitted === flapAt) {
      yield nodeStatus('NODE_UNAVAILABLE', flappingNode, relayNode, time);
      yield nodeStatus('NODE_CONNECTED', flappingNode, relayNode, time);
    }
  }
}

function nodeStatus(state: string, node: string, relayNode: string, time: string): string {
  return (
    `{"node_status":{"state_change":"${state}","node_names":["${node}"],` +
    `"message":"${state === 'NODE_CONNECTED' ? 'Connected' : 'Connection lost'}"},` +
    `"node_name":"${relayNode}","time":"${time}"}`
  );
}

function tcp(srcPort: number, dstPort: number, flags: string): string {
  return `{"TCP":{"source_port":${srcPort},"destination_port":${dstPort}${flags ? `,"flags":${flags}` : ''}}}`;
}

/** Cilium's trace event sub-types for the observation points used here. */
const TRACE_SUB_TYPE: Record<string, number> = { TO_ENDPOINT: 0, TO_STACK: 3, TO_OVERLAY: 4 };

const KUBERNETES_SERVICE = '{"name":"kubernetes","namespace":"default"}';

/** The endpoint JSON of every pod, labels sorted as Cilium prints them. */
function buildEndpointJson(scenario: Scenario): Map<Pod, string> {
  const out = new Map<Pod, string>();
  for (const w of scenario.workloads.values()) {
    const ns = scenario.namespaces.get(w.namespace);
    for (const pod of [...w.pods[0], ...w.pods[1]]) {
      const labels = [
        ...Object.entries(pod.labels).map(([k, v]) => `k8s:${k}=${v}`),
        ...Object.entries(ns?.labels ?? {}).map(([k, v]) => `k8s:io.cilium.k8s.namespace.labels.${k}=${v}`),
        `k8s:io.cilium.k8s.policy.cluster=${scenario.spec.cluster}`,
        `k8s:io.cilium.k8s.policy.serviceaccount=${w.serviceAccount}`,
        `k8s:io.kubernetes.pod.namespace=${w.namespace}`,
      ].sort();
      const workloads = w.reportsWorkload === false ? '' : `,"workloads":[{"name":"${w.name}","kind":"${w.kind}"}]`;
      out.set(
        pod,
        `{"ID":${pod.endpointId},"identity":${pod.identity},"cluster_name":"${scenario.spec.cluster}",` +
          `"namespace":"${w.namespace}","labels":${JSON.stringify(labels)},"pod_name":"${pod.name}"${workloads}}`,
      );
    }
  }
  return out;
}

function buildServiceJson(scenario: Scenario): Map<string, string> {
  const out = new Map<string, string>();
  for (const w of scenario.workloads.values())
    if (w.service) out.set(w.key, `{"name":"${w.service}","namespace":"${w.namespace}"}`);
  return out;
}

/** Formats offsets (ns after the start) as RFC 3339 with nanoseconds; the date part is cached per second. */
function createClock(startMs: number): (offsetNs: number) => string {
  const startSec = Math.floor(startMs / 1000);
  const startRemNs = (startMs - startSec * 1000) * 1e6;
  let cachedSec = Number.NaN;
  let prefix = '';
  return (offsetNs) => {
    const total = startRemNs + Math.floor(offsetNs);
    const sec = Math.floor(total / 1e9);
    if (sec !== cachedSec) {
      cachedSec = sec;
      prefix = new Date((startSec + sec) * 1000).toISOString().slice(0, 19);
    }
    return `${prefix}.${String(total - sec * 1e9).padStart(9, '0')}Z`;
  };
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A version-4 UUID from four random words. */
function uuid(a: number, b: number, c: number, d: number): string {
  return (
    HEX[a >>> 24]! +
    HEX[(a >>> 16) & 255]! +
    HEX[(a >>> 8) & 255]! +
    HEX[a & 255]! +
    '-' +
    HEX[b >>> 24]! +
    HEX[(b >>> 16) & 255]! +
    '-4' +
    HEX[(b >>> 8) & 15]!.slice(1) +
    HEX[b & 255]! +
    '-' +
    HEX[((c >>> 24) & 63) | 128]! +
    HEX[(c >>> 16) & 255]! +
    '-' +
    HEX[(c >>> 8) & 255]! +
    HEX[c & 255]! +
    HEX[d >>> 24]! +
    HEX[(d >>> 16) & 255]! +
    HEX[(d >>> 8) & 255]! +
    HEX[d & 255]!
  );
}
