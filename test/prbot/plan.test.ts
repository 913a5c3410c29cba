// How a proposal becomes file changes in a repository: modes, layout, managed and opted-out files.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { planChanges } from '../../src/prbot/plan.js';
import { repoPolicies } from '../../src/prbot/repo.js';
import type { ProposalFile } from '../../src/synthesize/index.js';

const MANAGED = { 'app.kubernetes.io/managed-by': 'flowwright' };

function policy(
  name: string,
  ingress: unknown[],
  extra: { annotations?: Record<string, string>; labels?: Record<string, string>; egress?: unknown[] } = {},
) {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: `flowwright-${name}`,
      namespace: 'shop',
      labels: extra.labels ?? { ...MANAGED },
      annotations: { 'flowwright.io/workload': `shop/Deployment/${name}`, ...extra.annotations },
    },
    spec: {
      podSelector: { matchLabels: { app: name } },
      policyTypes: ['Ingress', 'Egress'],
      ingress,
      egress: extra.egress ?? [],
    },
  };
}

const from = (app: string, port: number) => ({
  from: [{ podSelector: { matchLabels: { app } } }],
  ports: [{ protocol: 'TCP', port }],
});

function proposalFile(name: string, ingress: unknown[], generated = '10 flows'): ProposalFile {
  return {
    path: `shop/${name}.networkpolicy.yaml`,
    kind: 'NetworkPolicy',
    namespace: 'shop',
    workload: `shop/Deployment/${name}`,
    documents: [policy(name, ingress, { annotations: { 'flowwright.io/generated-from': generated } })],
    comments: ingress.map((_, i) => ({ document: 0, path: ['spec', 'ingress', i, 'from', 0], text: `evidence ${i}` })),
  };
}

const yaml = (doc: unknown) => `${JSON.stringify(doc, null, 2)}\n`;

