// The one name check every source calls: Kubernetes' rules for namespaces, pods, workloads, service
// accounts and labels, and DNS names as Cilium's toFQDNs takes them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkFlowNames,
  checkLabels,
  checkName,
  checkPeerNames,
  type Flow,
  FlowwrightError,
  invalidNameKind,
  isValidName,
  type NameKind,
} from '../../src/model/index.js';

const CASES: Record<NameKind, { good: string[]; bad: string[] }> = {
  namespace: {
    good: ['shop', 'kube-system', 'a', '0', 'x'.repeat(63), 'team-1-prod'],
    bad: [
      '',
      '../../x',
      'Shop',
      'shop\n',
      'a.b',
      '-shop',
      'shop-',
      'x'.repeat(64),
      'sh op',
      'ns\u0000',
      '\u001b[2J',
      'é',
    ],
  },
  pod: {
    good: ['frontend-6d9f8c7b5-x2x9k', 'web-0', 'a.b.c', 'x'.repeat(253), 'frontend-6d9f8c7b5-*', 'node-local-dns-*'],
    bad: ['', '../../../../tmp/PWNED', 'a..b', '.a', 'a.', 'Web-0', 'x'.repeat(254), '*', 'a*b', 'web 0', '<script>'],
  },
  workload: {
    good: ['frontend', 'my.app', 'x'.repeat(253)],
    bad: ['', '..', '../x', 'a/b', 'a*', 'App', 'x'.repeat(254)],
  },
  'service account': {
    good: ['default', 'frontend-sa', 'a.b'],
    bad: ['', 'a/b', 'SA', 'a\tb'],
  },
  'label key': {
    good: ['app', 'app.kubernetes.io/name', 'A_b.c-D', 'example.com/x', 'x'.repeat(63), `${'a'.repeat(253)}/n`],
    bad: [
      '',
      '/app',
      'app/',
      'a/b/c',
      '-app',
      'app-',
      'x'.repeat(64),
      'Bad_Prefix/x',
      'k\n',
      'a b',
      `${'a'.repeat(254)}/n`,
    ],
  },
  'label value': {
    good: ['', 'v1', 'A.b_c-D', 'x'.repeat(63)],
    bad: ['v1=beta', '-x', 'x-', 'x'.repeat(64), 'a b', '<script>', 'v\u001b'],
  },
  cluster: { good: ['east', 'mesh-1'], bad: ['East', '../x', 'a.b', 'x'.repeat(64)] },
  'network set': { good: ['pub', 'pvt', 'allowed-apis', 'a.b'], bad: ['', '../x', 'Pub', 'a b'] },
  service: {
    good: ['shop/cart', 'cart', 'shop/cart:http', 'shop/cart:8080', 'default/kubernetes:https'],
    bad: ['', 'shop/', '/cart', 'shop/cart/x', 'shop/Cart', 'shop/cart:', 'shop/cart:HTTP', 'a\nb'],
  },
  DNS: {
    good: [
      'api.stripe.com',
      'api.stripe.com.',
      'localhost',
      '_grpclb._tcp.svc',
      'Example.COM',
      '1.2.0.192.in-addr.arpa',
    ],
    bad: [
      '',
      '*',
      '*.example.com',
      'a b.com',
      'a\n.com',
      'a..com',
      '.com',
      `${'x'.repeat(64)}.com`,
      `${'a.'.repeat(127)}ab`,
    ],
  },
  // `*` is a token character (RFC 9110), so it is accepted here and written literally by the policy kinds.
  'HTTP method': {
    good: ['GET', 'DELETE', 'PROPFIND', 'M-SEARCH', '*', "x!#$%&'*+-.^_`|~9"],
    bad: ['', 'GET /', 'GE\tT', 'GET\r\nX-Evil: 1', '(GET)', 'G"T', 'GET,POST', 'GÉT', 'a/b', '{*}', '[a]'],
  },
};

test('each kind of name follows its rule: accepted and refused examples', () => {
  for (const [kind, { good, bad }] of Object.entries(CASES) as [NameKind, { good: string[]; bad: string[] }][]) {
    for (const name of good) assert.equal(isValidName(kind, name), true, `${kind} ${JSON.stringify(name)} is valid`);
    for (const name of bad) assert.equal(isValidName(kind, name), false, `${kind} ${JSON.stringify(name)} is invalid`);
  }
});

test('a refused name is an input error of its own kind, naming the field, with the value escaped', () => {
  assert.throws(
    () => checkName('namespace', '../\u001b]0;owned\u0007x', 'source.namespace'),
    (err: unknown) => {
      assert.ok(err instanceof FlowwrightError);
      assert.equal(err.code, 'input');
      assert.equal(err.kind, 'invalid namespace name');
      assert.equal(err.location?.field, 'source.namespace');
      // No raw control character reaches the message; they appear as JSON escapes.
      assert.doesNotMatch(err.message, /[\u0000-\u001f]/);
      assert.match(err.message, /\\u001b\]0;owned\\u0007x/);
      return true;
    },
  );
  assert.throws(() => checkName('pod', 42, 'source.pod'), /invalid pod name "42"/);
  assert.equal(invalidNameKind('label key'), 'invalid label key');
  assert.equal(invalidNameKind('DNS'), 'invalid DNS name');
  const long = 'x'.repeat(300);
  assert.throws(
    () => checkName('namespace', long, 'f'),
    (err: unknown) => err instanceof Error && err.message.length < 400,
  );
});

