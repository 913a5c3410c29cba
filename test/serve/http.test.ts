// The HTTP surface on a real socket: the bearer token guards /api and /metrics (not the probes), the
// service is read-only, oversized requests are refused, errors are JSON, the page's files are served
// with a strict Content-Security-Policy, verify and diff read the configured policy directory, and
// the token never appears in the log.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assignSelectors } from '../../src/identity/index.js';
import { loadServeConfig } from '../../src/serve/index.js';
import { DEFAULT_PROPOSAL_OPTIONS, proposeNetworkPolicies, renderProposalFile } from '../../src/synthesize/index.js';
import { getJson, type ShopExport, sharedConfig, shopExport, startServing } from './helpers.js';
import { parsePrometheus } from './prometheus.js';

const TOKEN = 'test-token-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'flowwright-serve-http-'));
let serving: ReturnType<typeof startServing>;
let url: string;
let shop: ShopExport;
const auth = { Authorization: `Bearer ${TOKEN}` };

before(async () => {
  shop = await shopExport(dir, 2000, 5);
  // The existing policies are the proposal itself: verify finds only the ICMP it cannot allow.
  const graph = shop.graph;
  assignSelectors(graph);
  const policies = join(dir, 'policies');
  for (const f of proposeNetworkPolicies(graph, { ...DEFAULT_PROPOSAL_OPTIONS }).files) {
    mkdirSync(dirname(join(policies, f.path)), { recursive: true });
    writeFileSync(join(policies, f.path), renderProposalFile(f));
  }
  const config = loadServeConfig({
    text: `listen: 127.0.0.1:0\nauth: { tokenEnv: FW_TEST_TOKEN }\npolicies: { dir: ${policies} }\nlimits: { maxUrlBytes: 512 }`,
    file: 'test.yaml',
    env: { FW_TEST_TOKEN: TOKEN },
    shared: sharedConfig(shop.db, { flushEvery: 1000, kinds: 'networkpolicy,cilium' }),
  });
  serving = startServing(config);
  url = (await serving.listening()).url;
});

