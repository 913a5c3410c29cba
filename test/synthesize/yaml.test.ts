import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { renderProposalFile, renderYaml } from '../../src/synthesize/index.js';

describe('renderYaml', () => {
  it('quotes strings a YAML 1.1 reader would misread', () => {
    const text = renderYaml([{ metadata: { labels: { a: 'yes', b: 'on', c: '0755', d: 'plain' } } }]);
    assert.match(text, /a: "yes"\n/);
    assert.match(text, /b: "on"\n/);
    assert.match(text, /c: "0755"\n/);
    assert.match(text, /d: plain\n/);
    // Read back as YAML 1.1, the values are still strings.
    assert.deepEqual(parse(text, { version: '1.1' }).metadata.labels, { a: 'yes', b: 'on', c: '0755', d: 'plain' });
  });

  it('puts Kubernetes keys in their conventional order and sorts label maps', () => {
    const text = renderYaml([
      {
        spec: { podSelector: { matchLabels: { z: '1', a: '2' } }, policyTypes: ['Egress', 'Ingress'] },
        metadata: { labels: { zeta: 'z', alpha: 'a' }, namespace: 'shop', name: 'p' },
        kind: 'NetworkPolicy',
        apiVersion: 'networking.k8s.io/v1',
      },
    ]);
    assert.equal(
      text,
      [
        'apiVersion: networking.k8s.io/v1',
        'kind: NetworkPolicy',
        'metadata:',
        '  name: p',
        '  namespace: shop',
        '  labels:',
        '    alpha: a',
        '    zeta: z',
        'spec:',
        '  podSelector:',
        '    matchLabels:',
        '      a: "2"',
        '      z: "1"',
        // A list keeps its order: it may carry meaning.
        '  policyTypes:',
        '    - Egress',
        '    - Ingress',
        '',
      ].join('\n'),
    );
  });

  it('separates documents with --- and writes a reused object out in full, without aliases', () => {
    const shared = { protocol: 'TCP', port: 53 };
    const text = renderYaml([{ a: [shared, shared] }, { b: 1 }]);
    assert.equal(text, 'a:\n  - protocol: TCP\n    port: 53\n  - protocol: TCP\n    port: 53\n---\nb: 1\n');
  });

  it('does not fold long strings', () => {
    const long = `${'word '.repeat(40)}end`;
    assert.equal(renderYaml([{ note: long }]), `note: ${long}\n`);
  });
});

describe('renderProposalFile', () => {
  it('attaches comments to the document and to nodes by path', () => {
    const text = renderProposalFile({
      path: 'shop/x.yaml',
      kind: 'NetworkPolicy',
      namespace: 'shop',
      documents: [{ spec: { ingress: [{ from: [{ podSelector: {} }, { ipBlock: { cidr: '192.0.2.1/32' } }] }] } }],
      comments: [
        { document: 0, path: [], text: 'header' },
        { document: 0, path: ['spec', 'ingress', 0, 'from', 1], text: 'first line\nsecond line' },
      ],
    });
    assert.equal(
      text,
      [
        '# header',
        '',
        'spec:',
        '  ingress:',
        '    - from:',
        '        - podSelector: {}',
        '        # first line',
        '        # second line',
        '        - ipBlock:',
        '            cidr: 192.0.2.1/32',
        '',
      ].join('\n'),
    );
  });

  it('refuses a comment whose path names no node', () => {
    assert.throws(
      () =>
        renderProposalFile({
          path: 'x.yaml',
          kind: 'NetworkPolicy',
          namespace: 'shop',
          documents: [{ spec: {} }],
          comments: [{ document: 0, path: ['spec', 'egress', 0], text: 'lost' }],
        }),
      /no YAML node at spec\.egress\.0/,
    );
  });
});
