// Graph → Calico NetworkPolicy (projectcalico.org/v3): one namespaced policy per workload with a stable
// selector, written as Calico selector expressions. Label keys are checked against Kubernetes' label
// syntax and values are quoted, so that a value never ends the expression early. Calico also takes
// ICMP (by type), which Kubernetes NetworkPolicy cannot.
import { externalCidr } from '../identity/index.js';
import type { Graph } from '../model/index.js';
import { compareStrings, type RuleEdge, selectEdges } from './edges.js';
import { edgeEvidence, peerDisplay } from './evidence.js';
import { finishSummary, noteUnsupported, portProblem, type UnsupportedEdges } from './notes.js';
import { emptySummary, type PoliciesOptions, type Proposal, type ProposalFile, type YamlComment } from './types.js';
import {
  DNS_PORT,
  isDnsEdge,
  kubeDnsTest,
  policyTargets,
  type Target,
  widenedCidr,
  workloadFiles,
  workloadMetadata,
} from './workloads.js';

const API_VERSION = 'projectcalico.org/v3';
/** Calico labels every namespace with its name under this key. */
export const CALICO_NAMESPACE_LABEL = 'projectcalico.org/name';
/** Per-workload policies come after the tenant baseline (lower order first). */
export const WORKLOAD_POLICY_ORDER = 1000;

export type CalicoOptions = Pick<PoliciesOptions, 'minFlows' | 'allowDropped' | 'cidrPrefixV4' | 'cidrPrefixV6'>;

/** Kubernetes label key syntax: an optional DNS-subdomain prefix and `/`, then a name. */
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export function isLabelKey(key: string): boolean {
  return LABEL_KEY.test(key);
}

/** A value as a Calico selector string literal: single quotes, or double quotes when it holds a `'`. */
export function calicoQuote(value: string): string {
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  throw new Error(`label value ${JSON.stringify(value)} holds both quote characters; a Calico selector cannot say it`);
}

/** `app == 'web' && tier == 'yes'` for the labels, keys sorted; throws on a key Kubernetes would refuse. */
export function calicoSelector(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort(compareStrings);
  if (keys.length === 0) return 'all()';
  return keys
    .map((k) => {
      if (!LABEL_KEY.test(k)) throw new Error(`label key ${JSON.stringify(k)} is not a valid Kubernetes label key`);
      return `${k} == ${calicoQuote(labels[k])}`;
    })
    .join(' && ');
}

/** The namespace selector for one namespace. */
export function calicoNamespaceSelector(namespace: string): string {
  return `${CALICO_NAMESPACE_LABEL} == ${calicoQuote(namespace)}`;
}

type Direction = 'ingress' | 'egress';

interface Entry {
  sortKey: string;
  /** The other end: `source` for ingress, `destination` for egress (ports are added to destination). */
  entity: Record<string, unknown>;
  /** protocol → ports (ICMP: types). */
  ports: Map<string, Set<number>>;
  evidence: string[];
}

interface Draft {
  target: Target;
  ingress: Map<string, Entry>;
  egress: Map<string, Entry>;
  rules: Set<RuleEdge>;
}

interface Context {
  graph: Graph;
  opts: CalicoOptions;
  unsupported: UnsupportedEdges;
  notes: Set<string>;
  isDns: (key: string) => boolean;
}

export function proposeCalicoPolicies(graph: Graph, opts: CalicoOptions): Proposal {
  const summary = emptySummary();
  const ctx: Context = { graph, opts, unsupported: new Map(), notes: new Set(), isDns: kubeDnsTest(graph) };
  const drafts = new Map<string, Draft>();
  for (const [key, target] of policyTargets(graph, summary)) {
    try {
      calicoSelector(target.node.selector);
    } catch (err) {
      summary.needsLabels.push({ workload: key, why: (err as Error).message });
      continue;
    }
    drafts.set(key, { target, ingress: new Map(), egress: new Map(), rules: new Set() });
  }
  const selection = selectEdges(graph.edges, opts);
  summary.observedButDenied = selection.observedButDenied;
  summary.belowThreshold = selection.belowThreshold;
  for (const r of selection.rules) {
    const src = drafts.get(r.edge.src);
    const dst = drafts.get(r.edge.dst);
    if (!src && !dst) continue;
    const problem = portProblem(r.edge);
    if (problem) {
      noteUnsupported(ctx, r.edge, problem);
      continue;
    }
    if (src) addSide(ctx, src, 'egress', r);
    if (dst) addSide(ctx, dst, 'ingress', r);
  }
  const files = workloadFiles(summary, ctx, drafts.values(), (draft) => policyFile(ctx, draft));
  finishSummary(summary, ctx);
  return { files, summary };
}

