// Renders scenario traffic as Calico Enterprise flow logs: the JSON documents Felix writes to
// /var/log/calico/flowlogs/flows.log, one per line. It renders the same seeded traffic events as the
// Hubble renderer, aggregated the way Calico aggregates them:
//   - per 5-minute interval, per reporter, per source and destination, port, protocol, action and Service;
//   - reported by each end that is a Calico endpoint (a pod): `reporter: src` at the client's node and
//     `reporter: dst` at the server's, unless the client's egress already denied the connection;
//   - allowed flows at aggregation level `prefix` (Calico's default for allowed flows: pods by their
//     generateName `frontend-6d9f8c7b5-*`, no addresses, no pod names) or `source-port` (pod names and
//     addresses kept, only source ports aggregated); denied flows always at `source-port`, Calico's default
//     for denied flows.
// Non-pod ends: the kubelet is the node's host endpoint (`hep`, `<node>-auto-hep`), the API server a
// private network (`net`/`pvt`) reached through the Service default/kubernetes, other addresses the
// public network (`net`/`pub`), with the DNS names used to reach them in `dest_domains`.
import type { Pod, Scenario } from './scenario.js';
import { createTraffic, type EventEnd, type TrafficEvent } from './traffic.js';

export type CalicoAggregation = 'prefix' | 'source-port';

export interface CalicoOptions {
  /** Number of traffic events (connections) to render; DNS lookups before external calls come on top. */
  events: number;
  seed: number;
  /** Time of the first event, ms since the epoch. */
  startMs: number;
  /** Events are spread evenly over this span; the rollout happens halfway. */
  spanMs: number;
  /** How allowed flows are aggregated (default `prefix`, Calico's default). */
  aggregation?: CalicoAggregation;
}

/** Felix's default flow log flush interval. */
export const CALICO_INTERVAL_MS = 5 * 60 * 1000;

interface EndDoc {
  name: string;
  nameAggr: string;
  namespace: string;
  type: 'wep' | 'hep' | 'net';
  ip: string | null;
  labels: string[] | null;
}

interface Bucket {
  doc: Record<string, unknown>;
  flows: number;
}

/** Lines of Calico flow log JSON, without newlines, interval after interval. */
export function* calicoLines(scenario: Scenario, opts: CalicoOptions): Generator<string> {
  const aggregation = opts.aggregation ?? 'prefix';
  const traffic = createTraffic(scenario, { seed: opts.seed, rolloutAt: opts.startMs + opts.spanMs / 2 });
  const step = opts.spanMs / opts.events;
  let interval = -1;
  let buckets = new Map<string, Bucket>();

  const flush = function* (): Generator<string> {
    const start = (interval * CALICO_INTERVAL_MS) / 1000;
    for (const key of [...buckets.keys()].sort()) {
      const { doc, flows } = buckets.get(key)!;
      const n = flows;
      yield JSON.stringify({
        start_time: start,
        end_time: start + CALICO_INTERVAL_MS / 1000,
        ...doc,
        num_flows: n,
        num_flows_started: n,
        num_flows_completed: n,
        packets_in: 6 * n,
        packets_out: 8 * n,
        bytes_in: 1460 * n,
        bytes_out: 920 * n,
      });
    }
    buckets = new Map();
  };

  const add = (e: TrafficEvent) => {
    for (const doc of documents(scenario, e, aggregation)) {
      const key = JSON.stringify(doc);
      const bucket = buckets.get(key);
      if (bucket) bucket.flows++;
      else buckets.set(key, { doc, flows: 1 });
    }
  };

  for (let i = 0; i < opts.events; i++) {
    const time = opts.startMs + Math.floor(i * step);
    const at = Math.floor(time / CALICO_INTERVAL_MS);
    if (at !== interval) {
      if (interval >= 0) yield* flush();
      interval = at;
    }
    const event = traffic.next(time);
    if (event.lookup) add(event.lookup);
    add(event);
  }
  if (interval >= 0) yield* flush();
}

