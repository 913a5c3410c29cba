// Verification by replay: every stored edge of the learning window goes through a policy set, as the
// cluster would judge it. Observed connections that the set would deny are breakage (with the
// explanation); connections that were dropped in reality but would now be allowed are listed too.
// Pure: (graph, inventory, policies) → report.
import type { Edge, Graph } from '../model/index.js';
import {
  type CompiledAuthorizationPolicies,
  type CompiledNetworkPolicies,
  type Connection,
  type ConnectionDecision,
  compileAuthorizationPolicies,
  compileNetworkPolicies,
  describeEndpoint,
  type EvalEndpoint,
  evaluateConnection,
  evaluateRequest,
  explainConnection,
  explainRequest,
  type Inventory,
  type LoadedPolicies,
  policiesSelecting,
  type Request,
} from '../policy/index.js';
import { allowedFlows, deniedFlows } from '../synthesize/index.js';
import { endpointResolver, type PlacedEdge, peerDisplayName, placeEdge, type Resolved } from './endpoints.js';

export const VERIFY_SCHEMA_VERSION = 1;

export const DEFAULT_MAX_VARIANTS = 8;

export interface VerifyOptions {
  /** Istio's root namespace: AuthorizationPolicies there apply mesh-wide. Default `istio-system`. */
  rootNamespace?: string;
  /** Trust domain of SPIFFE principals derived from service accounts. Default `cluster.local`. */
  trustDomain?: string;
  /** Pod variants tried per end of an edge (distinct label sets of a workload's pods). Default DEFAULT_MAX_VARIANTS (8). */
  maxVariants?: number;
}

/** One observed edge, as a report names it. */
export interface EdgeRef {
  src: string;
  dst: string;
  protocol: string;
  port: number;
  /** Human labels of the two ends (`shop/frontend`, `203.0.113.10 (api.payments.example)`). */
  srcName: string;
  dstName: string;
}

export interface VerifiedEdge extends EdgeRef {
  /** Flows that went through in reality (forwarded and similar). */
  allowedFlows: number;
  /** Flows dropped in reality. */
  droppedFlows: number;
  firstSeen: number;
  lastSeen: number;
  /** `L4` for NetworkPolicy, `L7` for an Istio AuthorizationPolicy decision on an observed HTTP request. */
  layer: 'L4' | 'L7';
  /** The HTTP request, for L7 findings. */
  request?: { method: string; path: string; count: number };
  /** Who decided: `shop/frontend-egress spec.egress[0]` or the reason no rule matched, in one line. */
  summary: string;
  /** The full explanation, as `flowwright explain` prints it. */
  explanation: string;
}

export interface SkippedEdge extends EdgeRef {
  why: string;
}

export interface VerifyTotals {
  /** Edges in the window. */
  edges: number;
  /** Edges with at least one flow that went through: the connections that must keep working. */
  observed: number;
  /** Of those, the ones the policy set allows (at L4 and, where HTTP was seen, at L7). */
  allowed: number;
  /** Of those, the ones it would deny. */
  broken: number;
  /** Edges only ever dropped in reality. */
  dropped: number;
  /** Of those, the ones the policy set would now allow. */
  droppedNowAllowed: number;
  /** Edges that could not be evaluated (see `skipped`). */
  skipped: number;
  /** Distinct HTTP requests (method and path per edge) replayed through AuthorizationPolicies. */
  requests: number;
  /** Flows on observed edges, and on the allowed ones: the coverage by traffic volume. */
  observedFlows: number;
  allowedFlows: number;
}

export interface VerifyReport {
  schemaVersion: typeof VERIFY_SCHEMA_VERSION;
  window: { since: number | null; until: number | null };
  policies: { networkPolicies: number; authorizationPolicies: number };
  totals: VerifyTotals;
  /** Percent of observed connections allowed (100 when nothing was observed). */
  coverage: number;
  /** Percent of the flows of observed connections that the set allows. */
  flowCoverage: number;
  /** Observed connections the set would deny, with why. Sorted by source, destination, protocol, port. */
  broken: VerifiedEdge[];
  /** Connections dropped in reality that the set would allow. */
  droppedNowAllowed: VerifiedEdge[];
  /** L7 requests whose decision depends on something flows do not show (`when` keys, headers). */
  undetermined: VerifiedEdge[];
  skipped: SkippedEdge[];
  /** Warnings from the evaluators (CUSTOM policies, unknown attributes), each once. */
  warnings: string[];
}

