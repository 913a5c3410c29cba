// Which files a proposal changes in the repository. A proposal file replaces the managed file that holds
// the same policy (found by kind, namespace and name, or by the workload annotation), or becomes a new
// file in the repository's layout. A policy changes only when its meaning changes: evidence comments and
// the generated-from annotation move with every flow counted and do not make a pull request on their own.
import { createHash } from 'node:crypto';
import type { ProposalFile } from '../synthesize/index.js';
import { renderProposalFile } from '../synthesize/index.js';
import {
  describeObject,
  EVIDENCE_ANNOTATIONS,
  isRecord,
  layoutPath,
  OPT_OUT_KEY,
  objectKey,
  type RepoFile,
  type RepoPolicies,
} from './repo.js';

export interface PlannedChange {
  path: string;
  status: 'added' | 'modified' | 'deleted';
  /** File mode to keep for a modified file. */
  mode?: string;
  before?: string;
  /** Undefined for a deleted file. */
  after?: string;
  /** The proposal file it came from (kind, namespace, workload, documents; none for a deleted file). */
  file: ProposalFile;
  /** The policies it held before, as plain data (empty for a new file). */
  beforeObjects: Record<string, unknown>[];
}

export interface SkippedPolicy {
  /** `NetworkPolicy shop/flowwright-web` */
  policy: string;
  path?: string;
  why: string;
}

export interface Plan {
  changes: PlannedChange[];
  skipped: SkippedPolicy[];
  /** Proposal files whose policies are already in the repository with the same meaning. */
  unchanged: number;
  /** sha256 over the meaning of every change: equal hashes, equal proposals. */
  hash: string;
}

/** A copy without the evidence that changes on every run, in a key order that does not matter. */
export function meaning(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(meaning);
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) {
    if (k === 'annotations' && isRecord(value[k])) {
      const kept = Object.entries(value[k] as Record<string, unknown>).filter(
        ([a]) => !EVIDENCE_ANNOTATIONS.includes(a),
      );
      if (kept.length > 0) out[k] = meaning(Object.fromEntries(kept));
      continue;
    }
    out[k] = meaning(value[k]);
  }
  return out;
}

function sameMeaning(a: readonly unknown[], b: readonly unknown[]): boolean {
  return JSON.stringify(a.map(meaning)) === JSON.stringify(b.map(meaning));
}

function policyName(o: { kind: string; namespace: string; name: string }): string {
  return `${o.kind} ${o.namespace}/${o.name}`;
}

export type PlanMode = 'additive' | 'tighten' | 'replace';

/** An existing rule to drop in tighten mode: document (1-based), direction and rule index in a file. */
export interface RuleRemoval {
  file: string;
  document: number;
  direction: 'ingress' | 'egress';
  rule: number;
}

export interface PlanOptions {
  mode: PlanMode;
  /** Unused existing rules (tighten only); removed from managed files, never from others. */
  unusedRules?: readonly RuleRemoval[];
}

/**
 * The file changes that bring the repository to the proposal, per mode:
 *   additive  a policy flowwright already manages keeps its rules and gains the proposal's missing ones;
 *             a workload without one gets the proposal's file. Nothing is removed.
 *   tighten   additive, and rules of managed policies that matched no observed traffic are removed.
 *   replace   managed policies become exactly the proposal; managed files the proposal no longer has are deleted.
 */
