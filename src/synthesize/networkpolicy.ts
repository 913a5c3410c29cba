// Graph → Kubernetes NetworkPolicy (networking.k8s.io/v1): one policy per workload that has a stable
// selector, with ingress and egress rules for exactly the peers and ports observed, and a default
// deny per namespace. What NetworkPolicy cannot express is listed in the summary, never guessed.
//
// Reading order: proposeNetworkPolicies (the outline), then how one edge becomes a peer on each of
// its ends (addEdge, resolvePeer), then how peers become merged rules and documents.
import { externalCidr } from '../identity/index.js';
import type { Edge, Graph, ReservedEntity } from '../model/index.js';
import { compareStrings, type RuleEdge, selectEdges } from './edges.js';
import { edgeEvidence, peerDisplay } from './evidence.js';
import { dnsWithoutEgressNote, finishSummary, noteUnsupported, type UnsupportedEdges } from './notes.js';
import {
  emptySummary,
  type Proposal,
  type ProposalFile,
  type ProposalOptions,
  type ProposalSummary,
  type YamlComment,
} from './types.js';
import {
  DNS_PORT,
  isDnsEdge,
  isSystemNamespace,
  kubeDnsTest,
  MANAGED_BY_LABELS,
  NAMESPACE_NAME_LABEL,
  namespacePath,
  policyTargets,
  selectorText,
  type WorkloadNode,
  workloadMetadata,
} from './workloads.js';

const API_VERSION = 'networking.k8s.io/v1';
const KIND = 'NetworkPolicy';
const DEFAULT_DENY_NAME = 'default-deny';
/** NetworkPolicy ports cover these protocols only. */
const PORT_PROTOCOLS = new Set(['TCP', 'UDP', 'SCTP']);

type Direction = 'ingress' | 'egress';

interface PortRef {
  protocol: string;
  port: number;
}

/** One peer in one direction of a workload's policy, with every port and edge observed for it. */
interface PeerEntry {
  sortKey: string;
  peer: Record<string, unknown>;
  ports: Map<string, PortRef>;
  evidence: string[];
  /** Reached as a DNS server: both DNS ports were allowed, which the evidence says last. */
  dns: boolean;
}

/** A workload's policy while it is being assembled. */
interface Draft {
  node: WorkloadNode;
  name: string;
  path: string;
  ingress: Map<string, PeerEntry>;
  egress: Map<string, PeerEntry>;
  /** The edges behind its rules, each once, for the generated-from annotation. */
  evidence: Set<RuleEdge>;
}

/** What one end of an edge becomes in the other end's policy. */
type Resolution =
  | { kind: 'peers'; peers: Array<{ sortKey: string; peer: Record<string, unknown> }> }
  | { kind: 'unsupported'; why: string }
  | { kind: 'note'; text: string };

interface Context {
  graph: Graph;
  opts: ProposalOptions;
  drafts: Map<string, Draft>;
  summary: ProposalSummary;
  /** Unsupported edges by edge + reason, so an edge reported from both ends appears once. */
  unsupported: UnsupportedEdges;
  notes: Set<string>;
  isDns: (key: string) => boolean;
}

