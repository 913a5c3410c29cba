// The cluster inventory: the Kubernetes objects flowwright needs to know who is behind an address
// (Namespaces, Pods, Services, EndpointSlices, and the ReplicaSets and Jobs that name a pod's real
// owner), each with the interval it existed. An `--inventory` file and the live watch of the API server
// both produce these objects; the store keeps them; identity and review read them through
// `indexInventory`. Pod IPs are reused, so every lookup by address takes the time of the flow.
import type { WorkloadName } from './flow.js';

export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export interface PodPort {
  name?: string;
  port: number;
  protocol: string;
}

/** A pod's controller as its ownerReferences name it (often a ReplicaSet or a Job, not the top owner). */
export interface OwnerRef {
  kind: string;
  name: string;
}

export interface InventoryNamespace {
  kind: 'Namespace';
  name: string;
  uid: string;
  /** Always includes `kubernetes.io/metadata.name`. */
  labels: Record<string, string>;
}

export interface InventoryPod {
  kind: 'Pod';
  namespace: string;
  name: string;
  uid: string;
  labels: Record<string, string>;
  serviceAccount?: string;
  owner?: OwnerRef;
  ips: string[];
  ports: PodPort[];
  /** Host-network pods have the node's address; they are never found by IP. */
  hostNetwork?: boolean;
  node?: string;
}

export interface InventoryServicePort {
  name?: string;
  protocol: string;
  port: number;
  /** A number, or the name of a container port of the selected pods. */
  targetPort: number | string;
}

export interface InventoryService {
  kind: 'Service';
  namespace: string;
  name: string;
  uid: string;
  type: string;
  /** Undefined for a Service without a selector (its EndpointSlices are managed by hand). */
  selector?: Record<string, string>;
  clusterIPs: string[];
  ports: InventoryServicePort[];
}

export interface InventoryEndpointSlice {
  kind: 'EndpointSlice';
  namespace: string;
  name: string;
  uid: string;
  /** The Service it belongs to (label kubernetes.io/service-name). */
  service?: string;
  /** Resolved pod port numbers, by the Service port's name. */
  ports: PodPort[];
  endpoints: { addresses: string[]; pod?: string }[];
}

/** A ReplicaSet or Job, kept only for its own controller (Deployment, CronJob). */
export interface InventoryController {
  kind: 'ReplicaSet' | 'Job';
  namespace: string;
  name: string;
  uid: string;
  owner?: OwnerRef;
}

export type InventoryObject =
  | InventoryNamespace
  | InventoryPod
  | InventoryService
  | InventoryEndpointSlice
  | InventoryController;

export type InventoryKind = InventoryObject['kind'];

type OfKind<K extends InventoryKind> = K extends InventoryController['kind']
  ? InventoryController
  : Extract<InventoryObject, { kind: K }>;

export const INVENTORY_KINDS: readonly InventoryKind[] = [
  'Namespace',
  'Pod',
  'Service',
  'EndpointSlice',
  'ReplicaSet',
  'Job',
];

/** One incarnation of an object and when it existed: [from, until), ms since the epoch; no until = still there. */
export interface Timed<T extends InventoryObject = InventoryObject> {
  object: T;
  from: number;
  until?: number;
}

export interface ClusterInventory {
  objects: Timed[];
}

/** `namespace/name`, or the name of a cluster-scoped object. */
export function objectName(o: InventoryObject): string {
  return o.kind === 'Namespace' ? o.name : `${o.namespace}/${o.name}`;
}

