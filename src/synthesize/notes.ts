// What every kind's proposal reports beside its files: the observed edges it could not express (with why),
// and notes for the reviewer. Shared so that every kind words and orders them the same way.
import type { Edge } from '../model/index.js';
import { compareEdges, compareStrings } from './edges.js';
import type { ProposalSummary } from './types.js';

export type UnsupportedEdges = Map<string, ProposalSummary['unsupported'][number]>;

/** Records once that `edge` gets no rule, and why (an edge reported from both ends appears once). */
export function noteUnsupported(ctx: { unsupported: UnsupportedEdges }, edge: Edge, why: string): void {
  const key = `${edge.src}>${edge.dst}|${edge.protocol}/${edge.port}|${why}`;
  if (!ctx.unsupported.has(key))
    ctx.unsupported.set(key, { src: edge.src, dst: edge.dst, protocol: edge.protocol, port: edge.port, why });
}

/**
 * Why an edge has no port a rule of Calico or Cilium could name, if it has none: TCP, UDP and SCTP need a
 * port from 1 to 65535; ICMP is named by type instead.
 */
export function portProblem(edge: Edge): string | undefined {
  if (edge.protocol === 'ICMPv4' || edge.protocol === 'ICMPv6') return undefined;
  if (!['TCP', 'UDP', 'SCTP'].includes(edge.protocol)) return 'protocol unknown';
  if (edge.port < 1 || edge.port > 65535) return 'destination port unknown';
  return undefined;
}

/** Upstream resolvers are often outside the flows collected; an empty egress would cut the cluster's DNS. */
export function dnsWithoutEgressNote(key: string): string {
  return (
    `${key} serves cluster DNS but no egress was observed from it: the proposal denies its upstream ` +
    'resolvers; add them or leave this policy out before applying'
  );
}

/** Puts the unsupported edges (sorted) and the notes into the summary. */
export function finishSummary(
  summary: ProposalSummary,
  ctx: { unsupported: UnsupportedEdges; notes: Set<string> },
): void {
  summary.unsupported = [...ctx.unsupported.values()].sort(
    (a, b) => compareEdges(a, b) || compareStrings(a.why, b.why),
  );
  summary.notes = [...ctx.notes];
}
