// The aggregated dependency graph: peers (workloads, reserved entities, external addresses) and the
// edges between them, with the evidence that supports each edge. The store persists it; identity,
// synthesize, policy and review read it.
import type { Protocol, ReservedEntity, Verdict, WorkloadKind } from './flow.js';

export type Peer =
  | { type: 'workload'; cluster?: string; namespace: string; kind: WorkloadKind; name: string }
  | { type: 'reserved'; entity: ReservedEntity }
  | { type: 'external'; cidr: string }
  | { type: 'networkset'; namespace?: string; name: string };

/**
 * A peer's stable key, used as its identity everywhere (store, maps, JSON output):
 *   workload   `shop/Deployment/frontend` (or `cluster:shop/Deployment/frontend` with a cluster)
 *   reserved   `reserved:host`
 *   external   `cidr:203.0.113.7/32`
 *   networkset `netset:shop/allowed-apis` or `netset:pub` for a global one
 */
export function peerKey(p: Peer): string {
  switch (p.type) {
    case 'workload':
      return `${p.cluster ? `${p.cluster}:` : ''}${p.namespace}/${p.kind}/${p.name}`;
    case 'reserved':
      return `reserved:${p.entity}`;
    case 'external':
      return `cidr:${p.cidr}`;
    case 'networkset':
      return `netset:${p.namespace ? `${p.namespace}/` : ''}${p.name}`;
  }
}

/** A short human label for a peer: `shop/frontend`, `host`, `203.0.113.7/32 (api.stripe.com)`. */
export function peerLabel(p: Peer): string {
  switch (p.type) {
    case 'workload':
      return `${p.namespace}/${p.name}`;
    case 'reserved':
      return p.entity;
    case 'external':
      return p.cidr;
    case 'networkset':
      return p.namespace ? `${p.namespace}/${p.name}` : p.name;
  }
}

/** One pod as observed; the input to stable selector choice. */
export interface PodRecord {
  namespace: string;
  name: string;
  /** Key of the workload peer that owns the pod. */
  workload: string;
  labels: Record<string, string>;
  serviceAccount?: string;
  ips: string[];
  firstSeen: number;
  lastSeen: number;
}

export interface PeerNode {
  key: string;
  peer: Peer;
  /** DNS names seen resolving to this peer (external peers), sorted. */
  names: string[];
  /** Addresses observed for this peer (external peers, kube-apiserver, host), sorted. */
  ips: string[];
  serviceAccounts: string[];
  /** Labels of the peer's namespace when known. */
  namespaceLabels?: Record<string, string>;
  firstSeen: number;
  lastSeen: number;
  /** Set by identity.assignSelectors for workloads: labels that select exactly this workload's pods. */
  selector?: Record<string, string>;
  /** Why that selector was chosen, or why none could be (for `--explain-selectors`). */
  selectorReason?: string;
}

export type VerdictCounts = Partial<Record<Verdict, number>>;

export interface HttpEvidence {
  method: string;
  path: string;
  count: number;
  statuses: number[];
  firstSeen: number;
  lastSeen: number;
}

export interface EdgeEvidence {
  /** Non-reply flow records (or Calico num_flows) in the window. */
  flows: number;
  verdicts: VerdictCounts;
  firstSeen: number;
  lastSeen: number;
  http: HttpEvidence[];
  /** DNS names queried over this edge (edges to kube-dns), sorted. */
  dnsNames: string[];
  kafkaTopics: string[];
  dropReasons: string[];
  /** Existing policies that a source reported as deciding this edge (Calico). */
  policies: string[];
  /** Services the destination was reached through. */
  services: string[];
  /** HTTP records not itemized because the edge reached the cap of distinct method/path/status (store). */
  httpOverflow?: number;
  /** DNS queries not itemized because the edge reached the cap of distinct names (store). */
  dnsOverflow?: number;
}

export interface Edge extends EdgeEvidence {
  src: string;
  dst: string;
  protocol: Protocol;
  /** Destination port; 0 when not applicable (ICMP without type, unknown). */
  port: number;
}

export function edgeKey(e: { src: string; dst: string; protocol: Protocol; port: number }): string {
  return `${e.src}>${e.dst}|${e.protocol}/${e.port}`;
}

export interface Graph {
  peers: Map<string, PeerNode>;
  pods: PodRecord[];
  edges: Edge[];
  /** The learning window this graph covers (ms since epoch), when limited. */
  window: { since?: number; until?: number };
}
