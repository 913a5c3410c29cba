// A traffic scenario: who runs where and who talks to whom, independent of any flow-log format.
// Renderers (Hubble JSON today, Calico flow logs and a Relay replay server later) turn a scenario plus
// a seed into records. The scenario itself is fixed: pod names, IPs and identities come from stable
// hashes of names, never from the traffic seed, so every seed describes the same cluster.
import { hashString } from './prng.js';

export type ScenarioProtocol = 'TCP' | 'UDP' | 'ICMPv4';

export interface NamespaceSpec {
  name: string;
  labels: Record<string, string>;
}

export interface NodeSpec {
  name: string;
  /** The node's own address (what `reserved:host` traffic comes from). */
  ip: string;
  /** First three octets of the node's pod range, e.g. `10.244.1.` */
  podNet: string;
  /** Only pods that ask for a control-plane node are placed here. */
  controlPlane?: boolean;
}

export type ScenarioWorkloadKind = 'Deployment' | 'StatefulSet';

export interface WorkloadSpec {
  namespace: string;
  kind: ScenarioWorkloadKind;
  name: string;
  replicas: number;
  /** The pod template's labels: stable across rollouts (no hash labels; those are added per pod). */
  labels: Record<string, string>;
  serviceAccount: string;
  /** The Service in front of the pods, when clients reach them by name. */
  service?: string;
  /** Ports the kubelet probes over the network (TCP). Exec probes are not listed. */
  probePorts?: number[];
  /** false: flow logs do not name the owning workload, so it must be derived from the pod. */
  reportsWorkload?: boolean;
  /** Place pods on control-plane nodes (cluster add-ons such as coredns). */
  controlPlane?: boolean;
}

/**
 * An HTTP request template. In the path, `{id}` is replaced by one of `ids` and `{number}` by a
 * random number per request, so that paths carry IDs the way real APIs do.
 */
export interface HttpRoute {
  method: string;
  path: string;
  weight: number;
  ids?: string[];
}

/** Another address the cluster talks to; its peer key is `cidr:<ip>/32`. */
export interface ExternalSpec {
  ip: string;
  /** DNS names that resolve to the address (empty for addresses used directly). */
  names: string[];
}

export interface ConnectionSpec {
  /** Peer key of the client: a workload `ns/Kind/name`, `reserved:host`, or `cidr:<ip>/32`. */
  src: string;
  /** Peer key of the server: a workload, `reserved:kube-apiserver`, or `cidr:<ip>/32`. */
  dst: string;
  protocol: ScenarioProtocol;
  /** Destination port; the ICMP type for ICMP. */
  port: number;
  /** Relative frequency among all connections. */
  weight: number;
  /** Application-level requests carried by the connection (HTTP/1.1 or gRPC over HTTP/2). */
  http?: { protocol: 'HTTP/1.1' | 'HTTP/2'; routes: HttpRoute[] };
}

export interface ScenarioSpec {
  name: string;
  cluster: string;
  namespaces: NamespaceSpec[];
  nodes: NodeSpec[];
  workloads: WorkloadSpec[];
  externals: ExternalSpec[];
  apiServer: { ip: string; port: number };
  /** The cluster DNS workload; every client that reaches a name gets a UDP 53 connection to it. */
  dns: { workload: string; service: string; weight: number };
  /** Weight of each kubelet probe connection. */
  probeWeight: number;
  connections: ConnectionSpec[];
  /** Connections that policy denies: they appear only as dropped records. */
  dropped: ConnectionSpec[];
}

export interface Pod {
  workload: Workload;
  /** 0 before the rollout, 1 after. */
  generation: 0 | 1;
  name: string;
  ip: string;
  node: NodeSpec;
  /** Template labels plus the per-rollout ones (pod-template-hash, controller-revision-hash...). */
  labels: Record<string, string>;
  /** Cilium endpoint ID, unique per node is enough; kept unique per cluster here. */
  endpointId: number;
  /** Cilium security identity: one per distinct label set, so one per workload and generation. */
  identity: number;
}

export interface Workload extends WorkloadSpec {
  key: string;
  /** The Service's cluster IP, when the workload has a Service (what DNS answers for its name). */
  serviceIp?: string;
  /** The Service's DNS name, `<service>.<namespace>.svc.cluster.local.` */
  serviceName?: string;
  /** The pods of each generation. */
  pods: [Pod[], Pod[]];
}

export interface Scenario {
  spec: ScenarioSpec;
  workloads: Map<string, Workload>;
  externals: Map<string, ExternalSpec>;
  namespaces: Map<string, NamespaceSpec>;
  /** Every intended (forwarded) connection, including generated DNS lookups and kubelet probes. */
  connections: ConnectionSpec[];
  dropped: ConnectionSpec[];
}

/** The connection identity that a dependency graph should learn: what NetworkPolicy must allow. */
export interface IntendedConnection {
  src: string;
  dst: string;
  protocol: ScenarioProtocol;
  port: number;
}

export function workloadKey(w: { namespace: string; kind: string; name: string }): string {
  return `${w.namespace}/${w.kind}/${w.name}`;
}

export function externalKey(ip: string): string {
  return `cidr:${ip}/32`;
}

