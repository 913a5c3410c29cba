import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FlowwrightError } from '../../src/model/index.js';
import { loadPolicyFiles, parsePolicyText } from '../../src/policy/index.js';

const fixtures = join(import.meta.dirname, 'fixtures');

describe('loading policy manifests', () => {
  it('reads a multi-document stream, skipping and counting other kinds', () => {
    const file = join(fixtures, 'manifests', 'multi.yaml');
    const loaded = loadPolicyFiles([file]);
    assert.deepEqual(loaded.issues, []);
    assert.deepEqual(
      loaded.networkPolicies.map((p) => [p.name, p.source.document]),
      [
        ['default-deny', 1],
        ['web-ingress', 7],
      ],
    );
    assert.deepEqual(loaded.skipped, {
      Deployment: 1,
      Service: 1,
      CiliumNetworkPolicy: 1,
      'NetworkPolicy (projectcalico.org/v3)': 1,
    });
    const web = loaded.networkPolicies[1];
    // policyTypes left out, no egress rules: the API default is Ingress only.
    assert.deepEqual(web.policyTypes, ['Ingress']);
    assert.equal(web.policyTypesDefaulted, true);
    assert.deepEqual(web.ingress[0].ports, [{ protocol: 'TCP', port: 'http' }]);
    assert.deepEqual(web.ingress[0].peers[0].namespaceSelector?.matchLabels, { 'kubernetes.io/metadata.name': 'edge' });
    assert.deepEqual(web.ingress[0].peers[0].podSelector?.matchLabels, { app: 'gateway' });
  });

  it('reads a directory recursively, in name order, only .yaml/.yml/.json files', () => {
    const loaded = loadPolicyFiles([join(fixtures, 'manifests')]);
    assert.deepEqual(loaded.issues, []);
    assert.deepEqual(
      loaded.networkPolicies.map((p) => p.name),
      ['default-deny', 'web-ingress', 'db-ingress'],
    );
    assert.equal(loaded.authorizationPolicies.length, 1);
    const ap = loaded.authorizationPolicies[0];
    assert.equal(ap.name, 'db-allow');
    assert.equal(ap.action, 'ALLOW');
    assert.deepEqual(ap.source, { file: join(fixtures, 'manifests', 'sub', 'list.yaml'), document: 1, item: 1 });
  });

  it('reads a kubectl get networkpolicies -A -o json dump', () => {
    const loaded = loadPolicyFiles([join(fixtures, 'kubectl-netpol.json')]);
    assert.deepEqual(loaded.issues, []);
    assert.deepEqual(
      loaded.networkPolicies.map((p) => `${p.namespace}/${p.name}`),
      ['shop/allow-dns', 'payments/payments-egress'],
    );
    const dns = loaded.networkPolicies[0];
    assert.deepEqual(dns.policyTypes, ['Egress']);
    assert.equal(dns.policyTypesDefaulted, false);
    assert.deepEqual(dns.egress[0].ports, [
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ]);
    assert.deepEqual(loaded.networkPolicies[1].egress[0].peers[0].ipBlock, {
      cidr: '203.0.113.0/24',
      except: ['203.0.113.128/25'],
    });
  });

  it('reads a typed list (NetworkPolicyList) whose items carry no kind', () => {
    const text = JSON.stringify({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicyList',
      items: [{ metadata: { name: 'a', namespace: 'n' }, spec: { podSelector: {} } }],
    });
    const loaded = parsePolicyText(text, 'list.json');
    assert.deepEqual(loaded.issues, []);
    assert.equal(loaded.networkPolicies[0].name, 'a');
  });

  it('defaults the namespace to default and the protocol to TCP', () => {
    const loaded = parsePolicyText(
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  egress:\n  - ports: [{port: 80}]\n',
      'p.yaml',
    );
    assert.deepEqual(loaded.issues, []);
    const p = loaded.networkPolicies[0];
    assert.equal(p.namespace, 'default');
    assert.deepEqual(p.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(p.egress[0].ports, [{ protocol: 'TCP', port: 80 }]);
  });

  it('reports unparsable YAML with file, document and line, and goes on with the next document', () => {
    const text = [
      'apiVersion: networking.k8s.io/v1',
      'kind: NetworkPolicy',
      'metadata: {name: ok}',
      'spec: {podSelector: {}}',
      '---',
      'kind: NetworkPolicy',
      'metadata: [unclosed',
      '---',
      'apiVersion: networking.k8s.io/v1',
      'kind: NetworkPolicy',
      'metadata: {name: also-ok}',
      'spec: {podSelector: {}}',
    ].join('\n');
    const loaded = parsePolicyText(text, 'broken.yaml');
    assert.deepEqual(
      loaded.networkPolicies.map((p) => p.name),
      ['ok', 'also-ok'],
    );
    assert.equal(loaded.issues.length, 1);
    assert.equal(loaded.issues[0].file, 'broken.yaml');
    assert.equal(loaded.issues[0].document, 2);
    assert.ok((loaded.issues[0].line ?? 0) >= 7, `line ${loaded.issues[0].line}`);
    assert.match(loaded.issues[0].message, /not valid YAML/);
  });

  it('reports an alias without its anchor and an alias bomb as bad documents, and reads the next one', () => {
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++)
      laughs.push(
        `${'abcdefghij'[i]}: &${'abcdefghij'[i]} [${Array(9)
          .fill(`*${'abcdefghij'[i - 1]}`)
          .join(', ')}]`,
      );
    const text = [
      'kind: NetworkPolicy\nmetadata: {name: dangling}\nspec: {podSelector: *nowhere}',
      laughs.join('\n'),
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: fine, namespace: x}\nspec: {podSelector: {}}',
    ].join('\n---\n');
    const loaded = parsePolicyText(text, 'bombs.yaml');
    assert.deepEqual(
      loaded.issues.map((i) => [i.file, i.document, i.message.slice(0, 'not valid YAML'.length)]),
      [
        ['bombs.yaml', 1, 'not valid YAML'],
        ['bombs.yaml', 2, 'not valid YAML'],
      ],
    );
    assert.deepEqual(
      loaded.networkPolicies.map((p) => p.name),
      ['fine'],
    );
  });

  it('reports broken JSON and objects without a kind', () => {
    assert.match(parsePolicyText('{"kind": ', 'x.json').issues[0].message, /not valid JSON/);
    const noKind = parsePolicyText('metadata: {name: x}\n', 'x.yaml');
    assert.equal(noKind.issues[0].field, 'kind');
    assert.match(noKind.issues[0].message, /no kind/);
  });

  it('throws a typed input error for a path that does not exist', () => {
    assert.throws(
      () => loadPolicyFiles([join(fixtures, 'no-such-file.yaml')]),
      (e: unknown) => e instanceof FlowwrightError && e.code === 'input',
    );
  });

  it('reads files from a temporary directory, .yml included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowwright-policy-'));
    try {
      writeFileSync(
        join(dir, 'a.yml'),
        'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: n}\nspec: {podSelector: {}}\n',
      );
      writeFileSync(join(dir, 'b.txt'), 'kind: NetworkPolicy\n');
      const loaded = loadPolicyFiles([dir]);
      assert.deepEqual(
        loaded.networkPolicies.map((p) => p.name),
        ['a'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** One NetworkPolicy document whose spec is `spec` (YAML flow text), in a stream after one valid document. */
function invalid(spec: string) {
  const text = [
    'apiVersion: networking.k8s.io/v1',
    'kind: NetworkPolicy',
    'metadata: {name: fine, namespace: n}',
    'spec: {podSelector: {}}',
    '---',
    'apiVersion: networking.k8s.io/v1',
    'kind: NetworkPolicy',
    'metadata:',
    '  name: bad',
    '  namespace: n',
    `spec: ${spec}`,
  ].join('\n');
  const loaded = parsePolicyText(text, 'bad.yaml');
  assert.deepEqual(
    loaded.networkPolicies.map((p) => p.name),
    ['fine'],
    'the invalid policy must not be loaded, the valid one must',
  );
  for (const issue of loaded.issues) {
    assert.equal(issue.file, 'bad.yaml');
    assert.equal(issue.document, 2);
    assert.match(issue.message, /^NetworkPolicy n\/bad: /);
  }
  return loaded.issues.map((i) => [i.field, i.message.replace(/^NetworkPolicy n\/bad: /, '')]);
}

describe('NetworkPolicy validation', () => {
  it('ipBlock together with podSelector in one peer', () => {
    assert.deepEqual(
      invalid(
        '{podSelector: {}, ingress: [{from: [{podSelector: {}}, {ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]}',
      ),
      [['spec.ingress[0].from[1]', 'ipBlock cannot be combined with podSelector or namespaceSelector in one peer']],
    );
  });

  it('a bad CIDR, a bad except and an except outside the block', () => {
    assert.deepEqual(
      invalid(
        '{podSelector: {}, ingress: [{from: [{podSelector: {}}, {ipBlock: {cidr: 10.0.0.300/8}}]}], egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/33, 192.168.0.0/16]}}]}]}',
      ),
      [
        ['spec.ingress[0].from[1].ipBlock.cidr', 'not a valid CIDR: "10.0.0.300/8"'],
        ['spec.egress[0].to[0].ipBlock.except[0]', 'not a valid CIDR: "10.0.0.0/33"'],
        ['spec.egress[0].to[0].ipBlock.except[1]', '192.168.0.0/16 must be a strict subset of 10.0.0.0/8'],
      ],
    );
  });

  it('an unknown selector operator, and values that do not fit the operator', () => {
    assert.deepEqual(
      invalid(
        '{podSelector: {matchExpressions: [{key: app, operator: Equals, values: [x]}, {key: tier, operator: Exists, values: [a]}, {key: t, operator: In}]}}',
      ),
      [
        [
          'spec.podSelector.matchExpressions[0].operator',
          'unknown operator "Equals" (expected In, NotIn, Exists or DoesNotExist)',
        ],
        ['spec.podSelector.matchExpressions[1].values', 'must be empty for Exists'],
        ['spec.podSelector.matchExpressions[2].values', 'must not be empty for In'],
      ],
    );
  });

  it('ports: protocol, range, name syntax and endPort', () => {
    assert.deepEqual(
      invalid(
        '{podSelector: {}, ingress: [{ports: [{protocol: ICMP}, {port: 70000}, {port: "80"}, {port: http, endPort: 90}, {port: 100, endPort: 99}]}]}',
      ),
      [
        ['spec.ingress[0].ports[0].protocol', 'must be TCP, UDP or SCTP, not "ICMP"'],
        ['spec.ingress[0].ports[1].port', 'must be between 1 and 65535'],
        ['spec.ingress[0].ports[2].port', 'not a valid port name: "80"'],
        ['spec.ingress[0].ports[3].endPort', 'may only be set together with a numeric port'],
        ['spec.ingress[0].ports[4].endPort', 'must not be less than port (100)'],
      ],
    );
  });

  it('an empty peer, a bad policyType and a non-string label value', () => {
    assert.deepEqual(
      invalid('{podSelector: {matchLabels: {version: 2}}, policyTypes: [Ingress, Both], ingress: [{from: [{}]}]}'),
      [
        ['spec.podSelector.matchLabels.version', 'label values must be strings (quote them)'],
        ['spec.ingress[0].from[0]', 'must specify podSelector, namespaceSelector or ipBlock'],
        ['spec.policyTypes[1]', 'must be Ingress or Egress, not Both'],
      ],
    );
  });

  it('points at the line of the offending field', () => {
    const text = [
      'apiVersion: networking.k8s.io/v1',
      'kind: NetworkPolicy',
      'metadata: {name: bad, namespace: n}',
      'spec:',
      '  podSelector: {}',
      '  ingress:',
      '    - from:',
      '        - ipBlock:',
      '            cidr: nonsense',
    ].join('\n');
    const issue = parsePolicyText(text, 'bad.yaml').issues[0];
    assert.equal(issue.field, 'spec.ingress[0].from[0].ipBlock.cidr');
    assert.equal(issue.line, 9);
  });

  it('gives the item path inside a List', () => {
    const text = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } },
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'p', namespace: 'n' },
          spec: { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: 'x' } }] }] },
        },
      ],
    });
    const loaded = parsePolicyText(text, 'dump.json');
    assert.deepEqual(loaded.skipped, { ConfigMap: 1 });
    assert.equal(loaded.issues.length, 1);
    assert.equal(loaded.issues[0].field, 'items[1].spec.egress[0].to[0].ipBlock.cidr');
    assert.equal(loaded.issues[0].document, 1);
  });
});

