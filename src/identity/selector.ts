// Stable selectors: for each workload, the labels a policy should use to select its pods. A good
// selector is (1) on every observed pod of the workload, (2) on no observed pod of another workload in
// the same namespace, and (3) made of labels that survive the next rollout. When no such selector
// exists the workload gets none, with the reason, so synthesis asks for a label instead of guessing.
import type { Graph, PeerNode, PodRecord } from '../model/index.js';

/** Labels set per pod or per rollout by controllers (or by Cilium), which a selector must never use. */
const VOLATILE_KEYS = new Set([
  'pod-template-hash',
  'controller-revision-hash',
  'statefulset.kubernetes.io/pod-name',
  'pod-template-generation',
  'job-name',
  'controller-uid',
  'apps.kubernetes.io/pod-index',
  // These change with every release by definition; a selector on them stops matching after an upgrade.
  'app.kubernetes.io/version',
  'helm.sh/chart',
  'service.istio.io/canonical-revision',
]);
const VOLATILE_PREFIXES = ['batch.kubernetes.io/', 'io.cilium.', 'io.kubernetes.pod.'];

/** True for a label key that changes between pods or rollouts of one workload, or that is not the pod's own. */
export function isVolatileLabel(key: string): boolean {
  if (VOLATILE_KEYS.has(key)) return true;
  for (const p of VOLATILE_PREFIXES) if (key.startsWith(p)) return true;
  return false;
}

/** Lower is preferred: the recommended labels first, then the common conventions, then the rest. */
function labelRank(key: string): number {
  switch (key) {
    case 'app.kubernetes.io/name':
      return 0;
    case 'app.kubernetes.io/instance':
      return 1;
    case 'app.kubernetes.io/component':
      return 2;
    case 'app':
      return 4;
    case 'k8s-app':
      return 5;
    case 'name':
      return 6;
  }
  return key.startsWith('app.kubernetes.io/') ? 3 : 7;
}

function byPreference(a: string, b: string): number {
  const d = labelRank(a) - labelRank(b);
  if (d !== 0) return d;
  return a < b ? -1 : a > b ? 1 : 0;
}

type Label = readonly [key: string, value: string];

function showLabels(labels: readonly Label[]): string {
  return labels.map(([k, v]) => `${k}=${v}`).join(', ');
}

/** `shop` or `east:shop` from a workload key `[cluster:]namespace/Kind/name`: pods compete within it. */
function scopeOf(workloadKey: string): string {
  const kindSlash = workloadKey.lastIndexOf('/', workloadKey.lastIndexOf('/') - 1);
  return kindSlash < 0 ? workloadKey : workloadKey.slice(0, kindSlash);
}

/** Pods grouped by owning workload and by namespace scope, built once per graph. */
interface PodIndex {
  byWorkload: Map<string, PodRecord[]>;
  byScope: Map<string, PodRecord[]>;
}

function indexPods(pods: readonly PodRecord[]): PodIndex {
  const byWorkload = new Map<string, PodRecord[]>();
  const byScope = new Map<string, PodRecord[]>();
  const push = (m: Map<string, PodRecord[]>, k: string, p: PodRecord) => {
    const list = m.get(k);
    if (list) list.push(p);
    else m.set(k, [p]);
  };
  for (const p of pods) {
    push(byWorkload, p.workload, p);
    push(byScope, scopeOf(p.workload), p);
  }
  return { byWorkload, byScope };
}

/** Everything learned while choosing one workload's selector; explainSelector prints it. */
interface SelectorAnalysis {
  key: string;
  scope: string;
  pods: PodRecord[];
  others: PodRecord[];
  /** Stable labels on every own pod with one value, most preferred first. */
  common: Label[];
  /** Volatile label keys found on its pods, sorted. */
  volatile: string[];
  /** Stable keys not common to all its pods → values seen (`(absent)` when some pod lacks it). */
  differing: Map<string, string[]>;
  /** For each common label: the other workloads whose observed pods it also selects, sorted. */
  alsoSelects: Map<string, string[]>;
  selector?: Label[];
  reason: string;
}

const ABSENT = '(absent)';
/** Subsets tried before falling back to a greedy choice; only reached with many common labels. */
const MAX_SUBSETS = 20_000;

/**
 * The smallest set of `common` labels that no `others` pod carries entirely, preferring earlier labels
 * (subsets are tried by size, then in preference order). Undefined when even all of them match some pod.
 */
