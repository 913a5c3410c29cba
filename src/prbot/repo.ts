// The policies already in the repository, read from the base commit: which files flowwright manages
// (every document labelled app.kubernetes.io/managed-by=flowwright), which policies a human has taken
// over (`flowwright.io/managed: "false"`), and the layout new files should follow.
import { posix } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { emptyLoaded, type LoadedPolicies, mergeLoaded, parsePolicyText } from '../policy/index.js';
import { type Git, listFiles, readBlob } from './git.js';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'flowwright';
/** Set to "false" (label or annotation) on a policy that humans own from now on. */
export const OPT_OUT_KEY = 'flowwright.io/managed';
export const WORKLOAD_ANNOTATION = 'flowwright.io/workload';
/** Evidence that changes with every flow counted; not a change of policy by itself. */
export const EVIDENCE_ANNOTATIONS = ['flowwright.io/generated-from'];

const POLICY_EXTENSIONS = /\.(ya?ml|json)$/i;

/** One Kubernetes object in a file, as far as the bot needs to know it. */
export interface RepoObject {
  kind: string;
  namespace: string;
  name: string;
  workload?: string;
  /** The document as plain data. */
  value: Record<string, unknown>;
  managed: boolean;
  optedOut: boolean;
}

export interface RepoFile {
  /** Path from the repository root (forward slashes). */
  path: string;
  mode: string;
  text: string;
  objects: RepoObject[];
  /** The file's documents as plain data, parsed once here for the review of a plan. */
  documents: Record<string, unknown>[];
  /** Every object is flowwright's and none is opted out: the bot may rewrite this file. */
  managed: boolean;
  /** Why the file is left alone, when it is not managed. */
  why?: string;
}

export interface RepoLayout {
  /** `nested`: <dir>/<namespace>/<name>.<kind>.yaml (flowwright's own); `flat`: <dir>/<namespace>-<name>.<kind>.yaml. */
  style: 'nested' | 'flat';
  extension: '.yaml' | '.yml';
}

export interface RepoPolicies {
  commit: string;
  /** The policies directory, relative to the repository root, without a trailing slash ('' = root). */
  dir: string;
  files: RepoFile[];
  /** Every policy in the directory (managed or not), for the diff and verify. */
  loaded: LoadedPolicies;
  layout: RepoLayout;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown): Record<string, string> {
  if (!isRecord(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** Kind, namespace and name: how a policy is found again between runs. */
export function objectKey(o: { kind: string; namespace: string; name: string }): string {
  return `${o.kind}|${o.namespace}|${o.name}`;
}

export function describeObject(value: Record<string, unknown>): Omit<RepoObject, 'value'> {
  const meta = isRecord(value.metadata) ? value.metadata : {};
  const labels = stringMap(meta.labels);
  const annotations = stringMap(meta.annotations);
  return {
    kind: typeof value.kind === 'string' ? value.kind : '',
    namespace: typeof meta.namespace === 'string' ? meta.namespace : 'default',
    name: typeof meta.name === 'string' ? meta.name : '',
    workload: annotations[WORKLOAD_ANNOTATION],
    managed: labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE,
    optedOut: annotations[OPT_OUT_KEY] === 'false' || labels[OPT_OUT_KEY] === 'false',
  };
}

/**
 * The file's documents (those that parse to a mapping, a `List` kept whole) and its objects (`List`
 * items taken apart); objects is undefined when anything in the file does not parse (such a file is
 * never touched).
 */
function parseFile(text: string): { documents: Record<string, unknown>[]; objects: RepoObject[] | undefined } {
  const docs = parseAllDocuments(text);
  const documents: Record<string, unknown>[] = [];
  let objects: RepoObject[] | undefined = [];
  for (const doc of Array.isArray(docs) ? docs : []) {
    if (doc.errors.length > 0) {
      objects = undefined;
      continue;
    }
    const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
    if (value === null || value === undefined) continue;
    if (!isRecord(value)) {
      objects = undefined;
      continue;
    }
    documents.push(value);
    const items = value.kind === 'List' && Array.isArray(value.items) ? value.items : [value];
    for (const item of items) {
      if (!isRecord(item)) objects = undefined;
      else objects?.push({ ...describeObject(item), value: item });
    }
  }
  return { documents, objects: Array.isArray(docs) ? objects : undefined };
}

function classify(objects: RepoObject[] | undefined): string | undefined {
  if (!objects) return 'not valid YAML or JSON';
  if (objects.length === 0) return 'empty';
  if (objects.some((o) => o.optedOut)) return `a policy in it is marked ${OPT_OUT_KEY}: "false"`;
  if (objects.some((o) => !o.managed)) return `not labelled ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
  return undefined;
}

export function normalizeDir(dir: string): string {
  const d = posix
    .normalize(dir.replaceAll('\\', '/'))
    .replace(/^\.\/?/, '')
    .replace(/\/+$/, '');
  return d === '.' ? '' : d;
}

/** Reads every policy file under `dir` in `commit`. */
export function readRepoPolicies(git: Git, commit: string, dir: string): RepoPolicies {
  const root = normalizeDir(dir);
  const entries = listFiles(git, commit, root)
    .filter((e) => POLICY_EXTENSIONS.test(e.path))
    .map((e) => ({ path: e.path, mode: e.mode, text: readBlob(git, e.blob) }));
  return repoPolicies(commit, root, entries);
}

/** The policies of a directory from its files' texts (paths from the repository root). */
export function repoPolicies(
  commit: string,
  dir: string,
  entries: ReadonlyArray<{ path: string; mode?: string; text: string }>,
): RepoPolicies {
  const root = normalizeDir(dir);
  const loaded = emptyLoaded();
  const files: RepoFile[] = [];
  for (const entry of entries) {
    if (!POLICY_EXTENSIONS.test(entry.path)) continue;
    const { documents, objects } = parseFile(entry.text);
    const why = classify(objects);
    files.push({
      path: entry.path,
      mode: entry.mode ?? '100644',
      text: entry.text,
      objects: objects ?? [],
      documents,
      managed: why === undefined,
      why,
    });
    mergeLoaded(loaded, parsePolicyText(entry.text, entry.path));
  }
  return { commit, dir: root, files, loaded, layout: inferLayout(root, files) };
}

/** New files follow the managed files already there; flowwright's own layout when there are none. */
export function inferLayout(dir: string, files: readonly RepoFile[]): RepoLayout {
  const managed = files.filter((f) => f.managed);
  const rel = managed.map((f) => (dir === '' ? f.path : f.path.slice(dir.length + 1)));
  const flat = rel.length > 0 && rel.every((p) => !p.includes('/'));
  const yml = managed.length > 0 && managed.every((f) => f.path.toLowerCase().endsWith('.yml'));
  return { style: flat ? 'flat' : 'nested', extension: yml ? '.yml' : '.yaml' };
}

/** Where a proposal file (`shop/frontend.networkpolicy.yaml`) goes in this repository's layout. */
export function layoutPath(dir: string, layout: RepoLayout, proposalPath: string): string {
  let rel = proposalPath;
  if (layout.style === 'flat') rel = rel.replaceAll('/', '-');
  if (layout.extension === '.yml') rel = rel.replace(/\.yaml$/, '.yml');
  return dir === '' ? rel : `${dir}/${rel}`;
}
