// The GitHub REST calls the bot makes (pulls list/create/update, issue labels), through Octokit. Server
// errors and lost connections are retried with exponential backoff; every other error becomes one clear
// line: a bad token, missing permissions or an unknown repository is a configuration problem (usage), a
// request GitHub refuses (422) is reported with GitHub's own reasons.
import { Octokit } from '@octokit/rest';
import { FlowwrightError } from '../model/index.js';

export interface PullRequest {
  number: number;
  state: 'open' | 'closed';
  merged: boolean;
  title: string;
  body: string;
  url: string;
  headRef: string;
  headSha: string;
  labels: string[];
}

export interface GitHubOptions {
  token: string;
  /** https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server. */
  apiUrl: string;
  owner: string;
  repo: string;
  /** Attempts after the first for a 5xx answer or a lost connection. */
  retries?: number;
  /** First backoff delay; doubled on each retry. */
  retryDelayMs?: number;
  /** Told about each retry (the CLI prints it). */
  onRetry?: (message: string) => void;
  /** A request without an answer for this long is abandoned (and retried like a server error). */
  timeoutMs?: number;
}

export interface GitHub {
  readonly owner: string;
  readonly repo: string;
  /** Pull requests from `branch` into `base`, newest first, open and closed. */
  listPulls(branch: string, base: string): Promise<PullRequest[]>;
  createPull(p: { title: string; body: string; head: string; base: string }): Promise<PullRequest>;
  updatePull(n: number, p: { title?: string; body?: string; state?: 'open' | 'closed' }): Promise<PullRequest>;
  addLabels(n: number, labels: string[]): Promise<void>;
}

interface ApiPull {
  number: number;
  state: string;
  merged_at?: string | null;
  title: string;
  body?: string | null;
  html_url: string;
  head: { ref: string; sha: string };
  labels?: Array<{ name?: string } | string>;
}

function toPull(p: ApiPull): PullRequest {
  return {
    number: p.number,
    state: p.state === 'open' ? 'open' : 'closed',
    merged: Boolean(p.merged_at),
    title: p.title,
    body: p.body ?? '',
    url: p.html_url,
    headRef: p.head.ref,
    headSha: p.head.sha,
    labels: (p.labels ?? []).map((l) => (typeof l === 'string' ? l : (l.name ?? ''))).filter(Boolean),
  };
}

interface HttpErrorLike {
  status: number;
  message: string;
  response?: { data?: unknown };
}

function isHttpError(err: unknown): err is HttpErrorLike {
  return typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number';
}

/** GitHub's `message` plus the `errors[]` details of a 422, e.g. `Validation Failed: A pull request already exists`. */
function githubReason(err: HttpErrorLike): string {
  const data = err.response?.data as { message?: string; errors?: unknown[] } | undefined;
  const message = data?.message ?? err.message;
  const details = (data?.errors ?? [])
    .map((e) => {
      if (typeof e === 'string') return e;
      const o = e as { message?: string; code?: string; field?: string; resource?: string };
      return o.message ?? [o.resource, o.field, o.code].filter(Boolean).join(' ');
    })
    .filter(Boolean);
  return details.length > 0 ? `${message}: ${details.join('; ')}` : message;
}

export function githubError(err: unknown, what: string, o: { apiUrl: string; owner: string; repo: string }) {
  if (err instanceof FlowwrightError) return err;
  if (!isHttpError(err)) return new FlowwrightError('unreachable', `GitHub ${what}: ${String(err)}`);
  const reason = githubReason(err);
  const repo = `${o.owner}/${o.repo}`;
  switch (err.status) {
    case 401:
      return new FlowwrightError(
        'usage',
        `GitHub rejected the token while ${what} (401 ${reason}): check GITHUB_TOKEN and --api-url (${o.apiUrl})`,
      );
    case 403:
    case 429:
      // Rate limits answer 403 or 429: waiting helps, a new token does not.
      if (err.status === 429 || /rate limit/i.test(reason))
        return new FlowwrightError(
          'unreachable',
          `GitHub rate limit while ${what} (${err.status} ${reason}); run again later`,
        );
      return new FlowwrightError(
        'usage',
        `GitHub refused ${what} in ${repo} (403 ${reason}): the token needs contents: write and pull-requests: write`,
      );
    case 404:
      return new FlowwrightError(
        'usage',
        `GitHub has no repository ${repo} at ${o.apiUrl}, or the token cannot see it (404 while ${what})`,
      );
    case 422:
      return new FlowwrightError('input', `GitHub refused ${what} in ${repo} (422 ${reason})`);
    default:
      if (!err.response)
        return new FlowwrightError(
          'unreachable',
          `GitHub API at ${o.apiUrl} did not answer while ${what}: ${err.message}`,
        );
      if (err.status >= 500)
        return new FlowwrightError(
          'unreachable',
          `GitHub API at ${o.apiUrl} failed while ${what}: ${err.status} ${reason}`,
        );
      return new FlowwrightError('input', `GitHub answered ${err.status} while ${what} in ${repo}: ${reason}`);
  }
}

