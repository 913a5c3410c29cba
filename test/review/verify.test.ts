// Verification by replay: the foundation's own proposal must cover all generated traffic; a set with
// deliberate mistakes must show exactly the connections they break, each explained; the hand-written
// existing set of the shop shows its one gap and the dropped connection it would let through.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_SPAN_MS, DEFAULT_START, hubbleLines } from '../../samples/hubble.js';
import { shopScenario } from '../../samples/shop.js';
import type { Edge, Graph, HttpEvidence, PeerNode } from '../../src/model/index.js';
import { emptyLoaded, inventoryFromGraph, parsePolicyText } from '../../src/policy/index.js';
import { ICMP_DENIED, renderVerifyTable, verifyPolicies } from '../../src/review/index.js';
import {
  DEFAULT_PROPOSAL_OPTIONS,
  type Proposal,
  proposeNetworkPolicies,
  proposePolicies,
} from '../../src/synthesize/index.js';
import { conn, learn, loadProposal, shop } from './shop.js';

describe('verify: the proposal against the traffic it was learned from', () => {
  it('allows every TCP and UDP connection of the checked-in sample, and says the observed ICMP is denied', async () => {
    const s = await shop();
    const r = verifyPolicies(s.graph, s.inventory, s.proposed);
    assert.equal(r.totals.edges, 48);
    assert.equal(r.totals.observed, 46);
    assert.equal(r.totals.allowed, 45);
    // ICMP cannot be allowed by NetworkPolicy, and the proposal isolates both ends: on Cilium and Calico the
    // blackbox exporter's pings stop. That is breakage, not "nothing observed would break".
    assert.equal(r.totals.broken, 1);
    assert.deepEqual(r.broken.map(conn), ['ops/blackbox-exporter -> shop/frontend 8/ICMPv4']);
    assert.match(
      r.broken[0].summary,
      /^not expressible in NetworkPolicy, denied by the default deny on Cilium and Calico \(egress at ops\/blackbox-exporter-\S+: isolated by ops\/flowwright-blackbox-exporter/,
    );
    assert.match(
      r.broken[0].explanation,
      /ingress at shop\/frontend-\S+: isolated by shop\/flowwright-default-deny, shop\/flowwright-frontend/,
    );
    assert.equal(r.coverage, 97.8);
    // The scanner and the load generator's attempt on the database stay denied.
    assert.equal(r.totals.dropped, 2);
    assert.deepEqual(r.droppedNowAllowed, []);
    assert.deepEqual(r.skipped, []);
    assert.doesNotMatch(renderVerifyTable(r), /Nothing observed would break/);
    assert.match(
      renderVerifyTable(r),
      /not expressible in NetworkPolicy, denied by the default deny on Cilium and Calico/,
    );
  });

  it('counts an ICMP connection as allowed when neither end is isolated', () => {
    const g = smallGraph([edge(WEB, CART, 8, { protocol: 'ICMPv4' })]);
    const r = verifyPolicies(g, inventoryFromGraph(g), emptyLoaded());
    assert.equal(r.totals.observed, 1);
    assert.equal(r.totals.allowed, 1);
    assert.deepEqual(r.broken, []);
  });

  it('covers 100% of freshly generated traffic (another seed, with HTTP records)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'flowwright-verify-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'flows.jsonl');
    const lines = hubbleLines(shopScenario(), {
      flows: 8000,
      seed: 99,
      startMs: Date.parse(DEFAULT_START),
      spanMs: DEFAULT_SPAN_MS,
      l7: true,
    });
    writeFileSync(file, `${[...lines].join('\n')}\n`);
    const graph = await learn([file]);
    assert.ok(
      graph.edges.some((e) => e.http.length > 0),
      'the generated traffic has HTTP evidence',
    );
    const proposed = loadProposal(proposeNetworkPolicies(graph, DEFAULT_PROPOSAL_OPTIONS));
    const r = verifyPolicies(graph, inventoryFromGraph(graph), proposed);
    assert.ok(r.totals.observed > 30);
    // Only ICMP, which NetworkPolicy cannot allow, is broken.
    const notIcmp = r.broken.filter((b) => !b.protocol.startsWith('ICMP'));
    assert.equal(notIcmp.length, 0, notIcmp.map((b) => b.summary).join('\n'));
    for (const b of r.broken) assert.ok(b.summary.startsWith(ICMP_DENIED), b.summary);

    // With the proposal's AuthorizationPolicies too, every observed HTTP request is replayed at layer 7.
    const both = proposePolicies(graph, { kinds: ['networkpolicy', 'authorizationpolicy'] });
    const loaded = loadProposal({ files: both.files, summary: both.summaries[0].summary });
    assert.ok(loaded.authorizationPolicies.length > 0);
    const l7 = verifyPolicies(graph, inventoryFromGraph(graph), loaded);
    const l7NotIcmp = l7.broken.filter((b) => !b.protocol.startsWith('ICMP'));
    assert.equal(l7NotIcmp.length, 0, l7NotIcmp.map((b) => `${b.srcName} -> ${b.dstName} ${b.summary}`).join('\n'));
    assert.deepEqual(l7.undetermined, []);
    assert.ok(l7.totals.requests > 10, `${l7.totals.requests} HTTP requests replayed`);
  });
});

