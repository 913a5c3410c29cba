// Graph → Istio AuthorizationPolicy (security.istio.io/v1): per destination workload one ALLOW policy
// whose selector is the workload's stable selector and whose rules name each caller by its SPIFFE
// identity, with the ports, methods and path templates it was seen using. Optional per namespace: the
// allow-nothing baseline and a PeerAuthentication with mTLS STRICT.
//
// Kept consistent with the NetworkPolicy proposal on purpose: a caller gets an identity-level allow
// exactly when the NetworkPolicy side allows it at layer 3/4 (same edge selection, same DNS widening,
// callers without a stable selector left out on both sides). Istio authorizes TCP only, so UDP and
// ICMP edges are left to the layer 3/4 kinds.
import { externalCidr } from '../identity/index.js';
import type { Edge, Graph } from '../model/index.js';
import { compareStrings, type RuleEdge, selectEdges } from './edges.js';
import { edgeEvidence, peerDisplay } from './evidence.js';
import { finishSummary, noteUnsupported, type UnsupportedEdges } from './notes.js';
import {
  emptySummary,
  type PoliciesOptions,
  type Proposal,
  type ProposalFile,
  type ProposalSummary,
  type YamlComment,
} from './types.js';
import {
  DNS_PORT,
  type EdgeHttp,
  type HttpRule,
  httpRulesByEdge,
  isDnsEdge,
  kubeDnsTest,
  MANAGED_BY_LABELS,
  mergeHttp,
  policyTargets,
  selectorText,
  type Target,
  widenedCidr,
  workloadMetadata,
} from './workloads.js';

const API_VERSION = 'security.istio.io/v1';
const ALLOW_NOTHING = 'allow-nothing';
const PEER_AUTHENTICATION = 'peer-authentication';

export type AuthorizationPolicyOptions = Pick<
  PoliciesOptions,
  | 'minFlows'
  | 'allowDropped'
  | 'cidrPrefixV4'
  | 'cidrPrefixV6'
  | 'trustDomain'
  | 'l7'
  | 'pathThreshold'
  | 'istioAllowNothing'
  | 'istioStrictMtls'
>;

