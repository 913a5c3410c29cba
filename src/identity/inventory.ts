// The inventory as the first source of a flow end's identity: a pod named by the record, or found by the
// address it held at the flow's time, takes its labels, service account, namespace labels and owning
// workload from the inventory, which is what the API server said. A destination that is a Service's
// cluster IP (seen before DNAT) becomes the workload behind it, on the pod port the Service translates to.
import type { Endpoint, Flow, InventoryIndex, InventoryPod, ReservedEntity } from '../model/index.js';

/** Reserved identities a pod's address can wrongly carry (the L7 proxy, pods started before the agent). */
const POD_ADDRESS_ENTITIES = new Set<ReservedEntity | undefined>([undefined, 'world', 'unmanaged', 'unknown', 'init']);

/** The inventory pod one end of a flow is, or undefined. */
export function inventoryPodOf(ep: Endpoint, time: number, index: InventoryIndex): InventoryPod | undefined {
  if (ep.namespace && ep.pod && !ep.pod.endsWith('*')) {
    const pod = index.pod(ep.namespace, ep.pod, time) ?? index.pod(ep.namespace, ep.pod);
    if (pod) return pod;
  }
  if (ep.ip && ep.networkSet === undefined && POD_ADDRESS_ENTITIES.has(ep.reserved)) {
    const pod = index.podByIp(ep.ip, time);
    // An address with a different pod name in the record is not that pod (the name is the better witness).
    if (pod && (!ep.pod || (pod.namespace === ep.namespace && pod.name === ep.pod))) return pod;
  }
  return undefined;
}

function asPod(ep: Endpoint, pod: InventoryPod, index: InventoryIndex, withName: boolean): Endpoint {
  const out: Endpoint = { ...ep, namespace: pod.namespace, labels: pod.labels, workload: index.workloadOf(pod) };
  delete out.reserved;
  if (withName) out.pod = pod.name;
  else {
    delete out.pod;
    delete out.ip;
  }
  if (pod.serviceAccount) out.serviceAccount = pod.serviceAccount;
  const nsLabels = index.namespaceLabels(pod.namespace);
  if (nsLabels) out.namespaceLabels = nsLabels;
  return out;
}

/**
 * Completes each flow's ends from the inventory, in place (the endpoint objects are replaced, never
 * changed: collectors share them). Flows the inventory knows nothing about are left as they are.
 */
export function resolveWithInventory(flows: Flow[], index: InventoryIndex): void {
  if (index.empty) return;
  for (const flow of flows) {
    const src = inventoryPodOf(flow.source, flow.time, index);
    if (src) flow.source = asPod(flow.source, src, index, true);
    const dst = inventoryPodOf(flow.destination, flow.time, index);
    if (dst) {
      flow.destination = asPod(flow.destination, dst, index, true);
      continue;
    }
    const ip = flow.destination.ip;
    const svc = ip && flow.destination.reserved !== 'kube-apiserver' ? index.serviceByIp(ip, flow.time) : undefined;
    if (!svc || flow.port === undefined) continue;
    const backends = index.servicePods(svc, flow.time);
    const workloads = new Set(backends.map((p) => JSON.stringify(index.workloadOf(p))));
    // Only a Service backed by one workload names the destination; the pod port is its targetPort.
    if (backends.length === 0 || workloads.size !== 1) continue;
    const protocol = flow.protocol;
    const target = index.targetPort(svc, flow.port, protocol, backends[0]);
    if (target === undefined) continue;
    flow.service ??= `${svc.namespace}/${svc.name}:${flow.port}`;
    flow.destination = { ...asPod(flow.destination, backends[0], index, false), port: target };
    flow.port = target;
  }
}
