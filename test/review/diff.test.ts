// The semantic diff of the hand-written shop set against the proposal, in each mode: what is newly
// allowed and denied, which existing rules are unused, which files change, and that the proposed set
// each mode produces behaves as the mode promises when replayed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyLoaded, mergeLoaded, parsePolicyText } from '../../src/policy/index.js';
import { type DiffMode, type DiffReport, diffPolicies, verifyPolicies } from '../../src/review/index.js';
import { conn, EXISTING_DIR, type Shop, shop } from './shop.js';

/** Observed ICMP that the existing set denies already (it isolates the frontend) and no NetworkPolicy can allow. */
const ICMP_EDGE = 'ops/blackbox-exporter -> shop/frontend 8/ICMPv4';

function diff(s: Shop, mode: DiffMode, extra: { unusedForMs?: number } = {}): DiffReport {
  return diffPolicies(s, { mode, outDir: EXISTING_DIR, ...extra });
}

/** The proposed set as files: the existing files, with the report's file changes applied. */
function proposedSet(s: Shop, r: DiffReport) {
  const files = new Map(s.existingFiles);
  for (const f of r.files) {
    if (f.after === null) files.delete(f.path);
    else files.set(f.path, f.after);
  }
  const out = emptyLoaded();
  for (const [path, text] of files) mergeLoaded(out, parsePolicyText(text, path));
  assert.deepEqual(out.issues, []);
  return out;
}

const UNUSED = [
  'data/redis-cart spec.ingress[1]',
  'shop/paymentservice-egress spec.egress[2]',
  'shop/frontend spec.ingress[1]',
  'shop/legacy-debug spec.ingress[0]',
];
const ruleName = (u: { policy: string; direction: string; rule: number }) =>
  `${u.policy} spec.${u.direction}[${u.rule}]`;

describe('diff --mode additive', () => {
  it('adds only what observed traffic needs and takes nothing away', async () => {
    const s = await shop();
    const r = diff(s, 'additive');
    assert.deepEqual(r.newlyAllowed.map(conn), ['ops/blackbox-exporter -> shop/frontend 8080/TCP']);
    assert.equal(r.newlyAllowed[0].observed?.allowedFlows, 16);
    assert.deepEqual(r.newlyDenied, []);
    // Every other observed connection stays allowed; pairs whose ends keep their policies and that
    // were never seen are not evaluated at all.
    assert.equal(r.allowedByBoth.filter((c) => c.observed && c.observed.allowedFlows > 0).length, 44);
    assert.ok(r.universe.unchanged > r.universe.connections / 2);
    // Every rule the existing set has but no traffic used, with nothing matched in the window.
    assert.deepEqual(r.unusedRules.map(ruleName), UNUSED);
    for (const u of r.unusedRules) {
      assert.equal(u.removed, false);
      assert.equal(u.lastSeen, null);
      assert.equal(u.matchedConnections, 0);
    }
    // One new file with the frontend's ingress addition, only for ingress (already isolated).
    assert.deepEqual(
      r.files.map((f) => `${f.status} ${f.path}`),
      [`added ${EXISTING_DIR}/shop/frontend.networkpolicy.yaml`],
    );
    const added = parsePolicyText(r.files[0].after!, 'added.yaml').networkPolicies;
    assert.equal(added.length, 1);
    assert.deepEqual(added[0].policyTypes, ['Ingress']);
    assert.equal(added[0].egress.length, 0);
  });

  it('yields a set under which nothing observed breaks', async () => {
    const s = await shop();
    const v = verifyPolicies(s.graph, s.inventory, proposedSet(s, diff(s, 'additive')));
    // Only the blackbox exporter's ICMP, which no NetworkPolicy rule can allow and the existing set already
    // denies (it isolates the frontend), stays broken.
    assert.deepEqual(v.broken.map(conn), [ICMP_EDGE]);
  });
});

