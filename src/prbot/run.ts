// One run of the PR bot, in the order that keeps failures harmless: read the base commit, plan the
// files, describe them; then ask GitHub what exists before writing anything; then commit (objects
// only), push, open or update the pull request, and undo the push and the pull request if a later
// step fails. A proposal a human closed without merging is not proposed again until it changes.
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import type { Graph } from '../model/index.js';
import { FlowwrightError, usageError } from '../model/index.js';
import type { DeniedEdge, PoliciesProposal } from '../synthesize/index.js';
import { type Description, describeProposal, hashInBody } from './describe.js';
import {
  commitFiles,
  fetchBranch,
  type Git,
  type GitIdentity,
  openGit,
  parentOf,
  pushBranch,
  remoteBranch,
  resolveCommit,
  treeOf,
} from './git.js';
import { createGitHub, type PullRequest, parseRepoSlug } from './github.js';
import { type Plan, type PlanMode, planChanges } from './plan.js';
import { readRepoPolicies } from './repo.js';
import { type ReviewResult, reviewContext, reviewPlan, unusedRules } from './review.js';

export interface GitHubSettings {
  token: string;
  apiUrl: string;
  /** `owner/name`; taken from the remote's URL when absent. */
  repository?: string;
  retries?: number;
  retryDelayMs?: number;
}

export interface PrOptions {
  repoDir: string;
  /** The policies directory, relative to the repository root. */
  policiesDir: string;
  base: string;
  mode: PlanMode;
  remote: string;
  /** Default: flowwright/policies-<base>. */
  branch?: string;
  labels: string[];
  author: GitIdentity;
  dryRun: boolean;
  /** Required unless dryRun. */
  github?: GitHubSettings;
  unusedForMs?: number;
  /** Commands printed under "Reproduce locally". */
  reproduce: string[];
  bodyLimit?: number;
  /** Progress and retry messages for stderr. */
  log?: (message: string) => void;
}

export type PrOutcome =
  | { action: 'nothing'; reason: string; plan: Plan; pull?: PullRequest }
  | { action: 'dry-run'; plan: Plan; description: Description; review: ReviewResult; branch: string }
  | {
      action: 'created' | 'updated';
      plan: Plan;
      description: Description;
      review: ReviewResult;
      branch: string;
      commit: string;
      pull: PullRequest;
    };

/** `flowwright/policies-main`: one branch per base, so reruns find their own work. */
export function defaultBranch(base: string): string {
  return `flowwright/policies-${base.replace(/[^A-Za-z0-9._-]+/g, '-')}`;
}

export function commitMessage(plan: Plan, mode: PlanMode): string {
  const width = Math.max(...plan.changes.map((c) => c.status.length));
  return [
    `flowwright: ${mode} policy update (${plan.changes.length} file${plan.changes.length === 1 ? '' : 's'})`,
    '',
    'Least-privilege policy learned from observed traffic; each rule carries its evidence.',
    '',
    ...plan.changes.map((c) => `${c.status.padEnd(width)}  ${c.path}`),
    '',
    `Proposal-Hash: ${plan.hash}`,
    '',
  ].join('\n');
}

function resolveBase(git: Git, remote: string, base: string, dryRun: boolean): string {
  const hasRemote = git.tryRun(['remote', 'get-url', remote]) !== undefined;
  if (hasRemote && !dryRun) return fetchBranch(git, remote, base);
  const commit = resolveCommit(git, `refs/remotes/${remote}/${base}`) ?? resolveCommit(git, `refs/heads/${base}`);
  if (!commit) throw usageError(`base branch '${base}' not found in ${git.dir}`);
  return commit;
}

/** --policies-dir as a path from the root of the repository at `repoDir` (absolute paths must lie inside it). */
export function policiesDirInRepo(repoDir: string, dir: string): string {
  return repoRelative(openGit(repoDir), dir);
}