export interface InventoryIndex {
  /** True when the inventory holds no object at all. */
  readonly empty: boolean;
  /** The pod `namespace/name` that existed at `time`; without a time, its latest incarnation. */
  pod(namespace: string, name: string, time?: number): InventoryPod | undefined;
  /** The pod that held `ip` at `time` (the one created last, when intervals overlap); never a host-network pod. */
  podByIp(ip: string, time: number): InventoryPod | undefined;
  service(namespace: string, name: string, time?: number): InventoryService | undefined;
  /** The Service whose cluster IP `ip` was at `time`. */
  serviceByIp(ip: string, time: number): InventoryService | undefined;
  /** Names of the Namespaces the inventory holds, sorted. */
  namespaces(): string[];
  /** Labels of a namespace (latest), undefined when the inventory has no such Namespace. */
  namespaceLabels(namespace: string): Record<string, string> | undefined;
  /**
   * The workload that owns a pod: ReplicaSet → its Deployment and Job → its CronJob, by the stored
   * ReplicaSet/Job when the inventory has it, else by the names controllers generate. A pod without a
   * controller is its own workload (kind Pod).
   */
  workloadOf(pod: InventoryPod): WorkloadName;
  /** The pods a Service's selector selects at `time` (latest pods without a time); none without a selector. */
  servicePods(service: InventoryService, time?: number): InventoryPod[];
  /**
   * The pod port a connection to `service:port/protocol` is translated to (post-DNAT) for `pod`: a numeric
   * targetPort, or a named one through the pod's container ports or the Service's EndpointSlices.
   */
  targetPort(service: InventoryService, port: number, protocol: string, pod?: InventoryPod): number | undefined;
  /** Every pod that exists at `time` (without a time: every pod's latest incarnation), sorted by namespace/name. */
  pods(time?: number): InventoryPod[];
}

function live(t: Timed, time: number): boolean {
  return t.from <= time && (t.until === undefined || time < t.until);
}