export function proposeNetworkPolicies(graph: Graph, opts: ProposalOptions): Proposal {
  const summary = emptySummary();
  const ctx: Context = {
    graph,
    opts,
    drafts: createDrafts(graph, summary),
    summary,
    unsupported: new Map(),
    notes: new Set(),
    isDns: kubeDnsTest(graph),
  };

  const selection = selectEdges(graph.edges, opts);
  summary.observedButDenied = selection.observedButDenied;
  summary.belowThreshold = selection.belowThreshold;
  for (const edge of selection.noVerdict) {
    if (ctx.drafts.has(edge.src) || ctx.drafts.has(edge.dst))
      noteUnsupported(ctx, edge, 'no flow with a known verdict');
  }
  for (const r of selection.rules) addEdge(ctx, r);

  const files: ProposalFile[] = [];
  const namespaces = new Map<string, { cluster?: string; namespace: string }>();
  for (const draft of ctx.drafts.values()) {
    const { file, rules } = policyFile(ctx, draft);
    summary.rules += rules;
    files.push(file);
    if (draft.egress.size === 0 && ctx.isDns(draft.node.key)) ctx.notes.add(dnsWithoutEgressNote(draft.node.key));
    const { cluster, namespace } = draft.node.peer;
    namespaces.set(namespacePath(cluster, namespace), { cluster, namespace });
  }
  summary.workloads = files.length;
  if (opts.defaultDeny) {
    const leftOut: NonNullable<ProposalSummary['defaultDenyLeftOut']> = [];
    for (const [dir, { cluster, namespace }] of namespaces) {
      const why = defaultDenyHazard(ctx, cluster, namespace);
      if (why) leftOut.push({ namespace: dir, ...why });
      else files.push(defaultDenyFile(dir, namespace));
    }
    if (leftOut.length > 0)
      summary.defaultDenyLeftOut = leftOut.sort((a, b) => compareStrings(a.namespace, b.namespace));
  }
  summary.policies = files.length;
  files.sort((a, b) => compareStrings(a.path, b.path));

  finishSummary(summary, ctx);
  return { files, summary };
}

// ---------------------------------------------------------------------------------------------
// Which workloads get a policy, and under which name.

function createDrafts(graph: Graph, summary: ProposalSummary): Map<string, Draft> {
  const drafts = new Map<string, Draft>();
  // A workload named like the namespace-wide file gets its kind added to its name.
  for (const [key, { node, name, dir, base }] of policyTargets(graph, summary, [DEFAULT_DENY_NAME]))
    drafts.set(key, {
      node,
      name,
      path: `${dir}/${base}.networkpolicy.yaml`,
      ingress: new Map(),
      egress: new Map(),
      evidence: new Set(),
    });
  return drafts;
}

// ---------------------------------------------------------------------------------------------
// One edge → a peer in the source's egress and in the destination's ingress.

function addEdge(ctx: Context, r: RuleEdge): void {
  const { edge } = r;
  const srcDraft = ctx.drafts.get(edge.src);
  const dstDraft = ctx.drafts.get(edge.dst);
  if (!srcDraft && !dstDraft) return; // neither end gets a policy: nothing to propose
  const portProblem = checkPort(edge);
  if (portProblem) {
    noteUnsupported(ctx, edge, portProblem);
    return;
  }
  if (srcDraft) addSide(ctx, r, srcDraft, 'egress', edge.dst);
  if (dstDraft) addSide(ctx, r, dstDraft, 'ingress', edge.src);
}

function checkPort(edge: Edge): string | undefined {
  if (edge.protocol === 'ICMPv4' || edge.protocol === 'ICMPv6')
    return 'ICMP cannot be expressed in NetworkPolicy (its ports cover TCP, UDP and SCTP only)';
  if (!PORT_PROTOCOLS.has(edge.protocol)) return 'protocol unknown';
  if (!Number.isInteger(edge.port) || edge.port < 1 || edge.port > 65535) return 'destination port unknown';
  return undefined;
}

function addSide(ctx: Context, r: RuleEdge, draft: Draft, direction: Direction, otherKey: string): void {
  const { edge } = r;
  const res = resolvePeer(ctx, draft, direction, otherKey);
  if (res.kind === 'unsupported') {
    noteUnsupported(ctx, edge, res.why);
    return;
  }
  if (res.kind === 'note') {
    ctx.notes.add(
      `${peerDisplay(ctx.graph, edge.src)} -> ${peerDisplay(ctx.graph, edge.dst)} ${edge.protocol}/${edge.port}: ${res.text}`,
    );
    return;
  }
  const ports: PortRef[] = [{ protocol: edge.protocol, port: edge.port }];
  const dns = isDnsEdge(edge, ctx.isDns);
  // DNS answers too large for UDP are retried over TCP, so a resolver rule always carries both.
  if (dns) ports.splice(0, 1, { protocol: 'UDP', port: DNS_PORT }, { protocol: 'TCP', port: DNS_PORT });
  const entries = direction === 'ingress' ? draft.ingress : draft.egress;
  for (const { sortKey, peer } of res.peers) {
    const id = JSON.stringify(peer);
    let entry = entries.get(id);
    if (!entry) {
      entry = { sortKey, peer, ports: new Map(), evidence: [], dns: false };
      entries.set(id, entry);
    }
    for (const p of ports) entry.ports.set(`${p.protocol}/${p.port}`, p);
    entry.evidence.push(edgeEvidence(ctx.graph, r));
    entry.dns ||= dns;
  }
  draft.evidence.add(r);
}