function repoRelative(git: Git, dir: string): string {
  if (!isAbsolute(dir)) return dir;
  const top = git.run(['rev-parse', '--show-toplevel']).trim();
  // Symlinked temp or home directories: compare real paths (the directory may not exist yet).
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : p);
  const rel = relative(real(top), real(dir));
  if (rel.startsWith('..') || isAbsolute(rel))
    throw usageError(`--policies-dir ${dir} is outside the repository ${top}`);
  return rel;
}

function repositorySlug(git: Git, remote: string, given: string | undefined): { owner: string; repo: string } {
  const text = given ?? git.tryRun(['remote', 'get-url', remote])?.trim() ?? '';
  const slug = parseRepoSlug(text);
  if (!slug)
    throw usageError(
      `cannot tell the GitHub repository from ${given ? `'${given}'` : `remote '${remote}' (${text || 'none'})`}: ` +
        'pass --github-repo owner/name or set GITHUB_REPOSITORY',
    );
  return slug;
}

export async function runPrBot(graph: Graph, proposal: PoliciesProposal, opts: PrOptions): Promise<PrOutcome> {
  const log = opts.log ?? (() => {});
  const git = openGit(opts.repoDir);
  const branch = opts.branch ?? defaultBranch(opts.base);
  if (!opts.dryRun && !opts.github) throw usageError('GITHUB_TOKEN is not set (or use --dry-run)');

  // 1. Plan and describe: pure, from the base commit.
  const baseCommit = resolveBase(git, opts.remote, opts.base, opts.dryRun);
  const repo = readRepoPolicies(git, baseCommit, repoRelative(git, opts.policiesDir));
  // A policy the bot cannot read would be taken for a missing one: stop and name it, as verify does.
  const broken = repo.loaded.issues[0];
  if (broken) {
    const { message, ...location } = broken;
    throw new FlowwrightError('input', `${message} (in ${opts.base}; fix the file before proposing)`, location);
  }
  const ctx = reviewContext(graph, repo, opts.unusedForMs);
  const plan = planChanges(repo, proposal.files, {
    mode: opts.mode,
    unusedRules: opts.mode === 'tighten' ? unusedRules(ctx) : [],
  });
  if (plan.changes.length === 0)
    return {
      action: 'nothing',
      plan,
      reason: `the policies in ${opts.policiesDir || '.'} on ${opts.base} already match the proposal`,
    };
  const review = reviewPlan(ctx, plan, opts.mode);
  const description = describeProposal({
    graph,
    plan,
    observedButDenied: deniedOf(proposal),
    review,
    mode: opts.mode,
    base: opts.base,
    reproduce: opts.reproduce,
    limit: opts.bodyLimit,
  });
  if (opts.dryRun) return { action: 'dry-run', plan, description, review, branch };

  // 2. What GitHub has, before anything is written (a bad token fails here, with nothing pushed).
  const settings = opts.github!;
  const { owner, repo: repoName } = repositorySlug(git, opts.remote, settings.repository);
  const github = createGitHub({
    token: settings.token,
    apiUrl: settings.apiUrl,
    owner,
    repo: repoName,
    retries: settings.retries,
    retryDelayMs: settings.retryDelayMs,
    onRetry: log,
  });
  const pulls = await github.listPulls(branch, opts.base);
  const open = pulls.find((p) => p.state === 'open');
  const newest = pulls[0];
  if (!open && newest && !newest.merged && hashInBody(newest.body) === plan.hash)
    return {
      action: 'nothing',
      plan,
      pull: newest,
      reason: `pull request #${newest.number} with this same proposal was closed without merging; it is proposed again when the proposal changes`,
    };

  // 3. The commit (objects only), compared with what the branch holds.
  const writes = plan.changes.map((c) => ({ path: c.path, text: c.after, mode: c.mode }));
  const { commit, tree } = commitFiles(git, baseCommit, writes, commitMessage(plan, opts.mode), opts.author);
  const remoteSha = remoteBranch(git, opts.remote, branch);
  let upToDate = false;
  if (remoteSha && open) {
    const fetched = fetchBranch(git, opts.remote, branch);
    upToDate = treeOf(git, fetched) === tree && parentOf(git, fetched) === baseCommit;
  }
  if (upToDate && open && open.title === description.title && sameText(open.body, description.body))
    return { action: 'nothing', plan, pull: open, reason: `pull request #${open.number} is already up to date` };

  // 4. Push, then the pull request; undo what was done if a later step fails.
  const headCommit = upToDate ? remoteSha! : commit;
  if (!upToDate) {
    log(`pushing ${branch} (${plan.changes.length} files) to ${opts.remote}`);
    pushBranch(git, opts.remote, branch, commit, remoteSha);
  }
  // Each step that changed something registers how to take it back, said as it would be reported.
  const undo: Array<{ what: string; run: () => Promise<void> | void }> = [];
  if (!upToDate)
    undo.push({
      what: remoteSha ? `branch ${branch} put back to ${remoteSha.slice(0, 12)}` : `branch ${branch} deleted`,
      run: () => pushBranch(git, opts.remote, branch, remoteSha, commit),
    });
  let pull: PullRequest;
  try {
    if (open) {
      pull = await github.updatePull(open.number, { title: description.title, body: description.body });
      undo.push({
        what: `title and description of #${open.number} put back`,
        run: async () => {
          await github.updatePull(open.number, { title: open.title, body: open.body });
        },
      });
    } else {
      pull = await github.createPull({
        title: description.title,
        body: description.body,
        head: branch,
        base: opts.base,
      });
      const created = pull.number;
      undo.push({
        what: `pull request #${created} closed`,
        // Without the proposal hash in its body, the closed pull request does not count as declined.
        run: async () => {
          await github.updatePull(created, { state: 'closed', body: UNFINISHED_BODY });
        },
      });
    }
    await github.addLabels(pull.number, opts.labels);
  } catch (err) {
    const done: string[] = [];
    const failed: string[] = [];
    for (const step of undo.reverse()) {
      try {
        await step.run();
        done.push(step.what);
      } catch {
        failed.push(step.what);
      }
    }
    if (err instanceof FlowwrightError) {
      if (done.length > 0) err.message += `; undone: ${done.join(', ')}`;
      if (failed.length > 0) err.message += `; NOT undone, do it by hand: ${failed.join(', ')}`;
    }
    throw err;
  }
  updateLocalBranch(git, branch, headCommit, log);
  return { action: open ? 'updated' : 'created', plan, description, review, branch, commit: headCommit, pull };
}

