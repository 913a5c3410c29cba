import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileAuthorizationPolicies,
  compileNetworkPolicies,
  evaluateConnection,
  evaluateRequest,
  explainConnection,
  explainRequest,
} from '../../src/policy/index.js';
import { assertGolden } from './golden.js';
import { endpoint, load, manifest, pod, world } from './world.js';

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

describe('explainRequest', () => {
  const ap = (ns: string, name: string, spec: unknown) =>
    manifest('security.istio.io/v1', 'AuthorizationPolicy', ns, name, spec);
  const authz = [
    ap('x', 'api-allow', {
      selector: { matchLabels: { pod: 'a' } },
      rules: [
        {
          from: [{ source: { principals: ['cluster.local/ns/y/sa/sa-a'] } }],
          to: [{ operation: { methods: ['GET'], paths: ['/api/{*}/orders'] } }],
        },
        {
          from: [{ source: { namespaces: ['z'] } }],
          when: [{ key: 'request.auth.claims[groups]', values: ['admins'] }],
        },
      ],
    }),
    ap('x', 'deny-debug', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/debug*'] } }] }] }),
    ap('istio-system', 'mesh-audit', { action: 'AUDIT', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] }),
    ap('x', 'ext', { action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] }),
  ];

  function explainAuthz(from: string, method: string, path: string) {
    const inv = world();
    const compiled = compileAuthorizationPolicies(load(authz).authorizationPolicies, { rootNamespace: 'istio-system' });
    const req = {
      conn: { src: endpoint(inv, from), dst: endpoint(inv, 'x/a'), protocol: 'TCP' as const, port: 8080 },
      method,
      path,
    };
    const d = evaluateRequest(compiled, pod(inv, 'x/a'), req);
    return { d, text: explainRequest(d, req) };
  }

  it('explains a request denied because no ALLOW rule matches', () => {
    const { d, text } = explainAuthz('y/b', 'GET', '/api/v1/orders');
    assert.equal(d.verdict, 'deny');
    assertGolden('explain-request-denied.golden.txt', text);
  });

  it('explains a request that is allowed, and one that cannot be decided from flows', () => {
    const allowed = explainAuthz('y/a', 'GET', '/api/v1/orders');
    assert.equal(allowed.d.verdict, 'allow');
    const unknown = explainAuthz('z/a', 'DELETE', '/api/v1/orders');
    assert.equal(unknown.d.verdict, 'unknown');
    assert.equal(unknown.d.audited, true);
    assertGolden('explain-request-allowed.golden.txt', `${allowed.text}\n${unknown.text}`);
  });
});
