// The PR bot end to end: a real git repository cloned from a local bare remote, a real SQLite store,
// and a GitHub REST stand-in on loopback. Checks the pull request, the pushed files, reruns, declined
// proposals and API failures (nothing half-made), and the command line's dry run and exit status 6.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { loadProposalGraph } from '../../src/cli/propose.js';
import { FlowwrightError, type Peer } from '../../src/model/index.js';
import { hashInBody, type PrOptions, runPrBot } from '../../src/prbot/index.js';
import { openStore } from '../../src/store/index.js';
import { proposePolicies } from '../../src/synthesize/index.js';
import { startFakeGitHub } from '../prbot/github-server.js';
import { api, db, delta, edge, HOUR, pod, sighting, T0, web } from '../store/helpers.js';

const BRANCH = 'flowwright/policies-main';
const payments: Peer = { type: 'workload', namespace: 'payments', kind: 'Deployment', name: 'gateway' };

/** A hand-written policy flowwright must never touch. */
const HANDWRITTEN = `# Owned by the platform team.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-monitoring
  namespace: shop
spec:
  podSelector: {}
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: monitoring
`;

/** Generated once by flowwright, then taken over by a human. */
const OPTED_OUT = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: flowwright-db
  namespace: shop
  labels:
    app.kubernetes.io/managed-by: flowwright
  annotations:
    flowwright.io/managed: "false"
    flowwright.io/workload: shop/StatefulSet/db
spec:
  podSelector:
    matchLabels:
      app: db
  policyTypes: [Ingress]
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app: api
      ports:
        - port: 5432
