// Cluster DNS is special for synthesis: every pod that resolves names needs egress to it, and its own
// egress (to upstream resolvers) is rarely in the flows collected.
import type { PeerNode, PodRecord } from '../model/index.js';

const DNS_NAMES = new Set(['coredns', 'kube-dns']);

/**
 * True for the cluster DNS server: a kube-system workload whose observed pods carry k8s-app=kube-dns
 * (the label both kube-dns and CoreDNS installs use), or that is named coredns or kube-dns.
 */
export function isKubeDns(node: PeerNode, pods: readonly PodRecord[]): boolean {
  const peer = node.peer;
  if (peer.type !== 'workload' || peer.namespace !== 'kube-system') return false;
  if (DNS_NAMES.has(peer.name)) return true;
  for (const p of pods) if (p.workload === node.key && p.labels['k8s-app'] === 'kube-dns') return true;
  return false;
}
