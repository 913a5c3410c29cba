// The sample shop as review tests see it: the checked-in Hubble sample learned through the real
// pipeline (ingest → SQLite → graph), the foundation's proposal for it, and the hand-written
// existing policy set under fixtures/existing.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { runIngest } from '../../src/cli/ingest.js';
import { loadProposalGraph } from '../../src/cli/propose.js';
import type { Graph } from '../../src/model/index.js';
import {
  emptyLoaded,
  inventoryFromGraph,
  type LoadedPolicies,
  loadPolicyFiles,
  mergeLoaded,
  parsePolicyText,
} from '../../src/policy/index.js';
import type { DiffInput } from '../../src/review/index.js';
import {
  DEFAULT_PROPOSAL_OPTIONS,
  type Proposal,
  proposeNetworkPolicies,
  renderProposalFile,
} from '../../src/synthesize/index.js';

export const ROOT = join(import.meta.dirname, '../..');
export const SAMPLE = join(ROOT, 'samples/shop-hubble.jsonl.gz');
/** Relative to the repository root (the tests' working directory), so reports name stable paths. */
export const EXISTING_DIR = relative(process.cwd(), join(import.meta.dirname, 'fixtures/existing'));

/** Learns flow files into a fresh database and returns the graph (all stored flows). */
export async function learn(inputs: string[]): Promise<Graph> {
  const dir = mkdtempSync(join(tmpdir(), 'flowwright-review-'));
  try {
    const db = join(dir, 'graph.db');
    const summary = await runIngest({ inputs, db, progress: false });
    assert.equal(summary.malformed, 0);
    return loadProposalGraph({ db, since: '', until: '' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let sample: Promise<Graph> | undefined;

/** The checked-in sample's graph, learned once per test process. */
export function sampleGraph(): Promise<Graph> {
  sample ??= learn([SAMPLE]);
  return sample;
}

/** The input of a diff of the existing set against the proposal, and the proposal as a policy set. */
export interface Shop extends DiffInput {
  /** The proposal's files, loaded back as a policy set. */
  proposed: LoadedPolicies;
}

export function loadProposal(proposal: Proposal): LoadedPolicies {
  const out = emptyLoaded();
  for (const f of proposal.files) mergeLoaded(out, parsePolicyText(renderProposalFile(f), f.path));
  assert.deepEqual(out.issues, []);
  return out;
}

export function loadExisting(): { existing: LoadedPolicies; existingFiles: Map<string, string> } {
  const existing = loadPolicyFiles([EXISTING_DIR]);
  assert.deepEqual(existing.issues, []);
  const existingFiles = new Map<string, string>();
  for (const p of existing.networkPolicies) existingFiles.set(p.source.file, readFileSync(p.source.file, 'utf8'));
  return { existing, existingFiles };
}

export async function shop(): Promise<Shop> {
  const graph = await sampleGraph();
  const proposal = proposeNetworkPolicies(graph, DEFAULT_PROPOSAL_OPTIONS);
  return {
    graph,
    inventory: inventoryFromGraph(graph),
    proposal,
    proposed: loadProposal(proposal),
    ...loadExisting(),
  };
}

/** `src -> dst port/protocol` with display names, for readable assertions. */
export function conn(e: { srcName: string; dstName: string; protocol: string; port: number }): string {
  return `${e.srcName} -> ${e.dstName} ${e.port}/${e.protocol}`;
}