/** The policy sets compiled once, for verify and diff. */
export interface CompiledSet {
  network: CompiledNetworkPolicies;
  authorization: CompiledAuthorizationPolicies;
  authorizationCount: number;
}

export function compilePolicySet(
  policies: LoadedPolicies,
  inventory: Inventory,
  opts: VerifyOptions = {},
): CompiledSet {
  return {
    network: compileNetworkPolicies(policies.networkPolicies, inventory),
    authorization: compileAuthorizationPolicies(policies.authorizationPolicies, {
      rootNamespace: opts.rootNamespace ?? 'istio-system',
      trustDomain: opts.trustDomain ?? 'cluster.local',
    }),
    authorizationCount: policies.authorizationPolicies.length,
  };
}

/** The outcome of one edge at L4: allowed or not, and the first denying pod pair when not. */
export interface EdgeDecision {
  allowed: boolean;
  /** The connection and decision that denied (or, when allowed, the first one evaluated). */
  conn: Connection;
  decision: ConnectionDecision;
}

/**
 * Evaluates an edge over every pod variant of its two ends: allowed only when every pair is allowed
 * (a connection that works for one replica but not another is broken). Without detail, for bulk use.
 */
export function decideEdge(
  c: CompiledNetworkPolicies,
  srcs: EvalEndpoint[],
  dsts: EvalEndpoint[],
  protocol: Connection['protocol'],
  port: number,
  detail = false,
): EdgeDecision {
  let first: EdgeDecision | undefined;
  for (const src of srcs) {
    for (const dst of dsts) {
      const conn: Connection = { src, dst, protocol, port };
      const decision = evaluateConnection(c, conn, { detail });
      if (!decision.allowed) return { allowed: false, conn, decision };
      first ??= { allowed: true, conn, decision };
    }
  }
  return first!;
}

const REASON_WORDS: Partial<Record<ConnectionDecision['egress']['reason'], string>> = {
  'not-a-pod': 'not a pod',
  'host-network': 'host network',
  'same-pod': 'same pod',
  'own-node': "the pod's own node",
  'not-isolated': 'not isolated',
};

/** One line saying what decided a connection. */
export function decisionSummary(d: ConnectionDecision): string {
  const side = (s: ConnectionDecision['egress']) => {
    const at = `${s.direction} at ${s.endpoint}`;
    if (s.allowed) {
      if (s.allowedBy) return `${at} allowed by ${s.allowedBy.policy} spec.${s.direction}[${s.allowedBy.rule}]`;
      return `${at} allowed (${REASON_WORDS[s.reason] ?? s.reason})`;
    }
    const by = s.selecting.map((p) => p.policy).join(', ');
    return `${at} denied: isolated by ${by}, no rule matches`;
  };
  if (d.allowed) return `${side(d.egress)}; ${side(d.ingress)}`;
  return [d.egress, d.ingress]
    .filter((s) => !s.allowed)
    .map(side)
    .join('; ');
}

function ref(graph: Graph, e: Edge): EdgeRef {
  return {
    src: e.src,
    dst: e.dst,
    protocol: e.protocol,
    port: e.port,
    srcName: peerDisplayName(graph, e.src),
    dstName: peerDisplayName(graph, e.dst),
  };
}

function percent(part: number, whole: number): number {
  // One decimal, and never 100 unless everything is covered.
  if (whole === 0) return 100;
  return Math.floor((part / whole) * 1000) / 10;
}

