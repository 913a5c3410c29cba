// `flowwright verify` as CI uses it: exit 0 when nothing observed would break, 1 when something would,
// 3 for an invalid policy (named by file, document and field), and every output format.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_CODES } from '../../src/model/index.js';
import { flowwright, removeWorkspace, workspace } from '../review/cli.js';

describe('flowwright verify', () => {
  let dir: string;
  before(async () => {
    dir = await workspace();
  });
  after(() => removeWorkspace(dir));

  it("allows every TCP connection with the proposal's own files, and exits 1 for the ICMP it cannot allow", () => {
    const p = flowwright(dir, ['propose', '--db', 'shop.db', '--out', 'policies']);
    assert.equal(p.code, EXIT_CODES.ok, p.stderr);
    const r = flowwright(dir, ['verify', '--db', 'shop.db', '--policies', 'policies']);
    assert.equal(r.code, EXIT_CODES.finding, r.stderr);
    assert.match(r.stdout, /Coverage: 97\.8% of observed connections allowed \(45 of 46\)/);
    assert.doesNotMatch(r.stdout, /Nothing observed would break/);
    assert.match(
      r.stdout,
      /ops\/blackbox-exporter {2}shop\/frontend {2}8\/ICMPv4 .* not expressible in NetworkPolicy, denied by the default deny on Cilium and Calico/,
    );
    // Without the ICMP probe's isolation (no default deny and no policy at either end) nothing breaks.
    const open = flowwright(dir, ['verify', '--db', 'shop.db', '--policies', 'existing/data/policies.yaml']);
    assert.doesNotMatch(open.stdout, /8\/ICMPv4/);
  });

  it('exits 1 and explains when an observed connection would be denied', () => {
    const r = flowwright(dir, ['verify', '--db', 'shop.db', '--policies', 'existing']);
    assert.equal(r.code, EXIT_CODES.finding);
    assert.match(r.stderr, /skipped other kinds: ConfigMap 1/);
    assert.match(r.stderr, /flowwright: 2 observed connection\(s\) would be denied \(coverage 95\.6%\)/);
    assert.match(r.stdout, /ops\/blackbox-exporter {2}shop\/frontend {2}8080\/TCP/);
    assert.match(r.stdout, /Why each would be denied:/);
  });

  it('renders JSON and Markdown, and takes several --policies', () => {
    const json = flowwright(dir, [
      'verify',
      '--db',
      'shop.db',
      '--policies',
      'existing/shop',
      '--policies',
      'existing/data/policies.yaml',
      '--format',
      'json',
    ]);
    assert.equal(json.code, EXIT_CODES.finding);
    const report = JSON.parse(json.stdout);
    assert.equal(report.schemaVersion, 1);
    assert.equal(report.policies.networkPolicies, 9);
    assert.equal(report.totals.broken, 2);
    const md = flowwright(dir, ['verify', '--db', 'shop.db', '--policies', 'existing', '--format', 'markdown']);
    assert.match(md.stdout, /^### flowwright verify\n/);
  });

  it('names the file, document and field of an invalid policy, and exits 3', () => {
    writeFileSync(
      join(dir, 'bad.yaml'),
      [
        'apiVersion: networking.k8s.io/v1',
        'kind: NetworkPolicy',
        'metadata: {name: ok, namespace: shop}',
        'spec: {podSelector: {}}',
        '---',
        'apiVersion: networking.k8s.io/v1',
        'kind: NetworkPolicy',
        'metadata: {name: bad, namespace: shop}',
        'spec:',
        '  podSelector: {}',
        '  ingress:',
        '    - from:',
        '        - ipBlock: {cidr: 10.0.0.0/33}',
        '',
      ].join('\n'),
    );
    const r = flowwright(dir, ['verify', '--db', 'shop.db', '--policies', 'bad.yaml']);
    assert.equal(r.code, EXIT_CODES.input);
    assert.match(r.stderr, /bad\.yaml:13 document 2: spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr: /);
    assert.match(r.stderr, /1 invalid policy document\(s\) in --policies/);
    assert.equal(r.stdout, '');
  });

  it('asks for --policies (exit 2) and rejects an unknown format', () => {
    assert.equal(flowwright(dir, ['verify', '--db', 'shop.db']).code, EXIT_CODES.usage);
    assert.equal(
      flowwright(dir, ['verify', '--db', 'shop.db', '--policies', 'existing', '--format', 'xml']).code,
      EXIT_CODES.usage,
    );
  });

  it('teaches its use in --help', () => {
    const r = flowwright(dir, ['verify', '--help']);
    assert.equal(r.code, EXIT_CODES.ok);
    assert.match(r.stdout, /--policies <path>/);
    assert.match(r.stdout, /\$ flowwright verify --policies policies\//);
    assert.match(r.stdout, /Exit codes: 0 nothing observed would break, 1 something would/);
  });
});
