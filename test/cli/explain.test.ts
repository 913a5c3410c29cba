// `flowwright explain` with the issue's own examples: pods from a kubectl dump (--inventory) or from the
// learned graph, named ports, an IP source, an HTTP request through an AuthorizationPolicy, and
// --exit-code answering 0 for allowed and 1 for denied.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_CODES } from '../../src/model/index.js';
import { flowwright, removeWorkspace, workspace } from '../review/cli.js';

const pod = (name: string, app: string, ip: string, sa: string, ports: object[]) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', labels: { app } },
  spec: { serviceAccountName: sa, containers: [{ name: app, ports }] },
  status: { podIP: ip, podIPs: [{ ip }] },
});

const INVENTORY = {
  apiVersion: 'v1',
  kind: 'List',
  items: [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { team: 'web' } } },
    pod('frontend-6d9f-abcde', 'frontend', '10.1.0.5', 'frontend', [{ name: 'http', containerPort: 8080 }]),
    pod('cart-7c4b-x2x9k', 'cart', '10.1.0.9', 'cart', [{ name: 'grpc', containerPort: 7070 }]),
  ],
};

const POLICIES = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: cart, namespace: shop}
spec:
  podSelector: {matchLabels: {app: cart}}
  ingress:
    - from: [{podSelector: {matchLabels: {app: frontend}}}]
      ports: [{port: grpc}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: frontend, namespace: shop}
