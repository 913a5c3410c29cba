// Judges a proposal the way a cluster would: connections (observed in a capture, or deliberately never
// observed) are evaluated against the proposal's own files, read back as `flowwright verify` reads them,
// with the project's NetworkPolicy engine. Used by the tests of real and real-shaped captures.

import type { Graph, Protocol } from '../../src/model/index.js';
import { inventoryFromGraph } from '../../src/policy/index.js';
import { compilePolicySet, decideEdge, decisionSummary, endpointResolver } from '../../src/review/index.js';
import { DEFAULT_PROPOSAL_OPTIONS, type Proposal, proposeNetworkPolicies } from '../../src/synthesize/index.js';
import { readBack } from '../synthesize/readback.js';

export interface Connection {
  /** Peer keys, e.g. `default/Deployment/frontend`. */
  src: string;
  dst: string;
  protocol: Protocol;
  port: number;
}

export const connectionText = (c: Connection) => `${c.src} > ${c.dst} ${c.protocol}/${c.port}`;

export interface Judgement {
  proposal: Proposal;
  /** The connection, and why the engine denies it (undefined: allowed). */
  verdict(c: Connection): string | undefined;
}

export function judgeProposal(
  graph: Graph,
  proposal = proposeNetworkPolicies(graph, DEFAULT_PROPOSAL_OPTIONS),
): Judgement {
  const inventory = inventoryFromGraph(graph);
  const compiled = compilePolicySet(readBack(proposal.files), inventory);
  const resolve = endpointResolver(graph, inventory);
  return {
    proposal,
    verdict(c) {
      const src = resolve(c.src);
      const dst = resolve(c.dst);
      if ('unsupported' in src) return `source: ${src.unsupported}`;
      if ('unsupported' in dst) return `destination: ${dst.unsupported}`;
      const protocol = c.protocol === 'UDP' ? 'UDP' : c.protocol === 'SCTP' ? 'SCTP' : 'TCP';
      const d = decideEdge(compiled.network, src.endpoints, dst.endpoints, protocol, c.port, true);
      return d.allowed ? undefined : decisionSummary(d.decision);
    },
  };
}
