// What the per-workload output kinds (NetworkPolicy, Istio, Cilium, Calico) share: which workloads get a
// policy and under which name (one choice for all kinds, so that they line up file by file), the policy's
// metadata, which edges reach the cluster DNS, external peers' widened CIDRs, and the observed HTTP detail
// of an edge as L7 rules.
import { externalCidr, isKubeDns } from '../identity/index.js';
import { type Edge, type Graph, type PeerNode, showValue } from '../model/index.js';
import { compareStrings, type RuleEdge } from './edges.js';
import { generatedFrom, shortList } from './evidence.js';
import { dnsWithoutEgressNote } from './notes.js';
import { holdsPatternCharacters, PATH_WILDCARD, pathOnly, templatePaths } from './paths.js';
import type { L7Level, ProposalFile, ProposalOptions, ProposalSummary } from './types.js';

export const MANAGED_BY_LABELS = { 'app.kubernetes.io/managed-by': 'flowwright' };
export const DNS_PORT = 53;
/** Set by Kubernetes on every namespace: the one namespace label that can be relied on. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export type WorkloadNode = PeerNode & {
  peer: { type: 'workload'; cluster?: string; namespace: string; name: string; kind: string };
  selector: Record<string, string>;
};

export interface Target {
  node: WorkloadNode;
  /** `flowwright-<base>`: the object name in every kind. */
  name: string;
  /** `shop` or `east/shop`: the folder of the workload's files. */
  dir: string;
  /** File name without kind suffix: `frontend`, or `db-statefulset` when two kinds share a name. */
  base: string;
}

/** The folder of a namespace's files: `shop`, or `east/shop` for a named cluster. */
export function namespacePath(cluster: string | undefined, namespace: string): string {
  return cluster ? `${cluster}/${namespace}` : namespace;
}

/**
 * True when the namespace is one of `patterns`: a name, or a pattern where `*` stands for any run of
 * characters (`cilium*`, `calico-*`).
 */
export function isSystemNamespace(namespace: string, patterns: readonly string[]): boolean {
  for (const pattern of patterns) {
    if (!pattern.includes('*')) {
      if (pattern === namespace) return true;
      continue;
    }
    const parts = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
    if (new RegExp(`^${parts.join('.*')}$`).test(namespace)) return true;
  }
  return false;
}

/** `app=web,tier=front`: a selector as the header comment of a workload's file shows it, keys sorted. */
export function selectorText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** An external peer's `address/bits` widened to the configured prefix of its family, never narrowed. */
export function widenedCidr(cidr: string, opts: Pick<ProposalOptions, 'cidrPrefixV4' | 'cidrPrefixV6'>): string {
  const slash = cidr.indexOf('/');
  const address = cidr.slice(0, slash);
  const bits = Number(cidr.slice(slash + 1));
  const widest = address.includes(':') ? opts.cidrPrefixV6 : opts.cidrPrefixV4;
  return externalCidr(address, Math.min(bits, widest));
}

/** Workloads with a stable selector, by key; the others are listed in `summary.needsLabels`. */
export function policyTargets(graph: Graph, summary: ProposalSummary, reserved: string[] = []): Map<string, Target> {
  const workloads = [...graph.peers.values()]
    .filter((n) => n.peer.type === 'workload')
    .sort((a, b) => compareStrings(a.key, b.key));
  const withSelector: WorkloadNode[] = [];
  for (const node of workloads) {
    if (node.selector && Object.keys(node.selector).length > 0) withSelector.push(node as WorkloadNode);
    else summary.needsLabels.push({ workload: node.key, why: node.selectorReason ?? 'no selector was assigned' });
  }
  const sameName = new Map<string, number>();
  for (const node of withSelector) {
    const k = `${namespacePath(node.peer.cluster, node.peer.namespace)}/${node.peer.name}`;
    sameName.set(k, (sameName.get(k) ?? 0) + 1);
  }
  const out = new Map<string, Target>();
  for (const node of withSelector) {
    const { cluster, namespace, name, kind } = node.peer;
    const dir = namespacePath(cluster, namespace);
    // Deployment `db` and StatefulSet `db` in one namespace, or a workload named like a namespace-wide file.
    const clash = (sameName.get(`${dir}/${name}`) ?? 0) > 1 || reserved.includes(name);
    const base = clash ? `${name}-${kind.toLowerCase()}` : name;
    out.set(node.key, { node, name: `flowwright-${base}`, dir, base });
  }
  return out;
}

/** The metadata of a workload's policy in every kind: its name, who manages it and the evidence window. */
export function workloadMetadata(
  graph: Graph,
  target: { node: WorkloadNode; name: string },
  rules: RuleEdge[],
): Record<string, unknown> {
  return {
    name: target.name,
    namespace: target.node.peer.namespace,
    labels: { ...MANAGED_BY_LABELS },
    annotations: {
      'flowwright.io/workload': target.node.key,
      'flowwright.io/generated-from': generatedFrom(graph.window, rules),
    },
  };
}

/**
 * The per-workload files of a kind (Calico, Cilium) in path order, counted into the summary; a DNS server
 * whose policy allows no egress is noted before its file is made.
 */
