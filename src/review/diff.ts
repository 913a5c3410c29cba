// The semantic diff of an existing NetworkPolicy set against a proposal: both are evaluated over the
// same universe (every observed peer as a source, every observed workload and external peer as a
// destination, on the ports seen at that destination or declared by its pods), so the report says
// what changes for real traffic, not which lines moved.
//
// How a mode turns the synthesized proposal into the set that is compared ("proposed"):
//   replace   the proposal files alone; every existing file is deleted.
//   additive  the existing set unchanged, plus, for each observed connection the existing set denies
//             at one end, the proposal rules that allow it at that end. An addition only carries
//             rules for a direction in which the pod is already isolated, so it can never take an
//             allow away. Additions keep the proposal's policy names (`-additions` appended when the
//             existing set already has that name) and go to new files.
//   tighten   additive, and existing rules that matched no observed connection within --unused-for
//             (or within the window) are deleted from their files, in place.
// Only NetworkPolicies are diffed; AuthorizationPolicies in the existing set are carried over as is.
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Edge, Graph } from '../model/index.js';
import {
  type CompiledNetworkPolicies,
  compileNetworkPolicies,
  describeSelector,
  type EvalEndpoint,
  emptyLoaded,
  evaluateConnection,
  type Inventory,
  type LoadedPolicies,
  mergeLoaded,
  type NetworkPolicy,
  type NetworkPolicyPeer,
  type NetworkPolicyRule,
  type PodInfo,
  type PolicySource,
  parsePolicyText,
  policiesSelecting,
  policyRef,
  type SideDecision,
} from '../policy/index.js';
import {
  allowedFlows,
  deniedFlows,
  type Proposal,
  type ProposalFile,
  renderProposalFile,
} from '../synthesize/index.js';
import {
  edgeProblem,
  endpointResolver,
  type PlacedEdge,
  peerDisplayName,
  placeEdge,
  type Resolved,
} from './endpoints.js';
import { DEFAULT_MAX_VARIANTS, decideEdge, type EdgeRef, type VerifyOptions } from './verify.js';

export const DIFF_SCHEMA_VERSION = 1;

export type DiffMode = 'additive' | 'tighten' | 'replace';
export const DIFF_MODES: readonly DiffMode[] = ['additive', 'tighten', 'replace'];

export interface DiffInput {
  graph: Graph;
  inventory: Inventory;
  /** The existing set, as loaded by loadPolicyFiles (sources name the files below). */
  existing: LoadedPolicies;
  /** The text of each existing file, by the path its policies' sources name. */
  existingFiles: Map<string, string>;
  /** The synthesized proposal (proposeNetworkPolicies). */
  proposal: Proposal;
}

export interface DiffOptions extends VerifyOptions {
  mode: DiffMode;
  /** A rule is unused when no observed connection matched it within this long before `now` (ms). */
  unusedForMs?: number;
  /** The reference time for --unused-for. Default: the window's end, else the newest edge. */
  now?: number;
  /** Directory that new files are placed under (the proposal's relative paths are joined to it). */
  outDir?: string;
}

/** What the graph shows about a connection, when it was observed. */
export interface Observed {
  allowedFlows: number;
  droppedFlows: number;
  lastSeen: number;
}

export interface ConnectionChange extends EdgeRef {
  /** null: never observed in the window. */
  observed: Observed | null;
}

export interface RuleUsage {
  policy: string;
  source: PolicySource;
  direction: 'ingress' | 'egress';
  /** 0-based index in spec.ingress / spec.egress. */
  rule: number;
  /** The rule in words: peers and ports. */
  description: string;
  /** Observed connections (edges) the rule matched in the window. */
  matchedConnections: number;
  /** Newest matching flow; null when the rule matched nothing in the window. */
  lastSeen: number | null;
  /** True when the proposal deletes the rule (tighten). */
  removed: boolean;
}