/** The proposal with two mistakes: cartservice admits 7071 instead of 7070, payments loses its egress to the provider. */
function wrongProposal(p: Proposal): Proposal {
  const files = structuredClone(p.files);
  const cart = files.find((f) => f.workload?.endsWith('shop/Deployment/cartservice'));
  const payment = files.find((f) => f.workload?.endsWith('shop/Deployment/paymentservice'));
  assert.ok(cart && payment);
  const cartSpec = cart.documents[0].spec as { ingress: Array<{ ports: Array<{ port: number }> }> };
  let changed = 0;
  for (const rule of cartSpec.ingress) {
    for (const port of rule.ports) {
      if (port.port === 7070) {
        port.port = 7071;
        changed++;
      }
    }
  }
  assert.equal(changed, 1);
  const paySpec = payment.documents[0].spec as { egress: Array<{ to?: Array<{ ipBlock?: { cidr: string } }> }> };
  const before = paySpec.egress.length;
  paySpec.egress = paySpec.egress.filter((r) => !r.to?.some((peer) => peer.ipBlock?.cidr === '203.0.113.10/32'));
  assert.equal(paySpec.egress.length, before - 1);
  payment.comments = []; // evidence comments point at rule positions that moved
  return { ...p, files };
}

describe('verify: a deliberately wrong policy set', () => {
  it('shows exactly the connections the mistakes break, each explained', async () => {
    const s = await shop();
    const wrong = loadProposal(wrongProposal(s.proposal));
    const r = verifyPolicies(s.graph, s.inventory, wrong);
    assert.deepEqual(r.broken.map(conn), [
      'ops/blackbox-exporter -> shop/frontend 8/ICMPv4',
      'shop/checkoutservice -> shop/cartservice 7070/TCP',
      'shop/frontend -> shop/cartservice 7070/TCP',
      'shop/paymentservice -> 203.0.113.10 (api.payments.example) 443/TCP',
    ]);
    assert.equal(r.totals.broken, 4);
    assert.equal(r.totals.allowed, 42);
    assert.equal(r.coverage, 91.3);
    // The kubelet's probes of cartservice come from its own node: still allowed.
    assert.ok(!r.broken.some((b) => b.srcName === 'host'));

    const [, checkout, frontend, payment] = r.broken;
    for (const b of [checkout, frontend]) {
      assert.equal(b.layer, 'L4');
      assert.match(
        b.summary,
        /^ingress at shop\/cartservice-.* denied: isolated by shop\/flowwright-cartservice, shop\/flowwright-default-deny, no rule matches$/,
      );
      assert.match(b.explanation, /Ingress to shop\/cartservice-\S+: DENIED/);
      assert.match(b.explanation, /ports: TCP\/7071; none matches TCP\/7070/);
      assert.match(b.explanation, /Egress from shop\/\S+: allowed/);
    }
    assert.match(payment.summary, /^egress at shop\/paymentservice-\S+ denied/);
    assert.match(payment.explanation, /Egress from shop\/paymentservice-\S+: DENIED/);
    assert.match(payment.explanation, /Isolated for egress by 2 policies; .* and none does\./);
    assert.doesNotMatch(payment.explanation, /MATCHES/);
    assert.equal(frontend.allowedFlows, 430);
  });
});

describe('verify: the hand-written existing set of the shop', () => {
  it('finds its gap (blackbox probes of the frontend) and the dropped connection it would allow', async () => {
    const s = await shop();
    const r = verifyPolicies(s.graph, s.inventory, s.existing);
    assert.deepEqual(r.broken.map(conn), [
      'ops/blackbox-exporter -> shop/frontend 8/ICMPv4',
      'ops/blackbox-exporter -> shop/frontend 8080/TCP',
    ]);
    assert.match(r.broken[0].summary, /^not expressible in NetworkPolicy/);
    assert.match(r.broken[1].explanation, /Policy shop\/legacy-debug .*\n.*spec\.ingress\[0\]: no match/);
    // data/orders-db is not isolated by the existing set: the load generator's dropped attempts would pass.
    assert.deepEqual(r.droppedNowAllowed.map(conn), ['shop/loadgenerator -> data/orders-db 5432/TCP']);
    assert.match(r.droppedNowAllowed[0].summary, /ingress at data\/orders-db-0 allowed \(not isolated\)/);
    assert.equal(r.droppedNowAllowed[0].droppedFlows, 14);
    assert.equal(r.coverage, 95.6);
  });
});