/** Among incarnations, the one alive at `time` created last; without a time the latest one. */
function pick<T extends InventoryObject>(list: Timed<T>[] | undefined, time: number | undefined): T | undefined {
  if (!list) return undefined;
  let best: Timed<T> | undefined;
  for (const t of list) {
    if (time !== undefined && !live(t, time)) continue;
    if (!best || t.from >= best.from) best = t;
  }
  return best?.object;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

const SAFE_RUN = /^[bcdfghjklmnpqrstvwxz2456789]+$/;

/** `<deployment>-<pod-template-hash>` → `<deployment>`. */
function deploymentOfReplicaSet(rs: string, hash: string | undefined): string | undefined {
  const dash = rs.lastIndexOf('-');
  if (dash <= 0) return undefined;
  const suffix = rs.slice(dash + 1);
  if (hash !== undefined ? suffix === hash : suffix.length >= 6 && suffix.length <= 10 && SAFE_RUN.test(suffix))
    return rs.slice(0, dash);
  return undefined;
}

/** `<cronjob>-<scheduled minutes, 8+ digits>` → `<cronjob>`. */
function cronJobOfJob(job: string): string | undefined {
  const m = /^(.+)-\d{8,}$/.exec(job);
  return m ? m[1] : undefined;
}

const OWNER_KINDS: Record<string, WorkloadName['kind']> = {
  Deployment: 'Deployment',
  ReplicaSet: 'ReplicaSet',
  StatefulSet: 'StatefulSet',
  DaemonSet: 'DaemonSet',
  Job: 'Job',
  CronJob: 'CronJob',
  ReplicationController: 'ReplicationController',
};

export function indexInventory(inv: ClusterInventory): InventoryIndex {
  const byName = new Map<string, Timed[]>();
  const podsByIp = new Map<string, Timed<InventoryPod>[]>();
  const servicesByIp = new Map<string, Timed<InventoryService>[]>();
  /** namespace → pod name → incarnations */
  const podsByNamespace = new Map<string, Map<string, Timed<InventoryPod>[]>>();
  const slicesByService = new Map<string, InventoryEndpointSlice[]>();
  const namespaceNames = new Set<string>();
  for (const t of inv.objects) {
    const o = t.object;
    if (o.kind === 'Namespace') namespaceNames.add(o.name);
    push(byName, `${o.kind}|${objectName(o)}`, t);
    if (o.kind === 'Pod') {
      let pods = podsByNamespace.get(o.namespace);
      if (!pods) {
        pods = new Map();
        podsByNamespace.set(o.namespace, pods);
      }
      push(pods, o.name, t as Timed<InventoryPod>);
      if (!o.hostNetwork) for (const ip of o.ips) push(podsByIp, ip, t as Timed<InventoryPod>);
    } else if (o.kind === 'Service') {
      for (const ip of o.clusterIPs) push(servicesByIp, ip, t as Timed<InventoryService>);
    } else if (o.kind === 'EndpointSlice' && o.service && t.until === undefined) {
      push(slicesByService, `${o.namespace}/${o.service}`, o);
    }
  }
  const get = <K extends InventoryKind>(kind: K, name: string, time?: number) =>
    pick(byName.get(`${kind}|${name}`) as Timed<OfKind<K>>[] | undefined, time);

  const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
    Object.entries(selector).every(([k, v]) => labels[k] === v);

  const podsAt = (namespace: string, time: number | undefined): InventoryPod[] => {
    const out: InventoryPod[] = [];
    for (const incarnations of podsByNamespace.get(namespace)?.values() ?? []) {
      const pod = pick(incarnations, time);
      if (pod) out.push(pod);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  };

  return {
    empty: inv.objects.length === 0,
    pod: (namespace, name, time) => get('Pod', `${namespace}/${name}`, time),
    podByIp: (ip, time) => pick(podsByIp.get(ip), time),
    service: (namespace, name, time) => get('Service', `${namespace}/${name}`, time),
    serviceByIp: (ip, time) => pick(servicesByIp.get(ip), time),
    namespaces: () => [...namespaceNames].sort(),
    namespaceLabels: (namespace) => get('Namespace', namespace)?.labels,
    workloadOf(pod) {
      const owner = pod.owner;
      if (!owner) return { kind: 'Pod', name: pod.name };
      if (owner.kind === 'ReplicaSet') {
        const rs = get('ReplicaSet', `${pod.namespace}/${owner.name}`);
        if (rs?.owner?.kind === 'Deployment') return { kind: 'Deployment', name: rs.owner.name };
        if (rs) return { kind: 'ReplicaSet', name: owner.name };
        const deployment = deploymentOfReplicaSet(owner.name, pod.labels['pod-template-hash']);
        return deployment ? { kind: 'Deployment', name: deployment } : { kind: 'ReplicaSet', name: owner.name };
      }
      if (owner.kind === 'Job') {
        const job = get('Job', `${pod.namespace}/${owner.name}`);
        if (job?.owner?.kind === 'CronJob') return { kind: 'CronJob', name: job.owner.name };
        if (job) return { kind: 'Job', name: owner.name };
        const cron = cronJobOfJob(owner.name);
        return cron ? { kind: 'CronJob', name: cron } : { kind: 'Job', name: owner.name };
      }
      const kind = OWNER_KINDS[owner.kind];
      // A controller of another kind (an operator's CRD): its pods are still one workload, shown by name.
      return kind ? { kind, name: owner.name } : { kind: 'ReplicaSet', name: owner.name };
    },
    servicePods(service, time) {
      const selector = service.selector;
      if (!selector || Object.keys(selector).length === 0) return [];
      return podsAt(service.namespace, time).filter((p) => selects(selector, p.labels));
    },
    targetPort(service, port, protocol, pod) {
      const sp = service.ports.find((p) => p.port === port && p.protocol === protocol);
      if (!sp) return undefined;
      if (typeof sp.targetPort === 'number') return sp.targetPort;
      const named = pod?.ports.find((p) => p.name === sp.targetPort && p.protocol === protocol);
      if (named) return named.port;
      for (const slice of slicesByService.get(`${service.namespace}/${service.name}`) ?? []) {
        const hit = slice.ports.find((p) => (p.name ?? '') === (sp.name ?? '') && p.protocol === protocol);
        if (hit) return hit.port;
      }
      return undefined;
    },
    pods(time) {
      const out: InventoryPod[] = [];
      for (const ns of [...podsByNamespace.keys()].sort()) out.push(...podsAt(ns, time));
      return out;
    },
  };
}