export interface FileChange {
  path: string;
  status: 'added' | 'modified' | 'deleted';
  /** null for an added file. */
  before: string | null;
  /** null for a deleted file. */
  after: string | null;
}

export interface DiffReport {
  schemaVersion: typeof DIFF_SCHEMA_VERSION;
  mode: DiffMode;
  window: { since: number | null; until: number | null };
  /** Rules whose newest match is older than this (ms) count as unused; null: unused means no match in the window. */
  unusedSince: number | null;
  existing: { networkPolicies: number; authorizationPolicies: number };
  proposed: { networkPolicies: number };
  /**
   * `connections`: source × destination × port tuples; `unchanged`: those whose two ends are selected
   * by the same policies in both sets and that were never observed: not evaluated, since neither
   * set can decide them differently (so not in allowedByBoth either).
   */
  universe: { sources: number; destinations: number; connections: number; unchanged: number };
  /** Allowed by the proposal, denied by the existing set. Sorted by source and destination names, protocol, port. */
  newlyAllowed: ConnectionChange[];
  /** Allowed by the existing set, denied by the proposal. */
  newlyDenied: ConnectionChange[];
  /** Allowed by both sets, among the evaluated tuples (observed, or with an end whose policies change). */
  allowedByBoth: ConnectionChange[];
  /** Existing rules that matched no observed connection (in the window, or within --unused-for). */
  unusedRules: RuleUsage[];
  files: FileChange[];
  notes: string[];
}

interface EdgeEnds extends PlacedEdge {
  edge: Edge;
}

/** Observed edges with allowed flows that both ends can be placed for. */
function observedEdges(graph: Graph, resolve: (key: string) => Resolved, maxVariants: number): EdgeEnds[] {
  const out: EdgeEnds[] = [];
  for (const edge of graph.edges) {
    if (allowedFlows(edge) === 0) continue;
    const placed = placeEdge(edge, resolve, maxVariants);
    if (!('why' in placed)) out.push({ edge, ...placed });
  }
  return out;
}

const sourceKey = (s: PolicySource) => `${s.file}\u0000${s.document}\u0000${s.item ?? ''}`;
const ruleKey = (s: PolicySource, direction: string, rule: number) => `${sourceKey(s)}\u0000${direction}\u0000${rule}`;

/** Adds the key of every rule that matched on one side of a detailed decision. */
function addMatchedRules(into: Set<string>, side: SideDecision): void {
  for (const check of side.selecting) {
    for (const r of check.rules) if (r.matched) into.add(ruleKey(check.source, side.direction, r.rule));
  }
}

/** For every rule of `c`, the observed edges it matched: count and newest lastSeen. */
function ruleUsage(c: CompiledNetworkPolicies, edges: EdgeEnds[]): Map<string, { count: number; lastSeen: number }> {
  const usage = new Map<string, { count: number; lastSeen: number }>();
  for (const { edge, srcs, dsts, protocol } of edges) {
    const matched = new Set<string>();
    for (const src of srcs) {
      for (const dst of dsts) {
        const d = evaluateConnection(c, { src, dst, protocol, port: edge.port }, { detail: true });
        addMatchedRules(matched, d.egress);
        addMatchedRules(matched, d.ingress);
      }
    }
    for (const k of matched) {
      const u = usage.get(k);
      if (u) {
        u.count++;
        u.lastSeen = Math.max(u.lastSeen, edge.lastSeen);
      } else usage.set(k, { count: 1, lastSeen: edge.lastSeen });
    }
  }
  return usage;
}

function describePeer(p: NetworkPolicyPeer, ns: string): string {
  if (p.ipBlock) return `${p.ipBlock.cidr}${p.ipBlock.except.length ? ` except ${p.ipBlock.except.join(', ')}` : ''}`;
  const pods = p.podSelector ? `pods ${describeSelector(p.podSelector)}` : 'all pods';
  const nss = p.namespaceSelector ? `namespaces ${describeSelector(p.namespaceSelector)}` : `namespace ${ns}`;
  return `${pods} in ${nss}`;
}