// --- hand-built graphs for pod variants and layer 7 ---

const T = Date.parse('2026-11-01T10:00:00Z');

function node(key: string, peer: PeerNode['peer'], serviceAccounts: string[] = []): PeerNode {
  return { key, peer, names: [], ips: [], serviceAccounts, firstSeen: T, lastSeen: T };
}

function edge(src: string, dst: string, port: number, extra: Partial<Edge> = {}): Edge {
  return {
    src,
    dst,
    protocol: 'TCP',
    port,
    flows: 10,
    verdicts: { forwarded: 10 },
    firstSeen: T,
    lastSeen: T + 1000,
    http: [],
    dnsNames: [],
    kafkaTopics: [],
    dropReasons: [],
    policies: [],
    services: [],
    ...extra,
  };
}

function http(method: string, path: string, count: number): HttpEvidence {
  return { method, path, count, statuses: [200], firstSeen: T, lastSeen: T };
}

const WEB = 'shop/Deployment/web';
const CART = 'shop/Deployment/cart';

function smallGraph(edges: Edge[]): Graph {
  return {
    peers: new Map([
      [WEB, node(WEB, { type: 'workload', namespace: 'shop', kind: 'Deployment', name: 'web' }, ['web'])],
      [CART, node(CART, { type: 'workload', namespace: 'shop', kind: 'Deployment', name: 'cart' }, ['cart'])],
    ]),
    pods: [
      // Two rollouts of web: only the new one carries the label the policy admits.
      {
        namespace: 'shop',
        name: 'web-a',
        workload: WEB,
        labels: { app: 'web', track: 'new' },
        serviceAccount: 'web',
        ips: ['10.0.0.1'],
        firstSeen: T,
        lastSeen: T,
      },
      {
        namespace: 'shop',
        name: 'web-b',
        workload: WEB,
        labels: { app: 'web' },
        serviceAccount: 'web',
        ips: ['10.0.0.2'],
        firstSeen: T,
        lastSeen: T,
      },
      {
        namespace: 'shop',
        name: 'cart-a',
        workload: CART,
        labels: { app: 'cart' },
        serviceAccount: 'cart',
        ips: ['10.0.0.3'],
        firstSeen: T,
        lastSeen: T,
      },
    ],
    edges,
    window: {},
  };
}

const NP = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: cart, namespace: shop}
spec:
  podSelector: {matchLabels: {app: cart}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: 7070}]
`;

describe('verify: pods of one workload and HTTP requests', () => {
  it('breaks a connection when one replica of the source is not admitted', () => {
    const policy = parsePolicyText(
      NP.replace('{matchLabels: {app: web}}', '{matchLabels: {app: web, track: new}}'),
      'cart.yaml',
    );
    const g = smallGraph([edge(WEB, CART, 7070)]);
    const r = verifyPolicies(g, inventoryFromGraph(g), policy);
    assert.deepEqual(r.broken.map(conn), ['shop/web -> shop/cart 7070/TCP']);
    assert.match(r.broken[0].explanation, /Connection: shop\/web-b -> shop\/cart-a TCP\/7070/);
    const ok = verifyPolicies(g, inventoryFromGraph(g), parsePolicyText(NP, 'cart.yaml'));
    assert.equal(ok.totals.broken, 0);
  });

  it('replays each observed HTTP request through the AuthorizationPolicies of the destination', () => {
    const authz = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: cart-api, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  rules:
    - from: [{source: {principals: [cluster.local/ns/shop/sa/web]}}]
      to: [{operation: {methods: [GET], paths: [/cart/*]}}]
    - to: [{operation: {methods: [PUT]}}]
      when: [{key: "request.headers[x-admin]", values: ["yes"]}]
`;
    const policies = parsePolicyText(`${NP}---\n${authz}`, 'policies.yaml');
    assert.deepEqual(policies.issues, []);
    const g = smallGraph([
      edge(WEB, CART, 7070, {
        http: [http('GET', '/cart/42', 30), http('POST', '/cart/items', 4), http('PUT', '/cart/42', 2)],
      }),
    ]);
    const r = verifyPolicies(g, inventoryFromGraph(g), policies);
    assert.deepEqual(
      r.broken.map((b) => `${b.layer} ${b.request?.method} ${b.request?.path} x${b.request?.count}`),
      ['L7 POST /cart/items x4'],
    );
    assert.match(r.broken[0].explanation, /Request: POST \/cart\/items/);
    assert.match(r.broken[0].explanation, /Result: DENIED/);
    // The PUT depends on a header flows do not carry: neither allowed nor denied, but said so.
    assert.deepEqual(
      r.undetermined.map((b) => `${b.request?.method} ${b.request?.path}`),
      ['PUT /cart/42'],
    );
    assert.equal(r.totals.broken, 1);
    assert.equal(r.totals.requests, 3);
    assert.equal(r.coverage, 0);
  });
});
