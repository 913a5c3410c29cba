// Istio AuthorizationPolicy proposals, read back and judged by the AuthorizationPolicy evaluator, and
// checked against the NetworkPolicy proposal with the consistency check.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Graph } from '../../src/model/index.js';
import {
  compileAuthorizationPolicies,
  evaluateRequest,
  inventoryFromGraph,
  type LoadedPolicies,
  parsePolicyText,
} from '../../src/policy/index.js';
import { checkConsistency, renderConsistency } from '../../src/review/index.js';
import {
  type PoliciesOptions,
  type PoliciesProposal,
  proposePolicies,
  renderSummary,
} from '../../src/synthesize/index.js';
import { assertGolden, proposalText } from './golden.js';
import { l7Graph } from './l7graph.js';
import { podOf, readBack } from './readback.js';
import { KEYS } from './shop.js';

function load(p: PoliciesProposal): LoadedPolicies {
  const loaded = readBack(p.files);
  assert.deepEqual(loaded.issues, []);
  return loaded;
}

function judge(graph: Graph, opts: Partial<PoliciesOptions> = {}) {
  const p = proposePolicies(graph, { kinds: ['networkpolicy', 'authorizationpolicy'], ...opts });
  const loaded = load(p);
  const inv = inventoryFromGraph(graph);
  const compiled = compileAuthorizationPolicies(loaded.authorizationPolicies, { rootNamespace: 'istio-system' });
  const request = (src: string, dst: string, port: number, method?: string, path?: string) =>
    evaluateRequest(compiled, podOf(inv, dst), {
      conn: {
        src: { kind: 'pod', pod: podOf(inv, src) },
        dst: { kind: 'pod', pod: podOf(inv, dst) },
        protocol: 'TCP',
        port,
      },
      method,
      path,
      http: method !== undefined,
    });
  return { p, loaded, inv, request };
}

describe('AuthorizationPolicy proposals', () => {
  it('match the golden files (paths, methods, off; baselines opt-in)', () => {
    const variants: Array<[string, Partial<PoliciesOptions>]> = [
      ['authorizationpolicy', {}],
      ['authorizationpolicy-methods', { l7: 'methods', trustDomain: 'corp.example' }],
      ['authorizationpolicy-baseline', { l7: 'off', istioAllowNothing: true, istioStrictMtls: true }],
    ];
    for (const [name, opts] of variants) {
      const p = proposePolicies(l7Graph(), { kinds: ['authorizationpolicy'], ...opts });
      assertGolden(`${name}.yaml`, proposalText({ files: p.files, summary: p.summaries[0].summary }));
      assertGolden(`${name}.summary.txt`, renderSummary(p.summaries[0].summary));
    }
  });

  it('allows every observed request and denies unobserved methods and paths', () => {
    const graph = l7Graph();
    const { request } = judge(graph);
    const edge = graph.edges.find((e) => e.src === KEYS.frontend && e.dst === KEYS.orders && e.port === 8080)!;
    for (const h of edge.http) {
      const d = request(KEYS.frontend, KEYS.orders, 8080, h.method, h.path.split('?')[0]);
      assert.equal(d.verdict, 'allow', `${h.method} ${h.path}: ${d.reason}`);
    }
    // Another ID on a templated path is the same route.
    assert.equal(request(KEYS.frontend, KEYS.orders, 8080, 'GET', '/api/orders/99999').verdict, 'allow');
    // Unobserved: a method, a method on an observed path, a path, a deeper path, another caller, another port.
    assert.equal(request(KEYS.frontend, KEYS.orders, 8080, 'PUT', '/api/orders').verdict, 'deny');
    assert.equal(request(KEYS.frontend, KEYS.orders, 8080, 'DELETE', '/api/orders/1001').verdict, 'deny');
    assert.equal(request(KEYS.frontend, KEYS.orders, 8080, 'GET', '/admin').verdict, 'deny');
    assert.equal(request(KEYS.frontend, KEYS.orders, 8080, 'GET', '/api/orders/1/items').verdict, 'deny');
    assert.equal(request(KEYS.payments, KEYS.orders, 8080, 'GET', '/api/orders').verdict, 'deny');
    assert.equal(request(KEYS.frontend, KEYS.orders, 7777).verdict, 'deny');
    // Without HTTP detail on the edge the port is allowed as a whole (plain TCP works).
    assert.equal(request(KEYS.frontend, KEYS.orders, 9090).verdict, 'allow');
    assert.equal(request(KEYS.orders, KEYS.db, 5432).verdict, 'allow');
    assert.equal(request(KEYS.frontend, KEYS.db, 5432).verdict, 'deny', 'dropped edge stays denied');
  });

  it('with --l7=methods allows any path of an observed method, with --l7=off any request on the port', () => {
    const methods = judge(l7Graph(), { l7: 'methods' }).request;
    assert.equal(methods(KEYS.frontend, KEYS.orders, 8080, 'GET', '/admin').verdict, 'allow');
    assert.equal(methods(KEYS.frontend, KEYS.orders, 8080, 'PUT', '/api/orders').verdict, 'deny');
    const off = judge(l7Graph(), { l7: 'off' }).request;
    assert.equal(off(KEYS.frontend, KEYS.orders, 8080, 'PUT', '/admin').verdict, 'allow');
  });

  it('refuses options that would give wrong policy, naming the option', () => {
    const usage = (re: RegExp) => (err: Error & { code?: string }) => err.code === 'usage' && re.test(err.message);
    assert.throws(() => proposePolicies(l7Graph(), { trustDomain: 'Corp/Example' }), usage(/--trust-domain/));
    assert.throws(() => proposePolicies(l7Graph(), { l7: 'headers' as never }), usage(/--l7/));
    assert.throws(() => proposePolicies(l7Graph(), { pathThreshold: 0 }), usage(/--path-threshold/));
    assert.throws(() => proposePolicies(l7Graph(), { kinds: ['istio' as never] }), usage(/unknown kind 'istio'/));
  });

  it('names callers by SPIFFE principal in the configured trust domain', () => {
    const { loaded } = judge(l7Graph(), { trustDomain: 'corp.example' });
    const orders = loaded.authorizationPolicies.find((a) => a.name === 'flowwright-orders');
    assert.ok(orders);
    assert.deepEqual(orders.selector, { 'app.kubernetes.io/name': 'orders' });
    assert.deepEqual(orders.rules[0].from[0].principals, ['corp.example/ns/shop/sa/frontend']);
  });

  it('keeps to the port when the store did not itemize every request, and says so', () => {
    const graph = l7Graph();
    const edge = graph.edges.find((e) => e.src === KEYS.frontend && e.dst === KEYS.orders && e.port === 8080)!;
    edge.httpOverflow = 12;
    const { request, p } = judge(graph);
    assert.equal(request(KEYS.frontend, KEYS.orders, 8080, 'PUT', '/anything').verdict, 'allow');
    const ap = p.summaries.find((s) => s.kind === 'authorizationpolicy')!.summary;
    assert.ok(ap.unsupported.some((u) => u.port === 8080 && /12 not itemized/.test(u.why)));
  });

  it('falls back to the namespace for a caller without identity and flags it', () => {
    const graph = l7Graph();
    graph.peers.get(KEYS.frontend)!.serviceAccounts = [];
    const p = proposePolicies(graph, { kinds: ['authorizationpolicy'] });
    const summary = p.summaries[0].summary;
    assert.deepEqual(summary.namespaceFallbacks, [{ caller: KEYS.frontend, namespace: 'shop' }]);
    assert.match(renderSummary(summary), /shop\/Deployment\/frontend: any workload in namespace shop/);
    const loaded = load(p);
    const orders = loaded.authorizationPolicies.find((a) => a.name === 'flowwright-orders')!;
    assert.deepEqual(orders.rules[0].from[0].namespaces, ['shop']);
  });
});

