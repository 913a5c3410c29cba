// The pull request description: risk flags for what a change adds, evidence tables, and the size limit.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Edge, FlowwrightError, type Graph, type PeerNode } from '../../src/model/index.js';
import { describeProposal, GITHUB_BODY_LIMIT, hashInBody } from '../../src/prbot/describe.js';
import { openGit } from '../../src/prbot/git.js';
import { createGitHub, githubError, parseRepoSlug } from '../../src/prbot/github.js';
import type { Plan, PlannedChange } from '../../src/prbot/plan.js';
import { startFakeGitHub } from './github-server.js';

const T = Date.parse('2026-11-01T10:00:00Z');

function workload(ns: string, name: string): PeerNode {
  return {
    key: `${ns}/Deployment/${name}`,
    peer: { type: 'workload', namespace: ns, kind: 'Deployment', name },
    names: [],
    ips: [],
    serviceAccounts: [],
    firstSeen: T,
    lastSeen: T,
  };
}

function edge(src: string, dst: string, port: number, flows: number, http: Edge['http'] = []): Edge {
  return {
    src,
    dst,
    protocol: 'TCP',
    port,
    flows,
    verdicts: { forwarded: flows },
    firstSeen: T,
    lastSeen: T + 3_600_000,
    http,
    dnsNames: [],
    kafkaTopics: [],
    dropReasons: [],
    policies: [],
    services: [],
  };
}

function change(ingress: unknown[], egress: unknown[], before: unknown[] = []): PlannedChange {
  const doc = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'flowwright-web', namespace: 'shop' },
    spec: { podSelector: { matchLabels: { app: 'web' } }, ingress, egress },
  };
  const old = { ...doc, spec: { ...doc.spec, ingress: before, egress: [] } };
  return {
    path: 'policies/shop/web.networkpolicy.yaml',
    status: before.length > 0 ? 'modified' : 'added',
    after: 'x',
    file: {
      path: 'shop/web.networkpolicy.yaml',
      kind: 'NetworkPolicy',
      namespace: 'shop',
      workload: 'shop/Deployment/web',
      documents: [doc],
    },
    beforeObjects: before.length > 0 ? [old] : [],
  };
}

const web = workload('shop', 'web');
const api = workload('shop', 'api');

function graph(edges: Edge[]): Graph {
  return { peers: new Map([web, api].map((n) => [n.key, n])), pods: [], edges, window: {} };
}

function plan(changes: PlannedChange[]): Plan {
  return { changes, skipped: [], unchanged: 0, hash: 'a'.repeat(64) };
}

const base = {
  mode: 'additive',
  base: 'main',
  reproduce: ['flowwright pr --dry-run'],
  observedButDenied: [],
  review: {},
};

