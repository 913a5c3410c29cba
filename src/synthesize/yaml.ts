// YAML emit shared by every output kind. Output must be byte-identical across runs, so key order is
// fixed here rather than left to whoever built the object: the conventional Kubernetes order at the
// top (apiVersion, kind, metadata, spec) and in metadata, and sorted keys in label-like maps where
// order carries no meaning. YAML 1.1 mode quotes strings such as `yes`, `on` or `0755`, which
// Kubernetes (a YAML 1.1-ish reader) would otherwise take for booleans or octal numbers.
import { Document } from 'yaml';
import type { ProposalFile, YamlComment } from './types.js';

const TOP_LEVEL_ORDER = ['apiVersion', 'kind', 'metadata', 'spec'];
const METADATA_ORDER = ['name', 'namespace', 'labels', 'annotations'];
/** Maps whose keys are labels or names: sorted, since their order means nothing. */
const SORTED_MAPS = new Set(['labels', 'annotations', 'matchLabels', 'nodeSelector']);

const TO_STRING_OPTIONS = { lineWidth: 0 } as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keys in `order` first (those present), then the rest in their given order. */
function orderedKeys(obj: Record<string, unknown>, order: readonly string[]): string[] {
  const first = order.filter((k) => k in obj);
  return [...first, ...Object.keys(obj).filter((k) => !order.includes(k))];
}

/** A copy of `value` with keys in canonical order. Structure (and so comment paths) is unchanged. */
function canonicalize(value: unknown, key: string | undefined, depth: number): unknown {
  if (Array.isArray(value)) return value.map((v) => canonicalize(v, undefined, depth + 1));
  if (!isPlainObject(value)) return value;
  let keys: string[];
  if (depth === 0) keys = orderedKeys(value, TOP_LEVEL_ORDER);
  else if (key === 'metadata') keys = orderedKeys(value, METADATA_ORDER);
  else if (key !== undefined && SORTED_MAPS.has(key)) keys = Object.keys(value).sort();
  else keys = Object.keys(value);
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = canonicalize(value[k], k, depth + 1);
  return out;
}

function toDocument(obj: Record<string, unknown>): Document {
  // No anchors/aliases when one object is reused in two places: reviewers read plain YAML.
  return new Document(canonicalize(obj, undefined, 0), { version: '1.1', aliasDuplicateObjects: false });
}

function attachComment(doc: Document, c: YamlComment): void {
  if (c.path.length === 0) {
    doc.commentBefore = doc.commentBefore ? `${doc.commentBefore}\n${commentText(c.text)}` : commentText(c.text);
    return;
  }
  const node = doc.getIn(c.path, true) as { commentBefore?: string | null } | undefined;
  if (!node || typeof node !== 'object') throw new Error(`no YAML node at ${c.path.join('.')} for a comment`);
  node.commentBefore = node.commentBefore ? `${node.commentBefore}\n${commentText(c.text)}` : commentText(c.text);
}

/** The yaml package prints each comment line after `#`; a leading space gives the usual `# text`. */
function commentText(text: string): string {
  return text
    .split('\n')
    .map((line) => ` ${line}`)
    .join('\n');
}

function renderDocuments(docs: Record<string, unknown>[], comments: readonly YamlComment[]): string {
  const yamlDocs = docs.map(toDocument);
  for (const c of comments) {
    const doc = yamlDocs[c.document];
    if (!doc) throw new Error(`comment for missing document ${c.document}`);
    attachComment(doc, c);
  }
  return yamlDocs.map((d) => d.toString(TO_STRING_OPTIONS)).join('---\n');
}

/** Documents as one deterministic multi-document YAML text, separated by `---`. */
export function renderYaml(docs: Record<string, unknown>[]): string {
  return renderDocuments(docs, []);
}

/** The YAML text of one proposal file, with its evidence comments. */
export function renderProposalFile(f: ProposalFile): string {
  return renderDocuments(f.documents, f.comments ?? []);
}