/** `from pods app=web in namespace shop; TCP/8080`. */
export function describeRule(policy: NetworkPolicy, direction: 'ingress' | 'egress', rule: NetworkPolicyRule): string {
  const word = direction === 'ingress' ? 'from' : 'to';
  const peers =
    rule.peers.length === 0 ? 'any peer' : rule.peers.map((p) => describePeer(p, policy.namespace)).join(' or ');
  const ports =
    rule.ports.length === 0
      ? 'any port'
      : rule.ports
          .map((p) =>
            p.port === undefined
              ? `${p.protocol} any port`
              : `${p.protocol}/${p.port}${p.endPort ? `-${p.endPort}` : ''}`,
          )
          .join(', ');
  return `${word} ${peers}; ${ports}`;
}

/** By display name (what a reader scans), then by key, protocol and port. */
function compareRefs(a: EdgeRef, b: EdgeRef): number {
  const s = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return (
    s(a.srcName, b.srcName) ||
    s(a.dstName, b.dstName) ||
    s(a.src, b.src) ||
    s(a.dst, b.dst) ||
    s(a.protocol, b.protocol) ||
    a.port - b.port
  );
}

function load(files: Map<string, string>): LoadedPolicies {
  const out = emptyLoaded();
  for (const [path, text] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    mergeLoaded(out, parsePolicyText(text, path));
  }
  return out;
}

/**
 * The proposal's rules that observed traffic needs: for each observed edge the existing set denies at
 * one end, the rules of the proposal that allow it at that end. Returns the files of those additions.
 */
function additions(
  input: DiffInput,
  existing: CompiledNetworkPolicies,
  edges: EdgeEnds[],
  outDir: string,
  notes: string[],
): Map<string, string> {
  const proposalTexts = new Map(input.proposal.files.map((f) => [f.path, renderProposalFile(f)]));
  const proposalLoaded = load(proposalTexts);
  const proposal = compileNetworkPolicies(proposalLoaded.networkPolicies, input.inventory);
  const keep = new Set<string>();
  let unmet = 0;
  for (const { edge, srcs, dsts, protocol } of edges) {
    let needed = false;
    for (const src of srcs) {
      for (const dst of dsts) {
        const conn = { src, dst, protocol, port: edge.port };
        const before = evaluateConnection(existing, conn, { detail: false });
        if (before.allowed) continue;
        needed = true;
        const after = evaluateConnection(proposal, conn, { detail: true });
        for (const side of [after.egress, after.ingress]) {
          // Only the ends the existing set denies need an addition.
          if ((side.direction === 'egress' ? before.egress : before.ingress).allowed) continue;
          if (side.allowed) addMatchedRules(keep, side);
        }
      }
    }
    if (needed && !decideEdge(proposal, srcs, dsts, protocol, edge.port).allowed) unmet++;
  }
  if (unmet > 0) {
    notes.push(
      `${unmet} observed connection(s) denied by the existing set are not allowed by the proposal either (see propose's summary).`,
    );
  }
  const existingNames = new Set(input.existing.networkPolicies.map(policyRef));
  const existingPaths = new Set(input.existingFiles.keys());
  const out = new Map<string, string>();
  for (const file of input.proposal.files) {
    const docs: Record<string, unknown>[] = [];
    const comments: NonNullable<ProposalFile['comments']> = [];
    file.documents.forEach((doc, di) => {
      const source: PolicySource = { file: file.path, document: di + 1 };
      const spec = (doc.spec ?? {}) as Record<string, unknown>;
      const kept: Record<string, number[]> = {};
      for (const direction of ['ingress', 'egress'] as const) {
        const rules = Array.isArray(spec[direction]) ? (spec[direction] as unknown[]) : [];
        kept[direction] = rules.map((_, i) => i).filter((i) => keep.has(ruleKey(source, direction, i)));
      }
      if (kept.ingress.length === 0 && kept.egress.length === 0) return;
      const copy = structuredClone(doc);
      const meta = copy.metadata as Record<string, unknown>;
      if (existingNames.has(`${meta.namespace}/${meta.name}`)) meta.name = `${meta.name}-additions`;
      const copySpec = copy.spec as Record<string, unknown>;
      const types: string[] = [];
      for (const direction of ['ingress', 'egress'] as const) {
        if (kept[direction].length > 0) {
          copySpec[direction] = kept[direction].map((i) => (spec[direction] as unknown[])[i]);
          types.push(direction === 'ingress' ? 'Ingress' : 'Egress');
        } else delete copySpec[direction];
      }
      // Explicit types: an addition must never isolate a direction it carries no rules for.
      copySpec.policyTypes = types;
      const at = docs.length;
      docs.push(copy);
      for (const c of file.comments ?? []) {
        if (c.document !== di) continue;
        if (c.path.length === 0) {
          comments.push({
            ...c,
            document: at,
            text: `${c.text}\nadded by flowwright diff: only the rules observed traffic needs`,
          });
          continue;
        }
        const [first, direction, index, ...rest] = c.path;
        if (first !== 'spec' || (direction !== 'ingress' && direction !== 'egress') || typeof index !== 'number')
          continue;
        const moved = kept[direction].indexOf(index);
        if (moved >= 0) comments.push({ ...c, document: at, path: ['spec', direction, moved, ...rest] });
      }
    });
    if (docs.length === 0) continue;
    let path = join(outDir, file.path);
    if (existingPaths.has(path)) path = path.replace(/\.ya?ml$/, '.additions.yaml');
    out.set(path, renderProposalFile({ ...file, documents: docs, comments }));
  }
  return out;
}

