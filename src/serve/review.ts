// Verify and diff for the API: the configured directory of existing policies (re-read on each request,
// so a mounted ConfigMap that changes is picked up) against the learned graph and the proposal.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Graph } from '../model/index.js';
import { inventoryFromGraph, type LoadedPolicies, loadPolicyFiles } from '../policy/index.js';
import { DIFF_MODES, type DiffMode, diffPolicies, diffToJson, verifyPolicies, verifyToJson } from '../review/index.js';
import type { Proposal } from '../synthesize/index.js';

export { DIFF_MODES };

function loadExisting(dir: string): { loaded: LoadedPolicies; files: Map<string, string> } {
  const loaded = loadPolicyFiles([dir]);
  const files = new Map<string, string>();
  const sources = [
    ...loaded.networkPolicies.map((p) => p.source?.file),
    ...loaded.authorizationPolicies.map((p) => p.source?.file),
  ];
  for (const file of sources) if (file && !files.has(file)) files.set(file, readFileSync(file, 'utf8'));
  return { loaded, files };
}

/** `GET /api/v1/verify`: every observed connection replayed through the existing policies. */
export function verifyView(graph: Graph, dir: string) {
  const { loaded } = loadExisting(dir);
  const report = verifyPolicies(graph, inventoryFromGraph(graph), loaded);
  // The schema of `flowwright verify --format json`, documented in the README.
  return {
    ...verifyToJson(report),
    policyIssues: loaded.issues.map((i) => ({ ...i, file: i.file && relative(dir, i.file) })),
  };
}

/** `GET /api/v1/diff`: the proposal against the existing policies, with each file's before and after. */
export function diffView(graph: Graph, proposal: Proposal, dir: string, mode: DiffMode, unusedForMs?: number) {
  const { loaded, files } = loadExisting(dir);
  const report = diffPolicies(
    { graph, inventory: inventoryFromGraph(graph), existing: loaded, existingFiles: files, proposal },
    { mode, unusedForMs, outDir: dir },
  );
  // Paths relative to the policies directory: the page and API users never need the mount point.
  // The schema of `flowwright diff --format json`, documented in the README.
  return {
    ...diffToJson(report),
    files: report.files.map((f) => ({ ...f, path: relative(dir, f.path) || f.path })),
    policyIssues: loaded.issues.map((i) => ({ ...i, file: i.file && relative(dir, i.file) })),
  };
}
