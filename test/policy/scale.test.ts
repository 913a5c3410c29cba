// The verifier must handle 10,000 workloads, 100,000 edges and 10,000 policies without quadratic
// blow-up. Wall-clock time is not asserted; the evaluator's work counters are: selector checks must
// grow with the number of pods, not with pods × policies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AuthorizationPolicy,
  type Connection,
  compileAuthorizationPolicies,
  compileNetworkPolicies,
  evaluateConnection,
  evaluateRequest,
  type Inventory,
  type NetworkPolicy,
  type PodInfo,
} from '../../src/policy/index.js';

const NAMESPACES = 100;
const APPS = 100; // per namespace: 10,000 workloads, one pod each
const EDGES = 100_000;

function selector(labels: Record<string, string>) {
  return { matchLabels: labels, matchExpressions: [] };
}

function setup(): { inv: Inventory; policies: NetworkPolicy[]; pods: PodInfo[] } {
  const pods: PodInfo[] = [];
  const policies: NetworkPolicy[] = [];
  const namespaces = new Map<string, Record<string, string>>();
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `ns-${n}`;
    namespaces.set(ns, { 'kubernetes.io/metadata.name': ns });
    // One default deny per namespace: a policy every pod of the namespace must check.
    policies.push({
      kind: 'NetworkPolicy',
      name: 'default-deny',
      namespace: ns,
      podSelector: selector({}),
      policyTypes: ['Ingress', 'Egress'],
      policyTypesDefaulted: false,
      ingress: [],
      egress: [],
      source: { file: 'gen', document: 1 },
    });
    for (let a = 0; a < APPS; a++) {
      const app = `app-${a}`;
      pods.push({ namespace: ns, name: `${app}-0`, labels: { app, tier: 'x' }, ips: [`10.${n}.${a}.1`], ports: [] });
      if (a === APPS - 1) continue; // 99 selective policies + 1 default deny = 100 per namespace
      const next = `app-${(a + 1) % APPS}`;
      policies.push({
        kind: 'NetworkPolicy',
        name: app,
        namespace: ns,
        podSelector: selector({ app }),
        policyTypes: ['Ingress', 'Egress'],
        policyTypesDefaulted: false,
        ingress: [{ peers: [{ podSelector: selector({ app: `app-${(a + APPS - 1) % APPS}` }) }], ports: [] }],
        egress: [{ peers: [{ podSelector: selector({ app: next }) }], ports: [{ protocol: 'TCP', port: 8080 }] }],
        source: { file: 'gen', document: 1 },
      });
    }
  }
  return { inv: { pods, namespaces }, policies, pods };
}

describe('NetworkPolicy evaluation at scale', () => {
  it('10,000 pods, 10,000 policies, 100,000 connections with linear selector work', () => {
    const { inv, policies, pods } = setup();
    assert.equal(policies.length, NAMESPACES * APPS);
    const compiled = compileNetworkPolicies(policies, inv);
    let allowed = 0;
    for (let i = 0; i < EDGES; i++) {
      const at = i % pods.length;
      const src = pods[at];
      // Even connections go to the next app of the same namespace (what its policy allows), odd ones anywhere.
      const next = at - (at % APPS) + ((at + 1) % APPS);
      const dst = i % 2 === 0 ? pods[next] : pods[(i * 7919) % pods.length];
      const conn: Connection = {
        src: { kind: 'pod', pod: src },
        dst: { kind: 'pod', pod: dst },
        protocol: 'TCP',
        port: 8080,
      };
      if (evaluateConnection(compiled, conn, { detail: false }).allowed) allowed++;
    }
    // Even-numbered connections follow the chain of policies (app-99 has none besides the default deny).
    assert.ok(allowed >= EDGES / 2 - EDGES / APPS, `allowed ${allowed}`);
    assert.ok(allowed < EDGES, 'some connections must be denied');
    // Each pod is checked against the default deny and the one policy indexed under its app label:
    // 2 checks per pod. Without the index it would be 100 per pod (1,000,000 in all).
    assert.ok(
      compiled.stats.podSelectorChecks <= 2 * pods.length,
      `${compiled.stats.podSelectorChecks} selector checks`,
    );
    // At most one rule per selecting policy per side of each connection.
    assert.ok(compiled.stats.ruleChecks <= EDGES * 2 * 2, `${compiled.stats.ruleChecks} rule checks`);
  });
});

describe('AuthorizationPolicy evaluation at scale', () => {
  it('10,000 policies and 100,000 requests look only at the policies that can select each pod', () => {
    const { pods } = setup();
    const policies: AuthorizationPolicy[] = [];
    for (let n = 0; n < NAMESPACES; n++) {
      for (let a = 0; a < APPS; a++) {
        policies.push({
          kind: 'AuthorizationPolicy',
          name: `app-${a}`,
          namespace: `ns-${n}`,
          selector: { app: `app-${a}` },
          targetRefs: [],
          action: 'ALLOW',
          rules: [{ from: [{ namespaces: [`ns-${n}`] }], to: [], when: [] }],
          source: { file: 'gen', document: 1 },
        });
      }
    }
    const compiled = compileAuthorizationPolicies(policies, { rootNamespace: 'istio-system' });
    let allowed = 0;
    for (let i = 0; i < EDGES; i++) {
      const src = pods[(i * 7919) % pods.length];
      const dst = pods[i % pods.length];
      const d = evaluateRequest(compiled, dst, {
        conn: { src: { kind: 'pod', pod: src }, dst: { kind: 'pod', pod: dst }, protocol: 'TCP', port: 8080 },
        principal: `cluster.local/ns/${src.namespace}/sa/default`,
      });
      if (d.allowed === (src.namespace === dst.namespace)) allowed++;
    }
    assert.equal(allowed, EDGES, 'same-namespace requests are allowed, the others denied');
    // One candidate policy per request (the one indexed under the pod's app label), not 100.
    assert.equal(compiled.stats.scopeChecks, EDGES);
  });
});