`;

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'dev',
      GIT_AUTHOR_EMAIL: 'dev@example.com',
      GIT_COMMITTER_NAME: 'dev',
      GIT_COMMITTER_EMAIL: 'dev@example.com',
    },
  }).trim();
}

interface World {
  dir: string;
  remote: string;
  clone: string;
  dbPath: string;
}

function setup(t: { after(fn: () => void): void }): World {
  const dir = mkdtempSync(join(tmpdir(), 'flowwright-prbot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const remote = join(dir, 'remote.git');
  const clone = join(dir, 'work');
  git(dir, 'init', '--quiet', '--bare', '--initial-branch=main', remote);
  git(dir, 'clone', '--quiet', remote, clone);
  const files: Record<string, string> = {
    'README.md': '# platform\n',
    'policies/shop/allow-monitoring.yaml': HANDWRITTEN,
    'policies/shop/db.networkpolicy.yaml': OPTED_OUT,
    'policies/notes.txt': 'not a policy\n',
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(clone, path)), { recursive: true });
    writeFileSync(join(clone, path), text);
  }
  git(clone, 'checkout', '--quiet', '-b', 'main');
  git(clone, 'add', '.');
  git(clone, 'commit', '--quiet', '-m', 'initial policies');
  git(clone, 'push', '--quiet', 'origin', 'main');
  const dbPath = join(dir, 'flowwright.db');
  addTraffic(dbPath, 1);
  return { dir, remote, clone, dbPath };
}

/** The GitHub stand-in serving `w`'s remote, closed when the test ends. */
async function fakeGitHub(
  t: { after(fn: () => void): void },
  w: World,
  extra: Omit<Parameters<typeof startFakeGitHub>[0], 'bareRemote'> = {},
) {
  const gh = await startFakeGitHub({ bareRemote: w.remote, ...extra });
  t.after(() => gh.close());
  return gh;
}

/** Round 1: web -> api -> db. Round 2 adds more flows and api -> payments/gateway. */
function addTraffic(dbPath: string, round: 1 | 2): void {
  const store = openStore(dbPath);
  try {
    const h = T0 / HOUR + (round - 1) * 24;
    const seen = h * HOUR;
    const peers = [web, api, db, ...(round === 2 ? [payments] : [])].map((p) => sighting(p, seen, seen + HOUR));
    const pods = [
      pod('web-7d9f-abcde', web, seen, { labels: { app: 'web', 'pod-template-hash': '7d9f' } }),
      pod('api-5c6b-fghij', api, seen, { labels: { app: 'api', 'pod-template-hash': '5c6b' } }),
      pod('db-0', db, seen, { labels: { app: 'db' } }),
      ...(round === 2
        ? [pod('gateway-1-x', payments, seen, { namespace: 'payments', labels: { app: 'gateway' } })]
        : []),
    ];
    const webApi = edge(web, api, 8080, [{ hour: h, flows: 40 }]);
    webApi.http = [
      { method: 'GET', path: '/api/orders', status: 200, count: 30, firstSeen: seen, lastSeen: seen + 60_000 },
      { method: 'POST', path: '/api/orders', status: 201, count: 10, firstSeen: seen, lastSeen: seen + 60_000 },
    ];
    const edges = [webApi, edge(api, db, 5432, [{ hour: h, flows: 25 }])];
    if (round === 2) edges.push(edge(api, payments, 443, [{ hour: h, flows: 7 }]));
    store.applyDelta(delta({ peers, pods, edges }));
  } finally {
    store.close();
  }
}

function propose(w: World) {
  const graph = loadProposalGraph({ db: w.dbPath, since: '', until: '' });
  return { graph, proposal: proposePolicies(graph, {}) };
}

function options(w: World, gh: { url: string; token: string }, extra: Partial<PrOptions> = {}): PrOptions {
  return {
    repoDir: w.clone,
    policiesDir: 'policies',
    base: 'main',
    mode: 'additive',
    remote: 'origin',
    labels: ['flowwright', 'network-policy'],
    author: { name: 'flowwright', email: 'flowwright@users.noreply.github.com' },
    dryRun: false,
    github: { token: gh.token, apiUrl: gh.url, repository: 'acme/platform', retries: 2, retryDelayMs: 5 },
    reproduce: ['flowwright pr --repo . --policies-dir policies --dry-run'],
    ...extra,
  };
}

function remoteBranchSha(w: World): string | undefined {
  const out = git(w.remote, 'for-each-ref', '--format=%(objectname)', `refs/heads/${BRANCH}`);
  return out || undefined;
}

function filesOnBranch(w: World): string[] {
  return git(w.remote, 'ls-tree', '-r', '--name-only', BRANCH).split('\n').sort();
}

function show(w: World, ref: string, path: string): string {
  return execFileSync('git', ['show', `${ref}:${path}`], { cwd: w.remote, encoding: 'utf8' });
}

/** The clone's checkout is never touched: same HEAD, clean status. */
function assertCheckoutUntouched(w: World): void {
  assert.equal(git(w.clone, 'symbolic-ref', 'HEAD'), 'refs/heads/main');
  assert.equal(git(w.clone, 'status', '--porcelain'), '');
}

test('first run opens one pull request with the proposal files; unmanaged and opted-out files stay byte for byte', async (t) => {
  const w = setup(t);
  const gh = await fakeGitHub(t, w);
  const { graph, proposal } = propose(w);
  const out = await runPrBot(graph, proposal, options(w, gh));

  assert.equal(out.action, 'created');
  assert.equal(gh.pulls.length, 1);
  const pr = gh.pulls[0];
  assert.equal(pr.head, BRANCH);
  assert.equal(pr.base, 'main');
  assert.deepEqual(pr.labels, ['flowwright', 'network-policy']);
  assert.equal(pr.headSha, remoteBranchSha(w));
  assert.deepEqual(
    gh.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
    [
      'GET /repos/acme/platform/pulls 200',
      'POST /repos/acme/platform/pulls 201',
      'POST /repos/acme/platform/issues/1/labels 200',
    ],
  );

  // Files: web and api get policies in flowwright's layout, db is opted out, the default deny is new.
  assert.deepEqual(filesOnBranch(w), [
    'README.md',
    'policies/notes.txt',
    'policies/shop/allow-monitoring.yaml',
    'policies/shop/api.networkpolicy.yaml',
    'policies/shop/db.networkpolicy.yaml',
    'policies/shop/default-deny.networkpolicy.yaml',
    'policies/shop/web.networkpolicy.yaml',
  ]);
  assert.equal(show(w, BRANCH, 'policies/shop/allow-monitoring.yaml'), HANDWRITTEN);
  assert.equal(show(w, BRANCH, 'policies/shop/db.networkpolicy.yaml'), OPTED_OUT);
  assert.equal(show(w, BRANCH, 'policies/notes.txt'), 'not a policy\n');
  const webPolicy = show(w, BRANCH, 'policies/shop/web.networkpolicy.yaml');
  assert.match(webPolicy, /name: flowwright-web/);
  assert.match(webPolicy, /port: 8080/);
  assert.match(webPolicy, /40 flows/);

  // The commit: on top of main, with the bot's identity and a message naming the files and the hash.
  const parent = git(w.remote, 'rev-parse', `${BRANCH}^`);
  assert.equal(parent, git(w.remote, 'rev-parse', 'main'));
  assert.equal(
    git(w.remote, 'log', '-1', '--format=%an <%ae>|%cn', BRANCH),
    'flowwright <flowwright@users.noreply.github.com>|flowwright',
  );
  const message = git(w.remote, 'log', '-1', '--format=%B', BRANCH);
  assert.match(message, /^flowwright: additive policy update \(3 files\)/);
  assert.match(message, /added {2}policies\/shop\/web\.networkpolicy\.yaml/);
  assert.match(message, new RegExp(`Proposal-Hash: ${out.plan.hash}`));

  // The description.
  assert.equal(hashInBody(pr.body), out.plan.hash);
  assert.match(pr.title, /^flowwright: additive policy update, 3 files in shop$/);
  assert.match(pr.body, /\| Newly allowed \| \d+ \| \d+ \|/);
  assert.match(pr.body, /\| Newly denied \| \d+ \| 0 \|/, 'nothing observed is denied');
  assert.match(pr.body, /### Risk flags/);
  assert.match(pr.body, /### Verify\n\n✅ .*100% allowed/);
  assert.match(pr.body, /#### shop\/web/);
  assert.match(pr.body, /\| to \| shop\/api \| TCP\/8080 \| 40 \| 0 \| 2026-01-01T00:00:00Z \|/);
  assert.match(pr.body, /GET \/api\/orders → 200 ×30/);
  assert.match(
    pr.body,
    /NetworkPolicy shop\/flowwright-db in `policies\/shop\/db\.networkpolicy\.yaml`: marked flowwright\.io\/managed: "false"/,
  );
  assert.match(pr.body, /### Reproduce locally\n\n```sh\nflowwright pr/);

  // The user's checkout is as it was; the local branch points at the pushed commit.
  assertCheckoutUntouched(w);
  assert.equal(git(w.clone, 'rev-parse', BRANCH), remoteBranchSha(w));
});

