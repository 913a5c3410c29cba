// Reads policy manifests: YAML or JSON files, directories of them, multi-document streams, `kind: List`
// and `kubectl get ... -o yaml|json` dumps. Policies we evaluate are validated and typed; every other
// kind is counted and skipped; an invalid policy is reported with file, line, document and field path.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { type Document, LineCounter, parseAllDocuments } from 'yaml';
import { type InputIssue, inputError } from '../model/index.js';
import type { AuthorizationPolicy, NetworkPolicy, PolicySource } from './types.js';
import { type FieldPath, formatPath, validateAuthorizationPolicy, validateNetworkPolicy } from './validate.js';

export interface LoadedPolicies {
  networkPolicies: NetworkPolicy[];
  authorizationPolicies: AuthorizationPolicy[];
  /** Objects of other kinds, counted by kind (e.g. `Deployment: 3`). */
  skipped: Record<string, number>;
  /** Unparsable documents and invalid policies; every one is kept (policies are few and each matters). */
  issues: InputIssue[];
}

/**
 * How staged (non-enforcing) documents are read. By default as the data plane treats them: Calico's
 * staged kinds are counted as other kinds and an AuthorizationPolicy with `istio.io/dry-run: "true"` is
 * skipped, counted as `AuthorizationPolicy (dry-run)`. With `staged: 'enforce'`, a candidate under watch:
 * StagedKubernetesNetworkPolicy is read as the NetworkPolicy it promotes to, dry-run policies as enforcing.
 */
export interface LoadOptions {
  staged?: 'skip' | 'enforce';
}

export function emptyLoaded(): LoadedPolicies {
  return { networkPolicies: [], authorizationPolicies: [], skipped: {}, issues: [] };
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Files and directories (searched recursively, in name order for stable output). */
export function loadPolicyFiles(paths: string[], opts: LoadOptions = {}): LoadedPolicies {
  const out = emptyLoaded();
  for (const p of paths) {
    for (const file of expand(p)) mergeLoaded(out, parsePolicyText(readText(file), file, opts));
  }
  return out;
}

function expand(path: string): string[] {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw inputError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file: path });
  }
  if (!isDir) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => {
      const full = join(path, name);
      if (statSync(full).isDirectory()) return expand(full);
      return EXTENSIONS.has(extname(name).toLowerCase()) ? [full] : [];
    });
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw inputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file });
  }
}

export function mergeLoaded(into: LoadedPolicies, from: LoadedPolicies): void {
  into.networkPolicies.push(...from.networkPolicies);
  into.authorizationPolicies.push(...from.authorizationPolicies);
  for (const [k, n] of Object.entries(from.skipped)) into.skipped[k] = (into.skipped[k] ?? 0) + n;
  into.issues.push(...from.issues);
}

/** Parses the text of one file. `file` is only used to say where things came from. */
export function parsePolicyText(text: string, file: string, opts: LoadOptions = {}): LoadedPolicies {
  const enforceStaged = opts.staged === 'enforce';
  const out = emptyLoaded();
  const trimmed = text.trimStart();
  // JSON dumps can be large; JSON.parse is much faster than the YAML parser and reads the same data.
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      addObject(out, JSON.parse(text), { file, document: 1 }, [], undefined, enforceStaged);
      return out;
    } catch (err) {
      if (extname(file).toLowerCase() === '.json') {
        out.issues.push({ file, document: 1, message: `not valid JSON: ${(err as Error).message}` });
        return out;
      }
      // Otherwise it may be YAML flow syntax; let the YAML parser have a go.
    }
  }
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  list.forEach((doc, i) => {
    const source: PolicySource = { file, document: i + 1 };
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      out.issues.push({
        file,
        document: i + 1,
        line: e.linePos?.[0].line,
        message: `not valid YAML: ${firstLine(e.message)}`,
      });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // An alias without its anchor, or more alias expansion than maxAliasCount allows (a "billion laughs"
      // document): a bad document like any other, never a crash.
      out.issues.push({ file, document: i + 1, message: `not valid YAML: ${firstLine((err as Error).message)}` });
      return;
    }
    if (value === null || value === undefined) return; // an empty document between `---` lines
    addObject(out, value, source, [], { doc, lines }, enforceStaged);
  });
  return out;
}

function firstLine(s: string): string {
  const nl = s.indexOf('\n');
  return nl < 0 ? s : s.slice(0, nl);
}