after(async () => {
  await serving.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw request, for methods, bodies and headers that fetch would not send as given. */
function raw(method: string, path: string, headers: Record<string, string | number> = {}, body?: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(`${url}${path}`, { method, headers }, (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('serve HTTP', () => {
  it('asks for the bearer token on /api and /metrics, not on the probes and the page', async () => {
    assert.equal((await getJson(`${url}/api/v1/workloads`)).status, 401);
    const wrong = await getJson(`${url}/api/v1/workloads`, { Authorization: 'Bearer wrong-token-0123456789abcdef' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await getJson(`${url}/metrics`)).status, 401);
    assert.equal((await getJson(`${url}/api/v1/workloads`, auth)).status, 200);
    assert.equal((await getJson(`${url}/healthz`)).status, 200);
    assert.equal((await getJson(`${url}/readyz`)).status, 200, 'ready: store open, no sources configured');
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    for (const file of ['app.js', 'graph.js', 'style.css']) assert.equal((await fetch(`${url}/${file}`)).status, 200);
  });

  it('is read-only and refuses oversized requests', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await raw(method, '/api/v1/graph', auth);
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
    const withBody = await raw('GET', '/api/v1/graph', { ...auth, 'Content-Length': 5 }, 'hello');
    assert.equal(withBody.status, 413);
    const longUrl = await raw('GET', `/api/v1/graph?namespace=${'x'.repeat(600)}`, auth);
    assert.equal(longUrl.status, 414);
    const bigHeader = await raw('GET', '/healthz', { 'X-Big': 'y'.repeat(20_000) });
    assert.equal(bigHeader.status, 431);
    const head = await raw('HEAD', '/api/v1/workloads', auth);
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('answers mistakes with JSON errors', async () => {
    const unknown = await getJson(`${url}/api/v1/nothing`, auth);
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /no such endpoint/);
    const badSince = await getJson(`${url}/api/v1/graph?since=yesterday`, auth);
    assert.equal(badSince.status, 400);
    assert.match(badSince.body.error, /^since: expected an RFC 3339 time/);
    assert.equal((await getJson(`${url}/api/v1/workloads/nope/Deployment/none`, auth)).status, 404);
    assert.equal((await getJson(`${url}/api/v1/proposals/firewall`, auth)).status, 404);
    assert.equal((await getJson(`${url}/api/v1/diff?mode=sideways`, auth)).status, 400);
  });

  it('filters the graph by namespace and time window', async () => {
    const all = (await getJson(`${url}/api/v1/graph`, auth)).body;
    const shopOnly = (await getJson(`${url}/api/v1/graph?namespace=shop`, auth)).body;
    assert.ok(shopOnly.edges.length > 0 && shopOnly.edges.length < all.edges.length);
    const inShop = (k: string) => all.peers.find((p: { key: string }) => p.key === k)?.namespace === 'shop';
    assert.ok(shopOnly.edges.every((e: { src: string; dst: string }) => inShop(e.src) || inShop(e.dst)));
    const future = (await getJson(`${url}/api/v1/graph?since=${new Date(Date.now() + 3_600_000).toISOString()}`, auth))
      .body;
    assert.equal(future.edges.length, 0);
    const lastDay = (await getJson(`${url}/api/v1/graph?since=24h`, auth)).body;
    assert.equal(lastDay.edges.length, all.edges.length);
  });

  it('offers every configured kind', async () => {
    assert.deepEqual((await getJson(`${url}/api/v1/proposals`, auth)).body, { kinds: ['networkpolicy', 'cilium'] });
    const cilium = (await getJson(`${url}/api/v1/proposals/cilium`, auth)).body;
    assert.equal(cilium.kind, 'cilium');
    assert.ok(cilium.files.length > 0);
    assert.ok(cilium.files.every((f: { kind: string }) => f.kind === 'CiliumNetworkPolicy'));
    assert.match(cilium.files[0].yaml, /^apiVersion: cilium\.io\/v2$/m);
    assert.equal((await getJson(`${url}/api/v1/proposals/calico`, auth)).status, 404, 'not configured');
  });

  it('serves one proposal file as a YAML download', async () => {
    const p = (await getJson(`${url}/api/v1/proposals/networkpolicy?namespace=shop`, auth)).body;
    assert.ok(p.files.length > 0 && p.files.every((f: { namespace: string }) => f.namespace === 'shop'));
    const file = p.files[0];
    const res = await fetch(`${url}/api/v1/proposals/networkpolicy/files/${file.path}`, { headers: auth });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="[A-Za-z0-9._-]+"$/);
    assert.equal(await res.text(), file.yaml);
  });

  it('verifies and diffs against the configured policy directory', async () => {
    const verify = await getJson(`${url}/api/v1/verify`, auth);
    assert.equal(verify.status, 200);
    // The proposal allows every TCP and UDP connection; the ICMP probe it cannot allow is broken.
    assert.equal(verify.body.totals.broken, 1);
    assert.match(verify.body.broken[0].summary, /^not expressible in NetworkPolicy/);
    // The documented schema of `verify --format json`: kind, version, RFC 3339 times.
    assert.equal(verify.body.kind, 'verify');
    assert.equal(verify.body.schemaVersion, 1);
    const diff = await getJson(`${url}/api/v1/diff?mode=additive`, auth);
    assert.equal(diff.status, 200);
    assert.equal(diff.body.kind, 'diff');
    assert.equal(typeof diff.body.summary.filesChanged, 'number');
    assert.ok(Array.isArray(diff.body.allowedByBothObserved));
    assert.equal(diff.body.newlyAllowed.length, 0);
    assert.equal(diff.body.newlyDenied.length, 0);
    assert.ok(
      diff.body.files.every((f: { path: string }) => !f.path.startsWith('/')),
      'paths relative to the directory',
    );
  });

  it('explains one connection through the proposal and the existing policies', async () => {
    const edge = shop.graph.edges.find((e) => e.protocol === 'TCP' && e.port > 0 && e.verdicts.forwarded)!;
    const q = new URLSearchParams({ src: edge.src, dst: edge.dst, protocol: edge.protocol, port: String(edge.port) });
    const r = await getJson(`${url}/api/v1/explain?${q}`, auth);
    assert.equal(r.status, 200);
    assert.equal(r.body.observed.flows, edge.flows);
    // The existing set is the proposal itself: both allow the observed connection, and say by which rule.
    assert.equal(r.body.proposed.allowed, true);
    assert.equal(r.body.existing.allowed, true);
    assert.match(r.body.proposed.summary, /allowed by .*spec\.(egress|ingress)\[\d+\]/);
    assert.match(r.body.existing.text, /^Connection: .*\nResult: ALLOWED/);
    // A port nobody uses there is denied by both.
    const other = new URLSearchParams({ src: edge.src, dst: edge.dst, protocol: 'TCP', port: '1' });
    const denied = (await getJson(`${url}/api/v1/explain?${other}`, auth)).body;
    assert.equal(denied.observed, null);
    assert.equal(denied.proposed.allowed, false);
    assert.equal(denied.existing.allowed, false);
    assert.equal((await getJson(`${url}/api/v1/explain?src=${edge.src}`, auth)).status, 400);
    const unknown = new URLSearchParams({ src: 'nope/Deployment/x', dst: edge.dst, protocol: 'TCP', port: '80' });
    assert.equal((await getJson(`${url}/api/v1/explain?${unknown}`, auth)).status, 404);
  });

  it('gives each proposal file its rules with their evidence', async () => {
    const p = (await getJson(`${url}/api/v1/proposals/networkpolicy?namespace=shop`, auth)).body;
    const withRules = p.files.find((f: { rules: unknown[] }) => f.rules.length > 1);
    assert.ok(withRules);
    for (const r of withRules.rules.filter((x: { path: string }) => x.path !== ''))
      assert.match(r.path, /^spec\.(ingress|egress)\[\d+\]/);
    const lines = withRules.rules.flatMap((r: { evidence: string[] }) => r.evidence);
    assert.ok(lines.some((l: string) => /: [\d,]+ flows, first \S+Z, last \S+Z/.test(l)));
    // The same lines are the YAML's comments.
    for (const l of lines) assert.ok(withRules.yaml.includes(`# ${l}`), l);
  });

  it('exposes valid Prometheus metrics and never logs the token', async () => {
    const res = await fetch(`${url}/metrics`, { headers: auth });
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const families = parsePrometheus(await res.text());
    for (const name of ['flowwright_edges', 'flowwright_flush_duration_seconds', 'flowwright_http_requests_total'])
      assert.ok(families.has(name), name);
    assert.ok(serving.logs.length > 0);
    assert.ok(serving.logs.every((l) => !l.includes(TOKEN) && !l.includes('wrong-token')));
  });
});
