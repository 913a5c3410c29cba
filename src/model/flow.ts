// The normalized flow: what every collector produces and every later stage reads.
// It is source-neutral: Hubble, Calico and Kafka collectors all map onto these fields.

export type Protocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMPv4' | 'ICMPv6' | 'UNKNOWN';

export type Verdict = 'forwarded' | 'dropped' | 'audit' | 'error' | 'redirected' | 'traced' | 'translated' | 'unknown';

export const VERDICTS: readonly Verdict[] = [
  'forwarded',
  'dropped',
  'audit',
  'error',
  'redirected',
  'traced',
  'translated',
  'unknown',
];

export type TrafficDirection = 'ingress' | 'egress' | 'unknown';

/** Reserved identities that are not pods (Cilium's `reserved:*` labels, Calico host endpoints / networks). */
export type ReservedEntity =
  | 'world'
  | 'host'
  | 'remote-node'
  | 'kube-apiserver'
  | 'health'
  | 'ingress'
  | 'init'
  | 'unmanaged'
  | 'unknown';

export const RESERVED_ENTITIES: readonly ReservedEntity[] = [
  'world',
  'host',
  'remote-node',
  'kube-apiserver',
  'health',
  'ingress',
  'init',
  'unmanaged',
  'unknown',
];

/** A controller kind that owns pods, or `Pod` for a bare pod. */
export type WorkloadKind =
  | 'Deployment'
  | 'ReplicaSet'
  | 'StatefulSet'
  | 'DaemonSet'
  | 'Job'
  | 'CronJob'
  | 'ReplicationController'
  | 'Pod';

export interface WorkloadName {
  kind: WorkloadKind;
  name: string;
}

/** One end of a flow, as far as the source could tell. Every field but `labels` may be unknown. */
export interface Endpoint {
  cluster?: string;
  namespace?: string;
  pod?: string;
  /** The owning workload when the source reports it (Hubble `workloads`, Calico `*_name_aggr`). */
  workload?: WorkloadName;
  /** The pod's own Kubernetes labels (no `io.kubernetes.pod.*` / `io.cilium.*` / reserved labels). */
  labels: Record<string, string>;
  /** Labels of the pod's namespace, when the source reports them. */
  namespaceLabels?: Record<string, string>;
  serviceAccount?: string;
  ip?: string;
  port?: number;
  /** Set when the endpoint is not a pod: world, host, kube-apiserver, ... */
  reserved?: ReservedEntity;
  /** DNS names known for this endpoint's IP (Hubble `source_names` / `destination_names`, Calico `dest_domains`). */
  names?: string[];
  /** Calico: a network set (`ns`) or a named network (`pub`/`pvt`) that the address belongs to. */
  networkSet?: string;
  /** Cilium security identity number, kept for explanations. */
  identity?: number;
}

export interface HttpInfo {
  method: string;
  /** Path only: no scheme, host or query string. */
  path: string;
  status?: number;
  /** The host the request was sent to, when known. */
  host?: string;
}

export interface DnsInfo {
  query: string;
  answers: string[];
  rcode?: number;
  qtypes?: string[];
}

export interface KafkaInfo {
  topic: string;
  apiKey?: string;
}

export interface L7Info {
  type: 'request' | 'response' | 'sample' | 'unknown';
  http?: HttpInfo;
  dns?: DnsInfo;
  kafka?: KafkaInfo;
}

/** Where a flow came from, for error messages and evidence. */
export interface Origin {
  /** A file path as the user gave it, `-` for stdin, or a stream name such as `hubble-relay:host:port`. */
  source: string;
  /** 1-based line number in a file. */
  line?: number;
  /** A position in a stream (Kafka `topic/partition@offset`, a gRPC flow time). */
  position?: string;
}

export interface Flow {
  /** Milliseconds since the Unix epoch. */
  time: number;
  source: Endpoint;
  destination: Endpoint;
  protocol: Protocol;
  /** Destination port (TCP/UDP/SCTP); ICMP type for ICMP; undefined when unknown. */
  port?: number;
  verdict: Verdict;
  /** true: reply traffic (never a dependency); false: request; null: the source could not tell. */
  reply: boolean | null;
  direction: TrafficDirection;
  l7?: L7Info;
  /** How many connections this record stands for (1 for Hubble; `num_flows` for Calico). */
  count: number;
  /** Why the flow was dropped (e.g. POLICY_DENIED), when dropped. */
  dropReason?: string;
  /** Existing policies that the source says allowed or denied the flow (Calico `policies`). */
  policies?: string[];
  /** Calico: which end reported this record; such a connection may be reported once from each end. */
  reporter?: 'src' | 'dst';
  /** The Kubernetes Service the destination was reached through, `namespace/name[:port]`. */
  service?: string;
  node?: string;
  origin: Origin;
}