describe('AuthorizationPolicy validation', () => {
  function issues(spec: string) {
    const text = `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: bad, namespace: n}\nspec: ${spec}\n`;
    const loaded = parsePolicyText(text, 'ap.yaml');
    assert.equal(loaded.authorizationPolicies.length, 0, 'an invalid policy must not be loaded');
    return loaded.issues.map((i) => [i.field, i.message.replace(/^AuthorizationPolicy n\/bad: /, '')]);
  }

  it('loads defaults: action ALLOW, no rules, no selector', () => {
    const loaded = parsePolicyText(
      'apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {name: allow-nothing, namespace: n}\nspec: {}\n',
      'ap.yaml',
    );
    assert.deepEqual(loaded.issues, []);
    const p = loaded.authorizationPolicies[0];
    assert.equal(p.action, 'ALLOW');
    assert.deepEqual(p.rules, []);
    assert.equal(p.selector, undefined);
  });

  it('reports a bad action, a bad ipBlock, a bad port and an empty source', () => {
    assert.deepEqual(
      issues(
        '{action: REJECT, rules: [{from: [{source: {ipBlocks: [10.0.0.0/40]}}, {source: {}}], to: [{operation: {ports: ["http"]}}]}]}',
      ),
      [
        ['spec.action', 'must be ALLOW, DENY, AUDIT or CUSTOM, not "REJECT"'],
        ['spec.rules[0].from[0].source.ipBlocks[0]', 'not an IP address or CIDR: 10.0.0.0/40'],
        ['spec.rules[0].from[1].source', 'must not be empty'],
        ['spec.rules[0].to[0].operation.ports[0]', 'not a port number: http'],
      ],
    );
  });

  it('reports a path template with {**} before another operator', () => {
    assert.deepEqual(issues('{rules: [{to: [{operation: {paths: ["/a/{**}/b/{*}", "/ok/{*}/{**}"]}}]}]}'), [
      ['spec.rules[0].to[0].operation.paths[0]', '{**} must be the last operator: /a/{**}/b/{*}'],
    ]);
  });

  it('reports CUSTOM without a provider, selector with targetRef, and a condition without values', () => {
    assert.deepEqual(
      issues(
        '{action: CUSTOM, selector: {matchLabels: {app: a}}, targetRef: {kind: Gateway, name: gw}, rules: [{when: [{key: "request.headers[x]"}]}]}',
      ),
      [
        ['spec', 'selector and targetRef(s) cannot both be set'],
        ['spec.provider.name', 'is required for action CUSTOM'],
        ['spec.rules[0].when[0]', 'needs values or notValues'],
      ],
    );
  });
});