const DNS_EVIDENCE = 'DNS: UDP/53 and TCP/53 both allowed (large answers are retried over TCP)';

/** Why a reserved entity gets no rule. `host` is the pod's own node, which NetworkPolicy always lets through. */
const RESERVED_WHY: Record<ReservedEntity, string> = {
  world: 'world peer without an observed address',
  host: '',
  'remote-node':
    'other nodes (remote-node) are not allowed automatically and no node address was observed; allow the node addresses by ipBlock by hand',
  'kube-apiserver': 'API server address not observed',
  health: 'Cilium health-check endpoints cannot be selected by NetworkPolicy',
  ingress: 'the Cilium ingress proxy cannot be selected by NetworkPolicy (CiliumNetworkPolicy can: entity ingress)',
  init: 'endpoint had no identity yet (reserved:init); nothing to select',
  unmanaged: 'endpoint not managed by the network plugin; nothing to select',
  unknown: 'peer identity unknown',
};

const REMOTE_NODE_NOTE =
  'traffic with other nodes (remote-node) is allowed by ipBlock on each node address observed: a node added ' +
  'later, or one that used another address, is not covered';

const NODE_CIDR_NOTE =
  'traffic with other nodes (remote-node) is allowed by ipBlock on the node ranges given with --node-cidr';

const HOST_NOTE =
  'no rule needed, traffic between a pod and its own node (e.g. kubelet probes) is always allowed by NetworkPolicy';

function resolvePeer(ctx: Context, draft: Draft, direction: Direction, otherKey: string): Resolution {
  const other = ctx.graph.peers.get(otherKey);
  const end = direction === 'ingress' ? 'source' : 'destination';
  if (!other) return { kind: 'unsupported', why: `${end} is not a known peer` };
  const self = draft.node.peer;
  const p = other.peer;
  switch (p.type) {
    case 'workload': {
      if ((p.cluster ?? '') !== (self.cluster ?? ''))
        return {
          kind: 'unsupported',
          why: `${end} is in another cluster; NetworkPolicy selects pods of its own cluster`,
        };
      if (!other.selector || Object.keys(other.selector).length === 0)
        return { kind: 'unsupported', why: `${end} has no stable selector` };
      const podSelector = { matchLabels: { ...other.selector } };
      if (p.namespace === self.namespace)
        return { kind: 'peers', peers: [{ sortKey: `0|${p.name}|${p.kind}`, peer: { podSelector } }] };
      // Both selectors in ONE peer: pods matching podSelector in that namespace (AND, not OR).
      const namespaceSelector = { matchLabels: { [NAMESPACE_NAME_LABEL]: p.namespace } };
      return {
        kind: 'peers',
        peers: [{ sortKey: `1|${p.namespace}|${p.name}|${p.kind}`, peer: { namespaceSelector, podSelector } }],
      };
    }
    case 'external': {
      const slash = p.cidr.indexOf('/');
      const address = slash < 0 ? p.cidr : p.cidr.slice(0, slash);
      const bits = slash < 0 ? undefined : Number(p.cidr.slice(slash + 1));
      const widest = address.includes(':') ? ctx.opts.cidrPrefixV6 : ctx.opts.cidrPrefixV4;
      // Widen to the configured prefix, but never narrow a peer that was already a network.
      const prefix = bits !== undefined && bits < widest ? bits : widest;
      return ipBlocks([address], () => prefix, end);
    }
    case 'reserved': {
      if (p.entity === 'host') return { kind: 'note', text: HOST_NOTE };
      // The API server's addresses are known exactly: one address per block, whatever --cidr-prefix says.
      if (p.entity === 'kube-apiserver' && other.ips.length > 0)
        return ipBlocks(other.ips, (v6) => (v6 ? 128 : 32), end);
      // Other nodes are not exempt (only the pod's own node is): the node ranges when given, else one
      // block per node address observed.
      if (p.entity === 'remote-node' && ctx.opts.nodeCidrs.length > 0) {
        ctx.notes.add(NODE_CIDR_NOTE);
        return cidrBlocks(ctx.opts.nodeCidrs);
      }
      if (p.entity === 'remote-node' && other.ips.length > 0) {
        ctx.notes.add(REMOTE_NODE_NOTE);
        return ipBlocks(other.ips, (v6) => (v6 ? 128 : 32), end);
      }
      const { cidrPrefixV4, cidrPrefixV6 } = ctx.opts;
      if (p.entity === 'world' && other.ips.length > 0)
        return ipBlocks(other.ips, (v6) => (v6 ? cidrPrefixV6 : cidrPrefixV4), end);
      return { kind: 'unsupported', why: RESERVED_WHY[p.entity] };
    }
    case 'networkset':
      return { kind: 'unsupported', why: 'Calico network sets cannot be expressed in NetworkPolicy' };
  }
}