/** `cluster.local/ns/shop/sa/frontend`: the SPIFFE identity Istio gives a service account. */
export function spiffePrincipal(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** One caller of a workload: who it is, and what it may do. */
interface Caller {
  sortKey: string;
  source: Record<string, unknown>;
  /** port → HTTP rules; undefined rules: the whole port. */
  ports: Map<number, HttpRule[] | undefined>;
  evidence: string[];
}

interface Context {
  graph: Graph;
  opts: AuthorizationPolicyOptions;
  summary: ProposalSummary;
  unsupported: UnsupportedEdges;
  notes: Set<string>;
}

export function proposeAuthorizationPolicies(graph: Graph, opts: AuthorizationPolicyOptions): Proposal {
  const summary = emptySummary();
  const ctx: Context = { graph, opts, summary, unsupported: new Map(), notes: new Set() };
  const targets = policyTargets(graph, summary, [ALLOW_NOTHING, PEER_AUTHENTICATION]);
  const selection = selectEdges(graph.edges, opts);
  summary.observedButDenied = selection.observedButDenied;
  summary.belowThreshold = selection.belowThreshold;
  const isDns = kubeDnsTest(graph);
  const http = httpRulesByEdge(
    selection.rules.map((r) => r.edge),
    opts.l7,
    opts.pathThreshold,
  );

  const callers = new Map<string, Map<string, Caller>>();
  const evidence = new Map<string, RuleEdge[]>();
  for (const r of selection.rules) {
    const target = targets.get(r.edge.dst);
    if (!target) continue;
    addCaller(ctx, target, r, isDns, http.get(r.edge), callers, evidence);
  }

  const files: ProposalFile[] = [];
  const namespaces = new Map<string, string>();
  for (const target of targets.values()) {
    const list = [...(callers.get(target.node.key)?.values() ?? [])].sort((a, b) =>
      compareStrings(a.sortKey, b.sortKey),
    );
    files.push(policyFile(ctx, target, list, evidence.get(target.node.key) ?? []));
    summary.rules += list.length;
    namespaces.set(target.dir, target.node.peer.namespace);
  }
  summary.workloads = files.length;
  for (const [dir, namespace] of namespaces) {
    if (opts.istioAllowNothing) files.push(allowNothingFile(dir, namespace));
    if (opts.istioStrictMtls) files.push(peerAuthenticationFile(dir, namespace));
  }
  summary.policies = files.length;
  files.sort((a, b) => compareStrings(a.path, b.path));
  finishSummary(summary, ctx);
  summary.namespaceFallbacks?.sort((a, b) => compareStrings(a.caller, b.caller));
  return { files, summary };
}

function addCaller(
  ctx: Context,
  target: Target,
  r: RuleEdge,
  isDns: (key: string) => boolean,
  l7: EdgeHttp | undefined,
  callers: Map<string, Map<string, Caller>>,
  evidence: Map<string, RuleEdge[]>,
): void {
  const { edge } = r;
  const dns = isDnsEdge(edge, isDns);
  if (!dns && edge.protocol !== 'TCP') {
    noteUnsupported(ctx, edge, `Istio authorizes TCP only; ${edge.protocol} is left to the layer 3/4 policy`);
    return;
  }
  if (!dns && (edge.port < 1 || edge.port > 65535)) {
    noteUnsupported(ctx, edge, 'destination port unknown');
    return;
  }
  if (l7?.why) noteUnsupported(ctx, edge, l7.why);
  const rules = dns || !l7?.rules ? undefined : l7.rules;
  // None of its requests can be allowed: no operation (an empty one would allow every request).
  if (rules?.length === 0) return;
  const source = resolveSource(ctx, target, edge);
  if (source === undefined) return;
  let byKey = callers.get(target.node.key);
  if (!byKey) {
    byKey = new Map();
    callers.set(target.node.key, byKey);
  }
  const id = JSON.stringify(source.source);
  let caller = byKey.get(id);
  if (!caller) {
    caller = { sortKey: source.sortKey, source: source.source, ports: new Map(), evidence: [] };
    byKey.set(id, caller);
  }
  // DNS answers too large for UDP are retried over TCP; Istio sees only the TCP part.
  const port = dns ? DNS_PORT : edge.port;
  const had = caller.ports.get(port);
  if (caller.ports.has(port) && had === undefined) {
    // Already the whole port.
  } else if (rules === undefined) caller.ports.set(port, undefined);
  else caller.ports.set(port, mergeHttp(had ?? [], rules));
  let line = edgeEvidence(ctx.graph, r);
  if (dns) line += edge.protocol === 'UDP' ? '; Istio sees the TCP/53 retries only' : '';
  caller.evidence.push(line);
  if (rules && l7?.templated) caller.evidence.push(...l7.templated);
  const list = evidence.get(target.node.key) ?? [];
  list.push(r);
  evidence.set(target.node.key, list);
}

/** The `from.source` for the edge's caller, or undefined when none can be written (reported). */
function resolveSource(
  ctx: Context,
  target: Target,
  edge: Edge,
): { sortKey: string; source: Record<string, unknown> } | undefined {
  const other = ctx.graph.peers.get(edge.src);
  if (!other) {
    noteUnsupported(ctx, edge, 'source is not a known peer');
    return undefined;
  }
  const p = other.peer;
  switch (p.type) {
    case 'workload': {
      if ((p.cluster ?? '') !== (target.node.peer.cluster ?? '')) {
        noteUnsupported(ctx, edge, 'source is in another cluster; its trust domain is not known');
        return undefined;
      }
      // The layer 3/4 side cannot allow a caller without a selector; neither does this side.
      if (!other.selector || Object.keys(other.selector).length === 0) {
        noteUnsupported(ctx, edge, 'source has no stable selector (left out, as in the NetworkPolicy)');
        return undefined;
      }
      if (other.serviceAccounts.length === 0) {
        ctx.summary.namespaceFallbacks ??= [];
        if (!ctx.summary.namespaceFallbacks.some((f) => f.caller === other.key))
          ctx.summary.namespaceFallbacks.push({ caller: other.key, namespace: p.namespace });
        return { sortKey: `1|${p.namespace}|${p.name}`, source: { namespaces: [p.namespace] } };
      }
      if (other.serviceAccounts.includes('default'))
        ctx.notes.add(
          `${other.key} runs as service account 'default' of ${p.namespace}: its principal is shared by every pod there ` +
            'without a service account of its own; give it one to make the AuthorizationPolicies precise',
        );
      const principals = [...other.serviceAccounts]
        .sort(compareStrings)
        .map((sa) => spiffePrincipal(ctx.opts.trustDomain, p.namespace, sa));
      return { sortKey: `0|${p.namespace}|${p.name}`, source: { principals } };
    }
    case 'external': {
      const cidr = widenedCidr(p.cidr, ctx.opts);
      ctx.notes.add(
        `${peerDisplay(ctx.graph, edge.src)} -> ${peerDisplay(ctx.graph, edge.dst)}: the caller is outside the mesh, ` +
          'allowed by source address (ipBlocks), not by identity; with mTLS STRICT it cannot connect at all',
      );
      return { sortKey: `2|${cidr}`, source: { ipBlocks: [cidr] } };
    }
    case 'reserved': {
      if (p.entity === 'host') {
        ctx.notes.add(
          `${peerDisplay(ctx.graph, edge.src)} -> ${peerDisplay(ctx.graph, edge.dst)} ${edge.protocol}/${edge.port}: ` +
            'no rule, kubelet probes are rewritten by the Istio sidecar injector and bypass authorization',
        );
        return undefined;
      }
      if (p.entity === 'world' && other.ips.length > 0) {
        const blocks = other.ips.map((ip) => externalCidr(ip, ip.includes(':') ? 128 : 32)).sort(compareStrings);
        return { sortKey: `2|${blocks[0]}`, source: { ipBlocks: blocks } };
      }
      noteUnsupported(ctx, edge, `source ${p.entity} has no identity or address to name`);
      return undefined;
    }
    case 'networkset':
      noteUnsupported(ctx, edge, 'Calico network sets cannot be expressed in an AuthorizationPolicy');
      return undefined;
  }
}

/** `to` of one caller's rule: one operation per method (so methods and paths never cross), ports merged. */
function operations(caller: Caller): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const wholePorts: string[] = [];
  for (const port of [...caller.ports.keys()].sort((a, b) => a - b)) {
    const rules = caller.ports.get(port);
    if (rules === undefined) {
      wholePorts.push(String(port));
      continue;
    }
    // Without paths, one operation lists every method; with paths, methods and paths must not cross.
    if (rules.every((r) => r.paths.length === 0)) {
      out.push({ operation: { ports: [String(port)], methods: rules.map((r) => r.method) } });
      continue;
    }
    for (const rule of rules) {
      const operation: Record<string, unknown> = { ports: [String(port)], methods: [rule.method] };
      if (rule.paths.length > 0) operation.paths = rule.paths;
      out.push({ operation });
    }
  }
  if (wholePorts.length > 0) out.unshift({ operation: { ports: wholePorts } });
  return out;
}

