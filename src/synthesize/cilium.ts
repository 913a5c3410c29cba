// Graph → CiliumNetworkPolicy (cilium.io/v2): one policy per workload with a stable selector. Beyond what
// Kubernetes NetworkPolicy can say, Cilium takes DNS names (`toFQDNs`, with the DNS rule to kube-dns
// that lets its proxy learn the addresses), reserved entities (`kube-apiserver`, `host`, `world`...),
// ICMP, and HTTP rules (method + path regex from the path templates) on ingress ports.
//
// Each policy states `enableDefaultDeny` for both directions, so a workload is isolated even in a
// direction without rules (Cilium 1.15 and later read the field).
import { externalCidr } from '../identity/index.js';
import type { Edge, Graph, ReservedEntity } from '../model/index.js';
import { compareStrings, type RuleEdge, selectEdges } from './edges.js';
import { edgeEvidence } from './evidence.js';
import { finishSummary, noteUnsupported, portProblem, type UnsupportedEdges } from './notes.js';
import { regexLiteral, templateRegex } from './paths.js';
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
  mergeHttp,
  policyTargets,
  selectorText,
  type Target,
  widenedCidr,
  workloadFiles,
  workloadMetadata,
} from './workloads.js';

const API_VERSION = 'cilium.io/v2';
const KIND = 'CiliumNetworkPolicy';
/** The label Cilium gives every endpoint for its namespace. */
export const CILIUM_NAMESPACE_LABEL = 'k8s:io.kubernetes.pod.namespace';
const CILIUM_CLUSTER_LABEL = 'k8s:io.cilium.k8s.policy.cluster';
const DNS_VISIBILITY = { dns: [{ matchPattern: '*' }] };

export type CiliumOptions = Pick<
  PoliciesOptions,
  'minFlows' | 'allowDropped' | 'cidrPrefixV4' | 'cidrPrefixV6' | 'l7' | 'pathThreshold'
>;

type Direction = 'ingress' | 'egress';

/** Entities Cilium can name; the rest have nothing to select. */
const ENTITIES: Partial<Record<ReservedEntity, string>> = {
  host: 'host',
  'remote-node': 'remote-node',
  'kube-apiserver': 'kube-apiserver',
  world: 'world',
  health: 'health',
  ingress: 'ingress',
};

interface PortEntry {
  protocol: string;
  port: number;
  /** undefined: the whole port; else the HTTP requests allowed. */
  http?: HttpRule[];
  dns: boolean;
}

/** One peer in one direction: the rule's peer part and everything allowed to it. */
interface Entry {
  sortKey: string;
  peer: Record<string, unknown>;
  ports: Map<string, PortEntry>;
  icmp: Map<string, { family: string; type: number }>;
  evidence: string[];
}

interface Draft {
  target: Target;
  ingress: Map<string, Entry>;
  egress: Map<string, Entry>;
  rules: Set<RuleEdge>;
  fqdn: boolean;
  dnsEgress: boolean;
}

interface Context {
  graph: Graph;
  opts: CiliumOptions;
  summary: ProposalSummary;
  unsupported: UnsupportedEdges;
  notes: Set<string>;
  isDns: (key: string) => boolean;
}

export function proposeCiliumPolicies(graph: Graph, opts: CiliumOptions): Proposal {
  const summary = emptySummary();
  const ctx: Context = { graph, opts, summary, unsupported: new Map(), notes: new Set(), isDns: kubeDnsTest(graph) };
  const targets = policyTargets(graph, summary);
  const drafts = new Map<string, Draft>();
  for (const [key, target] of targets)
    drafts.set(key, { target, ingress: new Map(), egress: new Map(), rules: new Set(), fqdn: false, dnsEgress: false });
  const selection = selectEdges(graph.edges, opts);
  summary.observedButDenied = selection.observedButDenied;
  summary.belowThreshold = selection.belowThreshold;
  const http = httpRulesByEdge(
    selection.rules.map((r) => r.edge),
    opts.l7,
    opts.pathThreshold,
  );
  for (const r of selection.rules) {
    const src = drafts.get(r.edge.src);
    const dst = drafts.get(r.edge.dst);
    if (!src && !dst) continue;
    const l7 = http.get(r.edge);
    if (l7?.why && dst) noteUnsupported(ctx, r.edge, l7.why);
    const problem = portProblem(r.edge);
    if (problem) {
      noteUnsupported(ctx, r.edge, problem);
      continue;
    }
    if (src) addSide(ctx, src, 'egress', r, undefined);
    // None of its requests can be allowed at the destination: no ingress rule (an empty one would allow all).
    if (dst && l7?.rules?.length !== 0) addSide(ctx, dst, 'ingress', r, l7);
  }
  const files = workloadFiles(summary, ctx, drafts.values(), (draft) => policyFile(ctx, draft));
  finishSummary(summary, ctx);
  return { files, summary };
}