/** Where a policy's spec is in its YAML document: under `items[i]` for a kubectl List. */
function specPath(s: PolicySource): Array<string | number> {
  return s.item !== undefined ? ['items', s.item, 'spec'] : ['spec'];
}

/** Deletes the listed rules from the YAML text of one file, keeping everything else as written. */
function deleteRules(text: string, removals: RuleUsage[], policies: NetworkPolicy[]): string {
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [];
  // Highest index first, so that earlier indices stay valid.
  const sorted = [...removals].sort((a, b) => b.rule - a.rule);
  for (const r of sorted) {
    const doc = list[r.source.document - 1];
    if (!doc) continue;
    doc.deleteIn([...specPath(r.source), r.direction, r.rule]);
  }
  for (const p of policies) {
    // With policyTypes left to the default, emptying spec.egress would stop isolating for egress
    // (more allowed, not less): write the types out.
    const doc = list[p.source.document - 1];
    if (!p.policyTypesDefaulted || !doc) continue;
    doc.setIn([...specPath(p.source), 'policyTypes'], [...p.policyTypes]);
  }
  return list.map((d) => d.toString({ lineWidth: 0, flowCollectionPadding: false })).join('');
}

/**
 * Ports named by rules join the universe too, so that a rule allowing a port nobody used shows up
 * when a mode removes it: an ingress rule's ports at the workloads its policy selects, an egress
 * rule's ports at the destinations of the kind its peers name (ranges by their first port).
 */