describe('diff --mode tighten', () => {
  it('deletes the unused rules from their files in place and keeps the additions', async () => {
    const s = await shop();
    const r = diff(s, 'tighten');
    assert.deepEqual(r.unusedRules.map(ruleName), UNUSED);
    assert.ok(r.unusedRules.every((u) => u.removed));
    assert.deepEqual(
      r.files.map((f) => `${f.status} ${f.path}`),
      [
        `modified ${EXISTING_DIR}/data/policies.yaml`,
        `modified ${EXISTING_DIR}/shop/backends.yaml`,
        `added ${EXISTING_DIR}/shop/frontend.networkpolicy.yaml`,
        `modified ${EXISTING_DIR}/shop/frontend.yaml`,
      ],
    );
    // The removed rules allowed nothing observed: nothing observed is newly denied.
    assert.equal(r.newlyDenied.filter((c) => c.observed && c.observed.allowedFlows > 0).length, 0);
    assert.ok(r.newlyDenied.length > 0, 'the removed rules allowed something');
    const set = proposedSet(s, r);
    const legacy = set.networkPolicies.find((p) => p.name === 'legacy-debug');
    // Its only rule is gone; policyTypes is written out so that the pod stays isolated for ingress.
    assert.deepEqual(legacy?.ingress, []);
    assert.deepEqual(legacy?.policyTypes, ['Ingress']);
    assert.equal(legacy?.policyTypesDefaulted, false);
    // Comments and untouched documents keep their text.
    const backends = r.files.find((f) => f.path.endsWith('backends.yaml'))!;
    assert.match(backends.after!, /# The gRPC backends accept any pod of the shop namespace\./);
    assert.match(backends.after!, /values: \[frontend, checkoutservice, recommendationservice\]/);
    const v = verifyPolicies(s.graph, s.inventory, set);
    assert.deepEqual(v.broken.map(conn), [ICMP_EDGE]);
  });

  it('with --unused-for, also counts rules whose last match is older than that as unused', async () => {
    const s = await shop();
    const newest = Math.max(...s.graph.edges.map((e) => e.lastSeen));
    const r = diff(s, 'tighten', { unusedForMs: 3_600_000 });
    assert.equal(r.unusedSince, newest - 3_600_000);
    const payments = r.unusedRules.find((u) => ruleName(u) === 'shop/paymentservice-egress spec.egress[1]');
    assert.ok(payments, 'the payment provider rule was last used at 22:38, more than an hour before the end');
    const used = s.graph.edges.find((e) => e.dst === 'cidr:203.0.113.10/32');
    assert.equal(payments.lastSeen, used?.lastSeen);
    assert.equal(new Date(used!.lastSeen).toISOString().slice(0, 19), '2024-06-04T22:38:52');
    assert.equal(payments.matchedConnections, 1);
    // Removing it breaks that observed connection: the report says so.
    assert.ok(
      r.newlyDenied.some(
        (c) => conn(c) === 'shop/paymentservice -> 203.0.113.10 (api.payments.example) 443/TCP' && c.observed,
      ),
    );
    assert.ok(!r.unusedRules.some((u) => ruleName(u) === 'shop/frontend spec.ingress[0]'), 'used at 23:40');
  });
});

describe('diff --mode replace', () => {
  it('swaps the existing files for the proposal; observed traffic is still allowed', async () => {
    const s = await shop();
    const r = diff(s, 'replace');
    const deleted = r.files.filter((f) => f.status === 'deleted').map((f) => f.path);
    assert.deepEqual(deleted, [
      `${EXISTING_DIR}/data/policies.yaml`,
      `${EXISTING_DIR}/shop/backends.yaml`,
      `${EXISTING_DIR}/shop/default-deny.yaml`,
      `${EXISTING_DIR}/shop/frontend.yaml`,
    ]);
    assert.equal(r.files.filter((f) => f.status === 'added').length, s.proposal.files.length);
    assert.equal(r.proposed.networkPolicies, s.proposed.networkPolicies.length);
    // The proposal also opens DNS over TCP wherever names are resolved; the existing set only UDP.
    assert.deepEqual(r.newlyAllowed.map(conn), [
      'ops/blackbox-exporter -> shop/frontend 8080/TCP',
      'shop/paymentservice -> kube-system/coredns 53/TCP',
    ]);
    assert.equal(r.newlyAllowed[1].observed, null);
    // What the strict proposal denies that the existing set allowed: never observed, or only dropped.
    const observedDenied = r.newlyDenied.filter((c) => c.observed !== null);
    assert.deepEqual(observedDenied.map(conn), ['shop/loadgenerator -> data/orders-db 5432/TCP']);
    assert.equal(observedDenied[0].observed?.allowedFlows, 0);
    assert.equal(observedDenied[0].observed?.droppedFlows, 14);
    // e.g. the existing set lets every shop pod reach currencyservice; the proposal only its clients.
    assert.ok(r.newlyDenied.some((c) => conn(c) === 'shop/adservice -> shop/currencyservice 7000/TCP'));
    assert.ok(!r.allowedByBoth.some((c) => conn(c) === 'shop/adservice -> shop/currencyservice 7000/TCP'));
  });
});

describe('diff without the existing files’ text', () => {
  it('carries the existing policies over instead of losing them', async () => {
    const s = await shop();
    const r = diffPolicies(
      { graph: s.graph, inventory: s.inventory, existing: s.existing, existingFiles: new Map(), proposal: s.proposal },
      { mode: 'tighten' },
    );
    assert.equal(r.proposed.networkPolicies, s.existing.networkPolicies.length + 1);
    assert.deepEqual(r.newlyDenied, []);
    assert.ok(r.unusedRules.every((u) => !u.removed));
    assert.ok(r.notes.some((n) => /text not available, its unused rules are listed but not removed/.test(n)));
  });
});
