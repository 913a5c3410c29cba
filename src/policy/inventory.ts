// The objects that selectors and named ports are evaluated against: pods (labels, IPs, service
// account, container ports) and namespaces (labels). Built from what the flows showed, and completed
// by the cluster inventory (an --inventory file, the stored one, or the API server) when there is one.
import {
  type Graph,
  type InputIssue,
  type InventoryIndex,
  NAMESPACE_NAME_LABEL,
  type PodPort,
} from '../model/index.js';
import type { L4Protocol } from './types.js';

export { NAMESPACE_NAME_LABEL, type PodPort };

export interface PodInfo {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ips: string[];
  serviceAccount?: string;
  ports: PodPort[];
  /** Key of the owning workload peer (`shop/Deployment/web`) when known. */
  workload?: string;
  /** Host-network pods use the node's network namespace; NetworkPolicy does not apply to them. */
  hostNetwork?: boolean;
}

export interface Inventory {
  pods: PodInfo[];
  /** Namespace name → labels, always including `kubernetes.io/metadata.name`. */
  namespaces: Map<string, Record<string, string>>;
  /** Problems found in a kubectl dump (malformed items), with location. */
  issues?: InputIssue[];
}

/** Labels of a namespace; a namespace never seen still has its automatic name label. */
export function namespaceLabels(inv: Inventory, namespace: string): Record<string, string> {
  return inv.namespaces.get(namespace) ?? { [NAMESPACE_NAME_LABEL]: namespace };
}

function ensureNamespace(inv: Inventory, ns: string, labels?: Record<string, string>): void {
  const existing = inv.namespaces.get(ns);
  // The API server sets the name label on every namespace (Kubernetes 1.21+), so it is always there.
  inv.namespaces.set(ns, { ...existing, ...labels, [NAMESPACE_NAME_LABEL]: ns });
}

/**
 * One PodInfo per observed pod. Container port names are not in flows, so ports are the numbers the
 * pod's workload was reached on; `mergeKubectlInventory` replaces them with the real container ports.
 */
export function inventoryFromGraph(graph: Graph): Inventory {
  const inv: Inventory = { pods: [], namespaces: new Map() };
  const portsByWorkload = new Map<string, PodPort[]>();
  for (const e of graph.edges) {
    if (e.port <= 0 || (e.protocol !== 'TCP' && e.protocol !== 'UDP' && e.protocol !== 'SCTP')) continue;
    let ports = portsByWorkload.get(e.dst);
    if (!ports) {
      ports = [];
      portsByWorkload.set(e.dst, ports);
    }
    if (!ports.some((p) => p.port === e.port && p.protocol === e.protocol)) {
      ports.push({ port: e.port, protocol: e.protocol });
    }
  }
  for (const node of graph.peers.values()) {
    if (node.peer.type === 'workload') ensureNamespace(inv, node.peer.namespace, node.namespaceLabels);
  }
  const pods = [...graph.pods].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  for (const p of pods) {
    ensureNamespace(inv, p.namespace);
    const ports = (portsByWorkload.get(p.workload) ?? []).map((x) => ({ ...x }));
    ports.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
    const info: PodInfo = {
      namespace: p.namespace,
      name: p.name,
      labels: { ...p.labels },
      ips: [...p.ips],
      ports,
      workload: p.workload,
    };
    if (p.serviceAccount) info.serviceAccount = p.serviceAccount;
    inv.pods.push(info);
  }
  return inv;
}

/**
 * Completes an inventory with the cluster inventory (an --inventory file, the stored one, the API server):
 * it is authoritative for labels, IPs, service accounts, container ports and owning workloads of the pods
 * that exist at `time` (without a time, every pod's latest incarnation). Returns a new inventory.
 */
export function mergeClusterInventory(inv: Inventory, cluster: InventoryIndex, time?: number): Inventory {
  const out: Inventory = {
    pods: inv.pods.map((p) => ({ ...p })),
    namespaces: new Map(inv.namespaces),
    issues: [...(inv.issues ?? [])],
  };
  const index = new Map(out.pods.map((p, i) => [`${p.namespace}/${p.name}`, i]));
  for (const p of cluster.pods(time)) {
    const w = cluster.workloadOf(p);
    const pod: PodInfo = {
      namespace: p.namespace,
      name: p.name,
      labels: { ...p.labels },
      ips: [...p.ips],
      ports: p.ports.map((x) => ({ ...x })),
      workload: `${p.namespace}/${w.kind}/${w.name}`,
    };
    if (p.serviceAccount) pod.serviceAccount = p.serviceAccount;
    if (p.hostNetwork) pod.hostNetwork = true;
    const at = index.get(`${p.namespace}/${p.name}`);
    if (at === undefined) {
      index.set(`${p.namespace}/${p.name}`, out.pods.length);
      out.pods.push(pod);
    } else {
      // A bare pod's own name says less than the workload the flows named it by.
      out.pods[at] = { ...pod, workload: w.kind === 'Pod' ? (out.pods[at].workload ?? pod.workload) : pod.workload };
    }
    const labels = cluster.namespaceLabels(p.namespace);
    if (labels) out.namespaces.set(p.namespace, labels);
    else if (!out.namespaces.has(p.namespace)) ensureNamespace(out, p.namespace);
  }
  for (const ns of cluster.namespaces()) out.namespaces.set(ns, cluster.namespaceLabels(ns)!);
  out.pods.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  return out;
}

/** A pod's container port by name for a protocol, as NetworkPolicy named ports are resolved. */
export function namedPort(pod: PodInfo, name: string, protocol: L4Protocol): number | undefined {
  for (const p of pod.ports) if (p.name === name && p.protocol === protocol) return p.port;
  return undefined;
}
