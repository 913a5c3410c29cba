// The objects that selectors and named ports are evaluated against: pods (labels, IPs, service
// account, container ports) and namespaces (labels). Built from what the flows showed, and completed
// by a `kubectl get pods,namespaces -A -o json` dump when the user has one.
import type { Graph, InputIssue } from '../model/index.js';
import type { L4Protocol } from './types.js';

export interface PodPort {
  name?: string;
  port: number;
  protocol: string;
}

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

export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

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

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(asObj(v) ?? {})) if (typeof x === 'string') out[k] = x;
  return out;
}

/** `shop/Deployment/web` from a pod's owner; a ReplicaSet with a pod-template-hash belongs to a Deployment. */
function workloadOf(ns: string, meta: Obj, labels: Record<string, string>): string | undefined {
  const owners = Array.isArray(meta.ownerReferences) ? meta.ownerReferences : [];
  const owner = asObj(owners.find((o) => asObj(o)?.controller === true) ?? owners[0]);
  if (!owner || typeof owner.kind !== 'string' || typeof owner.name !== 'string') return undefined;
  const hash = labels['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) {
    return `${ns}/Deployment/${owner.name.slice(0, -hash.length - 1)}`;
  }
  return `${ns}/${owner.kind}/${owner.name}`;
}

function podFromKubectl(item: Obj): PodInfo | string {
  const meta = asObj(item.metadata);
  if (!meta || typeof meta.name !== 'string') return 'pod without metadata.name';
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : 'default';
  const labels = stringMap(meta.labels);
  const spec = asObj(item.spec) ?? {};
  const status = asObj(item.status) ?? {};
  const ips: string[] = [];
  for (const x of Array.isArray(status.podIPs) ? status.podIPs : []) {
    const ip = asObj(x)?.ip;
    if (typeof ip === 'string' && !ips.includes(ip)) ips.push(ip);
  }
  if (typeof status.podIP === 'string' && !ips.includes(status.podIP)) ips.push(status.podIP);
  const ports: PodPort[] = [];
  for (const c of Array.isArray(spec.containers) ? spec.containers : []) {
    for (const p of (asObj(c)?.ports as unknown[] | undefined) ?? []) {
      const port = asObj(p);
      if (!port || typeof port.containerPort !== 'number') continue;
      const entry: PodPort = {
        port: port.containerPort,
        protocol: typeof port.protocol === 'string' ? port.protocol : 'TCP',
      };
      if (typeof port.name === 'string') entry.name = port.name;
      ports.push(entry);
    }
  }
  const pod: PodInfo = { namespace, name: meta.name, labels, ips, ports };
  const sa = spec.serviceAccountName ?? spec.serviceAccount;
  if (typeof sa === 'string') pod.serviceAccount = sa;
  const workload = workloadOf(namespace, meta, labels);
  if (workload) pod.workload = workload;
  if (spec.hostNetwork === true) pod.hostNetwork = true;
  return pod;
}

/**
 * Completes an inventory with a kubectl `List` of Namespaces and Pods. The dump is authoritative for
 * labels, IPs, service accounts and ports; the observed workload key is kept when the dump has none.
 * Returns a new inventory; `inv` is not changed.
 */
export function mergeKubectlInventory(inv: Inventory, json: unknown, file: string): Inventory {
  const out: Inventory = {
    pods: inv.pods.map((p) => ({ ...p })),
    namespaces: new Map(inv.namespaces),
    issues: [...(inv.issues ?? [])],
  };
  const list = asObj(json);
  if (!list || !Array.isArray(list.items)) {
    out.issues!.push({ file, message: 'expected a kubectl List (kubectl get pods,namespaces -A -o json)' });
    return out;
  }
  const index = new Map(out.pods.map((p, i) => [`${p.namespace}/${p.name}`, i]));
  const listKind = typeof list.kind === 'string' ? list.kind : 'List';
  list.items.forEach((raw, i) => {
    const item = asObj(raw);
    const kind = typeof item?.kind === 'string' ? item.kind : listKind.replace(/List$/, '');
    if (!item) {
      out.issues!.push({ file, field: `items[${i}]`, message: 'not an object' });
    } else if (kind === 'Namespace') {
      const meta = asObj(item.metadata);
      if (typeof meta?.name !== 'string')
        out.issues!.push({ file, field: `items[${i}].metadata.name`, message: 'missing' });
      // A dump's labels replace what the flows suggested for this namespace.
      else out.namespaces.set(meta.name, { ...stringMap(meta.labels), [NAMESPACE_NAME_LABEL]: meta.name });
    } else if (kind === 'Pod') {
      const pod = podFromKubectl(item);
      if (typeof pod === 'string') {
        out.issues!.push({ file, field: `items[${i}]`, message: pod });
        return;
      }
      if (!out.namespaces.has(pod.namespace)) ensureNamespace(out, pod.namespace);
      const at = index.get(`${pod.namespace}/${pod.name}`);
      if (at === undefined) {
        index.set(`${pod.namespace}/${pod.name}`, out.pods.length);
        out.pods.push(pod);
      } else {
        out.pods[at] = { ...pod, workload: pod.workload ?? out.pods[at].workload };
      }
    }
    // Other kinds (Services, ...) are not needed by the evaluators and are ignored.
  });
  out.pods.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
  return out;
}

/** A pod's container port by name for a protocol, as NetworkPolicy named ports are resolved. */
export function namedPort(pod: PodInfo, name: string, protocol: L4Protocol): number | undefined {
  for (const p of pod.ports) if (p.name === name && p.protocol === protocol) return p.port;
  return undefined;
}
