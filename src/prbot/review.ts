// The bot's narrow view of review: the unused rules of the current set (for tighten), and, for a
// planned change, the connection-level diff (before = every policy in the directory, after = the same
// with the planned files applied) and a verify of the result.
import type { Graph } from '../model/index.js';
import {
  emptyLoaded,
  type Inventory,
  inventoryFromGraph,
  type LoadedPolicies,
  mergeLoaded,
  parsePolicyText,
} from '../policy/index.js';
import {
  type DiffReport,
  diffPolicies,
  renderDiffMarkdown,
  renderVerifyMarkdown,
  verifyPolicies,
} from '../review/index.js';
import { emptySummary, type ProposalFile } from '../synthesize/index.js';
import type { Plan, PlanMode, RuleRemoval } from './plan.js';
import type { RepoPolicies } from './repo.js';

export interface ReviewCounts {
  newlyAllowed: number;
  /** Of the newly allowed, the ones observed in the window. */
  newlyAllowedObserved: number;
  newlyDenied: number;
  /** Of the newly denied, the ones with traffic that went through in the window: what would break. */
  newlyDeniedObserved: number;
  unchanged: number;
  unusedRules: number;
}

export interface VerifySummary {
  /** Percent of observed connections the policies after the change allow. */
  coverage: number;
  observed: number;
  broken: number;
  /** Markdown lines naming the broken connections (a few), if any. */
  details?: string;
  /** The full verify report as Markdown. */
  markdown?: string;
}

export interface ReviewResult {
  counts?: ReviewCounts;
  /** The diff as Markdown for the description's details section. */
  markdown?: string;
  verify?: VerifySummary;
  report?: DiffReport;
}

export interface ReviewContext {
  graph: Graph;
  inventory: Inventory;
  repo: RepoPolicies;
  /** Reference time and threshold for unused rules (tighten). */
  unusedForMs?: number;
}

export function reviewContext(graph: Graph, repo: RepoPolicies, unusedForMs?: number): ReviewContext {
  return { graph, inventory: inventoryFromGraph(graph), repo, unusedForMs };
}

function existingFiles(repo: RepoPolicies): Map<string, string> {
  return new Map(repo.files.map((f) => [f.path, f.text]));
}

interface FileAfter {
  text: string;
  documents: Record<string, unknown>[];
}

/**
 * The files of the directory after the plan: deleted files gone, changed files with their new text. The
 * documents come from the parse of the base (repo.ts) and from the plan, so no text is parsed again.
 */
function filesAfter(repo: RepoPolicies, plan: Plan): Map<string, FileAfter> {
  const after = new Map<string, FileAfter>(repo.files.map((f) => [f.path, f]));
  for (const c of plan.changes) {
    if (c.after === undefined) after.delete(c.path);
    else after.set(c.path, { text: c.after, documents: c.file.documents });
  }
  return after;
}

function loadAll(files: Map<string, FileAfter>): LoadedPolicies {
  const out = emptyLoaded();
  for (const [path, { text }] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    mergeLoaded(out, parsePolicyText(text, path));
  return out;
}

/**
 * The whole after-set as the "proposal" of a replace diff: review then compares the current directory
 * with exactly what the branch will hold, over the observed universe.
 */
function asProposal(files: Map<string, FileAfter>): ProposalFile[] {
  const out: ProposalFile[] = [];
  for (const [path, { documents }] of files)
    if (documents.length > 0) out.push({ path, kind: 'Files', namespace: '', documents });
  return out;
}

function runDiff(ctx: ReviewContext, after: Map<string, FileAfter> | undefined): DiffReport {
  return diffPolicies(
    {
      graph: ctx.graph,
      inventory: ctx.inventory,
      existing: ctx.repo.loaded,
      existingFiles: existingFiles(ctx.repo),
      proposal: { files: after ? asProposal(after) : [], summary: emptySummary() },
    },
    { mode: after ? 'replace' : 'additive', unusedForMs: ctx.unusedForMs },
  );
}

/** Rules of the current set that matched no observed traffic (within --unused-for when given). */
export function unusedRules(ctx: ReviewContext): RuleRemoval[] {
  return runDiff(ctx, undefined).unusedRules.map((u) => ({
    file: u.source.file,
    document: u.source.document,
    direction: u.direction,
    rule: u.rule,
  }));
}

const BROKEN_SHOWN = 10;

/**
 * The diff as the description embeds it: connections never observed that become denied are counted,
 * not listed (with default deny they are most of the universe), and the files are left to the pull
 * request's own file view.
 */
function forDescription(report: DiffReport): DiffReport {
  const observed = report.newlyDenied.filter((c) => c.observed !== null);
  const hidden = report.newlyDenied.length - observed.length;
  const notes = [...report.notes];
  if (hidden > 0)
    notes.unshift(
      `${hidden} connection(s) between observed peers that were never observed are newly denied and not listed here; ` +
        '`flowwright diff` lists them.',
    );
  return { ...report, newlyDenied: observed, files: [], notes };
}

export function reviewPlan(ctx: ReviewContext, plan: Plan, mode: PlanMode): ReviewResult {
  const after = filesAfter(ctx.repo, plan);
  const report = runDiff(ctx, after);
  // The diff's own file list describes its replace of everything; the branch changes only the planned files.
  report.files = plan.changes.map((c) => ({
    path: c.path,
    status: c.status,
    before: c.before ?? null,
    after: c.after ?? null,
  }));
  // Said in the bot's terms: its mode, and which unused rules the plan really removes (managed files only).
  report.mode = mode;
  const managed = new Set(ctx.repo.files.filter((f) => f.managed).map((f) => f.path));
  for (const u of report.unusedRules) u.removed = mode === 'tighten' && managed.has(u.source.file);
  report.notes = report.notes.filter((n) => !n.includes('deleted with the rest'));
  const verify = verifyPolicies(ctx.graph, ctx.inventory, loadAll(after));
  const details = verify.broken
    .slice(0, BROKEN_SHOWN)
    .map((b) => `- \`${b.srcName}\` → \`${b.dstName}\` ${b.protocol}/${b.port}: ${b.summary}`);
  if (verify.broken.length > BROKEN_SHOWN) details.push(`- … and ${verify.broken.length - BROKEN_SHOWN} more`);
  return {
    counts: {
      newlyAllowed: report.newlyAllowed.length,
      newlyAllowedObserved: report.newlyAllowed.filter((c) => c.observed).length,
      newlyDenied: report.newlyDenied.length,
      newlyDeniedObserved: report.newlyDenied.filter((c) => c.observed && c.observed.allowedFlows > 0).length,
      unchanged: report.allowedByBoth.length,
      unusedRules: report.unusedRules.length,
    },
    report,
    markdown: renderDiffMarkdown(forDescription(report)).replace(
      /^\| files changed \| 0 \|$/m,
      `| files changed | ${plan.changes.length} (listed under Files) |`,
    ),
    verify: {
      coverage: verify.coverage,
      observed: verify.totals.observed,
      broken: verify.totals.broken,
      details: details.length > 0 ? details.join('\n') : undefined,
      markdown: renderVerifyMarkdown(verify),
    },
  };
}