describe('consistency of NetworkPolicy and AuthorizationPolicy sets', () => {
  it('finds the proposals consistent', () => {
    const variants: Array<Partial<PoliciesOptions>> = [
      { l7: 'paths' },
      { l7: 'off' },
      { allowDropped: true },
      { minFlows: 100 },
    ];
    for (const opts of variants) {
      const graph = l7Graph();
      const { loaded, inv } = judge(graph, opts);
      const report = checkConsistency(loaded.networkPolicies, loaded.authorizationPolicies, inv);
      assert.deepEqual(report.findings, [], renderConsistency(report));
      assert.ok(report.checked >= 40, `only ${report.checked} connections compared with ${JSON.stringify(opts)}`);
      assert.deepEqual(report.destinations, [KEYS.coredns, KEYS.payments, KEYS.frontend, KEYS.orders, KEYS.db]);
    }
  });

  it('catches a constructed inconsistent pair, with both sides', () => {
    const graph = l7Graph();
    const { loaded, inv } = judge(graph);
    // The AuthorizationPolicy team lets payments call the db; the NetworkPolicy team did not.
    const extra = parsePolicyText(
      [
        'apiVersion: security.istio.io/v1',
        'kind: AuthorizationPolicy',
        'metadata: {name: payments-to-db, namespace: shop}',
        'spec:',
        '  selector: {matchLabels: {app: db}}',
        '  rules:',
        '  - from: [{source: {principals: [cluster.local/ns/payments/sa/payments]}}]',
        '    to: [{operation: {ports: ["5432"], methods: [GET]}}]',
      ].join('\n'),
      'extra.yaml',
    );
    assert.deepEqual(extra.issues, []);
    // And the NetworkPolicy side lost every ingress rule of payments.
    const networkPolicies = loaded.networkPolicies.map((np) =>
      np.name === 'flowwright-payments' ? { ...np, ingress: [] } : np,
    );
    const report = checkConsistency(
      networkPolicies,
      [...loaded.authorizationPolicies, ...extra.authorizationPolicies],
      inv,
    );
    const found = report.findings.map(
      (f) =>
        `${f.source} -> ${f.destination} ${f.port} NP:${f.networkPolicy.allowed} AP:${f.authorizationPolicy.allowed}`,
    );
    assert.deepEqual(found, [
      `${KEYS.frontend} -> ${KEYS.payments} 8443 NP:false AP:true`,
      `${KEYS.orders} -> ${KEYS.payments} 8443 NP:false AP:true`,
      `${KEYS.payments} -> ${KEYS.db} 5432 NP:false AP:true`,
    ]);
    const f = report.findings[2];
    assert.match(f.authorizationPolicy.why, /shop\/payments-to-db/);
    assert.match(f.networkPolicy.why, /denied at/);
    assert.match(renderConsistency(report), /3 inconsistent/);
  });
});