export function planChanges(repo: RepoPolicies, proposal: readonly ProposalFile[], opts: PlanOptions): Plan {
  // Where each policy lives now; a policy found in several files is ambiguous and left alone.
  const byKey = new Map<string, RepoFile[]>();
  const byWorkload = new Map<string, RepoFile[]>();
  const add = (m: Map<string, RepoFile[]>, k: string, f: RepoFile) => {
    const list = m.get(k) ?? [];
    if (!list.includes(f)) list.push(f);
    m.set(k, list);
  };
  for (const f of repo.files) {
    for (const o of f.objects) {
      add(byKey, objectKey(o), f);
      if (o.workload) add(byWorkload, `${o.kind}|${o.workload}`, f);
    }
  }
  const filesByPath = new Map(repo.files.map((f) => [f.path, f]));
  const removals = new Map<string, RuleRemoval[]>();
  if (opts.mode === 'tighten')
    for (const r of opts.unusedRules ?? []) removals.set(r.file, [...(removals.get(r.file) ?? []), r]);

  const changes: PlannedChange[] = [];
  const skipped: SkippedPolicy[] = [];
  let unchanged = 0;
  const claimed = new Set<string>();
  const propose = (home: RepoFile | undefined, path: string, file: ProposalFile) => {
    claimed.add(path);
    const before = home ? home.objects.map((o) => o.value) : [];
    if (home && sameMeaning(before, file.documents)) {
      unchanged++;
      return;
    }
    changes.push({
      path,
      status: home ? 'modified' : 'added',
      mode: home?.mode,
      before: home?.text,
      after: renderProposalFile(file),
      file,
      beforeObjects: before,
    });
  };

  for (const file of proposal) {
    const first = file.documents[0];
    if (!first) continue;
    const id = describeObject(first);
    const name = policyName(id);
    const keys = file.documents.map((d) => objectKey(describeObject(d)));
    const homes = new Set<RepoFile>();
    for (const k of keys) for (const f of byKey.get(k) ?? []) homes.add(f);
    if (file.workload) for (const f of byWorkload.get(`${file.kind}|${file.workload}`) ?? []) homes.add(f);

    if (homes.size > 1) {
      skipped.push({ policy: name, why: `found in ${homes.size} files (${[...homes].map((f) => f.path).join(', ')})` });
      for (const h of homes) claimed.add(h.path);
      continue;
    }
    const home = [...homes][0];
    if (home && !home.managed) {
      const optedOut = home.objects.some((o) => o.optedOut);
      skipped.push({
        policy: name,
        path: home.path,
        why: optedOut ? `marked ${OPT_OUT_KEY}: "false"` : (home.why ?? 'not managed by flowwright'),
      });
      continue;
    }
    if (home) {
      const extra = home.objects.filter(
        (o) => !keys.includes(objectKey(o)) && !(file.workload !== undefined && o.workload === file.workload),
      );
      if (extra.length > 0) {
        skipped.push({
          policy: name,
          path: home.path,
          why: `the file also holds ${extra.map(policyName).join(', ')}; split it to let flowwright update it`,
        });
        claimed.add(home.path);
        continue;
      }
      const kept = opts.mode === 'replace' ? file : mergeFile(home, file, removals.get(home.path) ?? []);
      propose(home, home.path, kept);
      continue;
    }
    const path = layoutPath(repo.dir, repo.layout, file.path);
    const taken = filesByPath.get(path);
    if (taken || claimed.has(path)) {
      skipped.push({ policy: name, path, why: 'the path is taken by a file flowwright does not manage' });
      continue;
    }
    propose(undefined, path, file);
  }

  // Managed files the proposal did not speak for.
  for (const f of repo.files) {
    if (!f.managed || claimed.has(f.path)) continue;
    const before = f.objects.map((o) => o.value);
    if (opts.mode === 'replace') {
      const d = describeObject(before[0] ?? {});
      changes.push({
        path: f.path,
        status: 'deleted',
        mode: f.mode,
        before: f.text,
        file: { path: f.path, kind: d.kind, namespace: d.namespace, workload: d.workload, documents: [] },
        beforeObjects: before,
      });
    } else if (opts.mode === 'tighten' && removals.has(f.path)) {
      const d = describeObject(before[0] ?? {});
      const documents = removeRules(before, removals.get(f.path)!);
      if (sameMeaning(before, documents)) continue;
      const file: ProposalFile = {
        path: f.path,
        kind: d.kind,
        namespace: d.namespace,
        workload: d.workload,
        documents,
      };
      changes.push({
        path: f.path,
        status: 'modified',
        mode: f.mode,
        before: f.text,
        after: renderProposalFile(file),
        file,
        beforeObjects: before,
      });
    }
  }
  changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { changes, skipped, unchanged, hash: planHash(changes) };
}

type Direction = 'ingress' | 'egress';
const DIRECTIONS: Direction[] = ['ingress', 'egress'];

function specOf(doc: Record<string, unknown>): Record<string, unknown> {
  return isRecord(doc.spec) ? doc.spec : {};
}