function addRulePorts(
  graph: Graph,
  resolve: (key: string) => Resolved,
  sets: CompiledNetworkPolicies[],
  addPort: (dst: string, protocol: string, port: number) => void,
): void {
  const keys = [...graph.peers.keys()];
  for (const c of sets) {
    for (const key of keys) {
      const r = resolve(key);
      if ('unsupported' in r) continue;
      for (const e of r.endpoints) {
        if (e.kind !== 'pod') continue;
        for (const cp of policiesSelecting(c, e.pod)) {
          if (!cp.ingress) continue;
          for (const rule of cp.policy.ingress) {
            for (const p of rule.ports) if (typeof p.port === 'number') addPort(key, p.protocol, p.port);
          }
        }
      }
    }
    for (const cp of c.policies) {
      if (!cp.egress) continue;
      for (const rule of cp.policy.egress) {
        // Address blocks reach external peers, selectors reach workloads; no peer list reaches both.
        const toAddresses = rule.peers.length === 0 || rule.peers.some((p) => p.ipBlock);
        const toWorkloads = rule.peers.length === 0 || rule.peers.some((p) => !p.ipBlock);
        for (const p of rule.ports) {
          if (typeof p.port !== 'number') continue;
          for (const key of keys) {
            const workload = graph.peers.get(key)?.peer.type === 'workload';
            if (workload ? toWorkloads : toAddresses) addPort(key, p.protocol, p.port);
          }
        }
      }
    }
  }
}

/**
 * A test of whether every pod of a list is selected, for a direction, by policies of the same content
 * in both sets (then both sets decide that end alike). Content, not identity: the additive and tighten
 * sets re-read the existing files.
 */
function samePoliciesAt(
  a: CompiledNetworkPolicies,
  b: CompiledNetworkPolicies,
): (ends: EvalEndpoint[], direction: 'ingress' | 'egress') => boolean {
  const content = new WeakMap<NetworkPolicy, string>();
  const keyOf = (p: NetworkPolicy) => {
    let k = content.get(p);
    if (k === undefined) {
      const { source: _source, ...rest } = p;
      k = JSON.stringify(rest);
      content.set(p, k);
    }
    return k;
  };
  const signature = (c: CompiledNetworkPolicies, pod: PodInfo, direction: 'ingress' | 'egress') =>
    policiesSelecting(c, pod)
      .filter((cp) => cp[direction])
      .map((cp) => keyOf(cp.policy))
      .sort()
      .join('\n');
  const memo = new Map<string, boolean>();
  return (ends, direction) => {
    for (const e of ends) {
      if (e.kind !== 'pod') continue;
      const id = `${direction}\u0000${e.pod.namespace}/${e.pod.name}`;
      let same = memo.get(id);
      if (same === undefined) {
        same = signature(a, e.pod, direction) === signature(b, e.pod, direction);
        memo.set(id, same);
      }
      if (!same) return false;
    }
    return true;
  };
}

function observedOf(e: Edge | undefined): Observed | null {
  return e ? { allowedFlows: allowedFlows(e), droppedFlows: deniedFlows(e), lastSeen: e.lastSeen } : null;
}