/** The Calico entity (source or destination) for the other end of an edge, or why there is none. */
function entityOf(
  ctx: Context,
  self: Target,
  otherKey: string,
  end: string,
): { sortKey: string; entity: Record<string, unknown> } | string {
  const other = ctx.graph.peers.get(otherKey);
  if (!other) return `${end} is not a known peer`;
  const p = other.peer;
  switch (p.type) {
    case 'workload': {
      if ((p.cluster ?? '') !== (self.node.peer.cluster ?? '')) return `${end} is in another cluster`;
      if (!other.selector || Object.keys(other.selector).length === 0) return `${end} has no stable selector`;
      let selector: string;
      try {
        selector = calicoSelector(other.selector);
      } catch (err) {
        return `${end}: ${(err as Error).message}`;
      }
      const entity: Record<string, unknown> = { selector };
      if (p.namespace !== self.node.peer.namespace) entity.namespaceSelector = calicoNamespaceSelector(p.namespace);
      return {
        sortKey: `0|${p.namespace === self.node.peer.namespace ? '' : p.namespace}|${p.name}|${p.kind}`,
        entity,
      };
    }
    case 'external': {
      const cidr = widenedCidr(p.cidr, ctx.opts);
      return { sortKey: `2|${cidr}`, entity: { nets: [cidr] } };
    }
    case 'reserved': {
      if ((p.entity === 'kube-apiserver' || p.entity === 'world') && other.ips.length > 0) {
        const nets = other.ips.map((ip) => externalCidr(ip, ip.includes(':') ? 128 : 32)).sort(compareStrings);
        return { sortKey: `1|${nets.join(',')}`, entity: { nets } };
      }
      if (p.entity === 'host') return 'host';
      return `${end} ${p.entity} has no address or selector Calico can match`;
    }
    case 'networkset': {
      // Network sets are selected by their labels, which flows do not show: name the set by hand.
      return `${end} is Calico network set ${p.name}; select it by its labels by hand`;
    }
  }
}

function addSide(ctx: Context, draft: Draft, direction: Direction, r: RuleEdge): void {
  const { edge } = r;
  const isIcmp = edge.protocol === 'ICMPv4' || edge.protocol === 'ICMPv6';
  const end = direction === 'ingress' ? 'source' : 'destination';
  const resolved = entityOf(ctx, draft.target, direction === 'ingress' ? edge.src : edge.dst, end);
  if (resolved === 'host') {
    ctx.notes.add(
      `${peerDisplay(ctx.graph, edge.src)} -> ${peerDisplay(ctx.graph, edge.dst)} ${edge.protocol}/${edge.port}: no rule, Calico always lets a pod's own node reach it (kubelet probes)`,
    );
    return;
  }
  if (typeof resolved === 'string') {
    noteUnsupported(ctx, edge, resolved);
    return;
  }
  const entries = direction === 'ingress' ? draft.ingress : draft.egress;
  const id = JSON.stringify(resolved.entity);
  let entry = entries.get(id);
  if (!entry) {
    entry = { sortKey: resolved.sortKey, entity: resolved.entity, ports: new Map(), evidence: [] };
    entries.set(id, entry);
  }
  const add = (protocol: string, port: number) => {
    const set = entry.ports.get(protocol) ?? new Set<number>();
    set.add(port);
    entry.ports.set(protocol, set);
  };
  if (isIcmp) add(edge.protocol === 'ICMPv4' ? 'ICMP' : 'ICMPv6', edge.port);
  else if (isDnsEdge(edge, ctx.isDns)) {
    add('UDP', DNS_PORT);
    add('TCP', DNS_PORT);
  } else add(edge.protocol, edge.port);
  entry.evidence.push(edgeEvidence(ctx.graph, r));
  draft.rules.add(r);
}

function rulesOf(draft: Draft, direction: Direction, comments: YamlComment[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const entries = [...(direction === 'ingress' ? draft.ingress : draft.egress).values()].sort((a, b) =>
    compareStrings(a.sortKey, b.sortKey),
  );
  for (const entry of entries) {
    comments.push({ document: 0, path: ['spec', direction, out.length], text: entry.evidence.join('\n') });
    // Calico rules name one protocol each.
    for (const protocol of [...entry.ports.keys()].sort(compareStrings)) {
      const ports = [...(entry.ports.get(protocol) ?? [])].sort((a, b) => a - b);
      const rule: Record<string, unknown> = { action: 'Allow', protocol };
      if (protocol === 'ICMP' || protocol === 'ICMPv6') {
        // One rule per ICMP type: a Calico rule matches a single type.
        for (const type of ports) {
          const icmp = { ...rule, icmp: { type } };
          out.push(
            direction === 'ingress' ? { ...icmp, source: entry.entity } : { ...icmp, destination: entry.entity },
          );
        }
        continue;
      }
      if (direction === 'ingress') out.push({ ...rule, source: entry.entity, destination: { ports } });
      else out.push({ ...rule, destination: { ...entry.entity, ports } });
    }
  }
  return out;
}

function policyFile(ctx: Context, draft: Draft): { file: ProposalFile; rules: number } {
  const { node } = draft.target;
  const comments: YamlComment[] = [];
  const ingress = rulesOf(draft, 'ingress', comments);
  const egress = rulesOf(draft, 'egress', comments);
  const selector = calicoSelector(node.selector);
  comments.unshift({
    document: 0,
    path: [],
    text: [
      `flowwright proposal for ${node.key}, selecting ${selector}`,
      'Review before applying: traffic not observed in the learning window will be denied.',
    ].join('\n'),
  });
  const doc = {
    apiVersion: API_VERSION,
    kind: 'NetworkPolicy',
    metadata: workloadMetadata(ctx.graph, draft.target, [...draft.rules]),
    spec: { order: WORKLOAD_POLICY_ORDER, selector, types: ['Ingress', 'Egress'], ingress, egress },
  };
  const file: ProposalFile = {
    path: `${draft.target.dir}/${draft.target.base}.calico.yaml`,
    kind: 'NetworkPolicy',
    namespace: node.peer.namespace,
    workload: node.key,
    documents: [doc],
    comments,
  };
  return { file, rules: ingress.length + egress.length };
}
