// From graph peers to the endpoints the policy engine evaluates: a workload becomes its pods (one per
// distinct label set, since pods with the same labels, ports and namespace are treated alike by
// NetworkPolicy selectors), an external peer its addresses, the host the node. Peers that no policy
// engine can place (network sets, reserved entities without an address) say why.
import type { Edge, Graph, PeerNode } from '../model/index.js';
import type { EvalEndpoint, Inventory, L4Protocol, PodInfo } from '../policy/index.js';

export type Resolved = { endpoints: EvalEndpoint[] } | { unsupported: string };

/** The protocols NetworkPolicy rules can name. */
export function l4Protocol(protocol: string): L4Protocol | undefined {
  return protocol === 'TCP' || protocol === 'UDP' || protocol === 'SCTP' ? protocol : undefined;
}

/** Why an edge cannot be evaluated as a NetworkPolicy connection, or undefined when it can. */
export function edgeProblem(e: Pick<Edge, 'protocol' | 'port'>): string | undefined {
  if (!l4Protocol(e.protocol)) return `${e.protocol} has no ports; NetworkPolicy rules name TCP, UDP and SCTP only`;
  if (e.port <= 0) return 'destination port unknown';
  return undefined;
}

/** An edge's two ends as the policy engine evaluates them: at most `maxVariants` endpoints each. */
export interface PlacedEdge {
  srcs: EvalEndpoint[];
  dsts: EvalEndpoint[];
  protocol: L4Protocol;
}

/** Places an edge for evaluation, or says why it cannot be (no ports, unknown port, unplaceable peer). */
export function placeEdge(
  e: Pick<Edge, 'src' | 'dst' | 'protocol' | 'port'>,
  resolve: (key: string) => Resolved,
  maxVariants: number,
): PlacedEdge | { why: string } {
  const problem = edgeProblem(e);
  if (problem !== undefined) return { why: problem };
  const src = resolve(e.src);
  if ('unsupported' in src) return { why: src.unsupported };
  const dst = resolve(e.dst);
  if ('unsupported' in dst) return { why: dst.unsupported };
  return {
    srcs: src.endpoints.slice(0, maxVariants),
    dsts: dst.endpoints.slice(0, maxVariants),
    protocol: l4Protocol(e.protocol)!,
  };
}

/** Address part of `203.0.113.7/32` (the network address for a wider block). */
function cidrAddress(cidr: string): string {
  const slash = cidr.indexOf('/');
  return slash < 0 ? cidr : cidr.slice(0, slash);
}

/** A function resolving peer keys to endpoints, caching each key. */
export function endpointResolver(graph: Graph, inventory: Inventory): (key: string) => Resolved {
  const cache = new Map<string, Resolved>();
  const podsByWorkload = new Map<string, PodInfo[]>();
  for (const pod of inventory.pods) {
    if (!pod.workload) continue;
    const list = podsByWorkload.get(pod.workload);
    if (list) list.push(pod);
    else podsByWorkload.set(pod.workload, [pod]);
  }
  return (key) => {
    let r = cache.get(key);
    if (!r) {
      r = resolvePeer(graph.peers.get(key), key, podsByWorkload);
      cache.set(key, r);
    }
    return r;
  };
}

function resolvePeer(node: PeerNode | undefined, key: string, podsByWorkload: Map<string, PodInfo[]>): Resolved {
  if (!node) return { unsupported: `${key} is not a known peer` };
  const p = node.peer;
  switch (p.type) {
    case 'workload':
      return { endpoints: workloadPods(node, p.namespace, p.name, podsByWorkload.get(node.key) ?? []) };
    case 'external': {
      const ips = node.ips.length > 0 ? node.ips : [cidrAddress(p.cidr)];
      return { endpoints: ips.map((ip) => ({ kind: 'ip', ip })) };
    }
    case 'reserved':
      // reserved:host is the node the pod at the other end runs on: always allowed by NetworkPolicy.
      if (p.entity === 'host')
        return { endpoints: [node.ips[0] ? { kind: 'host', ip: node.ips[0] } : { kind: 'host' }] };
      if (node.ips.length === 0) return { unsupported: `${p.entity} without an observed address` };
      return { endpoints: node.ips.map((ip) => ({ kind: 'ip', ip })) };
    case 'networkset':
      return { unsupported: 'Calico network sets cannot be placed by the NetworkPolicy engine' };
  }
}

/** One pod per distinct (labels, ports, host network); a workload without pods gets one from its selector. */
function workloadPods(node: PeerNode, namespace: string, name: string, pods: PodInfo[]): EvalEndpoint[] {
  const seen = new Set<string>();
  const out: EvalEndpoint[] = [];
  for (const pod of pods) {
    const sig = JSON.stringify([Object.entries(pod.labels).sort(), pod.ports, pod.hostNetwork === true]);
    if (seen.has(sig)) continue;
    seen.add(sig);
    out.push({ kind: 'pod', pod });
  }
  if (out.length === 0) {
    // No pod record (e.g. a graph built from Calico aggregates): stand in a pod carrying the labels
    // that select the workload, so that selectors still evaluate.
    const pod: PodInfo = {
      namespace,
      name: `${name} (no pod observed)`,
      labels: { ...node.selector },
      ips: [],
      ports: [],
      workload: node.key,
    };
    if (node.serviceAccounts[0]) pod.serviceAccount = node.serviceAccounts[0];
    out.push({ kind: 'pod', pod });
  }
  return out;
}

/** A short human label for a peer key: `shop/frontend`, `203.0.113.10 (api.payments.example)`. */
export function peerDisplayName(graph: Graph, key: string): string {
  const node = graph.peers.get(key);
  if (!node) return key;
  const p = node.peer;
  switch (p.type) {
    case 'workload':
      return `${p.namespace}/${p.name}`;
    case 'reserved':
      return p.entity;
    case 'external': {
      const addr = p.cidr.endsWith('/32') || p.cidr.endsWith('/128') ? cidrAddress(p.cidr) : p.cidr;
      return node.names.length > 0 ? `${addr} (${node.names.join(', ')})` : addr;
    }
    case 'networkset':
      return p.namespace ? `${p.namespace}/${p.name}` : p.name;
  }
}