spec:
  podSelector: {matchLabels: {app: frontend}}
  ingress:
    - from: [{ipBlock: {cidr: 198.51.100.0/24}}]
      ports: [{port: http}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: cart-api, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  rules:
    - from: [{source: {principals: [cluster.local/ns/shop/sa/frontend]}}]
      to: [{operation: {methods: [POST], paths: ["/cart/*"]}}]
`;

describe('flowwright explain', () => {
  let dir: string;
  const base = ['--policies', 'policies.yaml', '--inventory', 'pods.json', '--db', 'none.db'];
  before(async () => {
    dir = await workspace();
    writeFileSync(join(dir, 'pods.json'), JSON.stringify(INVENTORY));
    writeFileSync(join(dir, 'policies.yaml'), POLICIES);
  });
  after(() => removeWorkspace(dir));

  it('explains an allowed connection on a named port, from the inventory alone', () => {
    const r = flowwright(dir, [
      'explain',
      'shop/frontend-6d9f-abcde',
      'shop/cart-7c4b-x2x9k:7070/TCP',
      ...base,
      '--exit-code',
    ]);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.match(
      r.stdout,
      /^Connection: shop\/frontend-6d9f-abcde -> shop\/cart-7c4b-x2x9k TCP\/7070\nResult: ALLOWED/,
    );
    assert.match(r.stdout, /ports: TCP\/grpc \(= 7070\) matches TCP\/7070/);
    // The AuthorizationPolicy is checked too; a plain connection cannot show method or path.
    assert.match(r.stdout, /Request: TCP\/7070 from shop\/frontend-6d9f-abcde to shop\/cart-7c4b-x2x9k/);
  });

  it('answers 1 with --exit-code when an IP source is denied, and 0 without it', () => {
    const args = ['explain', '203.0.113.7', 'shop/frontend-6d9f-abcde:8080', ...base];
    const denied = flowwright(dir, [...args, '--exit-code']);
    assert.equal(denied.code, EXIT_CODES.finding);
    assert.match(denied.stdout, /Result: DENIED/);
    assert.match(denied.stdout, /from\[0\] ipBlock 198\.51\.100\.0\/24: 203\.0\.113\.7 is outside 198\.51\.100\.0\/24/);
    assert.equal(flowwright(dir, args).code, EXIT_CODES.ok);
    assert.equal(
      flowwright(dir, ['explain', '198.51.100.4', 'shop/frontend-6d9f-abcde:8080', ...base, '--exit-code']).code,
      EXIT_CODES.ok,
    );
  });

  it('checks an HTTP request with --principal, --method and --path', () => {
    const args = [
      'explain',
      'shop/frontend-6d9f-abcde',
      'shop/cart-7c4b-x2x9k:7070',
      '--principal',
      'cluster.local/ns/shop/sa/frontend',
      ...base,
      '--exit-code',
    ];
    const ok = flowwright(dir, [...args, '--method', 'POST', '--path', '/cart/items']);
    assert.equal(ok.code, EXIT_CODES.ok, ok.stdout);
    assert.match(ok.stdout, /Request: POST \/cart\/items over TCP\/7070/);
    assert.match(ok.stdout, /Result: ALLOWED/);
    const no = flowwright(dir, [...args, '--method', 'DELETE', '--path', '/cart/items']);
    assert.equal(no.code, EXIT_CODES.finding);
    assert.match(no.stdout, /Request: DELETE \/cart\/items[\s\S]*Result: DENIED/);
  });

  it('looks workloads up in the learned graph', () => {
    const r = flowwright(dir, [
      'explain',
      'shop/deployment/frontend',
      'shop/deployment/cartservice:7070',
      '--db',
      'shop.db',
      '--policies',
      'existing',
      '--exit-code',
    ]);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.match(r.stdout, /allowed by shop\/cartservice spec\.ingress\[0\]/);
    // Without a port: every port the destination was reached on.
    const all = flowwright(dir, [
      'explain',
      'ops/deployment/blackbox-exporter',
      'shop/deployment/frontend',
      '--db',
      'shop.db',
      '--policies',
      'existing',
      '--exit-code',
    ]);
    assert.equal(all.code, EXIT_CODES.finding);
    assert.match(all.stdout, /TCP\/8080\nResult: DENIED/);
  });

  it('names what it cannot find or parse (exit 2)', () => {
    const unknown = flowwright(dir, ['explain', 'shop/nope', 'shop/cart-7c4b-x2x9k:7070', ...base]);
    assert.equal(unknown.code, EXIT_CODES.usage);
    assert.match(
      unknown.stderr,
      /<src>: no pod shop\/nope in the inventory \(pods in shop: cart-7c4b-x2x9k, frontend-6d9f-abcde\)/,
    );
    const proto = flowwright(dir, ['explain', 'shop/frontend-6d9f-abcde', 'shop/cart-7c4b-x2x9k:7070/ICMP', ...base]);
    assert.equal(proto.code, EXIT_CODES.usage);
    assert.match(proto.stderr, /protocol must be TCP, UDP or SCTP/);
    const nothing = flowwright(dir, ['explain', 'a/b', 'c/d:1', '--policies', 'policies.yaml', '--db', 'none.db']);
    assert.equal(nothing.code, EXIT_CODES.usage);
    assert.match(nothing.stderr, /give --inventory, or learn a graph/);
  });

  it('reports a broken inventory file with exit 3', () => {
    writeFileSync(join(dir, 'broken.json'), '{"kind": "List", ');
    const r = flowwright(dir, ['explain', 'a/b', 'c/d:1', '--policies', 'policies.yaml', '--inventory', 'broken.json']);
    assert.equal(r.code, EXIT_CODES.input);
    assert.match(r.stderr, /broken\.json: not valid JSON/);
  });

  it('shows the issue examples in --help', () => {
    const r = flowwright(dir, ['explain', '--help']);
    assert.match(r.stdout, /Usage: flowwright explain \[options\] <src> <dst>/);
    assert.match(
      r.stdout,
      /\$ flowwright explain 203\.0\.113\.7 shop\/frontend-6d9f-abcde:8080 --policies policies\/ --exit-code/,
    );
  });
});

describe('explain endpoint syntax', () => {
  it('parses names, IPv4 and bracketed IPv6 with ports and protocols', async () => {
    const { parseTarget } = await import('../../src/cli/explain.js');
    assert.deepEqual(parseTarget('shop/cart-7c4b-x2x9k:7070/udp', 'x'), {
      name: 'shop/cart-7c4b-x2x9k',
      port: 7070,
      protocol: 'UDP',
    });
    assert.deepEqual(parseTarget('shop/deployment/cart:7070', 'x'), {
      name: 'shop/deployment/cart',
      port: 7070,
      protocol: 'TCP',
    });
    assert.deepEqual(parseTarget('203.0.113.7:443', 'x'), { name: '203.0.113.7', port: 443, protocol: 'TCP' });
    assert.deepEqual(parseTarget('2001:db8::1', 'x'), { name: '2001:db8::1', protocol: 'TCP' });
    assert.deepEqual(parseTarget('[2001:db8::1]:443/SCTP', 'x'), { name: '2001:db8::1', port: 443, protocol: 'SCTP' });
    assert.throws(() => parseTarget('shop/cart:0', 'x'), /port 0 is outside 1-65535/);
    assert.throws(() => parseTarget('shop/cart:http', 'x'), /expected name\[:port\[\/protocol\]\]/);
  });
});
