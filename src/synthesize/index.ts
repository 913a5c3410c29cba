// Public surface of synthesis: graph → policy proposals (files + summary) and their YAML.

import type { Graph } from '../model/index.js';
import { usageError } from '../model/index.js';
import { proposeAuthorizationPolicies } from './authorizationpolicy.js';
import { proposeCalicoPolicies } from './calico.js';
import { proposeCiliumPolicies } from './cilium.js';
import { compareStrings } from './edges.js';
import { proposeNetworkPolicies } from './networkpolicy.js';
import { proposeTenantBaseline } from './tenant.js';
import {
  DEFAULT_POLICIES_OPTIONS,
  L7_LEVELS,
  POLICY_KINDS,
  type PoliciesOptions,
  type PoliciesProposal,
  type PolicyKind,
  type Proposal,
} from './types.js';

export { proposeAuthorizationPolicies, spiffePrincipal } from './authorizationpolicy.js';
export {
  CALICO_NAMESPACE_LABEL,
  calicoNamespaceSelector,
  calicoQuote,
  calicoSelector,
  proposeCalicoPolicies,
} from './calico.js';
export { CILIUM_NAMESPACE_LABEL, proposeCiliumPolicies } from './cilium.js';
export { allowedFlows, deniedFlows, type RuleEdge, selectEdges } from './edges.js';
export { edgeEvidence, formatCount, generatedFrom, isoTime, peerDisplay } from './evidence.js';
export { proposeNetworkPolicies } from './networkpolicy.js';
export {
  DEFAULT_PATH_THRESHOLD,
  holdsPatternCharacters,
  isGrpcPath,
  isIdSegment,
  PATH_WILDCARD,
  pathOnly,
  regexLiteral,
  templateMatches,
  templatePaths,
  templateRegex,
} from './paths.js';
export { renderSummary } from './summary.js';
export { proposeTenantBaseline, TENANT_TIER } from './tenant.js';
export * from './types.js';
export { renderProposalFile, renderYaml } from './yaml.js';

const PROPOSERS: Record<PolicyKind, (graph: Graph, opts: PoliciesOptions) => Proposal> = {
  networkpolicy: proposeNetworkPolicies,
  authorizationpolicy: proposeAuthorizationPolicies,
  cilium: proposeCiliumPolicies,
  calico: proposeCalicoPolicies,
  'tenant-baseline': proposeTenantBaseline,
};

/** `networkpolicy,cilium` → the kinds, checked by name, without duplicates, in the order of POLICY_KINDS. */
export function parseKinds(text: string): PolicyKind[] {
  const wanted = new Set<string>();
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '') continue;
    if (!(POLICY_KINDS as readonly string[]).includes(name))
      throw usageError(`--kinds: unknown kind '${name}' (known: ${POLICY_KINDS.join(', ')})`);
    wanted.add(name);
  }
  if (wanted.size === 0) throw usageError(`--kinds: name at least one of ${POLICY_KINDS.join(', ')}`);
  return POLICY_KINDS.filter((k) => wanted.has(k));
}

/** Options that would silently produce wrong policy are refused by name (callers other than the CLI too). */
function checkOptions(opts: PoliciesOptions): void {
  for (const kind of opts.kinds)
    if (!(POLICY_KINDS as readonly string[]).includes(kind))
      throw usageError(`--kinds: unknown kind '${kind}' (known: ${POLICY_KINDS.join(', ')})`);
  if (!L7_LEVELS.includes(opts.l7)) throw usageError(`--l7: expected off, methods or paths, got '${opts.l7}'`);
  if (!Number.isInteger(opts.pathThreshold) || opts.pathThreshold < 1)
    throw usageError(`--path-threshold: expected a positive integer, got '${opts.pathThreshold}'`);
  // A SPIFFE trust domain is a DNS-like name: lower-case letters, digits, dots, dashes and underscores.
  if (!/^[a-z0-9._-]+$/.test(opts.trustDomain))
    throw usageError(`--trust-domain: '${opts.trustDomain}' is not a SPIFFE trust domain (a-z, 0-9, '.', '-', '_')`);
}

/**
 * Every selected kind from one graph: the files of all kinds together (each kind in files of its own,
 * sorted by path) and one summary per kind. Options left out take their defaults.
 */
export function proposePolicies(graph: Graph, options: Partial<PoliciesOptions> = {}): PoliciesProposal {
  const opts: PoliciesOptions = { ...DEFAULT_POLICIES_OPTIONS, ...options };
  checkOptions(opts);
  const out: PoliciesProposal = { files: [], summaries: [] };
  for (const kind of POLICY_KINDS) {
    if (!opts.kinds.includes(kind)) continue;
    const p = PROPOSERS[kind](graph, opts);
    out.files.push(...p.files);
    out.summaries.push({ kind, summary: p.summary });
  }
  out.files.sort((a, b) => compareStrings(a.path, b.path));
  return out;
}