/** The endpoint selector of a workload peer as seen from `self`: its labels plus namespace (and cluster). */
function endpointOf(
  ctx: Context,
  self: Target,
  key: string,
): { sortKey: string; selector: Record<string, string> } | string {
  const node = ctx.graph.peers.get(key);
  if (node?.peer.type !== 'workload') return 'not a workload';
  if (!node.selector || Object.keys(node.selector).length === 0) return 'has no stable selector';
  const p = node.peer;
  const selector: Record<string, string> = { ...node.selector, [CILIUM_NAMESPACE_LABEL]: p.namespace };
  if ((p.cluster ?? '') !== (self.node.peer.cluster ?? '')) {
    if (!p.cluster) return 'is in another cluster that has no name';
    selector[CILIUM_CLUSTER_LABEL] = p.cluster;
  }
  return { sortKey: `0|${p.cluster ?? ''}|${p.namespace}|${p.name}|${p.kind}`, selector };
}

function peerOf(
  ctx: Context,
  draft: Draft,
  direction: Direction,
  edge: Edge,
): { sortKey: string; peer: Record<string, unknown>; fqdn?: boolean } | string {
  const otherKey = direction === 'ingress' ? edge.src : edge.dst;
  const end = direction === 'ingress' ? 'source' : 'destination';
  const other = ctx.graph.peers.get(otherKey);
  if (!other) return `${end} is not a known peer`;
  const p = other.peer;
  const from = direction === 'ingress';
  switch (p.type) {
    case 'workload': {
      const ep = endpointOf(ctx, draft.target, otherKey);
      if (typeof ep === 'string') return `${end} ${ep}`;
      return {
        sortKey: ep.sortKey,
        peer: { [from ? 'fromEndpoints' : 'toEndpoints']: [{ matchLabels: ep.selector }] },
      };
    }
    case 'external': {
      // Reached by name: allow the name (Cilium learns its current addresses from the DNS answers).
      if (!from && other.names.length > 0) {
        const names = [...other.names].sort(compareStrings);
        return {
          sortKey: `2|${names.join(',')}`,
          peer: { toFQDNs: names.map((matchName) => ({ matchName })) },
          fqdn: true,
        };
      }
      const cidr = widenedCidr(p.cidr, ctx.opts);
      return { sortKey: `3|${cidr}`, peer: { [from ? 'fromCIDRSet' : 'toCIDRSet']: [{ cidr }] } };
    }
    case 'reserved': {
      // The internet at known addresses: those addresses, not the whole `world` entity.
      if (p.entity === 'world' && other.ips.length > 0) {
        const { cidrPrefixV4, cidrPrefixV6 } = ctx.opts;
        const cidrs = [
          ...new Set(other.ips.map((ip) => externalCidr(ip, ip.includes(':') ? cidrPrefixV6 : cidrPrefixV4))),
        ];
        cidrs.sort(compareStrings);
        return {
          sortKey: `3|${cidrs.join(',')}`,
          peer: { [from ? 'fromCIDRSet' : 'toCIDRSet']: cidrs.map((cidr) => ({ cidr })) },
        };
      }
      const entity = ENTITIES[p.entity];
      if (!entity) return `${end} ${p.entity} is not an entity Cilium can select`;
      return { sortKey: `1|${entity}`, peer: { [from ? 'fromEntities' : 'toEntities']: [entity] } };
    }
    case 'networkset':
      return 'Calico network sets cannot be expressed in a CiliumNetworkPolicy';
  }
}

function addSide(ctx: Context, draft: Draft, direction: Direction, r: RuleEdge, l7: EdgeHttp | undefined): void {
  const { edge } = r;
  const http = l7?.rules;
  const dns = isDnsEdge(edge, ctx.isDns);
  const isIcmp = edge.protocol === 'ICMPv4' || edge.protocol === 'ICMPv6';
  if (isIcmp && (edge.port < 0 || edge.port > 255)) {
    noteUnsupported(ctx, edge, 'ICMP type unknown');
    return;
  }
  const resolved = peerOf(ctx, draft, direction, edge);
  if (typeof resolved === 'string') {
    noteUnsupported(ctx, edge, resolved);
    return;
  }
  const entries = direction === 'ingress' ? draft.ingress : draft.egress;
  const id = JSON.stringify(resolved.peer);
  let entry = entries.get(id);
  if (!entry) {
    entry = { sortKey: resolved.sortKey, peer: resolved.peer, ports: new Map(), icmp: new Map(), evidence: [] };
    entries.set(id, entry);
  }
  if (isIcmp) {
    const family = edge.protocol === 'ICMPv4' ? 'IPv4' : 'IPv6';
    entry.icmp.set(`${family}/${edge.port}`, { family, type: edge.port });
  } else if (dns) {
    for (const protocol of ['UDP', 'TCP'])
      entry.ports.set(`${protocol}/${DNS_PORT}`, { protocol, port: DNS_PORT, dns: direction === 'egress' });
    if (direction === 'egress') draft.dnsEgress = true;
  } else {
    const k = `${edge.protocol}/${edge.port}`;
    const had = entry.ports.get(k);
    if (had && had.http === undefined) {
      // Already the whole port.
    } else if (http === undefined) entry.ports.set(k, { protocol: edge.protocol, port: edge.port, dns: false });
    else
      entry.ports.set(k, {
        protocol: edge.protocol,
        port: edge.port,
        dns: false,
        http: mergeHttp(had?.http ?? [], http),
      });
  }
  if (resolved.fqdn) draft.fqdn = true;
  entry.evidence.push(edgeEvidence(ctx.graph, r));
  if (http && l7?.templated) entry.evidence.push(...l7.templated);
  draft.rules.add(r);
}