/** The documents (without time and counters) that one connection adds to: one per reporting end. */
function documents(scenario: Scenario, e: TrafficEvent, aggregation: CalicoAggregation): Record<string, unknown>[] {
  const c = e.connection;
  // Denied flows keep names and addresses (Calico's default aggregation for denied flows).
  const level: CalicoAggregation = e.dropped ? 'source-port' : aggregation;
  const src = endDoc(scenario, e.src, level);
  const dst = endDoc(scenario, e.dst, level);
  const action = e.dropped ? 'deny' : 'allow';
  const service = serviceOf(e);
  const base = (reporter: 'src' | 'dst', pod: Pod): Record<string, unknown> => ({
    source_ip: src.ip,
    source_name: src.name,
    source_name_aggr: src.nameAggr,
    source_namespace: src.namespace,
    source_port: null,
    source_type: src.type,
    source_labels: src.labels ? { labels: src.labels } : null,
    dest_ip: dst.ip,
    dest_name: dst.name,
    dest_name_aggr: dst.nameAggr,
    dest_namespace: dst.namespace,
    dest_port: c.protocol === 'ICMPv4' ? null : c.port,
    dest_type: dst.type,
    dest_labels: dst.labels ? { labels: dst.labels } : null,
    dest_service_namespace: service?.namespace ?? '-',
    dest_service_name: service?.name ?? '-',
    dest_service_port: service?.portName ?? '-',
    dest_service_port_num: service?.port ?? null,
    dest_domains: e.dst.names && e.dst.names.length > 0 ? e.dst.names : null,
    proto: c.protocol === 'ICMPv4' ? 'icmp' : c.protocol.toLowerCase(),
    action,
    reporter,
    policies: { all_policies: [policyHit(e, reporter)] },
    host: pod.node.name,
  });
  const out: Record<string, unknown>[] = [];
  const client = e.src.pod;
  const server = e.dst.pod;
  if (client) out.push(base('src', client));
  // The server's node reports too, unless the client's egress policy stopped the connection.
  if (server && !(e.dropped && client)) out.push(base('dst', server));
  return out;
}

/** One end as Calico names it at the given aggregation level. */
function endDoc(scenario: Scenario, end: EventEnd, level: CalicoAggregation): EndDoc {
  const pod = end.pod;
  if (pod) {
    const w = pod.workload;
    const nameAggr = w.kind === 'Deployment' ? `${pod.name.slice(0, pod.name.lastIndexOf('-') + 1)}*` : pod.name;
    const labels = [
      ...Object.entries(pod.labels).map(([k, v]) => `${k}=${v}`),
      `projectcalico.org/namespace=${w.namespace}`,
      'projectcalico.org/orchestrator=k8s',
      `projectcalico.org/serviceaccount=${w.serviceAccount}`,
    ].sort();
    return {
      name: level === 'prefix' ? '-' : pod.name,
      nameAggr,
      namespace: w.namespace,
      type: 'wep',
      ip: level === 'prefix' ? null : pod.ip,
      labels,
    };
  }
  if (end.reserved === 'host') {
    const node = scenario.spec.nodes.find((n) => n.ip === end.ip);
    const name = `${node?.name ?? end.ip}-auto-hep`;
    return { name, nameAggr: name, namespace: '-', type: 'hep', ip: level === 'prefix' ? null : end.ip, labels: null };
  }
  const network = isPrivate(end.ip) ? 'pvt' : 'pub';
  return {
    name: '-',
    nameAggr: network,
    namespace: '-',
    type: 'net',
    ip: level === 'prefix' ? null : end.ip,
    labels: null,
  };
}

/** RFC 1918 ranges: what Calico calls a private network. */
function isPrivate(ip: string): boolean {
  const [a, b] = ip.split('.').map(Number) as [number, number];
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

/** The Service a pod client reached the server through (kubelet probes and outside clients hit pods directly). */
function serviceOf(e: TrafficEvent): { namespace: string; name: string; portName: string; port: number } | undefined {
  if (!e.src.pod) return undefined;
  const server = e.dst.pod?.workload;
  const port = e.connection.port;
  if (server?.service)
    return {
      namespace: server.namespace,
      name: server.service,
      portName: `${e.connection.protocol.toLowerCase()}-${port}`,
      port,
    };
  if (e.dst.reserved === 'kube-apiserver')
    return { namespace: 'default', name: 'kubernetes', portName: 'https', port: 443 };
  return undefined;
}

/**
 * The policy that decided the flow at the reporting end, as Calico writes it. The scenario's cluster
 * allows by namespace profile and denies with Kubernetes NetworkPolicies at the end of the default tier.
 */
function policyHit(e: TrafficEvent, reporter: 'src' | 'dst'): string {
  const pod = reporter === 'src' ? e.src.pod! : e.dst.pod!;
  const ns = pod.workload.namespace;
  if (!e.dropped) return `0|__PROFILE__|__PROFILE__.kns.${ns}|allow|0`;
  return `0|default|${ns}/knp.default.${pod.workload.name}|deny|-1`;
}
