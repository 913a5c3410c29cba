// A GitHub REST stand-in on loopback for the PR bot's tests: the endpoints the bot calls, answering
// with the shapes GitHub documents (pull request objects, label objects, `{message, errors,
// documentation_url}` error bodies), plus a request log and injected failures.
//   GET   /repos/{owner}/{repo}/pulls?head=owner:branch&base=&state=   pulls/list
//   POST  /repos/{owner}/{repo}/pulls                                  pulls/create
//   PATCH /repos/{owner}/{repo}/pulls/{pull_number}                    pulls/update
//   POST  /repos/{owner}/{repo}/issues/{issue_number}/labels           issues/add-labels
import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakePull {
  number: number;
  state: 'open' | 'closed';
  title: string;
  body: string;
  head: string;
  base: string;
  headSha: string;
  labels: string[];
  merged: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  body?: unknown;
}

interface Fault {
  method: string;
  path: RegExp;
  status: number;
  times: number;
  message?: string;
  errors?: unknown[];
  /** Carry the request out, then answer with the failure (an answer lost on the way back). */
  afterApplying?: boolean;
}

export interface FakeGitHub {
  url: string;
  token: string;
  owner: string;
  repo: string;
  pulls: FakePull[];
  requests: LoggedRequest[];
  /** The next `times` requests matching method and path answer `status` (0: never answer). */
  fail(f: Omit<Fault, 'times'> & { times?: number }): void;
  /** Requests other than reads (the ones that change something). */
  writes(): LoggedRequest[];
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';

/** Starts the server. `bareRemote` is the git repository the pull requests' branches live in. */
export async function startFakeGitHub(opts: {
  bareRemote: string;
  owner?: string;
  repo?: string;
  token?: string;
  /** `/api/v3` to answer like GitHub Enterprise Server; other paths are 404. */
  pathPrefix?: string;
}) {
  const owner = opts.owner ?? 'acme';
  const repo = opts.repo ?? 'platform';
  const token = opts.token ?? 'test-token';
  const pulls: FakePull[] = [];
  const requests: LoggedRequest[] = [];
  const faults: Fault[] = [];
  const hanging: ServerResponse[] = [];
  let clock = Date.parse('2026-11-20T08:00:00Z');
  const now = () => {
    clock += 1000;
    return new Date(clock).toISOString().replace(/\.\d{3}Z$/, 'Z');
  };
  const base = `/repos/${owner}/${repo}`;
  let url = '';

  const branchSha = (branch: string): string | undefined => {
    try {
      return execFileSync('git', ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], {
        cwd: opts.bareRemote,
        encoding: 'utf8',
      }).trim();
    } catch {
      return undefined;
    }
  };