describe('planChanges', () => {
  it('additive keeps the rules of a managed policy and appends the missing ones, with their evidence', () => {
    const repo = repoPolicies('c0', 'policies', [
      { path: 'policies/shop/web.networkpolicy.yaml', text: yaml(policy('web', [from('lb', 80)])) },
    ]);
    const plan = planChanges(repo, [proposalFile('web', [from('lb', 80), from('admin', 8443)])], { mode: 'additive' });
    assert.equal(plan.changes.length, 1);
    const [c] = plan.changes;
    assert.equal(c.status, 'modified');
    assert.equal(c.path, 'policies/shop/web.networkpolicy.yaml');
    const doc = parse(c.after!) as ReturnType<typeof policy>;
    assert.deepEqual(doc.spec.ingress, [from('lb', 80), from('admin', 8443)]);
    assert.match(c.after!, /# evidence 0\n\s+- podSelector:\n\s+matchLabels:\n\s+app: lb/);
    assert.match(c.after!, /# evidence 1\n\s+- podSelector:\n\s+matchLabels:\n\s+app: admin/);
  });

  it('additive never removes: a rule the proposal no longer has stays', () => {
    const repo = repoPolicies('c0', 'policies', [
      { path: 'policies/shop/web.networkpolicy.yaml', text: yaml(policy('web', [from('old', 9000)])) },
    ]);
    const plan = planChanges(repo, [proposalFile('web', [from('lb', 80)])], { mode: 'additive' });
    const doc = parse(plan.changes[0].after!) as ReturnType<typeof policy>;
    assert.deepEqual(doc.spec.ingress, [from('old', 9000), from('lb', 80)]);
  });

  it('evidence alone is not a change, and does not move the hash', () => {
    const text = yaml(policy('web', [from('lb', 80)], { annotations: { 'flowwright.io/generated-from': '3 flows' } }));
    const repo = repoPolicies('c0', 'policies', [{ path: 'policies/shop/web.networkpolicy.yaml', text }]);
    for (const mode of ['additive', 'tighten', 'replace'] as const) {
      const plan = planChanges(repo, [proposalFile('web', [from('lb', 80)], '9,999 flows')], { mode });
      assert.deepEqual(plan.changes, [], mode);
      assert.equal(plan.unchanged, 1);
    }
    const empty = repoPolicies('c0', 'policies', []);
    const a = planChanges(empty, [proposalFile('web', [from('lb', 80)], '1 flow')], { mode: 'additive' });
    const b = planChanges(empty, [proposalFile('web', [from('lb', 80)], '2 flows')], { mode: 'additive' });
    assert.equal(a.hash, b.hash);
    const c = planChanges(empty, [proposalFile('web', [from('lb', 81)])], { mode: 'additive' });
    assert.notEqual(a.hash, c.hash);
  });

  it('replace rewrites managed policies and deletes managed files the proposal no longer has; others stay', () => {
    const repo = repoPolicies('c0', 'policies', [
      { path: 'policies/shop/web.networkpolicy.yaml', text: yaml(policy('web', [from('old', 9000)])) },
      { path: 'policies/shop/gone.networkpolicy.yaml', text: yaml(policy('gone', [])) },
      { path: 'policies/shop/hand.yaml', text: yaml(policy('hand', [], { labels: {} })) },
    ]);
    const plan = planChanges(repo, [proposalFile('web', [from('lb', 80)])], { mode: 'replace' });
    assert.deepEqual(
      plan.changes.map((c) => `${c.status} ${c.path}`),
      ['deleted policies/shop/gone.networkpolicy.yaml', 'modified policies/shop/web.networkpolicy.yaml'],
    );
    const doc = parse(plan.changes[1].after!) as ReturnType<typeof policy>;
    assert.deepEqual(doc.spec.ingress, [from('lb', 80)]);
    assert.equal(plan.changes[0].after, undefined);
  });

  it('tighten removes unused rules from managed files only', () => {
    const repo = repoPolicies('c0', 'policies', [
      { path: 'policies/shop/api.networkpolicy.yaml', text: yaml(policy('api', [from('web', 8080), from('old', 1)])) },
      { path: 'policies/shop/hand.yaml', text: yaml(policy('hand', [from('x', 2)], { labels: {} })) },
    ]);
    const unusedRules = [
      { file: 'policies/shop/api.networkpolicy.yaml', document: 1, direction: 'ingress' as const, rule: 1 },
      { file: 'policies/shop/hand.yaml', document: 1, direction: 'ingress' as const, rule: 0 },
    ];
    const plan = planChanges(repo, [], { mode: 'tighten', unusedRules });
    assert.deepEqual(
      plan.changes.map((c) => `${c.status} ${c.path}`),
      ['modified policies/shop/api.networkpolicy.yaml'],
    );
    const doc = parse(plan.changes[0].after!) as ReturnType<typeof policy>;
    assert.deepEqual(doc.spec.ingress, [from('web', 8080)]);
    assert.equal(planChanges(repo, [], { mode: 'additive', unusedRules }).changes.length, 0);
  });

  it('skips opted-out policies, files holding other policies too, and paths taken by unmanaged files', () => {
    const optedOut = policy('web', [], { annotations: { 'flowwright.io/managed': 'false' } });
    const repo = repoPolicies('c0', 'policies', [
      { path: 'policies/shop/mine.yaml', text: yaml(optedOut) },
      { path: 'policies/shop/api.networkpolicy.yaml', text: 'kind: ConfigMap\nmetadata: {name: x, namespace: shop}\n' },
      {
        path: 'policies/shop/db.networkpolicy.yaml',
        text: `${yaml(policy('db', []))}---\n${yaml({ ...policy('cache', []), metadata: { ...policy('cache', []).metadata } })}`,
      },
    ]);
    const plan = planChanges(
      repo,
      [proposalFile('web', [from('lb', 80)]), proposalFile('api', []), proposalFile('db', [from('api', 5432)])],
      { mode: 'additive' },
    );
    assert.deepEqual(plan.changes, []);
    assert.deepEqual(
      plan.skipped.map((s) => `${s.policy} | ${s.path} | ${s.why}`),
      [
        'NetworkPolicy shop/flowwright-web | policies/shop/mine.yaml | marked flowwright.io/managed: "false"',
        'NetworkPolicy shop/flowwright-api | policies/shop/api.networkpolicy.yaml | the path is taken by a file flowwright does not manage',
        'NetworkPolicy shop/flowwright-db | policies/shop/db.networkpolicy.yaml | the file also holds NetworkPolicy shop/flowwright-cache; split it to let flowwright update it',
      ],
    );
  });

  it('new files follow the layout of the managed files: flat and .yml', () => {
    const repo = repoPolicies('c0', 'k8s/netpol', [
      { path: 'k8s/netpol/shop-api.networkpolicy.yml', text: yaml(policy('api', [])) },
    ]);
    const plan = planChanges(repo, [proposalFile('web', [from('lb', 80)])], { mode: 'additive' });
    assert.deepEqual(
      plan.changes.map((c) => `${c.status} ${c.path}`),
      ['added k8s/netpol/shop-web.networkpolicy.yml'],
    );
    const nested = planChanges(repoPolicies('c0', './policies/', []), [proposalFile('web', [])], { mode: 'additive' });
    assert.equal(nested.changes[0].path, 'policies/shop/web.networkpolicy.yaml');
    const root = planChanges(repoPolicies('c0', '.', []), [proposalFile('web', [])], { mode: 'additive' });
    assert.equal(root.changes[0].path, 'shop/web.networkpolicy.yaml');
  });
});