interface YamlPosition {
  doc: Document.Parsed;
  lines: LineCounter;
}

/** The 1-based line of the deepest node on `path` that exists, for error messages. */
function lineOf(pos: YamlPosition | undefined, path: FieldPath): number | undefined {
  if (!pos) return undefined;
  for (let n = path.length; n >= 0; n--) {
    const node = pos.doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return pos.lines.linePos(node.range[0]).line;
  }
  return undefined;
}

function addObject(
  out: LoadedPolicies,
  value: unknown,
  source: PolicySource,
  prefix: FieldPath,
  pos: YamlPosition | undefined,
  enforceStaged: boolean,
): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    out.issues.push({ file: source.file, document: source.document, message: 'not a Kubernetes object' });
    return;
  }
  const obj = value as Record<string, unknown>;
  const kind = typeof obj.kind === 'string' ? obj.kind : undefined;
  const apiVersion = typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
  if (kind === undefined) {
    const field = formatPath([...prefix, 'kind']);
    out.issues.push({ ...where(source, pos, [...prefix, 'kind']), field, message: 'object has no kind' });
    return;
  }
  // `kind: List` from kubectl, and typed lists (NetworkPolicyList) straight from the API.
  if ((kind === 'List' || kind.endsWith('List')) && Array.isArray(obj.items)) {
    const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
    obj.items.forEach((item, i) => {
      const withKind =
        itemKind && typeof item === 'object' && item !== null && !('kind' in item)
          ? { apiVersion, kind: itemKind, ...(item as object) }
          : item;
      addObject(out, withKind, { ...source, item: i }, [...prefix, 'items', i], pos, enforceStaged);
    });
    return;
  }
  let result: { policy?: NetworkPolicy | AuthorizationPolicy; problems: { path: FieldPath; message: string }[] };
  const stagedNetworkPolicy =
    enforceStaged && kind === 'StagedKubernetesNetworkPolicy' && apiVersion.startsWith('projectcalico.org/');
  if ((kind === 'NetworkPolicy' && apiVersion.startsWith('networking.k8s.io/')) || stagedNetworkPolicy) {
    result = validateNetworkPolicy(obj, source);
  } else if (kind === 'AuthorizationPolicy' && apiVersion.startsWith('security.istio.io/')) {
    if (!enforceStaged && isDryRun(obj)) {
      const key = 'AuthorizationPolicy (dry-run)';
      out.skipped[key] = (out.skipped[key] ?? 0) + 1;
      return;
    }
    result = validateAuthorizationPolicy(obj, source);
  } else {
    // Calico and Cilium have kinds of their own called NetworkPolicy; say which one was skipped.
    const key = kind === 'NetworkPolicy' || kind === 'AuthorizationPolicy' ? `${kind} (${apiVersion})` : kind;
    out.skipped[key] = (out.skipped[key] ?? 0) + 1;
    return;
  }
  if (result.policy?.kind === 'NetworkPolicy') out.networkPolicies.push(result.policy);
  else if (result.policy?.kind === 'AuthorizationPolicy') out.authorizationPolicies.push(result.policy);
  const name = nameOf(obj);
  for (const p of result.problems) {
    const path = [...prefix, ...p.path];
    out.issues.push({ ...where(source, pos, path), field: formatPath(path), message: `${kind} ${name}: ${p.message}` });
  }
}

/** Istio evaluates a policy with `istio.io/dry-run: "true"` and logs the result without enforcing it. */
function isDryRun(obj: Record<string, unknown>): boolean {
  const meta = obj.metadata as Record<string, unknown> | undefined;
  const annotations = meta?.annotations as Record<string, unknown> | undefined;
  return annotations?.['istio.io/dry-run'] === 'true';
}

function where(source: PolicySource, pos: YamlPosition | undefined, path: FieldPath): InputIssue {
  const issue: InputIssue = { file: source.file, document: source.document, message: '' };
  const line = lineOf(pos, path);
  if (line !== undefined) issue.line = line;
  return issue;
}

function nameOf(obj: Record<string, unknown>): string {
  const meta = obj.metadata as Record<string, unknown> | undefined;
  const ns = typeof meta?.namespace === 'string' ? meta.namespace : 'default';
  const name = typeof meta?.name === 'string' ? meta.name : '(unnamed)';
  return `${ns}/${name}`;
}