function smallestSeparating(common: readonly Label[], others: readonly PodRecord[]): Label[] | undefined {
  if (common.length === 0) return undefined;
  if (others.length === 0) return [common[0]];
  // One bit per other pod, per label: set when that pod carries the label.
  const words = Math.ceil(others.length / 32);
  const bits = common.map(([k, v]) => {
    const set = new Uint32Array(words);
    others.forEach((p, i) => {
      if (p.labels[k] === v) set[i >>> 5] |= 1 << (i & 31);
    });
    return set;
  });
  const separates = (picked: readonly number[]): boolean => {
    for (let w = 0; w < words; w++) {
      let all = 0xffffffff;
      for (const i of picked) all &= bits[i][w];
      if (all !== 0) return false;
    }
    return true;
  };
  const everything = common.map((_, i) => i);
  if (!separates(everything)) return undefined;

  let tried = 0;
  for (let size = 1; size <= common.length; size++) {
    // Combinations of `size` indices in lexicographic order, i.e. most preferred first.
    const idx = Array.from({ length: size }, (_, i) => i);
    for (;;) {
      if (separates(idx)) return idx.map((i) => common[i]);
      if (++tried > MAX_SUBSETS) return greedySeparating(common, bits, words);
      let j = size - 1;
      while (j >= 0 && idx[j] === common.length - size + j) j--;
      if (j < 0) break;
      idx[j]++;
      for (let k = j + 1; k < size; k++) idx[k] = idx[k - 1] + 1;
    }
  }
  return common.slice(); // not reached: the full set separates
}

/** Adds, each time, the label that leaves the fewest other pods selected (ties: the preferred one). */
function greedySeparating(common: readonly Label[], bits: Uint32Array[], words: number): Label[] {
  // Start from "every other pod still selected": the label bitsets have no bits past the last pod.
  const left = new Uint32Array(words);
  for (const b of bits) for (let w = 0; w < words; w++) left[w] |= b[w];
  const picked: number[] = [];
  const count = (a: Uint32Array, b: Uint32Array) => {
    let n = 0;
    for (let w = 0; w < words; w++) {
      let x = (a[w] & b[w]) >>> 0;
      while (x) {
        x &= x - 1;
        n++;
      }
    }
    return n;
  };
  while (count(left, left) > 0) {
    let best = -1;
    let bestCount = Number.POSITIVE_INFINITY;
    for (let i = 0; i < common.length; i++) {
      if (picked.includes(i)) continue;
      const c = count(left, bits[i]);
      if (c < bestCount) {
        best = i;
        bestCount = c;
      }
    }
    picked.push(best);
    for (let w = 0; w < words; w++) left[w] &= bits[best][w];
  }
  return picked.sort((a, b) => a - b).map((i) => common[i]);
}

/** Workload keys of the pods that carry all of `labels`, sorted and distinct. */
function workloadsSelected(labels: readonly Label[], pods: readonly PodRecord[]): string[] {
  const out = new Set<string>();
  for (const p of pods) if (labels.every(([k, v]) => p.labels[k] === v)) out.add(p.workload);
  return [...out].sort();
}