/** The rule bodies for one peer: ports (with L7 rules), and ICMP in a rule of its own (Cilium keeps them apart). */
function portRules(entry: Entry): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const ports = [...entry.ports.values()].sort((a, b) => compareStrings(a.protocol, b.protocol) || a.port - b.port);
  // One toPorts item per kind of L7 rule (Cilium allows one L7 protocol per port list).
  const plain = ports.filter((p) => !p.dns && p.http === undefined);
  const toPorts: Record<string, unknown>[] = [];
  if (plain.length > 0) toPorts.push({ ports: plain.map((p) => ({ port: String(p.port), protocol: p.protocol })) });
  const dns = ports.filter((p) => p.dns);
  if (dns.length > 0)
    toPorts.push({ ports: dns.map((p) => ({ port: String(p.port), protocol: p.protocol })), rules: DNS_VISIBILITY });
  for (const p of ports) {
    if (p.http === undefined) continue;
    const http = p.http.flatMap((h) =>
      h.paths.length === 0
        ? [{ method: regexLiteral(h.method) }]
        : h.paths.map((path) => ({ method: regexLiteral(h.method), path: templateRegex(path) })),
    );
    toPorts.push({ ports: [{ port: String(p.port), protocol: p.protocol }], rules: { http } });
  }
  if (toPorts.length > 0) out.push({ toPorts });
  const icmp = [...entry.icmp.values()].sort((a, b) => compareStrings(a.family, b.family) || a.type - b.type);
  if (icmp.length > 0) out.push({ icmps: [{ fields: icmp.map((f) => ({ family: f.family, type: f.type })) }] });
  return out;
}

function policyFile(ctx: Context, draft: Draft): { file: ProposalFile; rules: number } {
  const { node } = draft.target;
  const comments: YamlComment[] = [];
  if (draft.fqdn && !draft.dnsEgress) {
    // toFQDNs learns addresses from DNS answers its proxy sees: without a DNS rule it allows nothing.
    const dnsKey = [...ctx.graph.peers.values()].find((n) => ctx.isDns(n.key));
    const selector =
      dnsKey?.selector && Object.keys(dnsKey.selector).length > 0 ? dnsKey.selector : { 'k8s-app': 'kube-dns' };
    draft.egress.set('dns', {
      sortKey: '0|kube-system|dns',
      peer: { toEndpoints: [{ matchLabels: { ...selector, [CILIUM_NAMESPACE_LABEL]: 'kube-system' } }] },
      ports: new Map([
        ['UDP/53', { protocol: 'UDP', port: DNS_PORT, dns: true }],
        ['TCP/53', { protocol: 'TCP', port: DNS_PORT, dns: true }],
      ]),
      icmp: new Map(),
      evidence: ['not observed: added because toFQDNs needs the DNS proxy to see the lookups'],
    });
  }
  const rulesOf = (direction: Direction) => {
    const out: Record<string, unknown>[] = [];
    const entries = [...(direction === 'ingress' ? draft.ingress : draft.egress).values()];
    for (const entry of entries.sort((a, b) => compareStrings(a.sortKey, b.sortKey))) {
      const lines = [...entry.evidence];
      if ([...entry.ports.values()].some((p) => p.dns))
        lines.push('DNS: UDP/53 and TCP/53, through the DNS proxy (needed by toFQDNs, and it shows every lookup)');
      comments.push({ document: 0, path: ['spec', direction, out.length], text: lines.join('\n') });
      for (const body of portRules(entry)) out.push({ ...entry.peer, ...body });
    }
    return out;
  };
  const ingress = rulesOf('ingress');
  const egress = rulesOf('egress');
  comments.unshift({
    document: 0,
    path: [],
    text: [
      `flowwright proposal for ${node.key}, selecting ${selectorText(node.selector)}`,
      'Review before applying: traffic not observed in the learning window will be denied.',
    ].join('\n'),
  });
  const spec: Record<string, unknown> = {
    endpointSelector: { matchLabels: { ...node.selector } },
    enableDefaultDeny: { ingress: true, egress: true },
  };
  if (ingress.length > 0) spec.ingress = ingress;
  if (egress.length > 0) spec.egress = egress;
  const doc = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: workloadMetadata(ctx.graph, draft.target, [...draft.rules]),
    spec,
  };
  const file: ProposalFile = {
    path: `${draft.target.dir}/${draft.target.base}.cilium.yaml`,
    kind: KIND,
    namespace: node.peer.namespace,
    workload: node.key,
    documents: [doc],
    comments,
  };
  return { file, rules: ingress.length + egress.length };
}
