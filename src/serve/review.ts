// Verify and diff for the API: the configured directory of existing policies (re-read on each request,
// so a mounted ConfigMap that changes is picked up) against the learned graph and the proposal.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Graph } from '../model/index.js';
import {
  emptyLoaded,
  explainConnection,
  type Inventory,
  inventoryFromGraph,
  type LoadedPolicies,
  loadPolicyFiles,
  mergeLoaded,
  parsePolicyText,
} from '../policy/index.js';
import {
  compilePolicySet,
  DIFF_MODES,
  type DiffMode,
  decideEdge,
  decisionSummary,
  diffPolicies,
  diffToJson,
  endpointResolver,
  l4Protocol,
  peerDisplayName,
  verifyPolicies,
  verifyToJson,
} from '../review/index.js';
import { type Proposal, renderProposalFile } from '../synthesize/index.js';

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
  const json = diffToJson(report);
  return {
    ...json,
    files: report.files.map((f) => ({ ...f, path: relative(dir, f.path) || f.path })),
    unusedRules: json.unusedRules.map((u) => ({ ...u, file: relative(dir, u.file) || u.file })),
    policyIssues: loaded.issues.map((i) => ({ ...i, file: i.file && relative(dir, i.file) })),
  };
}

/** What a page or API user is told when a view needs existing policies and none are configured. */
export const POLICIES_HINT =
  'start serve with --policies DIR (or set policies.dir in the configuration file) to a directory of the existing policy YAML';

export interface ExplainTarget {
  src: string;
  dst: string;
  protocol: string;
  port: number;
}

/** One policy set's verdict on a connection: allowed or not, the one-line reason, and the full explanation. */
function explainIn(graph: Graph, inventory: Inventory, loaded: LoadedPolicies, t: ExplainTarget) {
  const protocol = l4Protocol(t.protocol);
  if (!protocol || t.port <= 0)
    return { evaluated: false, why: `${t.protocol} has no ports NetworkPolicy can name: not evaluated` };
  const resolve = endpointResolver(graph, inventory);
  const src = resolve(t.src);
  const dst = resolve(t.dst);
  if ('unsupported' in src) return { evaluated: false, why: `source: ${src.unsupported}` };
  if ('unsupported' in dst) return { evaluated: false, why: `destination: ${dst.unsupported}` };
  const compiled = compilePolicySet(loaded, inventory);
  const d = decideEdge(compiled.network, src.endpoints, dst.endpoints, protocol, t.port, true);
  return {
    evaluated: true,
    allowed: d.allowed,
    summary: decisionSummary(d.decision),
    text: explainConnection(d.decision, d.conn),
  };
}

/**
 * `GET /api/v1/explain?src=&dst=&protocol=&port=`: one connection through the proposed NetworkPolicies
 * and through the existing ones (when --policies is set), each with its verdict and why, and what was observed.
 */
export function explainView(graph: Graph, proposal: Proposal, dir: string | undefined, t: ExplainTarget) {
  const inventory = inventoryFromGraph(graph);
  const proposed = emptyLoaded();
  for (const f of proposal.files) mergeLoaded(proposed, parsePolicyText(renderProposalFile(f), f.path));
  const observed = graph.edges.find(
    (e) => e.src === t.src && e.dst === t.dst && e.protocol === t.protocol && e.port === t.port,
  );
  return {
    connection: {
      ...t,
      srcName: peerDisplayName(graph, t.src),
      dstName: peerDisplayName(graph, t.dst),
    },
    observed: observed
      ? {
          flows: observed.flows,
          verdicts: observed.verdicts,
          dropReasons: observed.dropReasons,
          policies: observed.policies,
          firstSeen: new Date(observed.firstSeen).toISOString(),
          lastSeen: new Date(observed.lastSeen).toISOString(),
        }
      : null,
    proposed: explainIn(graph, inventory, proposed, t),
    existing:
      dir === undefined
        ? { configured: false, hint: POLICIES_HINT }
        : { configured: true, ...explainIn(graph, inventory, loadExisting(dir).loaded, t) },
  };
}