/** Replays every edge of the graph through the policy set. */
export function verifyPolicies(
  graph: Graph,
  inventory: Inventory,
  policies: LoadedPolicies,
  opts: VerifyOptions = {},
): VerifyReport {
  const compiled = compilePolicySet(policies, inventory, opts);
  const resolve = endpointResolver(graph, inventory);
  const maxVariants = opts.maxVariants ?? DEFAULT_MAX_VARIANTS;
  const warnings = new Set<string>();
  const totals: VerifyTotals = {
    edges: graph.edges.length,
    observed: 0,
    allowed: 0,
    broken: 0,
    dropped: 0,
    droppedNowAllowed: 0,
    skipped: 0,
    requests: 0,
    observedFlows: 0,
    allowedFlows: 0,
  };
  const report: VerifyReport = {
    schemaVersion: VERIFY_SCHEMA_VERSION,
    window: { since: graph.window.since ?? null, until: graph.window.until ?? null },
    policies: {
      networkPolicies: policies.networkPolicies.length,
      authorizationPolicies: policies.authorizationPolicies.length,
    },
    totals,
    coverage: 100,
    flowCoverage: 100,
    broken: [],
    droppedNowAllowed: [],
    undetermined: [],
    skipped: [],
    warnings: [],
  };
  for (const e of graph.edges) {
    const allowed = allowedFlows(e);
    const denied = deniedFlows(e);
    if (allowed === 0 && denied === 0) {
      report.skipped.push({ ...ref(graph, e), why: 'no flow with a known verdict' });
      continue;
    }
    if (e.protocol === 'ICMPv4' || e.protocol === 'ICMPv6') {
      const icmp = icmpFinding(compiled.network, e, resolve, maxVariants);
      if ('why' in icmp) {
        report.skipped.push({ ...ref(graph, e), why: icmp.why });
        continue;
      }
      const base = {
        ...ref(graph, e),
        allowedFlows: allowed,
        droppedFlows: denied,
        firstSeen: e.firstSeen,
        lastSeen: e.lastSeen,
      };
      const finding = icmp.isolatedBy ? { ...base, layer: 'L4' as const, ...icmp.isolatedBy } : undefined;
      if (allowed > 0) {
        totals.observed++;
        totals.observedFlows += allowed;
        if (finding) {
          totals.broken++;
          report.broken.push(finding);
        } else {
          totals.allowed++;
          totals.allowedFlows += allowed;
        }
      } else {
        totals.dropped++;
        if (!finding) {
          totals.droppedNowAllowed++;
          report.droppedNowAllowed.push({
            ...base,
            layer: 'L4',
            summary: 'allowed: neither end is isolated by a NetworkPolicy',
            explanation: 'Neither end is selected by a NetworkPolicy for this direction, so nothing isolates it.\n',
          });
        }
      }
      continue;
    }
    const placed = placeEdge(e, resolve, maxVariants);
    if ('why' in placed) {
      report.skipped.push({ ...ref(graph, e), why: placed.why });
      continue;
    }
    const l4 = decideEdge(compiled.network, placed.srcs, placed.dsts, placed.protocol, e.port);
    // Built only for findings: most edges are allowed and need no names.
    const base = () => ({
      ...ref(graph, e),
      allowedFlows: allowed,
      droppedFlows: denied,
      firstSeen: e.firstSeen,
      lastSeen: e.lastSeen,
    });
    if (allowed > 0) {
      totals.observed++;
      totals.observedFlows += allowed;
      let ok = l4.allowed;
      if (!l4.allowed) {
        report.broken.push(l4Finding(compiled.network, placed, e.port, base()));
      } else if (compiled.authorizationCount > 0 && e.http.length > 0) {
        ok = verifyRequests(compiled, e, l4, base, report, warnings);
      }
      if (ok) {
        totals.allowed++;
        totals.allowedFlows += allowed;
      } else totals.broken++;
    } else {
      totals.dropped++;
      if (l4.allowed) {
        totals.droppedNowAllowed++;
        report.droppedNowAllowed.push(l4Finding(compiled.network, placed, e.port, base()));
      }
    }
  }
  totals.skipped = report.skipped.length;
  report.coverage = percent(totals.allowed, totals.observed);
  report.flowCoverage = percent(totals.allowedFlows, totals.observedFlows);
  report.warnings = [...warnings].sort();
  return report;
}

