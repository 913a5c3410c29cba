// Git through the `git` command. The bot never touches the user's working tree or index: it reads the
// base commit's objects, builds the new tree in a private index file (GIT_INDEX_FILE) and creates the
// commit with commit-tree, so a failure at any step leaves the checkout exactly as it was.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlowwrightError } from '../model/index.js';

export interface GitIdentity {
  name: string;
  email: string;
}

export interface Git {
  readonly dir: string;
  /** Runs git and returns stdout; throws FlowwrightError with git's own message on failure. */
  run(args: string[], opts?: { input?: string; env?: Record<string, string>; what?: string }): string;
  /** Like run, but returns undefined instead of throwing when git exits non-zero. */
  tryRun(args: string[], opts?: { input?: string; env?: Record<string, string> }): string | undefined;
}

/** A git runner for the repository at `dir`; fails with a usage error when it is not a git work tree. */
export function openGit(dir: string): Git {
  const run: Git['run'] = (args, opts = {}) => {
    try {
      return execFileSync('git', args, {
        cwd: dir,
        input: opts.input,
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
        stdio: ['pipe', 'pipe', 'pipe'],
        // No prompts in CI: a missing credential must fail, not hang; nor may a stalled HTTP remote
        // (under 1 KB/s for a minute), unless the environment says otherwise.
        env: {
          GIT_HTTP_LOW_SPEED_LIMIT: '1000',
          GIT_HTTP_LOW_SPEED_TIME: '60',
          ...process.env,
          GIT_TERMINAL_PROMPT: '0',
          LC_ALL: 'C',
          ...opts.env,
        },
      });
    } catch (err) {
      const e = err as { stderr?: string; code?: string; status?: number };
      if (e.code === 'ENOENT') throw new FlowwrightError('usage', 'git is not installed or not on PATH');
      // A remote URL may carry a token (https://user:token@host/...): never repeat it.
      const stderr = (e.stderr ?? '')
        .replace(/\/\/[^/@\s]+@/g, '//***@')
        .trim()
        .split('\n')
        .filter(Boolean)
        .slice(-3)
        .join(' / ');
      throw new FlowwrightError(
        'input',
        `${opts.what ?? `git ${args[0]}`} failed in ${dir}: ${stderr || `exit status ${e.status}`}`,
      );
    }
  };
  const git: Git = {
    dir,
    run,
    tryRun: (args, opts) => {
      try {
        return run(args, opts);
      } catch (err) {
        if (err instanceof FlowwrightError && err.code === 'usage') throw err;
        return undefined;
      }
    },
  };
  const inside = git.tryRun(['rev-parse', '--is-inside-work-tree']);
  if (inside?.trim() !== 'true') throw new FlowwrightError('usage', `--repo ${dir} is not a git work tree`);
  return git;
}

/** The commit a ref points at, or undefined when it does not exist. */
export function resolveCommit(git: Git, ref: string): string | undefined {
  return git.tryRun(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])?.trim() || undefined;
}

export interface TreeEntry {
  mode: string;
  blob: string;
  path: string;
}

/** Files (blobs) under `dir` in `commit`, recursively; symlinks and submodules are left out. */
export function listFiles(git: Git, commit: string, dir: string): TreeEntry[] {
  const out = git.run(['ls-tree', '-r', '-z', '--full-tree', commit, '--', dir === '' ? '.' : dir]);
  const entries: TreeEntry[] = [];
  for (const rec of out.split('\0')) {
    if (!rec) continue;
    const tab = rec.indexOf('\t');
    const [mode, type, blob] = rec.slice(0, tab).split(' ');
    if (type !== 'blob' || mode === '120000') continue;
    entries.push({ mode, blob, path: rec.slice(tab + 1) });
  }
  return entries;
}

export function readBlob(git: Git, blob: string): string {
  return git.run(['cat-file', 'blob', blob]);
}

export function treeOf(git: Git, commit: string): string {
  return git.run(['rev-parse', `${commit}^{tree}`]).trim();
}

/** The commit's first parent, if any. */
export function parentOf(git: Git, commit: string): string | undefined {
  return resolveCommit(git, `${commit}^`);
}

export interface FileWrite {
  path: string;
  /** Undefined deletes the file. */
  text?: string;
  /** File mode; 100644 unless the file existed with another. */
  mode?: string;
}

/**
 * A commit whose tree is `parent`'s tree with `writes` applied, made without touching the working tree,
 * the index or any ref. Returns the commit and tree ids.
 */
export function commitFiles(
  git: Git,
  parent: string,
  writes: readonly FileWrite[],
  message: string,
  author: GitIdentity,
): { commit: string; tree: string } {
  const tmp = mkdtempSync(join(tmpdir(), 'flowwright-index-'));
  try {
    const env = { GIT_INDEX_FILE: join(tmp, 'index') };
    git.run(['read-tree', parent], { env });
    for (const w of writes) {
      if (w.text === undefined) {
        git.run(['update-index', '--force-remove', '--', w.path], { env });
        continue;
      }
      const blob = git.run(['hash-object', '-w', '--stdin', '--path', w.path], { input: w.text }).trim();
      git.run(['update-index', '--add', '--cacheinfo', `${w.mode ?? '100644'},${blob},${w.path}`], { env });
    }
    const tree = git.run(['write-tree'], { env }).trim();
    const identity = {
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_COMMITTER_NAME: author.name,
      GIT_COMMITTER_EMAIL: author.email,
    };
    const commit = git.run(['commit-tree', tree, '-p', parent, '-F', '-'], { input: message, env: identity }).trim();
    return { commit, tree };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The id of `branch` on `remote`, or undefined when the remote has no such branch. */
export function remoteBranch(git: Git, remote: string, branch: string): string | undefined {
  const out = git.run(['ls-remote', '--heads', remote, `refs/heads/${branch}`], {
    what: `reading branches of remote '${remote}'`,
  });
  const line = out.split('\n').find((l) => l.endsWith(`\trefs/heads/${branch}`));
  return line ? line.split('\t')[0] : undefined;
}

/** Fetches one branch of `remote` into refs/remotes/<remote>/<branch> and returns its commit. */
export function fetchBranch(git: Git, remote: string, branch: string): string {
  const ref = `refs/remotes/${remote}/${branch}`;
  git.run(['fetch', '--no-tags', '--quiet', remote, `+refs/heads/${branch}:${ref}`], {
    what: `fetching ${branch} from remote '${remote}'`,
  });
  return git.run(['rev-parse', ref]).trim();
}

/**
 * Sets `branch` on `remote` to `commit` (undefined deletes it), only if the remote still has `expected`
 * there (undefined: the branch must not exist), so a concurrent change is never overwritten.
 */
export function pushBranch(
  git: Git,
  remote: string,
  branch: string,
  commit: string | undefined,
  expected: string | undefined,
): void {
  const ref = `refs/heads/${branch}`;
  git.run(['push', '--quiet', `--force-with-lease=${ref}:${expected ?? ''}`, remote, `${commit ?? ''}:${ref}`], {
    what: `pushing ${branch} to remote '${remote}'`,
  });
}