test('a rerun with more traffic updates the same pull request; a rerun with no change does nothing', async (t) => {
  const w = setup(t);
  const gh = await fakeGitHub(t, w);
  let { graph, proposal } = propose(w);
  const first = await runPrBot(graph, proposal, options(w, gh));
  assert.equal(first.action, 'created');
  const firstSha = remoteBranchSha(w);

  addTraffic(w.dbPath, 2);
  ({ graph, proposal } = propose(w));
  gh.requests.length = 0;
  const second = await runPrBot(graph, proposal, options(w, gh));
  assert.equal(second.action, 'updated');
  assert.equal(gh.pulls.length, 1, 'no second pull request');
  const pr = gh.pulls[0];
  assert.notEqual(remoteBranchSha(w), firstSha);
  assert.equal(pr.headSha, remoteBranchSha(w));
  assert.notEqual(second.plan.hash, first.plan.hash);
  assert.equal(hashInBody(pr.body), second.plan.hash);
  assert.match(pr.title, /in payments, shop$/);
  assert.deepEqual(
    gh.requests.map((r) => `${r.method} ${r.path}`),
    [
      'GET /repos/acme/platform/pulls',
      'PATCH /repos/acme/platform/pulls/1',
      'POST /repos/acme/platform/issues/1/labels',
    ],
  );
  // The branch is rebuilt on main (one commit), with the new connection in api's egress.
  assert.equal(git(w.remote, 'rev-parse', `${BRANCH}^`), git(w.remote, 'rev-parse', 'main'));
  const apiPolicy = show(w, BRANCH, 'policies/shop/api.networkpolicy.yaml');
  assert.match(apiPolicy, /kubernetes\.io\/metadata\.name: payments/);
  assert.match(apiPolicy, /port: 443/);
  assert.match(pr.body, /Cross-namespace access added/);

  // Same evidence again: nothing pushed, nothing sent but the read.
  const sha = remoteBranchSha(w);
  gh.requests.length = 0;
  const third = await runPrBot(graph, proposal, options(w, gh));
  assert.equal(third.action, 'nothing');
  assert.match((third as { reason: string }).reason, /#1 is already up to date/);
  assert.equal(remoteBranchSha(w), sha);
  assert.deepEqual(gh.writes(), []);
  assertCheckoutUntouched(w);
});

test('a proposal closed without merging is not reopened until it changes', async (t) => {
  const w = setup(t);
  const gh = await fakeGitHub(t, w);
  let { graph, proposal } = propose(w);
  await runPrBot(graph, proposal, options(w, gh));
  gh.pulls[0].state = 'closed';

  gh.requests.length = 0;
  const again = await runPrBot(graph, proposal, options(w, gh));
  assert.equal(again.action, 'nothing');
  assert.match((again as { reason: string }).reason, /#1 .* closed without merging/);
  assert.deepEqual(gh.writes(), []);
  assert.equal(gh.pulls.length, 1);

  addTraffic(w.dbPath, 2);
  ({ graph, proposal } = propose(w));
  const changed = await runPrBot(graph, proposal, options(w, gh));
  assert.equal(changed.action, 'created');
  assert.equal(gh.pulls.length, 2);
  assert.equal(gh.pulls[1].state, 'open');
  assert.equal(gh.pulls[0].state, 'closed');
});

test('GitHub Enterprise: --api-url with a path prefix is used for every call', async (t) => {
  const w = setup(t);
  const gh = await fakeGitHub(t, w, { pathPrefix: '/api/v3' });
  const { graph, proposal } = propose(w);
  const out = await runPrBot(graph, proposal, options(w, { url: `${gh.url}/api/v3/`, token: gh.token }));
  assert.equal(out.action, 'created');
  assert.equal(gh.pulls.length, 1);
  assert.deepEqual(
    gh.requests.map((r) => r.status),
    [200, 201, 200],
  );
});

test('401: a clear message naming the token, and nothing pushed', async (t) => {
  const w = setup(t);
  const gh = await fakeGitHub(t, w);
  const { graph, proposal } = propose(w);
  await assert.rejects(runPrBot(graph, proposal, options(w, { url: gh.url, token: 'wrong' })), (err: unknown) => {
    assert.ok(err instanceof FlowwrightError);
    assert.equal(err.code, 'usage');
    assert.match(
      err.message,
      /GitHub rejected the token while listing pull requests \(401 Bad credentials\): check GITHUB_TOKEN/,
    );
    return true;
  });
  assert.equal(remoteBranchSha(w), undefined);
  assert.equal(gh.pulls.length, 0);
  assertCheckoutUntouched(w);
});

test("422 on create: GitHub's reasons in the message, the pushed branch removed again", async (t) => {
  const w = setup(t);
  const gh = await fakeGitHub(t, w);
  gh.fail({
    method: 'POST',
    path: /\/pulls$/,
    status: 422,
    message: 'Validation Failed',
    errors: [
      { resource: 'PullRequest', code: 'custom', message: 'No commits between main and flowwright/policies-main' },
    ],
  });
  const { graph, proposal } = propose(w);
  await assert.rejects(runPrBot(graph, proposal, options(w, gh)), (err: unknown) => {
    assert.ok(err instanceof FlowwrightError);
    assert.equal(err.code, 'input');
    assert.match(
      err.message,
      /GitHub refused creating the pull request in acme\/platform \(422 Validation Failed: No commits between main and flowwright\/policies-main\); undone: branch flowwright\/policies-main deleted$/,
    );
    return true;
  });
  assert.equal(remoteBranchSha(w), undefined, 'branch deleted again');
  assert.equal(gh.pulls.length, 0);
  assert.equal(git(w.clone, 'branch', '--list', BRANCH), '', 'no local branch either');
  assertCheckoutUntouched(w);
});

test('5xx is retried with backoff; when it persists, the branch and the pull request are undone', async (t) => {
  const w = setup(t);
  const gh = await fakeGitHub(t, w);
  const { graph, proposal } = propose(w);

  // Two 502s on the first read, then success.
  gh.fail({ method: 'GET', path: /\/pulls$/, status: 502, times: 2, message: 'Bad Gateway' });
  const retries: string[] = [];
  const ok = await runPrBot(graph, proposal, options(w, gh, { log: (m) => retries.push(m) }));
  assert.equal(ok.action, 'created');
  assert.deepEqual(
    retries.filter((m) => m.startsWith('GitHub')),
    [
      'GitHub answered 502 while listing pull requests; retrying in 5 ms (1/2)',
      'GitHub answered 502 while listing pull requests; retrying in 10 ms (2/2)',
    ],
  );
  assert.equal(gh.pulls.length, 1);

  // New evidence, but labelling keeps failing: the update of #1 and the push are both undone.
  const before = { sha: remoteBranchSha(w), body: gh.pulls[0].body, title: gh.pulls[0].title };
  addTraffic(w.dbPath, 2);
  const next = propose(w);
  gh.fail({ method: 'POST', path: /\/labels$/, status: 503, times: 3, message: 'Service Unavailable' });
  await assert.rejects(runPrBot(next.graph, next.proposal, options(w, gh)), (err: unknown) => {
    assert.ok(err instanceof FlowwrightError);
    assert.equal(err.code, 'unreachable');
    assert.match(
      err.message,
      /failed while labelling pull request #1: 503 Service Unavailable \(after 3 attempts\); undone: title and description of #1 put back, branch flowwright\/policies-main put back to [0-9a-f]{12}$/,
    );
    return true;
  });
  assert.equal(remoteBranchSha(w), before.sha);
  assert.equal(gh.pulls.length, 1);
  assert.equal(gh.pulls[0].body, before.body);
  assert.equal(gh.pulls[0].title, before.title);
  assert.equal(gh.pulls[0].state, 'open');
});

test('a pull request opened by a failing run is closed without its hash, so the next run proposes again', async (t) => {
  const w = setup(t);
  const gh = await fakeGitHub(t, w);
  const { graph, proposal } = propose(w);
  gh.fail({ method: 'POST', path: /\/labels$/, status: 422, message: 'Validation Failed' });
  await assert.rejects(runPrBot(graph, proposal, options(w, gh)), (err: unknown) => {
    assert.ok(err instanceof FlowwrightError);
    assert.match(
      err.message,
      /labelling pull request #1 .*; undone: pull request #1 closed, branch flowwright\/policies-main deleted$/,
    );
    return true;
  });
  assert.equal(gh.pulls[0].state, 'closed');
  assert.equal(hashInBody(gh.pulls[0].body), undefined);
  assert.match(gh.pulls[0].body, /^Closed by flowwright/);
  assert.equal(remoteBranchSha(w), undefined);

  const again = await runPrBot(graph, proposal, options(w, gh));
  assert.equal(again.action, 'created');
  assert.equal(gh.pulls.length, 2);
  assert.equal(gh.pulls[1].state, 'open');
});

test('a create whose answer is lost is not repeated: the retry finds the pull request', async (t) => {
  const w = setup(t);
  const gh = await fakeGitHub(t, w);
  const { graph, proposal } = propose(w);
  // The stand-in opens the pull request but answers 502: the retry must find it, not open another.
  gh.fail({ method: 'POST', path: /\/pulls$/, status: 502, afterApplying: true });
  const out = await runPrBot(graph, proposal, options(w, gh));
  assert.equal(out.action, 'created');
  assert.equal(gh.pulls.length, 1);
  assert.equal((out as { pull: { number: number } }).pull.number, 1);
  assert.deepEqual(
    gh.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
    [
      'GET /repos/acme/platform/pulls 200',
      'POST /repos/acme/platform/pulls 502',
      'GET /repos/acme/platform/pulls 200',
      'POST /repos/acme/platform/issues/1/labels 200',
    ],
  );
  assert.deepEqual(gh.pulls[0].labels, ['flowwright', 'network-policy']);
});

const ROOT = new URL('../..', import.meta.url).pathname;

/** The command line in a child process (asynchronously: the GitHub stand-in runs in this one). */
function cli(args: string[], env: Record<string, string | undefined>) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: childEnv,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('flowwright pr --dry-run prints the diff and description and touches neither git nor the network', async (t) => {
  const w = setup(t);
  const refsBefore = git(w.clone, 'for-each-ref');
  const r = await cli(['pr', '--repo', w.clone, '--policies-dir', 'policies', '--db', w.dbPath, '--dry-run'], {
    GITHUB_TOKEN: undefined,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^--- \/dev\/null\n\+\+\+ b\/policies\/shop\/api\.networkpolicy\.yaml/m);
  assert.match(r.stdout, /# branch: flowwright\/policies-main/);
  assert.match(r.stdout, /## flowwright policy proposal/);
  assert.match(r.stderr, /left alone: NetworkPolicy shop\/flowwright-db/);
  assert.match(r.stdout, /git checkout --detach FETCH_HEAD {3}# the proposed policies \(flowwright\/policies-main\)/);

  // An absolute --policies-dir inside the repository is the same directory.
  const abs = await cli(
    ['pr', '--repo', w.clone, '--policies-dir', join(w.clone, 'policies'), '--db', w.dbPath, '--dry-run'],
    {},
  );
  assert.equal(abs.code, 0, abs.stderr);
  assert.equal(abs.stdout, r.stdout);
  const outside = await cli(['pr', '--repo', w.clone, '--policies-dir', w.dir, '--db', w.dbPath, '--dry-run'], {});
  assert.equal(outside.code, 2);
  assert.match(outside.stderr, /--policies-dir .* is outside the repository/);
  assert.equal(git(w.clone, 'for-each-ref'), refsBefore);
  assert.equal(remoteBranchSha(w), undefined);
  assertCheckoutUntouched(w);
});

test('flowwright pr stops with exit 3 naming a policy file it cannot read, instead of proposing around it', async (t) => {
  const w = setup(t);
  writeFileSync(join(w.clone, 'policies/shop/broken.yaml'), 'kind: NetworkPolicy\nmetadata:\n  name: a\n  name: b\n');
  git(w.clone, 'add', '.');
  git(w.clone, 'commit', '--quiet', '-m', 'a broken policy');
  git(w.clone, 'push', '--quiet', 'origin', 'main');
  const r = await cli(['pr', '--repo', w.clone, '--policies-dir', 'policies', '--db', w.dbPath, '--dry-run'], {});
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /^flowwright: policies\/shop\/broken\.yaml.*unique/m);
  assert.equal(r.stdout, '');
});

test('flowwright pr exits 6 when the repository already has the proposal', async (t) => {
  const w = setup(t);
  const gh = await fakeGitHub(t, w);
  const args = [
    'pr',
    '--repo',
    w.clone,
    '--policies-dir',
    'policies',
    '--db',
    w.dbPath,
    '--api-url',
    gh.url,
    '--github-repo',
    'acme/platform',
  ];
  const first = await cli(args, { GITHUB_TOKEN: gh.token });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, 'https://github.test/acme/platform/pull/1\n');

  // Merge the proposal into main, as a reviewer would.
  git(w.remote, 'update-ref', 'refs/heads/main', BRANCH);
  gh.pulls[0].state = 'closed';
  gh.pulls[0].merged = true;
  gh.requests.length = 0;
  const again = await cli(args, { GITHUB_TOKEN: gh.token });
  assert.equal(again.code, 6);
  assert.match(again.stderr, /nothing to propose: the policies in policies on main already match the proposal/);
  assert.deepEqual(gh.requests, [], 'nothing to propose: GitHub is not even asked');

  const noToken = await cli(args, { GITHUB_TOKEN: undefined });
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /GITHUB_TOKEN is not set/);
});

test('tighten removes a managed rule no traffic used; additive keeps it (dry runs, nothing written)', async (t) => {
  const w = setup(t);
  // A managed policy for web with a rule for a client that never showed up.
  const stale = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: flowwright-web
  namespace: shop
  labels:
    app.kubernetes.io/managed-by: flowwright
  annotations:
    flowwright.io/workload: shop/Deployment/web
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app: legacy
      ports:
        - port: 9000
  egress: []
`;
  writeFileSync(join(w.clone, 'policies/shop/web.networkpolicy.yaml'), stale);
  git(w.clone, 'add', '.');
  git(w.clone, 'commit', '--quiet', '-m', 'web policy');
  git(w.clone, 'push', '--quiet', 'origin', 'main');
  const refs = git(w.clone, 'for-each-ref');
  const { graph, proposal } = propose(w);
  const dry = { dryRun: true, github: undefined };

  const additive = await runPrBot(graph, proposal, options(w, { url: '', token: '' }, { ...dry, mode: 'additive' }));
  assert.equal(additive.action, 'dry-run');
  const webAdd = additive.plan.changes.find((c) => c.path === 'policies/shop/web.networkpolicy.yaml');
  assert.equal(webAdd?.status, 'modified');
  assert.match(webAdd.after!, /app: legacy/);
  assert.match(webAdd.after!, /app: api\n(?:.*\n)*?\s+port: 8080/);

  const tighten = await runPrBot(graph, proposal, options(w, { url: '', token: '' }, { ...dry, mode: 'tighten' }));
  assert.equal(tighten.action, 'dry-run');
  const webTight = tighten.plan.changes.find((c) => c.path === 'policies/shop/web.networkpolicy.yaml');
  assert.doesNotMatch(webTight!.after!, /legacy/);
  assert.match(webTight!.after!, /port: 8080/);
  if (tighten.action !== 'dry-run') return;
  assert.match(tighten.description.body, /Unused existing rules \(no observed traffic\) \| [1-9]/);
  assert.match(tighten.description.body, /\| removed \|/);
  // The hand-written rule is unused too, but not flowwright's to remove.
  assert.match(tighten.description.body, /shop\/allow-monitoring[^\n]*\| kept \|/);
  assert.equal(show(w, 'main', 'policies/shop/allow-monitoring.yaml'), HANDWRITTEN);
  assert.equal(git(w.clone, 'for-each-ref'), refs);
  assert.equal(remoteBranchSha(w), undefined);
});
