// What one aggregator flush hands to the store: everything observed since the previous flush, already
// summed per peer, pod and edge, plus the source checkpoints those observations reach. The store applies
// a GraphDelta in one transaction, so the counts and the checkpoints move together or not at all.
import type { Protocol } from './flow.js';
import type { Peer, PodRecord, VerdictCounts } from './graph.js';
import type { Checkpoint } from './ingest.js';
import type { ReporterCounts } from './reports.js';

/** A peer as seen during the flush; sets are merged into what the store already knows. */
export interface PeerSighting {
  key: string;
  peer: Peer;
  /** DNS names for this peer (external peers: from DNS answers and `destination.names`). */
  names: string[];
  /** Addresses seen for non-workload peers (workload addresses live on their pods). */
  ips: string[];
  serviceAccounts: string[];
  /** The latest namespace labels seen, when the source reported them. */
  namespaceLabels?: Record<string, string>;
  firstSeen: number;
  lastSeen: number;
}

/** Flows of one edge within one clock hour. `hour` is Math.floor(ms / 3_600_000). */
export interface HourCounts {
  hour: number;
  /** Every record of the hour, Calico's two ends combined (see reports.ts). */
  flows: number;
  verdicts: VerdictCounts;
  /**
   * Calico records of the hour by the end that reported them, when there are any. Already combined into
   * `flows` and `verdicts` for this delta; the store keeps them so that reports of the same hour that
   * arrive in later deltas combine with these instead of adding to them.
   */
  reports?: ReporterCounts;
}

export interface HttpCounts {
  method: string;
  path: string;
  /** 0 when the record carried no status (requests). */
  status: number;
  count: number;
  firstSeen: number;
  lastSeen: number;
}

/** One value of a simple per-edge detail (a DNS name, a Kafka topic, a drop reason, a policy, a service). */
export interface DetailCount {
  value: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
}

export interface EdgeDelta {
  src: string;
  dst: string;
  protocol: Protocol;
  /** Destination port; 0 when unknown or not applicable. */
  port: number;
  flows: number;
  verdicts: VerdictCounts;
  firstSeen: number;
  lastSeen: number;
  hours: HourCounts[];
  http: HttpCounts[];
  /** HTTP records not kept because the edge already had the maximum number of distinct method/path/status. */
  httpOverflow: number;
  dnsNames: DetailCount[];
  /** DNS query records not kept because the edge already had the maximum number of distinct names. */
  dnsOverflow: number;
  kafkaTopics: DetailCount[];
  dropReasons: DetailCount[];
  policies: DetailCount[];
  services: DetailCount[];
}

export interface GraphDelta {
  peers: PeerSighting[];
  pods: PodRecord[];
  edges: EdgeDelta[];
  /** At most one per source: the latest position reached by the flows in this delta. */
  checkpoints: Checkpoint[];
}

/**
 * Distinct HTTP method/path/status (and DNS names) kept per edge, by the aggregator and by the store.
 * Beyond it records are only counted (httpOverflow, dnsOverflow): a client walking random URLs must not
 * grow memory or the database without bound.
 */
export const MAX_DETAILS_PER_EDGE = 1000;

export function emptyDelta(): GraphDelta {
  return { peers: [], pods: [], edges: [], checkpoints: [] };
}