test('labels: keys and values each checked, the field names the key', () => {
  checkLabels({ app: 'web', 'app.kubernetes.io/name': 'web', tier: '' }, 'source.labels');
  assert.throws(
    () => checkLabels({ app: 'web', 'bad key': 'x' }, 'source.labels'),
    (err: unknown) =>
      err instanceof FlowwrightError && err.kind === 'invalid label key' && err.location?.field === 'source.labels',
  );
  assert.throws(
    () => checkLabels({ app: '<script>' }, 'dest.labels'),
    (err: unknown) =>
      err instanceof FlowwrightError && err.kind === 'invalid label value' && err.location?.field === 'dest.labels.app',
  );
  // A frozen map found valid once is not checked again, but a different map with a bad value still is.
  const shared = Object.freeze({ app: 'web' });
  checkLabels(shared, 'x');
  checkLabels(shared, 'x');
  assert.throws(() => checkLabels({ app: 'web\n' }, 'x'), FlowwrightError);
});

function flow(extra: Partial<Flow> = {}): Flow {
  return {
    time: 0,
    source: { namespace: 'shop', pod: 'web-7d4b9c-aaaaa', labels: { app: 'web' }, serviceAccount: 'web' },
    destination: { namespace: 'shop', pod: 'api-0', labels: { app: 'api' }, names: ['api.shop.example'] },
    protocol: 'TCP',
    verdict: 'forwarded',
    reply: false,
    direction: 'egress',
    count: 1,
    origin: { source: 'test' },
    ...extra,
  };
}

test('checkFlowNames checks both ends, the Service and the DNS query, naming the first bad field', () => {
  checkFlowNames(flow());
  checkFlowNames(
    flow({ service: 'shop/api:http', l7: { type: 'request', dns: { query: 'api.stripe.com', answers: [] } } }),
  );
  const refused = (f: Flow, kind: string, field: string) =>
    assert.throws(
      () => checkFlowNames(f),
      (err: unknown) => err instanceof FlowwrightError && err.kind === kind && err.location?.field === field,
      `${kind} at ${field}`,
    );
  const base = flow();
  refused({ ...base, source: { ...base.source, namespace: '../../x' } }, 'invalid namespace name', 'source.namespace');
  refused({ ...base, destination: { ...base.destination, pod: 'a\nb' } }, 'invalid pod name', 'destination.pod');
  refused(
    { ...base, source: { ...base.source, workload: { kind: 'Deployment', name: '../../../../tmp/PWNED' } } },
    'invalid workload name',
    'source.workload',
  );
  refused(
    { ...base, source: { ...base.source, serviceAccount: 'a/b' } },
    'invalid service account name',
    'source.serviceAccount',
  );
  refused({ ...base, source: { ...base.source, cluster: '../x' } }, 'invalid cluster name', 'source.cluster');
  refused(
    { ...base, destination: { ...base.destination, names: ['ok.example', '*'] } },
    'invalid DNS name',
    'destination.names',
  );
  refused(
    { ...base, destination: { ...base.destination, namespaceLabels: { team: 'a b' } } },
    'invalid label value',
    'destination.namespaceLabels.team',
  );
  refused({ ...base, service: 'shop/api\u001b' }, 'invalid service name', 'service');
  refused(
    { ...base, l7: { type: 'request', dns: { query: 'evil .example', answers: [] } } },
    'invalid DNS name',
    'l7.dns.query',
  );
  // The HTTP method of an L7 record is checked too; a record without one (empty) passes.
  checkFlowNames(flow({ l7: { type: 'request', http: { method: '', path: '/' } } }));
  checkFlowNames(flow({ l7: { type: 'request', http: { method: '*', path: '/' } } }));
  refused(
    { ...base, l7: { type: 'request', http: { method: 'GET /x HTTP/1.1\r\n', path: '/' } } },
    'invalid HTTP method',
    'l7.http.method',
  );
});

test('checkPeerNames checks workload and network set peers of the graph', () => {
  checkPeerNames({ type: 'workload', namespace: 'shop', kind: 'Deployment', name: 'web' }, 'peer');
  checkPeerNames({ type: 'reserved', entity: 'world' }, 'peer');
  checkPeerNames({ type: 'networkset', name: 'pub' }, 'peer');
  assert.throws(
    () => checkPeerNames({ type: 'workload', namespace: 'shop', kind: 'Deployment', name: '../x' }, 'peers[0].peer'),
    (err: unknown) => err instanceof FlowwrightError && err.location?.field === 'peers[0].peer.name',
  );
  assert.throws(
    () => checkPeerNames({ type: 'networkset', namespace: 'A', name: 'x' }, 'p'),
    (err: unknown) => err instanceof FlowwrightError && err.kind === 'invalid namespace name',
  );
});