function policyFile(ctx: Context, target: Target, callers: Caller[], rules: RuleEdge[]): ProposalFile {
  const { node } = target;
  const comments: YamlComment[] = [];
  const header = [
    `flowwright proposal for ${node.key}, selecting ${selectorText(node.selector)}`,
    callers.length === 0
      ? 'No caller was observed: this ALLOW policy without rules lets no request in.'
      : 'Review before applying: requests not observed in the learning window will be denied.',
  ];
  comments.push({ document: 0, path: [], text: header.join('\n') });
  const specRules = callers.map((caller, i) => {
    comments.push({ document: 0, path: ['spec', 'rules', i], text: caller.evidence.join('\n') });
    return { from: [{ source: caller.source }], to: operations(caller) };
  });
  const spec: Record<string, unknown> = {
    selector: { matchLabels: { ...node.selector } },
    action: 'ALLOW',
  };
  if (specRules.length > 0) spec.rules = specRules;
  const doc = {
    apiVersion: API_VERSION,
    kind: 'AuthorizationPolicy',
    metadata: workloadMetadata(ctx.graph, target, rules),
    spec,
  };
  return {
    path: `${target.dir}/${target.base}.authorizationpolicy.yaml`,
    kind: 'AuthorizationPolicy',
    namespace: node.peer.namespace,
    workload: node.key,
    documents: [doc],
    comments,
  };
}

function allowNothingFile(dir: string, namespace: string): ProposalFile {
  return {
    path: `${dir}/${ALLOW_NOTHING}.authorizationpolicy.yaml`,
    kind: 'AuthorizationPolicy',
    namespace,
    documents: [
      {
        apiVersion: API_VERSION,
        kind: 'AuthorizationPolicy',
        metadata: { name: `flowwright-${ALLOW_NOTHING}`, namespace, labels: { ...MANAGED_BY_LABELS } },
        spec: {},
      },
    ],
    comments: [
      {
        document: 0,
        path: [],
        text:
          `flowwright allow-nothing baseline for namespace ${namespace}: an AuthorizationPolicy with an empty spec\n` +
          'denies every request to every workload here that no ALLOW policy lets in.',
      },
    ],
  };
}

function peerAuthenticationFile(dir: string, namespace: string): ProposalFile {
  return {
    path: `${dir}/${PEER_AUTHENTICATION}.peerauthentication.yaml`,
    kind: 'PeerAuthentication',
    namespace,
    documents: [
      {
        apiVersion: API_VERSION,
        kind: 'PeerAuthentication',
        metadata: { name: 'flowwright-strict-mtls', namespace, labels: { ...MANAGED_BY_LABELS } },
        spec: { mtls: { mode: 'STRICT' } },
      },
    ],
    comments: [
      {
        document: 0,
        path: [],
        text:
          `flowwright mTLS STRICT for namespace ${namespace}: workloads here accept only mutual-TLS traffic, so every\n` +
          'caller must have a sidecar (or ambient ztunnel); plain-text callers are refused.',
      },
    ],
  };
}