const UNFINISHED_BODY =
  'Closed by flowwright: the run that opened this pull request failed before it was complete, and took its ' +
  'changes back. The next run proposes again.';

/** GitHub may hand a body back with CRLF line ends. */
function sameText(a: string, b: string): boolean {
  return a.replaceAll('\r\n', '\n') === b.replaceAll('\r\n', '\n');
}

/** Observed-but-denied edges of every kind's summary, each once. */
function deniedOf(proposal: PoliciesProposal): DeniedEdge[] {
  const seen = new Map<string, DeniedEdge>();
  for (const { summary } of proposal.summaries)
    for (const d of summary.observedButDenied) seen.set(`${d.src}>${d.dst}|${d.protocol}/${d.port}`, d);
  return [...seen.values()];
}

/** Points the local branch at the pushed commit, unless it is checked out (its working tree would go stale). */
function updateLocalBranch(git: Git, branch: string, commit: string, log: (m: string) => void): void {
  const head = git.tryRun(['symbolic-ref', '--quiet', 'HEAD'])?.trim();
  if (head === `refs/heads/${branch}`) {
    log(`local branch ${branch} is checked out; left as it is`);
    return;
  }
  // A convenience only: the pull request is complete whether or not this works.
  if (git.tryRun(['update-ref', `refs/heads/${branch}`, commit]) === undefined)
    log(`could not move the local branch ${branch}; the pushed branch is complete`);
}