type FindingBase = Omit<VerifiedEdge, 'layer' | 'summary' | 'explanation'>;

/** What verify says about an observed ICMP connection at an end that a policy isolates. */
export const ICMP_DENIED = 'not expressible in NetworkPolicy, denied by the default deny on Cilium and Calico';

/**
 * ICMP has no place in NetworkPolicy rules (ports name TCP, UDP and SCTP only), and the specification leaves
 * it to the implementation; Cilium and Calico deny it at a pod that a policy isolates. So an ICMP edge goes
 * through only when neither the source is isolated for egress nor the destination for ingress.
 */
function icmpFinding(
  c: CompiledNetworkPolicies,
  e: Edge,
  resolve: (key: string) => Resolved,
  maxVariants: number,
): { why: string } | { isolatedBy?: { summary: string; explanation: string } } {
  const src = resolve(e.src);
  if ('unsupported' in src) return { why: src.unsupported };
  const dst = resolve(e.dst);
  if ('unsupported' in dst) return { why: dst.unsupported };
  const isolating: string[] = [];
  const check = (endpoints: EvalEndpoint[], direction: 'ingress' | 'egress') => {
    for (const ep of endpoints.slice(0, maxVariants)) {
      if (ep.kind !== 'pod') continue;
      const by = policiesSelecting(c, ep.pod).filter((p) => p[direction] !== undefined);
      if (by.length > 0)
        isolating.push(`${direction} at ${describeEndpoint(ep)}: isolated by ${by.map((p) => p.ref).join(', ')}`);
    }
  };
  check(src.endpoints, 'egress');
  check(dst.endpoints, 'ingress');
  if (isolating.length === 0) return {};
  return {
    isolatedBy: {
      summary: `${ICMP_DENIED} (${isolating[0]})`,
      explanation:
        `${e.protocol} type ${e.port}: ${ICMP_DENIED}.\n` +
        'NetworkPolicy rules cannot name ICMP, so no rule of the set can allow it; the isolation that denies it:\n' +
        `${isolating.map((line) => `  ${line}`).join('\n')}\n` +
        'Allow it with a CiliumNetworkPolicy (icmps) or a Calico policy (protocol ICMP), or accept that it stops.\n',
    },
  };
}

/** An L4 finding, explained from a second evaluation with detail (the first one, for every edge, has none). */
function l4Finding(c: CompiledNetworkPolicies, placed: PlacedEdge, port: number, base: FindingBase): VerifiedEdge {
  const detailed = decideEdge(c, placed.srcs, placed.dsts, placed.protocol, port, true);
  return {
    ...base,
    layer: 'L4',
    summary: decisionSummary(detailed.decision),
    explanation: explainConnection(detailed.decision, detailed.conn),
  };
}

/** Replays the HTTP requests seen on an L4-allowed edge through the AuthorizationPolicies of its destination. */
function verifyRequests(
  compiled: CompiledSet,
  e: Edge,
  l4: EdgeDecision,
  base: () => FindingBase,
  report: VerifyReport,
  warnings: Set<string>,
): boolean {
  const dst = l4.conn.dst;
  if (dst.kind !== 'pod') return true;
  let ok = true;
  for (const h of e.http) {
    const req: Request = { conn: l4.conn, method: h.method, path: h.path, http: true };
    const d = evaluateRequest(compiled.authorization, dst.pod, req);
    report.totals.requests++;
    for (const w of d.warnings) warnings.add(w);
    if (d.verdict === 'allow') continue;
    const finding: VerifiedEdge = {
      ...base(),
      layer: 'L7',
      request: { method: h.method, path: h.path, count: h.count },
      summary: d.reason,
      explanation: explainRequest(d, req),
    };
    if (d.verdict === 'deny') {
      ok = false;
      report.broken.push(finding);
    } else report.undetermined.push(finding);
  }
  return ok;
}