function retryable(err: unknown): boolean {
  // @octokit/request reports a failed fetch (refused, reset) as status 500 without a response.
  return isHttpError(err) && (err.status >= 500 || err.status === 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createGitHub(opts: GitHubOptions): GitHub {
  const octokit = new Octokit({
    auth: opts.token,
    baseUrl: opts.apiUrl.replace(/\/+$/, ''),
    userAgent: 'flowwright-prbot',
    // Octokit would print deprecation notices and request errors itself; the CLI prints one line.
    log: { debug() {}, info() {}, warn() {}, error() {} },
  });
  const { owner, repo } = opts;
  const retries = opts.retries ?? 3;
  // fetch has no timeout of its own: a server that never answers would hold the run forever.
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const delay = opts.retryDelayMs ?? 1000;

  /** Runs `fn`, retrying server errors; `beforeRetry` may find that a lost answer's request took effect. */
  async function call<T>(
    what: string,
    fn: (request: { signal: AbortSignal }) => Promise<T>,
    beforeRetry?: () => Promise<T | undefined>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        // Abandoned after timeoutMs; @octokit/request reports that as a 500, retried like one.
        return await fn({ signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        if (!retryable(err) || attempt >= retries) {
          const e = githubError(err, what, { apiUrl: opts.apiUrl, owner, repo });
          if (retryable(err) && attempt > 0) e.message += ` (after ${attempt + 1} attempts)`;
          throw e;
        }
        const wait = delay * 2 ** attempt;
        const e = err as HttpErrorLike;
        const said = e.response ? `answered ${e.status}` : `did not answer (${e.message})`;
        opts.onRetry?.(`GitHub ${said} while ${what}; retrying in ${wait} ms (${attempt + 1}/${retries})`);
        await sleep(wait);
        if (beforeRetry) {
          const done = await beforeRetry().catch(() => undefined);
          if (done !== undefined) return done;
        }
      }
    }
  }

  const listPulls: GitHub['listPulls'] = (branch, base) =>
    call('listing pull requests', async (request) => {
      const res = await octokit.rest.pulls.list({
        request,
        owner,
        repo,
        head: `${owner}:${branch}`,
        base,
        state: 'all',
        sort: 'created',
        direction: 'desc',
        per_page: 100,
      });
      return (res.data as ApiPull[]).map(toPull).filter((p) => p.headRef === branch);
    });

  return {
    owner,
    repo,
    listPulls,
    createPull: (p) =>
      call(
        'creating the pull request',
        async (request) => toPull((await octokit.rest.pulls.create({ owner, repo, ...p, request })).data as ApiPull),
        // A create whose answer was lost may have opened the PR: never open a second one.
        async () => (await listPulls(p.head, p.base)).find((x) => x.state === 'open'),
      ),
    updatePull: (n, p) =>
      call(`updating pull request #${n}`, async (request) =>
        toPull((await octokit.rest.pulls.update({ owner, repo, pull_number: n, ...p, request })).data as ApiPull),
      ),
    addLabels: async (n, labels) => {
      if (labels.length === 0) return;
      await call(`labelling pull request #${n}`, (request) =>
        octokit.rest.issues.addLabels({ owner, repo, issue_number: n, labels, request }),
      );
    },
  };
}

/** `owner/name` from GITHUB_REPOSITORY-style text or a remote URL (https, ssh, scp-like). */
export function parseRepoSlug(text: string): { owner: string; repo: string } | undefined {
  const t = text.trim();
  const m =
    /^([\w.-]+)\/([\w.-]+?)(?:\.git)?$/.exec(t) ??
    /^(?:[\w+.-]+:\/\/)?(?:[^@/]+@)?[^/:]+(?::\d+)?[/:](?:.*\/)?([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(t);
  return m ? { owner: m[1], repo: m[2] } : undefined;
}
