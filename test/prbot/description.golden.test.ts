// The whole pull request description for the hand-built shop graph against a small repository (one
// hand-written policy, one managed policy that lacks a rule): planning, the semantic diff, verify and
// rendering together. `UPDATE_GOLDEN=1 node scripts/test.mjs test/prbot/description` rewrites it.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { describeProposal } from '../../src/prbot/describe.js';
import { planChanges } from '../../src/prbot/plan.js';
import { repoPolicies } from '../../src/prbot/repo.js';
import { reviewContext, reviewPlan } from '../../src/prbot/review.js';
import { proposePolicies } from '../../src/synthesize/index.js';
import { shopGraph } from '../synthesize/shop.js';

const GOLDEN = new URL('description.golden.md', import.meta.url);

const HANDWRITTEN = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-prometheus
  namespace: shop
spec:
  podSelector: {}
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: monitoring
      ports:
        - port: 9090
`;

test('the description of the shop proposal', () => {
  const graph = shopGraph();
  const proposal = proposePolicies(graph, {});
  const orders = proposal.files.find((f) => f.workload === 'shop/Deployment/orders');
  assert.ok(orders, 'the shop has an orders policy');
  // The managed orders policy as merged earlier: the proposal's, without its last ingress rule.
  const doc = structuredClone(orders.documents[0]) as { spec: { ingress: unknown[] } };
  assert.ok(doc.spec.ingress.length > 0);
  doc.spec.ingress = doc.spec.ingress.slice(0, -1);
  const repo = repoPolicies('base', 'policies', [
    { path: 'policies/shop/allow-prometheus.yaml', text: HANDWRITTEN },
    { path: `policies/${orders.path}`, text: JSON.stringify(doc, null, 2) },
  ]);
  const plan = planChanges(repo, proposal.files, { mode: 'additive' });
  const review = reviewPlan(reviewContext(graph, repo), plan, 'additive');
  const { title, body, truncated } = describeProposal({
    graph,
    plan,
    observedButDenied: proposal.summaries.flatMap((s) => s.summary.observedButDenied),
    review,
    mode: 'additive',
    base: 'main',
    reproduce: ['flowwright pr --repo . --policies-dir policies --dry-run'],
  });
  assert.equal(truncated, false);
  const actual = `# ${title}\n\n${body}\n`;
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(GOLDEN)) {
    assert.equal(process.env.UPDATE_GOLDEN, '1', 'description.golden.md is missing: run with UPDATE_GOLDEN=1 and read it');
    writeFileSync(GOLDEN, actual);
    return;
  }
  assert.equal(actual, readFileSync(GOLDEN, 'utf8'));
});
