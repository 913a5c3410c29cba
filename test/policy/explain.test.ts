import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileNetworkPolicies, evaluateConnection, explainConnection } from '../../src/policy/index.js';
import { assertGolden } from './golden.js';
import { endpoint, load, manifest, world } from './world.js';

const np = (ns: string, name: string, spec: unknown) =>
  manifest('networking.k8s.io/v1', 'NetworkPolicy', ns, name, spec);

// x/a is isolated for ingress by a default deny and by a policy that admits pod=b from its own
// namespace and pods of namespace y on the named port serve-80-tcp; it also has an egress policy.
const policies = [
  np('x', 'default-deny', { podSelector: {}, policyTypes: ['Ingress'] }),
  np('x', 'a-ingress', {
    podSelector: { matchLabels: { pod: 'a' } },
    ingress: [
      { from: [{ podSelector: { matchLabels: { pod: 'b' } } }] },
      {
        from: [
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'y' } } },
          { ipBlock: { cidr: '203.0.113.0/24', except: ['203.0.113.0/28'] } },
        ],
        ports: [{ port: 'serve-80-tcp' }],
      },
    ],
  }),
  np('x', 'a-egress', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{}] }),
  np('z', 'z-egress', {
    podSelector: {},
    egress: [
      { to: [{ namespaceSelector: {}, podSelector: { matchExpressions: [{ key: 'role', operator: 'Exists' }] } }] },
    ],
  }),
];

function explain(from: string, to: string, protocol: 'TCP' | 'UDP', port: number) {
  const inv = world();
  const compiled = compileNetworkPolicies(load(policies).networkPolicies, inv);
  const conn = { src: endpoint(inv, from), dst: endpoint(inv, to), protocol, port };
  const d = evaluateConnection(compiled, conn);
  return { d, text: explainConnection(d, conn) };
}

describe('explainConnection', () => {
  it('explains a denied connection: every selecting policy, every rule and why it did not match', () => {
    const { d, text } = explain('z/c', 'x/a', 'TCP', 81);
    assert.equal(d.allowed, false);
    assert.equal(d.egress.allowed, false);
    assert.equal(d.ingress.allowed, false);
    assert.deepEqual(
      d.ingress.selecting.map((s) => s.policy),
      ['x/default-deny', 'x/a-ingress'],
    );
    assert.deepEqual(d.ingress.otherDirection, ['x/a-egress']);
    assertGolden('explain-denied.golden.txt', text);
  });

  it('explains an allowed connection: which policy and rule allowed it', () => {
    const { d, text } = explain('y/b', 'x/a', 'TCP', 80);
    assert.equal(d.allowed, true);
    assert.deepEqual(d.ingress.allowedBy, { policy: 'x/a-ingress', rule: 1 });
    assert.equal(d.egress.reason, 'not-isolated');
    assertGolden('explain-allowed.golden.txt', text);
  });

  it('says why the node and the pod itself are always allowed', () => {
    assert.match(explain('x/a', 'x/a', 'TCP', 80).text, /a pod cannot block traffic to itself/);
    const inv = world();
    const compiled = compileNetworkPolicies(load(policies).networkPolicies, inv);
    const conn = { src: endpoint(inv, 'node'), dst: endpoint(inv, 'x/a'), protocol: 'TCP' as const, port: 80 };
    const text = explainConnection(evaluateConnection(compiled, conn), conn);
    assert.match(text, /node 192\.168\.0\.10 is not a pod/);
    assert.match(text, /its own node is always allowed/);
  });
});
