// Methods and paths observed in traffic are data, never patterns: a `*` seen as a method or in a path never
// widens an AuthorizationPolicy or a CiliumNetworkPolicy, regex metacharacters are escaped for Cilium, and
// the only wildcards are the ones the path templating rules made, which the evidence names.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { Graph, HttpEvidence } from '../../src/model/index.js';
import { compileAuthorizationPolicies, evaluateRequest, inventoryFromGraph } from '../../src/policy/index.js';
import { type PolicyKind, proposePolicies, renderProposalFile } from '../../src/synthesize/index.js';
import { l7Graph } from './l7graph.js';
import { podOf, readBack } from './readback.js';
import { KEYS } from './shop.js';

// biome-ignore lint/suspicious/noExplicitAny: tests walk the generated documents by known paths
type Doc = Record<string, any>;

const T = Date.parse('2026-11-01T12:00:00Z');
const http = (method: string, path: string): HttpEvidence => ({
  method,
  path,
  count: 3,
  statuses: [200],
  firstSeen: T,
  lastSeen: T,
});

/**
 * The L7 shop with hostile requests beside the real ones on frontend -> orders, and only hostile ones
 * (a `*` method, a `/*` path) on frontend -> payments.
 */
function hostileGraph(): Graph {
  const graph = l7Graph();
  const edge = (src: string, dst: string, port: number) => {
    const e = graph.edges.find((x) => x.src === src && x.dst === dst && x.port === port);
    assert.ok(e);
    return e;
  };
  edge(KEYS.frontend, KEYS.orders, 8080).http.push(
    http('*', '/x'),
    http('GET', '/*'),
    http('GET', '/.*'),
    http('GET', '/api/{*}'),
    http('GET*', '/api/orders'),
    http('G.T', '/a+b$'),
  );
  edge(KEYS.frontend, KEYS.payments, 8443).http = [http('*', '/pay'), http('POST', '/*')];
  return graph;
}

function propose(kind: PolicyKind) {
  const p = proposePolicies(hostileGraph(), { kinds: [kind] });
  return { p, summary: p.summaries[0].summary };
}

describe('traffic values are data, never patterns', () => {
  it('AuthorizationPolicy: a method or path with "*", "{" or "}" from traffic gets no rule and widens none', () => {
    const graph = hostileGraph();
    const { p, summary } = propose('authorizationpolicy');
    const loaded = readBack(p.files);
    assert.deepEqual(loaded.issues, []);
    // No method or path the proposal writes is a pattern; the only template is one the rules made.
    const text = p.files.map((f) => renderProposalFile(f)).join('\n');
    const values = [...text.matchAll(/^\s+- (.+)$/gm)].map((m) => m[1]);
    assert.ok(!values.some((v) => v === '"*"' || v === "'*'" || /^\/.*\*$|^\*|^"\*|^'\*/.test(v)), values.join('\n'));
    const compiled = compileAuthorizationPolicies(loaded.authorizationPolicies, { rootNamespace: 'istio-system' });
    const inv = inventoryFromGraph(graph);
    const request = (dst: string, port: number, method: string, path: string) =>
      evaluateRequest(compiled, podOf(inv, dst), {
        conn: {
          src: { kind: 'pod', pod: podOf(inv, KEYS.frontend) },
          dst: { kind: 'pod', pod: podOf(inv, dst) },
          protocol: 'TCP',
          port,
        },
        method,
        path,
        http: true,
      }).verdict;
    assert.equal(request(KEYS.orders, 8080, 'DELETE', '/x'), 'deny');
    assert.equal(request(KEYS.orders, 8080, 'GET', '/anything'), 'deny');
    assert.equal(request(KEYS.orders, 8080, 'GET', '/api/zzz'), 'deny');
    assert.equal(request(KEYS.orders, 8080, 'GETX', '/api/orders'), 'deny');
    // The observed requests that are plain data are still allowed.
    assert.equal(request(KEYS.orders, 8080, 'GET', '/api/orders/1001'), 'allow');
    assert.equal(request(KEYS.orders, 8080, 'G.T', '/a+b$'), 'allow');
    // An edge whose every request was refused gets no rule at all (an empty operation would allow everything).
    assert.equal(request(KEYS.payments, 8443, 'POST', '/pay'), 'deny');
    assert.equal(request(KEYS.payments, 8443, 'GET', '/'), 'deny');
    const why = summary.unsupported.filter((u) => /read as patterns/.test(u.why));
    assert.deepEqual(why.map((u) => `${u.dst} ${u.port}`).sort(), [`${KEYS.payments} 8443`, `${KEYS.orders} 8080`]);
    assert.match(why.find((u) => u.dst === KEYS.orders)!.why, /^5 HTTP requests \(.*"\*" "\/x"/);
  });

  it('CiliumNetworkPolicy: methods and paths are escaped regular expressions, never wildcards', () => {
    const { p, summary } = propose('cilium');
    const docs = p.files.flatMap((f) =>
      parseAllDocuments(renderProposalFile(f), { version: '1.1' }).map((d) => d.toJS() as Doc),
    );
    const orders = docs.find((d) => d.metadata.name === 'flowwright-orders');
    assert.ok(orders);
    const rules: Array<{ method: string; path?: string }> = orders.spec.ingress.flatMap(
      (r: Doc) => r.toPorts?.flatMap((t: Doc) => t.rules?.http ?? []) ?? [],
    );
    // Cilium matches the whole method and path (RE2); a JS RegExp anchored at both ends reads them the same here.
    const allows = (method: string, path: string) =>
      rules.some(
        (r) => new RegExp(`^(?:${r.method})$`).test(method) && (!r.path || new RegExp(`^(?:${r.path})$`).test(path)),
      );
    assert.ok(allows('G.T', '/a+b$'));
    assert.ok(!allows('GET', '/a+b$'), 'G.T is the literal method, not a regex for GET');
    assert.ok(!allows('GXT', '/aab'));
    assert.ok(!allows('DELETE', '/x'));
    assert.ok(!allows('GET', '/anything'));
    assert.ok(allows('GET', '/api/orders/1001'));
    assert.ok(
      rules.every((r) => !/^\*|^\.\*|[^\\]\*/.test(r.method)),
      JSON.stringify(rules),
    );
    // frontend -> payments had only refused requests: payments has no ingress from frontend.
    const payments = docs.find((d) => d.metadata.name === 'flowwright-payments');
    assert.ok(payments);
    const fromFrontend = (payments.spec.ingress ?? []).filter((r: Doc) =>
      JSON.stringify(r.fromEndpoints ?? []).includes('frontend'),
    );
    assert.deepEqual(fromFrontend, []);
    assert.ok(summary.unsupported.some((u) => u.dst === KEYS.payments && /read as patterns/.test(u.why)));
  });

  it('the evidence says which observed paths a template stands for', () => {
    for (const kind of ['authorizationpolicy', 'cilium'] as const) {
      const { p } = propose(kind);
      const text = p.files.map((f) => renderProposalFile(f)).join('\n');
      assert.match(
        text,
        /# path \/api\/orders\/\{\*\} templated from 3 observed: "\/api\/orders\/1001", "\/api\/orders\/1002"/,
        kind,
      );
      // Paths that stay literal get no such line.
      assert.doesNotMatch(text, /# path \/api\/orders templated/, kind);
    }
  });
});