export function workloadFiles<D extends { target: Target; egress: Map<string, unknown> }>(
  summary: ProposalSummary,
  ctx: { notes: Set<string>; isDns: (key: string) => boolean },
  drafts: Iterable<D>,
  policyFile: (draft: D) => { file: ProposalFile; rules: number },
): ProposalFile[] {
  const files: ProposalFile[] = [];
  for (const draft of drafts) {
    const { key } = draft.target.node;
    if (draft.egress.size === 0 && ctx.isDns(key)) ctx.notes.add(dnsWithoutEgressNote(key));
    const { file, rules } = policyFile(draft);
    files.push(file);
    summary.rules += rules;
  }
  summary.workloads = files.length;
  summary.policies = files.length;
  return files.sort((a, b) => compareStrings(a.path, b.path));
}

/** Memoized: is this peer the cluster DNS server? */
export function kubeDnsTest(graph: Graph): (key: string) => boolean {
  const known = new Map<string, boolean>();
  return (key) => {
    let v = known.get(key);
    if (v === undefined) {
      const node = graph.peers.get(key);
      v = node !== undefined && node.peer.type === 'workload' && isKubeDns(node, graph.pods);
      known.set(key, v);
    }
    return v;
  };
}

/** An edge to a cluster DNS server's port 53 over UDP or TCP: allowed on both protocols everywhere. */
export function isDnsEdge(edge: Edge, isDns: (key: string) => boolean): boolean {
  return edge.port === DNS_PORT && (edge.protocol === 'UDP' || edge.protocol === 'TCP') && isDns(edge.dst);
}

/** One method and the path templates allowed with it (none: any path). */
export interface HttpRule {
  method: string;
  paths: string[];
}

/** The layer 7 rules of one edge, as httpRulesByEdge finds them. */
export interface EdgeHttp {
  /** The requests to allow; undefined: the whole port; empty: none of its requests can be allowed (no rule). */
  rules?: HttpRule[];
  /** Why the edge's requests are not all listed (port-level rule, or requests left out), for the summary. */
  why?: string;
  /** Evidence: which observed paths each wildcard template of this edge stands for. */
  templated?: string[];
}

/**
 * The HTTP detail of a destination's port, templated across all its callers (the server's API decides
 * what is an identifier). Returns, per edge, the rules to allow, or why the edge gets no L7 rules.
 * Methods and paths from traffic are data: a request whose method or path holds `*`, `{` or `}` gets no
 * rule (Istio would read them as wildcards, and no rule is wider than what was seen).
 */
export function httpRulesByEdge(edges: readonly Edge[], level: L7Level, threshold: number): Map<Edge, EdgeHttp> {
  const out = new Map<Edge, EdgeHttp>();
  if (level === 'off') return out;
  const byDestination = new Map<string, Edge[]>();
  for (const e of edges) {
    if (e.http.length === 0) continue;
    const k = `${e.dst}|${e.protocol}/${e.port}`;
    const list = byDestination.get(k);
    if (list) list.push(e);
    else byDestination.set(k, [e]);
  }
  for (const group of byDestination.values()) {
    const templates = templatePaths(
      group.flatMap((e) => e.http.map((h) => h.path)),
      threshold,
    );
    for (const e of group) {
      if ((e.httpOverflow ?? 0) > 0) {
        // Requests beyond the stored cap were not itemized: a method or path list would deny some of them.
        out.set(e, {
          why: `more distinct HTTP requests than the store itemizes (${e.httpOverflow} not itemized): port-level rule only`,
        });
        continue;
      }
      const byMethod = new Map<string, Set<string>>();
      const stands = new Map<string, Set<string>>();
      const refused: string[] = [];
      for (const h of e.http) {
        const template = templates.get(h.path);
        if (holdsPatternCharacters(h.method) || template === undefined) {
          refused.push(`${showValue(h.method)} ${showValue(h.path)}`);
          continue;
        }
        const paths = byMethod.get(h.method) ?? new Set<string>();
        paths.add(template);
        byMethod.set(h.method, paths);
        if (template.includes(PATH_WILDCARD)) {
          const seen = stands.get(template) ?? new Set<string>();
          seen.add(pathOnly(h.path));
          stands.set(template, seen);
        }
      }
      const rules = [...byMethod.entries()]
        .sort(([a], [b]) => compareStrings(a, b))
        .map(([method, paths]) => ({ method, paths: level === 'paths' ? [...paths].sort(compareStrings) : [] }));
      const result: EdgeHttp = { rules };
      if (refused.length > 0) {
        const distinct = [...new Set(refused)].sort(compareStrings);
        result.why =
          `${distinct.length} HTTP request${distinct.length === 1 ? '' : 's'} (${shortList(distinct)}) ` +
          'with "*", "{" or "}" in the method or path, which policy languages read as patterns: left out of the ' +
          'layer 7 rules, so they stay denied';
      }
      if (level === 'paths' && stands.size > 0)
        result.templated = [...stands.entries()]
          .sort(([a], [b]) => compareStrings(a, b))
          .map(
            ([template, seen]) =>
              `path ${template} templated from ${seen.size} observed: ` +
              shortList([...seen].sort(compareStrings).map((p) => showValue(p))),
          );
      out.set(e, result);
    }
  }
  return out;
}

/** Two rule lists for one port as one: methods merged, each with the union of its paths, all sorted. */
export function mergeHttp(a: HttpRule[], b: HttpRule[]): HttpRule[] {
  const byMethod = new Map<string, Set<string>>();
  for (const r of [...a, ...b]) {
    const paths = byMethod.get(r.method) ?? new Set<string>();
    for (const p of r.paths) paths.add(p);
    byMethod.set(r.method, paths);
  }
  return [...byMethod.entries()]
    .sort(([x], [y]) => compareStrings(x, y))
    .map(([method, paths]) => ({ method, paths: [...paths].sort(compareStrings) }));
}