/** Compares the existing set with the proposal (shaped by the mode) over the observed universe. */
export function diffPolicies(input: DiffInput, opts: DiffOptions): DiffReport {
  const { graph, inventory } = input;
  const maxVariants = opts.maxVariants ?? DEFAULT_MAX_VARIANTS;
  const resolve = endpointResolver(graph, inventory);
  const notes: string[] = [];
  const existingCompiled = compileNetworkPolicies(input.existing.networkPolicies, inventory);
  const edges = observedEdges(graph, resolve, maxVariants);

  // 1. Which existing rules observed traffic uses.
  const now =
    opts.now ?? graph.window.until ?? graph.edges.reduce((m, e) => Math.max(m, e.lastSeen), Number.NEGATIVE_INFINITY);
  const unusedSince = opts.unusedForMs !== undefined && Number.isFinite(now) ? now - opts.unusedForMs : null;
  const usage = ruleUsage(existingCompiled, edges);
  const unusedRules: RuleUsage[] = [];
  for (const p of input.existing.networkPolicies) {
    for (const direction of ['ingress', 'egress'] as const) {
      if (!p.policyTypes.includes(direction === 'ingress' ? 'Ingress' : 'Egress')) continue;
      p[direction].forEach((rule, i) => {
        const u = usage.get(ruleKey(p.source, direction, i));
        const unused = u === undefined || (unusedSince !== null && u.lastSeen < unusedSince);
        if (!unused) return;
        unusedRules.push({
          policy: policyRef(p),
          source: p.source,
          direction,
          rule: i,
          description: describeRule(p, direction, rule),
          matchedConnections: u?.count ?? 0,
          lastSeen: u?.lastSeen ?? null,
          removed: opts.mode === 'tighten',
        });
      });
    }
  }

  // 2. The files of the proposed set, per mode.
  const outDir = opts.outDir ?? '';
  const after = new Map(input.existingFiles);
  if (opts.mode === 'replace') {
    after.clear();
    for (const f of input.proposal.files) after.set(join(outDir, f.path), renderProposalFile(f));
  } else {
    for (const [path, text] of additions(input, existingCompiled, edges, outDir, notes)) after.set(path, text);
    if (opts.mode === 'tighten') {
      const byFile = new Map<string, RuleUsage[]>();
      for (const r of unusedRules) byFile.set(r.source.file, [...(byFile.get(r.source.file) ?? []), r]);
      for (const [file, removals] of byFile) {
        const text = input.existingFiles.get(file);
        if (text === undefined) {
          notes.push(`${file}: text not available, its unused rules are listed but not removed`);
          for (const r of removals) r.removed = false;
          continue;
        }
        const touched = new Set(removals.map((r) => sourceKey(r.source)));
        const policies = input.existing.networkPolicies.filter((p) => touched.has(sourceKey(p.source)));
        after.set(file, deleteRules(text, removals, policies));
      }
    }
  }
  if (input.existing.authorizationPolicies.length > 0) {
    const mixed = input.existing.authorizationPolicies.filter((p) => input.existingFiles.has(p.source.file)).length;
    notes.push(
      `${input.existing.authorizationPolicies.length} AuthorizationPolicies in the existing set are not compared (NetworkPolicy only)` +
        (opts.mode === 'replace' && mixed > 0
          ? `; ${mixed} of them share a file with NetworkPolicies and go with it: keep them separately.`
          : '.'),
    );
  }
  const files: FileChange[] = [];
  const paths = new Set([...input.existingFiles.keys(), ...after.keys()]);
  for (const path of [...paths].sort()) {
    const before = input.existingFiles.get(path) ?? null;
    const now = after.get(path) ?? null;
    if (before === now) continue;
    files.push({ path, status: before === null ? 'added' : now === null ? 'deleted' : 'modified', before, after: now });
  }
  const proposedLoaded = load(after);
  // Policies whose file text was not given cannot be edited or re-read: outside replace they are
  // carried over as loaded, so that the proposed set never silently loses them.
  const carried = input.existing.networkPolicies.filter((p) => !input.existingFiles.has(p.source.file));
  if (carried.length > 0) {
    if (opts.mode === 'replace')
      notes.push(
        `${carried.length} existing NetworkPolicies came without their file text and are not in the file changes.`,
      );
    else proposedLoaded.networkPolicies.unshift(...carried);
  }
  const proposed = compileNetworkPolicies(proposedLoaded.networkPolicies, inventory);
  for (const issue of proposedLoaded.issues)
    notes.push(`proposed set: ${issue.file}: ${issue.field ?? ''} ${issue.message}`.trim());

  // 3. Both sets over the universe.
  const edgeByKey = new Map(graph.edges.map((e) => [`${e.src}>${e.dst}|${e.protocol}/${e.port}`, e]));
  const pairsWithEdges = new Set(graph.edges.map((e) => `${e.src}>${e.dst}`));
  const portsByDst = new Map<string, Set<string>>();
  const addPort = (dst: string, protocol: string, port: number) => {
    if (edgeProblem({ protocol: protocol as Edge['protocol'], port })) return;
    const set = portsByDst.get(dst) ?? new Set<string>();
    set.add(`${protocol}/${port}`);
    portsByDst.set(dst, set);
  };
  for (const e of graph.edges) addPort(e.dst, e.protocol, e.port);
  for (const pod of inventory.pods) {
    if (pod.workload && graph.peers.has(pod.workload))
      for (const p of pod.ports) addPort(pod.workload, p.protocol, p.port);
  }
  addRulePorts(graph, resolve, [existingCompiled, proposed], addPort);
  // The placeable peers, each with the endpoints it is evaluated as (sliced once, not per pair).
  const variants = new Map<string, EvalEndpoint[]>();
  for (const k of [...graph.peers.keys()].sort()) {
    const r = resolve(k);
    if (!('unsupported' in r)) variants.set(k, r.endpoints.slice(0, maxVariants));
  }
  const peers = [...variants.keys()];
  const isWorkload = (k: string) => graph.peers.get(k)?.peer.type === 'workload';
  const report: DiffReport = {
    schemaVersion: DIFF_SCHEMA_VERSION,
    mode: opts.mode,
    window: { since: graph.window.since ?? null, until: graph.window.until ?? null },
    unusedSince,
    existing: {
      networkPolicies: input.existing.networkPolicies.length,
      authorizationPolicies: input.existing.authorizationPolicies.length,
    },
    proposed: { networkPolicies: proposedLoaded.networkPolicies.length },
    universe: { sources: peers.length, destinations: 0, connections: 0, unchanged: 0 },
    newlyAllowed: [],
    newlyDenied: [],
    allowedByBoth: [],
    unusedRules,
    files,
    notes,
  };
  const unchanged = samePoliciesAt(existingCompiled, proposed);
  const portLists = new Map<string, Array<{ protocol: string; port: number }>>();
  const portList = (dst: string) => {
    let list = portLists.get(dst);
    if (!list) {
      list = [...portsByDst.get(dst)!].sort().map((pp) => {
        const [protocol, port] = pp.split('/');
        return { protocol, port: Number(port) };
      });
      portLists.set(dst, list);
    }
    return list;
  };
  const destinations = peers.filter((k) => portsByDst.has(k));
  report.universe.destinations = destinations.length;
  for (const src of peers) {
    const srcs = variants.get(src)!;
    for (const dst of destinations) {
      if (src === dst || (!isWorkload(src) && !isWorkload(dst))) continue;
      const dsts = variants.get(dst)!;
      // Same policies at both ends in both sets: the decision cannot change. Such pairs are only
      // evaluated when observed, which keeps additive and tighten diffs proportional to what changes.
      const same = unchanged(srcs, 'egress') && unchanged(dsts, 'ingress');
      const ports = portList(dst);
      report.universe.connections += ports.length;
      if (same && !pairsWithEdges.has(`${src}>${dst}`)) {
        report.universe.unchanged += ports.length;
        continue;
      }
      for (const { protocol, port } of ports) {
        const l4 = protocol as 'TCP' | 'UDP' | 'SCTP';
        const edge = edgeByKey.get(`${src}>${dst}|${protocol}/${port}`);
        if (same && !edge) {
          report.universe.unchanged++;
          continue;
        }
        const was = decideEdge(existingCompiled, srcs, dsts, l4, port).allowed;
        const will = same ? was : decideEdge(proposed, srcs, dsts, l4, port).allowed;
        if (!was && !will) continue;
        const change: ConnectionChange = {
          src,
          dst,
          protocol,
          port,
          srcName: peerDisplayName(graph, src),
          dstName: peerDisplayName(graph, dst),
          observed: observedOf(edge),
        };
        if (was && will) report.allowedByBoth.push(change);
        else if (will) report.newlyAllowed.push(change);
        else report.newlyDenied.push(change);
      }
    }
  }
  for (const list of [report.newlyAllowed, report.newlyDenied, report.allowedByBoth]) list.sort(compareRefs);
  return report;
}