// Kubernetes builds generated name parts from this alphabet (no vowels, no look-alike digits).
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function nameChars(seedText: string, length: number): string {
  let h = hashString(seedText);
  let out = '';
  for (let i = 0; i < length; i++) {
    // Re-hash every few characters so long strings do not run out of entropy.
    if (i % 5 === 0 && i > 0) h = hashString(`${seedText}/${i}/${h}`);
    out += NAME_ALPHABET[h % NAME_ALPHABET.length];
    h = Math.floor(h / NAME_ALPHABET.length);
  }
  return out;
}

/** Takes the next free number at or after `start` in [min, max]. */
function claim(used: Set<number>, start: number, min: number, max: number): number {
  let n = start;
  while (used.has(n)) n = n >= max ? min : n + 1;
  used.add(n);
  return n;
}

/** Expands a spec into workloads with pods for both generations, and adds DNS and probe connections. */
export function buildScenario(spec: ScenarioSpec): Scenario {
  const workers = spec.nodes.filter((n) => !n.controlPlane);
  const controlPlanes = spec.nodes.filter((n) => n.controlPlane);
  const nextHost = new Map(spec.nodes.map((n) => [n.name, 10]));
  const identities = new Set<number>();
  const endpointIds = new Set<number>();
  const workloads = new Map<string, Workload>();
  let placement = 0;

  for (const ws of spec.workloads) {
    const w: Workload = { ...ws, key: workloadKey(ws), pods: [[], []] };
    if (w.service !== undefined) {
      // The DNS service gets the conventional 10.96.0.10; others a stable address from their name.
      const h = hashString(`${w.namespace}/${w.service}`);
      w.serviceIp = w.key === spec.dns.workload ? '10.96.0.10' : `10.96.${1 + (h % 200)}.${2 + ((h >>> 8) % 250)}`;
      w.serviceName = `${w.service}.${w.namespace}.svc.cluster.local.`;
    }
    workloads.set(w.key, w);
  }
  // All generation-0 pods first, so generation-1 pods get fresh addresses, as after a real rollout.
  for (const generation of [0, 1] as const) {
    for (const w of workloads.values()) {
      const hash = nameChars(`${w.key}#${generation}`, 10);
      const identity = claim(identities, 10000 + (hashString(`${w.key}#${generation}`) % 50000), 10000, 65535);
      for (let i = 0; i < w.replicas; i++) {
        const pool = w.controlPlane && controlPlanes.length > 0 ? controlPlanes : workers;
        const node = pool[placement++ % pool.length]!;
        const host = nextHost.get(node.name)!;
        nextHost.set(node.name, host + 1);
        const labels: Record<string, string> = { ...w.labels };
        let name: string;
        if (w.kind === 'Deployment') {
          name = `${w.name}-${hash}-${nameChars(`${w.key}#${generation}#${i}`, 5)}`;
          labels['pod-template-hash'] = hash;
        } else {
          name = `${w.name}-${i}`;
          labels['controller-revision-hash'] = `${w.name}-${hash}`;
          labels['statefulset.kubernetes.io/pod-name'] = name;
          labels['apps.kubernetes.io/pod-index'] = String(i);
        }
        w.pods[generation].push({
          workload: w,
          generation,
          name,
          ip: `${node.podNet}${host}`,
          node,
          labels,
          endpointId: claim(endpointIds, 1 + (hashString(name + generation) % 4000), 1, 4095),
          identity,
        });
      }
    }
  }

  const externals = new Map(spec.externals.map((e) => [externalKey(e.ip), e]));
  const connections = [...spec.connections];
  // Clients that reach a Service or an external name look it up first.
  const resolvers = new Set<string>();
  for (const c of spec.connections) {
    const dst = workloads.get(c.dst);
    const named = dst ? dst.service !== undefined : (externals.get(c.dst)?.names.length ?? 0) > 0;
    if (named && workloads.has(c.src) && c.src !== spec.dns.workload) resolvers.add(c.src);
  }
  for (const src of [...resolvers].sort())
    connections.push({ src, dst: spec.dns.workload, protocol: 'UDP', port: 53, weight: spec.dns.weight });
  for (const w of workloads.values())
    for (const port of w.probePorts ?? [])
      connections.push({ src: 'reserved:host', dst: w.key, protocol: 'TCP', port, weight: spec.probeWeight });

  for (const c of [...connections, ...spec.dropped]) {
    for (const end of [c.src, c.dst])
      if (!workloads.has(end) && !externals.has(end) && !end.startsWith('reserved:'))
        throw new Error(`scenario ${spec.name}: unknown peer ${end}`);
  }
  return {
    spec,
    workloads,
    externals,
    namespaces: new Map(spec.namespaces.map((n) => [n.name, n])),
    connections,
    dropped: spec.dropped,
  };
}

/** The intended connections, deduplicated and sorted: what a learned policy must allow, and nothing more. */
export function intendedConnections(scenario: Scenario): IntendedConnection[] {
  const byKey = new Map<string, IntendedConnection>();
  for (const c of scenario.connections)
    byKey.set(`${c.src}>${c.dst}|${c.protocol}/${c.port}`, {
      src: c.src,
      dst: c.dst,
      protocol: c.protocol,
      port: c.port,
    });
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
}

/** The denied connections (dropped by policy in the scenario), in the same shape. */
export function deniedConnections(scenario: Scenario): IntendedConnection[] {
  return scenario.dropped.map((c) => ({ src: c.src, dst: c.dst, protocol: c.protocol, port: c.port }));
}