function rulesOf(doc: Record<string, unknown>, d: Direction): unknown[] {
  const r = specOf(doc)[d];
  return Array.isArray(r) ? r : [];
}

/** Copies of the documents without the listed rules (indices are per document and direction). */
function removeRules(docs: Record<string, unknown>[], removals: readonly RuleRemoval[]): Record<string, unknown>[] {
  return docs.map((doc, i) => {
    const mine = removals.filter((r) => r.document === i + 1);
    if (mine.length === 0 || doc.kind !== 'NetworkPolicy') return doc;
    const copy = structuredClone(doc);
    const spec = specOf(copy);
    for (const d of DIRECTIONS) {
      const drop = new Set(mine.filter((r) => r.direction === d).map((r) => r.rule));
      if (drop.size > 0) spec[d] = rulesOf(doc, d).filter((_, k) => !drop.has(k));
    }
    // An emptied egress list with defaulted policyTypes would stop isolating egress: say the types.
    if (!Array.isArray(spec.policyTypes))
      spec.policyTypes = rulesOf(doc, 'egress').length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
    copy.spec = spec;
    return copy;
  });
}

/**
 * The proposal file with the managed policy's existing rules kept in front of the proposal's rules
 * (those not already there). Evidence comments follow their rules to the new positions. Kinds other
 * than NetworkPolicy are taken from the proposal as they are.
 */
function mergeFile(home: RepoFile, file: ProposalFile, removals: readonly RuleRemoval[]): ProposalFile {
  const existing = removeRules(
    home.objects.map((o) => o.value),
    removals,
  );
  const byKey = new Map(existing.map((d) => [objectKey(describeObject(d)), d]));
  const shift = new Map<string, number>();
  const documents = file.documents.map((doc, di) => {
    const old = byKey.get(objectKey(describeObject(doc)));
    if (!old || doc.kind !== 'NetworkPolicy' || old.kind !== 'NetworkPolicy') return doc;
    const copy = structuredClone(doc);
    const spec = specOf(copy);
    for (const d of DIRECTIONS) {
      const kept = rulesOf(old, d);
      const seen = new Set(kept.map((r) => JSON.stringify(meaning(r))));
      const merged = [...kept];
      rulesOf(doc, d).forEach((rule, ri) => {
        const k = JSON.stringify(meaning(rule));
        const at = seen.has(k) ? kept.findIndex((r) => JSON.stringify(meaning(r)) === k) : merged.length;
        if (!seen.has(k)) {
          merged.push(rule);
          seen.add(k);
        }
        shift.set(`${di}|${d}|${ri}`, at);
      });
      // A direction neither side has stays absent (an empty list is written only where one was).
      if (merged.length > 0 || d in specOf(old) || d in specOf(doc)) spec[d] = merged;
    }
    const types = new Set<string>([
      ...(Array.isArray(specOf(old).policyTypes) ? (specOf(old).policyTypes as string[]) : []),
      ...(Array.isArray(spec.policyTypes) ? (spec.policyTypes as string[]) : []),
    ]);
    if (types.size > 0) spec.policyTypes = ['Ingress', 'Egress'].filter((t) => types.has(t));
    copy.spec = spec;
    return copy;
  });
  const comments = (file.comments ?? []).flatMap((c) => {
    const [first, d, ri, ...rest] = c.path;
    if (first !== 'spec' || (d !== 'ingress' && d !== 'egress') || typeof ri !== 'number') return [c];
    const at = shift.get(`${c.document}|${d}|${ri}`);
    return at === undefined ? [c] : [{ ...c, path: ['spec', d, at, ...rest] }];
  });
  // Two proposal rules landing on one kept rule would put two comments on one node: join them.
  const joined = new Map<string, (typeof comments)[number]>();
  for (const c of comments) {
    const k = `${c.document}|${c.path.join('.')}`;
    const prev = joined.get(k);
    joined.set(k, prev ? { ...prev, text: `${prev.text}\n${c.text}` } : c);
  }
  return { ...file, documents, comments: [...joined.values()] };
}

export function planHash(changes: readonly PlannedChange[]): string {
  const h = createHash('sha256');
  for (const c of changes) h.update(`${c.path}\n${JSON.stringify(c.file.documents.map(meaning))}\n`);
  return h.digest('hex');
}