describe('describeProposal', () => {
  it('flags internet ingress, wide blocks and cross-namespace peers the change adds, not the ones it keeps', () => {
    const ip = (cidr: string) => ({ ipBlock: { cidr } });
    const kept = { from: [ip('198.51.100.0/24')], ports: [{ protocol: 'TCP', port: 443 }] };
    const c = change(
      [
        kept,
        { from: [ip('203.0.113.7/32')], ports: [{ protocol: 'TCP', port: 443 }] },
        { from: [ip('10.0.0.0/8')], ports: [{ protocol: 'TCP', port: 80 }] },
      ],
      [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'payments' } },
              podSelector: { matchLabels: { app: 'gateway' } },
            },
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } },
          ],
          ports: [{ protocol: 'TCP', port: 8443 }],
        },
        {
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
      [kept],
    );
    const d = describeProposal({ ...base, graph: graph([]), plan: plan([c]) });
    const risk = d.body.slice(d.body.indexOf('### Risk flags'), d.body.indexOf('### Verify'));
    assert.match(
      risk,
      /Traffic from the internet allowed\*\* \(1\):\n {2}- `shop\/flowwright-web` ingress TCP\/443 from `203\.0\.113\.7\/32`/,
    );
    assert.doesNotMatch(risk, /198\.51\.100/, 'a kept rule is not flagged again');
    assert.doesNotMatch(risk, /internet[^\n]*10\.0\.0\.0/);
    assert.match(
      risk,
      /Wide CIDRs[^\n]*\(1\):\n {2}- `shop\/flowwright-web` ingress TCP\/80 from `10\.0\.0\.0\/8` \(\/8\)/,
    );
    assert.doesNotMatch(risk, /kube-system/, 'name resolution is not flagged');
    assert.match(
      risk,
      /Cross-namespace access added \(DNS on port 53 not listed\)\*\* \(1\):\n {2}- [^\n]*to namespaces kubernetes\.io\/metadata\.name=payments pods app=gateway/,
    );
  });

  it('says "None" when nothing risky is added, and lists the evidence with sample requests', () => {
    const c = change([{ from: [{ podSelector: { matchLabels: { app: 'api' } } }] }], []);
    const http = [
      { method: 'GET', path: '/a', count: 5, statuses: [200], firstSeen: T, lastSeen: T },
      { method: 'GET', path: '/b', count: 9, statuses: [200, 404], firstSeen: T, lastSeen: T },
    ];
    const d = describeProposal({ ...base, graph: graph([edge(api.key, web.key, 8080, 1234, http)]), plan: plan([c]) });
    assert.match(d.body, /### Risk flags\n\nNone:/);
    assert.match(
      d.body,
      /\| from \| shop\/api \| TCP\/8080 \| 1,234 \| 0 \| 2026-11-01T10:00:00Z \| 2026-11-01T11:00:00Z \| GET \/b → 200\/404 ×9; GET \/a → 200 ×5 \|/,
    );
    assert.equal(d.truncated, false);
    assert.equal(hashInBody(d.body), 'a'.repeat(64));
  });

  it('fits the limit: cut at a line, fences closed, the note last, the hash kept', () => {
    const edges = Array.from({ length: 25 }, (_, i) => edge(api.key, web.key, 1000 + i, i + 1));
    const c = change([], []);
    const long = { markdown: `\`\`\`diff\n${'+ line\n'.repeat(10_000)}\`\`\`` };
    const d = describeProposal({ ...base, review: long, graph: graph(edges), plan: plan([c]), limit: 4000 });
    assert.equal(d.truncated, true);
    assert.ok(d.body.length <= 4000, `${d.body.length}`);
    assert.match(d.body, /\*\*Description truncated\*\* to fit GitHub's limit of 65,536 characters/);
    assert.equal((d.body.match(/^```/gm) ?? []).length % 2, 0);
    assert.equal((d.body.match(/<details>/g) ?? []).length, (d.body.match(/<\/details>/g) ?? []).length);
    assert.equal(hashInBody(d.body), 'a'.repeat(64));
    const full = describeProposal({ ...base, review: long, graph: graph(edges), plan: plan([c]) });
    assert.equal(full.truncated, true);
    assert.ok(full.body.length <= GITHUB_BODY_LIMIT && full.body.length > GITHUB_BODY_LIMIT - 200);
  });
});

describe('GitHub helpers', () => {
  it('finds owner and name in GITHUB_REPOSITORY and remote URLs', () => {
    for (const text of [
      'acme/platform',
      'https://github.com/acme/platform.git',
      'https://x-access-token:abc@github.com/acme/platform',
      'git@github.com:acme/platform.git',
      'ssh://git@ghe.example.com:2222/acme/platform.git',
      'https://ghe.example.com/acme/platform/',
    ])
      assert.deepEqual(parseRepoSlug(text), { owner: 'acme', repo: 'platform' }, text);
    assert.equal(parseRepoSlug('/tmp/remote.git'), undefined);
    assert.equal(parseRepoSlug(''), undefined);
  });

  it('maps HTTP errors to exit codes with a line saying what to do', () => {
    const where = { apiUrl: 'https://api.github.com', owner: 'acme', repo: 'platform' };
    const err = (status: number, data: unknown) => ({ status, message: 'x', response: { data } });
    assert.equal(githubError(err(401, { message: 'Bad credentials' }), 'listing', where).exitCode, 2);
    assert.match(
      githubError(err(403, { message: 'Resource not accessible by integration' }), 'creating', where).message,
      /pull-requests: write/,
    );
    assert.match(
      githubError(err(404, { message: 'Not Found' }), 'listing', where).message,
      /no repository acme\/platform/,
    );
    const e422 = githubError(
      err(422, { message: 'Validation Failed', errors: [{ resource: 'Label', field: 'name', code: 'invalid' }] }),
      'labelling',
      where,
    );
    assert.equal(e422.exitCode, 3);
    assert.match(e422.message, /422 Validation Failed: Label name invalid/);
    assert.equal(githubError(err(503, {}), 'listing', where).exitCode, 4);
    const limited = githubError(
      err(403, { message: 'API rate limit exceeded for installation ID 1.' }),
      'listing',
      where,
    );
    assert.equal(limited.exitCode, 4);
    assert.match(limited.message, /rate limit .*run again later/);
    assert.equal(githubError(err(429, { message: 'Too Many Requests' }), 'listing', where).exitCode, 4);
  });

  it('never repeats a credential from a remote URL in a git error', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'flowwright-git-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync('git', ['init', '--quiet', dir]);
    const git = openGit(dir);
    assert.throws(
      () => git.run(['push', 'https://x-access-token:s3cr3t@127.0.0.1:9/acme/platform.git', 'HEAD:refs/heads/x']),
      (e: unknown) => {
        assert.ok(e instanceof FlowwrightError);
        assert.doesNotMatch(e.message, /s3cr3t/);
        return true;
      },
    );
    assert.throws(() => openGit(tmpdir()), /is not a git work tree/);
  });

  it('abandons a request that gets no answer, retries it, then exits 4', async (t) => {
    const gh = await startFakeGitHub({ bareRemote: tmpdir() });
    t.after(() => gh.close());
    gh.fail({ method: 'GET', path: /\/pulls$/, status: 0, times: 2 });
    const client = createGitHub({
      token: gh.token,
      apiUrl: gh.url,
      owner: gh.owner,
      repo: gh.repo,
      retries: 1,
      retryDelayMs: 1,
      timeoutMs: 200,
    });
    await assert.rejects(client.listPulls('x', 'main'), (e: unknown) => {
      assert.equal((e as { exitCode: number }).exitCode, 4);
      assert.match(
        (e as Error).message,
        /did not answer while listing pull requests: The operation was aborted due to timeout \(after 2 attempts\)/,
      );
      return true;
    });
    assert.equal(gh.requests.length, 2);
    // The third request is answered: the client works again.
    assert.deepEqual(await client.listPulls('x', 'main'), []);
  });

  it('gives up on an unreachable API with exit code 4 after the retries', async () => {
    const gh = createGitHub({
      token: 't',
      apiUrl: 'http://127.0.0.1:9',
      owner: 'a',
      repo: 'b',
      retries: 1,
      retryDelayMs: 1,
    });
    await assert.rejects(gh.listPulls('x', 'main'), (e: unknown) => {
      assert.equal((e as { exitCode: number }).exitCode, 4);
      assert.match(
        (e as Error).message,
        /GitHub API at http:\/\/127\.0\.0\.1:9 did not answer while listing pull requests: .*\(after 2 attempts\)/,
      );
      return true;
    });
  });
});