function analyze(node: PeerNode, index: PodIndex): SelectorAnalysis {
  const key = node.key;
  const scope = scopeOf(key);
  const pods = [...(index.byWorkload.get(key) ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const others = (index.byScope.get(scope) ?? []).filter((p) => p.workload !== key);
  const a: SelectorAnalysis = {
    key,
    scope,
    pods,
    others,
    common: [],
    volatile: [],
    differing: new Map(),
    alsoSelects: new Map(),
    reason: '',
  };
  if (pods.length === 0) {
    a.reason = `no pods of ${key} were observed, so its labels are unknown`;
    return a;
  }

  const keys = new Set<string>();
  for (const p of pods) for (const k of Object.keys(p.labels)) keys.add(k);
  const volatile = new Set<string>();
  for (const k of [...keys].sort(byPreference)) {
    if (isVolatileLabel(k)) {
      volatile.add(k);
      continue;
    }
    const values = new Set<string>();
    for (const p of pods) values.add(p.labels[k] ?? ABSENT);
    if (values.size === 1 && !values.has(ABSENT)) a.common.push([k, pods[0].labels[k]]);
    else a.differing.set(k, [...values].sort());
  }
  a.volatile = [...volatile].sort();
  for (const label of a.common) a.alsoSelects.set(label[0], workloadsSelected([label], others));

  const podsText = `${pods.length === 1 ? 'the 1 observed pod' : `all ${pods.length} observed pods`} of ${key}`;
  if (a.common.length === 0) {
    const why: string[] = [];
    if (a.differing.size > 0) why.push(`labels that differ between its pods: ${[...a.differing.keys()].join(', ')}`);
    if (a.volatile.length > 0) why.push(`volatile labels left out: ${a.volatile.join(', ')}`);
    a.reason = `${podsText} share no stable label${why.length > 0 ? ` (${why.join('; ')})` : ''}; add one to its pod template`;
    return a;
  }

  const chosen = smallestSeparating(a.common, others);
  if (!chosen) {
    const rivals = workloadsSelected(a.common, others);
    a.reason =
      `pods of ${key} and ${rivals.join(', ')} share every stable label: ${showLabels(a.common)}; ` +
      `add a distinguishing label to the pod template of ${key}`;
    return a;
  }
  a.selector = [...chosen].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const inScope = scope.includes(':') ? scope : `namespace ${scope}`;
  let reason =
    others.length === 0
      ? `${showLabels(a.selector)} is on ${podsText}; no other workload's pods were observed in ${inScope}`
      : others.length === 1
        ? `${showLabels(a.selector)} is on ${podsText} and not on the 1 other observed pod in ${inScope}`
        : `${showLabels(a.selector)} is on ${podsText} and on none of the ${others.length} other observed pods in ${inScope}`;
  const first = a.common[0];
  const firstRivals = a.alsoSelects.get(first[0]) ?? [];
  if (chosen.length > 1 && firstRivals.length > 0)
    reason += `; ${first[0]}=${first[1]} alone would also select ${firstRivals.join(', ')}`;
  a.reason = reason;
  return a;
}

function isWorkload(node: PeerNode): boolean {
  return node.peer.type === 'workload';
}

/**
 * Sets `selector` and `selectorReason` on every workload peer of the graph, from the pods in
 * `graph.pods`. Labels common to all of a workload's observed pods and not volatile are candidates;
 * the smallest set of them that selects no observed pod of another workload in the same namespace
 * wins, preferring app.kubernetes.io/name, app.kubernetes.io/instance, app.kubernetes.io/component,
 * other app.kubernetes.io/*, app, k8s-app, name, then the rest alphabetically. When there is none,
 * `selector` is left undefined and `selectorReason` says why. Deterministic for a given graph.
 */
export function assignSelectors(graph: Graph): void {
  const index = indexPods(graph.pods);
  for (const node of graph.peers.values()) {
    if (!isWorkload(node)) continue;
    const a = analyze(node, index);
    node.selector = a.selector ? Object.fromEntries(a.selector) : undefined;
    node.selectorReason = a.reason;
  }
}

const LIST_LIMIT = 10;

function listed(items: readonly string[]): string {
  if (items.length <= LIST_LIMIT) return items.join(', ');
  return `${items.slice(0, LIST_LIMIT).join(', ')} and ${items.length - LIST_LIMIT} more`;
}

/** Why a workload got the selector it did (or none), as indented lines for `--explain-selectors`. */
export function explainSelector(graph: Graph, workloadKey: string): string {
  const node = graph.peers.get(workloadKey);
  if (!node) return `${workloadKey}: not in the graph`;
  if (!isWorkload(node)) return `${workloadKey}: not a workload; only workloads are selected by labels`;
  const a = analyze(node, indexPods(graph.pods));
  const lines = [
    `${a.key}: ${a.selector ? `selector ${showLabels(a.selector)}` : 'no selector'}`,
    `  why: ${a.reason}`,
  ];
  if (a.pods.length === 0) return lines.join('\n');
  lines.push(`  observed pods (${a.pods.length}): ${listed(a.pods.map((p) => p.name))}`);
  lines.push(
    `  stable labels on all of them, preferred first: ${a.common.length > 0 ? showLabels(a.common) : '(none)'}`,
  );
  if (a.differing.size > 0) {
    const parts = [...a.differing].map(([k, vs]) => `${k} (${vs.join(', ')})`);
    lines.push(`  left out, not the same on all its pods: ${parts.join(', ')}`);
  }
  if (a.volatile.length > 0) lines.push(`  left out, volatile: ${a.volatile.join(', ')}`);
  const rivals = [...new Set(a.others.map((p) => p.workload))].sort();
  lines.push(
    a.others.length === 0
      ? `  other observed pods in ${a.scope}: none`
      : `  other observed pods in ${a.scope}: ${a.others.length}, of ${listed(rivals)}`,
  );
  if (a.common.length > 0 && a.others.length > 0) {
    lines.push('  each stable label alone:');
    for (const [k, v] of a.common) {
      const also = a.alsoSelects.get(k) ?? [];
      lines.push(
        `    ${k}=${v}: ${also.length === 0 ? 'selects no other observed pod' : `also selects ${listed(also)}`}`,
      );
    }
  }
  return lines.join('\n');
}