/** One ipBlock peer per CIDR (checked when the option was read), written as its network (10.0.0.0/16). */
function cidrBlocks(cidrs: readonly string[]): Resolution {
  const peers = cidrs.map((text) => {
    const [address, bits] = text.split('/');
    const cidr = externalCidr(address!, Number(bits));
    return { sortKey: `2|${addressSortKey(cidr)}`, peer: { ipBlock: { cidr } } };
  });
  return { kind: 'peers', peers };
}

/** One ipBlock peer per address, at the prefix length chosen for its family. */
function ipBlocks(ips: readonly string[], prefixFor: (v6: boolean) => number, end: string): Resolution {
  const peers: Array<{ sortKey: string; peer: Record<string, unknown> }> = [];
  for (const ip of ips) {
    let cidr: string;
    try {
      cidr = externalCidr(ip, prefixFor(ip.includes(':')));
    } catch {
      return { kind: 'unsupported', why: `${end} address '${ip}' is not a valid IP address` };
    }
    peers.push({ sortKey: `2|${addressSortKey(cidr)}`, peer: { ipBlock: { cidr } } });
  }
  return { kind: 'peers', peers };
}

/** IPv4 before IPv6, and IPv4 in numeric order (`9.x` before `10.x`). */
function addressSortKey(cidr: string): string {
  const [address, bits = ''] = cidr.split('/');
  if (address.includes(':')) return `6|${address}|${bits.padStart(3, '0')}`;
  return `4|${address
    .split('.')
    .map((o) => o.padStart(3, '0'))
    .join('.')}|${bits.padStart(3, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// Peers → merged rules → the policy document and its evidence comments.

interface BuiltRule {
  peers: PeerEntry[];
  ports: PortRef[];
}

function comparePorts(a: PortRef, b: PortRef): number {
  return compareStrings(a.protocol, b.protocol) || a.port - b.port;
}

/** Peers with exactly the same port set share one rule; peers, ports and rules in a stable order. */
function mergeRules(entries: Map<string, PeerEntry>): BuiltRule[] {
  const sorted = [...entries.values()].sort((a, b) => compareStrings(a.sortKey, b.sortKey));
  const bySignature = new Map<string, BuiltRule>();
  for (const entry of sorted) {
    const ports = [...entry.ports.values()].sort(comparePorts);
    const signature = ports.map((p) => `${p.protocol}/${p.port}`).join(',');
    const rule = bySignature.get(signature);
    if (rule) rule.peers.push(entry);
    else bySignature.set(signature, { peers: [entry], ports });
  }
  // Peers were visited in sort order, so each rule's first peer is its smallest and map order is
  // already "by first peer"; two rules never share a first peer.
  return [...bySignature.values()];
}

function policyFile(ctx: Context, draft: Draft): { file: ProposalFile; rules: number } {
  const { node } = draft;
  const comments: YamlComment[] = [];
  const rulesYaml = (direction: Direction): Record<string, unknown>[] => {
    const peersKey = direction === 'ingress' ? 'from' : 'to';
    return mergeRules(direction === 'ingress' ? draft.ingress : draft.egress).map((rule, ri) => {
      rule.peers.forEach((entry, pi) => {
        const lines = entry.dns ? [...entry.evidence, DNS_EVIDENCE] : entry.evidence;
        comments.push({ document: 0, path: ['spec', direction, ri, peersKey, pi], text: lines.join('\n') });
      });
      return {
        [peersKey]: rule.peers.map((e) => e.peer),
        ports: rule.ports.map((p) => ({ protocol: p.protocol, port: p.port })),
      };
    });
  };
  const ingress = rulesYaml('ingress');
  const egress = rulesYaml('egress');

  const header = [
    `flowwright proposal for ${node.key}, selecting ${selectorText(node.selector)}`,
    ...(node.selectorReason ? [`selector: ${node.selectorReason}`] : []),
    'Review before applying: traffic not observed in the learning window will be denied.',
  ];
  comments.unshift({ document: 0, path: [], text: header.join('\n') });

  const doc = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: workloadMetadata(ctx.graph, draft, [...draft.evidence]),
    spec: {
      podSelector: { matchLabels: { ...node.selector } },
      // Both types always: an empty list then means "deny this direction", which is the point.
      policyTypes: ['Ingress', 'Egress'],
      ingress,
      egress,
    },
  };
  const file = {
    path: draft.path,
    kind: KIND,
    namespace: node.peer.namespace,
    workload: node.key,
    documents: [doc],
    comments,
  };
  return { file, rules: ingress.length + egress.length };
}

function defaultDenyFile(dir: string, namespace: string): ProposalFile {
  const doc = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: `flowwright-${DEFAULT_DENY_NAME}`, namespace, labels: { ...MANAGED_BY_LABELS } },
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  };
  return {
    path: `${dir}/${DEFAULT_DENY_NAME}.networkpolicy.yaml`,
    kind: KIND,
    namespace,
    documents: [doc],
    comments: [
      {
        document: 0,
        path: [],
        text:
          `flowwright default deny for namespace ${namespace}: every pod here is isolated for ingress and egress,\n` +
          'so only traffic allowed by another policy gets through.',
      },
    ],
  };
}

/**
 * Why a namespace must not get a default deny, or undefined when it may. A default deny isolates every pod of
 * the namespace, so it is safe only when each observed pod there is selected by a proposed policy that allows
 * its observed traffic; system namespaces (cluster DNS, the CNI, the mesh) are left to their owners unless
 * --include-system-namespaces is given.
 */
function defaultDenyHazard(
  ctx: Context,
  cluster: string | undefined,
  namespace: string,
): { why: string; pods: Array<{ pod: string; why: string }> } | undefined {
  const { opts } = ctx;
  if (!opts.includeSystemNamespaces && isSystemNamespace(namespace, opts.systemNamespaces))
    return {
      why: 'system namespace: its workloads got their own policies, but no default deny (--include-system-namespaces to add one)',
      pods: [],
    };
  const uncovered: Array<{ pod: string; why: string }> = [];
  for (const node of ctx.graph.peers.values()) {
    const p = node.peer;
    if (p.type !== 'workload' || p.namespace !== namespace || (p.cluster ?? '') !== (cluster ?? '')) continue;
    if (ctx.drafts.has(node.key)) continue;
    const why = `no policy of its own: ${node.selectorReason ?? 'no selector was assigned'}`;
    const pods = podsOf(ctx.graph, node.key);
    if (pods.length === 0) uncovered.push({ pod: `${node.key} (no pod observed)`, why });
    for (const pod of pods) uncovered.push({ pod: `${namespacePath(cluster, namespace)}/${pod}`, why });
  }
  if (uncovered.length === 0) return undefined;
  return {
    why:
      `${uncovered.length === 1 ? 'an observed pod here is' : `${uncovered.length} observed pods here are`} ` +
      `selected by no proposed policy, and a default deny would cut off all ${uncovered.length === 1 ? 'its' : 'their'} traffic`,
    pods: uncovered.sort((a, b) => compareStrings(a.pod, b.pod)),
  };
}

function podsOf(graph: Graph, workload: string): string[] {
  return graph.pods
    .filter((p) => p.workload === workload)
    .map((p) => p.name)
    .sort(compareStrings);
}