  const labelObject = (name: string, i: number) => ({
    id: 1000 + i,
    node_id: `LA_${i}`,
    url: `${url}${base}/labels/${encodeURIComponent(name)}`,
    name,
    description: null,
    color: 'ededed',
    default: false,
  });
  const pullObject = (p: FakePull) => ({
    url: `${url}${base}/pulls/${p.number}`,
    id: 5000 + p.number,
    node_id: `PR_${p.number}`,
    html_url: `https://github.test/${owner}/${repo}/pull/${p.number}`,
    number: p.number,
    state: p.state,
    locked: false,
    title: p.title,
    user: { login: 'flowwright-bot', id: 1, type: 'Bot' },
    body: p.body,
    labels: p.labels.map(labelObject),
    created_at: p.createdAt,
    updated_at: p.updatedAt,
    closed_at: p.state === 'closed' ? p.updatedAt : null,
    merged_at: p.merged ? p.updatedAt : null,
    draft: false,
    head: {
      label: `${owner}:${p.head}`,
      ref: p.head,
      sha: p.headSha,
      repo: { name: repo, full_name: `${owner}/${repo}` },
    },
    base: {
      label: `${owner}:${p.base}`,
      ref: p.base,
      sha: branchSha(p.base) ?? '',
      repo: { name: repo, full_name: `${owner}/${repo}` },
    },
  });

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };
  const validation = (message: string) => ({
    message: 'Validation Failed',
    errors: [{ resource: 'PullRequest', code: 'custom', message }],
    documentation_url: `${DOCS}/pulls/pulls#create-a-pull-request`,
    status: '422',
  });

  async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  }

  function handle(
    method: string,
    path: string,
    query: URLSearchParams,
    body: Record<string, unknown>,
  ): [number, unknown] {
    if (method === 'GET' && path === `${base}/pulls`) {
      const head = query.get('head');
      const state = query.get('state') ?? 'open';
      const list = pulls
        .filter((p) => !head || `${owner}:${p.head}` === head)
        .filter((p) => !query.get('base') || p.base === query.get('base'))
        .filter((p) => state === 'all' || p.state === state)
        .sort((a, b) => b.number - a.number);
      return [200, list.map(pullObject)];
    }
    if (method === 'POST' && path === `${base}/pulls`) {
      const head = String(body.head ?? '');
      const baseRef = String(body.base ?? '');
      if (!body.title) return [422, validation('title is missing')];
      const sha = branchSha(head);
      if (!sha)
        return [
          422,
          {
            ...validation(`head ${head} does not exist`),
            errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }],
          },
        ];
      if (pulls.some((p) => p.state === 'open' && p.head === head && p.base === baseRef))
        return [422, validation(`A pull request already exists for ${owner}:${head}.`)];
      const at = now();
      const p: FakePull = {
        number: pulls.length + 1,
        state: 'open',
        title: String(body.title),
        body: String(body.body ?? ''),
        head,
        base: baseRef,
        headSha: sha,
        labels: [],
        merged: false,
        createdAt: at,
        updatedAt: at,
      };
      pulls.push(p);
      return [201, pullObject(p)];
    }
    let m = new RegExp(`^${base}/pulls/(\\d+)$`).exec(path);
    if (m && method === 'PATCH') {
      const p = pulls.find((x) => x.number === Number(m![1]));
      if (!p) return [404, { message: 'Not Found', documentation_url: DOCS }];
      if (typeof body.title === 'string') p.title = body.title;
      if (typeof body.body === 'string') p.body = body.body;
      if (body.state === 'closed' || body.state === 'open') p.state = body.state;
      p.headSha = branchSha(p.head) ?? p.headSha;
      p.updatedAt = now();
      return [200, pullObject(p)];
    }
    m = new RegExp(`^${base}/issues/(\\d+)/labels$`).exec(path);
    if (m && method === 'POST') {
      const p = pulls.find((x) => x.number === Number(m![1]));
      if (!p) return [404, { message: 'Not Found', documentation_url: DOCS }];
      const labels = Array.isArray(body.labels) ? body.labels.map(String) : [];
      for (const l of labels) if (!p.labels.includes(l)) p.labels.push(l);
      return [200, p.labels.map(labelObject)];
    }
    return [404, { message: 'Not Found', documentation_url: DOCS }];
  }

  const server: Server = createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const prefix = opts.pathPrefix ?? '';
    const inside = u.pathname.startsWith(`${prefix}/`);
    if (inside) u.pathname = u.pathname.slice(prefix.length);
    else u.pathname = `/not-the-api${u.pathname}`;
    let body: Record<string, unknown> = {};
    try {
      body = await readJson(req);
    } catch {
      send(res, 400, { message: 'Problems parsing JSON', documentation_url: DOCS });
      return;
    }
    const log: LoggedRequest = {
      method,
      path: u.pathname,
      status: 0,
      body: Object.keys(body).length ? body : undefined,
    };
    requests.push(log);
    const auth = req.headers.authorization ?? '';
    if (auth !== `token ${token}` && auth !== `Bearer ${token}`) {
      log.status = 401;
      send(res, 401, { message: 'Bad credentials', documentation_url: DOCS, status: '401' });
      return;
    }
    const fault = faults.find((f) => f.times > 0 && f.method === method && f.path.test(u.pathname));
    if (fault) {
      fault.times--;
      if (fault.status === 0) {
        log.status = 0; // no answer at all: the client must give up by itself
        hanging.push(res);
        return;
      }
      if (fault.afterApplying) handle(method, u.pathname, u.searchParams, body);
      log.status = fault.status;
      send(res, fault.status, {
        message: fault.message ?? (fault.status >= 500 ? 'Server Error' : 'Validation Failed'),
        ...(fault.errors ? { errors: fault.errors } : {}),
        documentation_url: DOCS,
      });
      return;
    }
    const [status, answer] = handle(method, u.pathname, u.searchParams, body);
    log.status = status;
    send(res, status, answer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: FakeGitHub = {
    url,
    token,
    owner,
    repo,
    pulls,
    requests,
    fail: (f) => faults.push({ times: 1, ...f }),
    writes: () => requests.filter((r) => r.method !== 'GET'),
    close: () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
