// Which observed edges may become allow rules. Shared by every output kind so that thresholds and
// the handling of dropped flows mean the same thing everywhere.
import type { Edge } from '../model/index.js';
import type { DeniedEdge, ProposalOptions } from './types.js';

/** Flows that really went through: forwarded, or passed through a proxy, a trace point or NAT, or audited. */
export function allowedFlows(e: Edge): number {
  const v = e.verdicts;
  return (v.forwarded ?? 0) + (v.redirected ?? 0) + (v.traced ?? 0) + (v.translated ?? 0) + (v.audit ?? 0);
}

/** Flows that were stopped: dropped by policy or otherwise, or failed. */
export function deniedFlows(e: Edge): number {
  return (e.verdicts.dropped ?? 0) + (e.verdicts.error ?? 0);
}

type EdgeRef = Pick<Edge, 'src' | 'dst' | 'port'> & { protocol: string };

/** An edge that supports a rule, with the flow count that supports it. */
export interface RuleEdge {
  edge: Edge;
  /** Allowed flows, plus dropped ones when the edge is included by --allow-dropped. */
  flows: number;
  /** True when the edge is a rule only because of --allow-dropped (it had too few allowed flows). */
  dropped: boolean;
}

export interface EdgeSelection {
  /** Sorted by source, destination, protocol, port. */
  rules: RuleEdge[];
  observedButDenied: DeniedEdge[];
  belowThreshold: number;
  /** Edges with no flow of a known verdict: nothing says whether they were allowed. */
  noVerdict: Edge[];
}

/** Edges (or anything naming one) by source, destination, protocol, port. */
export function compareEdges(a: EdgeRef, b: EdgeRef): number {
  return (
    compareStrings(a.src, b.src) ||
    compareStrings(a.dst, b.dst) ||
    compareStrings(a.protocol, b.protocol) ||
    a.port - b.port
  );
}

/** Plain code-unit order: the same on every machine, unlike localeCompare. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Sorts edges into: rules (allowed flows ≥ minFlows; or, with allowDropped, allowed + dropped ≥
 * minFlows), observed-but-denied (only dropped flows, allowDropped off: listed, never allowed
 * silently), below threshold, and edges without a known verdict.
 */
export function selectEdges(
  edges: readonly Edge[],
  opts: Pick<ProposalOptions, 'minFlows' | 'allowDropped'>,
): EdgeSelection {
  const out: EdgeSelection = { rules: [], observedButDenied: [], belowThreshold: 0, noVerdict: [] };
  for (const edge of [...edges].sort(compareEdges)) {
    const allowed = allowedFlows(edge);
    const denied = deniedFlows(edge);
    if (allowed >= opts.minFlows) {
      out.rules.push({ edge, flows: allowed, dropped: false });
    } else if (opts.allowDropped && denied > 0 && allowed + denied >= opts.minFlows) {
      out.rules.push({ edge, flows: allowed + denied, dropped: true });
    } else if (allowed === 0 && denied > 0 && !opts.allowDropped) {
      out.observedButDenied.push({
        src: edge.src,
        dst: edge.dst,
        protocol: edge.protocol,
        port: edge.port,
        flows: denied,
        reasons: [...edge.dropReasons].sort(),
        lastSeen: edge.lastSeen,
      });
    } else if (allowed > 0 || denied > 0) {
      out.belowThreshold++;
    } else {
      out.noVerdict.push(edge);
    }
  }
  return out;
}
