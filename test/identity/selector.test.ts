import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assignSelectors, explainSelector, isKubeDns, isVolatileLabel } from '../../src/identity/index.js';
import type { Graph, PeerNode, PodRecord, WorkloadKind } from '../../src/model/index.js';

type Labels = Record<string, string>;

/** A pod spec for the graph builder: `[workload key, pod name, labels]`. */
type PodSpec = [workload: string, name: string, labels: Labels];

function workloadNode(key: string): PeerNode {
  const [scope, kind, name] = key.split('/');
  const colon = scope.indexOf(':');
  const cluster = colon < 0 ? undefined : scope.slice(0, colon);
  const namespace = colon < 0 ? scope : scope.slice(colon + 1);
  return {
    key,
    peer: cluster
      ? { type: 'workload', cluster, namespace, kind: kind as WorkloadKind, name }
      : { type: 'workload', namespace, kind: kind as WorkloadKind, name },
    names: [],
    ips: [],
    serviceAccounts: [],
    firstSeen: 0,
    lastSeen: 0,
  };
}

/** A graph whose workload peers are the owners of the given pods (plus any extra peers). */
function graphOf(specs: PodSpec[], extraPeers: PeerNode[] = []): Graph {
  const pods: PodRecord[] = specs.map(([workload, name, labels]) => ({
    namespace: workload.split('/')[0].split(':').at(-1) ?? '',
    name,
    workload,
    labels,
    ips: [],
    firstSeen: 0,
    lastSeen: 0,
  }));
  const peers = new Map<string, PeerNode>();
  for (const [workload] of specs) if (!peers.has(workload)) peers.set(workload, workloadNode(workload));
  for (const p of extraPeers) peers.set(p.key, p);
  return { peers, pods, edges: [], window: {} };
}

function selectorOf(graph: Graph, key: string): Labels | undefined {
  return graph.peers.get(key)?.selector;
}

const CART = 'shop/Deployment/cart';
const ORDERS = 'shop/Deployment/orders';

describe('isVolatileLabel', () => {
  test('controller, per-pod and Cilium labels are volatile', () => {
    for (const key of [
      'pod-template-hash',
      'controller-revision-hash',
      'statefulset.kubernetes.io/pod-name',
      'pod-template-generation',
      'job-name',
      'controller-uid',
      'batch.kubernetes.io/job-name',
      'batch.kubernetes.io/controller-uid',
      'apps.kubernetes.io/pod-index',
      'io.cilium.k8s.policy.serviceaccount',
      'io.kubernetes.pod.namespace',
      'app.kubernetes.io/version',
      'helm.sh/chart',
    ])
      assert.equal(isVolatileLabel(key), true, key);
  });

  test('application labels are stable', () => {
    for (const key of [
      'app',
      'app.kubernetes.io/name',
      'app.kubernetes.io/instance',
      'k8s-app',
      'name',
      'tier',
      'version',
    ])
      assert.equal(isVolatileLabel(key), false, key);
  });
});

describe('assignSelectors', () => {
  test('prefers app.kubernetes.io/name over app when either would do', () => {
    const g = graphOf([
      [
        CART,
        'cart-6d9f8c7b5-abcdf',
        { app: 'cart', 'app.kubernetes.io/name': 'cart', 'pod-template-hash': '6d9f8c7b5' },
      ],
      [
        ORDERS,
        'orders-5b7d9c8f4-zq2xk',
        { app: 'orders', 'app.kubernetes.io/name': 'orders', 'pod-template-hash': '5b7d9c8f4' },
      ],
    ]);
    assignSelectors(g);
    assert.deepEqual(selectorOf(g, CART), { 'app.kubernetes.io/name': 'cart' });
    assert.deepEqual(selectorOf(g, ORDERS), { 'app.kubernetes.io/name': 'orders' });
    assert.equal(
      g.peers.get(CART)?.selectorReason,
      'app.kubernetes.io/name=cart is on the 1 observed pod of shop/Deployment/cart and not on the 1 other observed pod in namespace shop',
    );
  });

  test('follows the documented order: app.kubernetes.io/* before app before k8s-app before name before others', () => {
    const g = graphOf([
      [
        CART,
        'cart-1',
        { zone: 'a', name: 'cart', 'k8s-app': 'cart', app: 'cart', 'app.kubernetes.io/part-of': 'shop' },
      ],
    ]);
    assignSelectors(g);
    assert.deepEqual(selectorOf(g, CART), { 'app.kubernetes.io/part-of': 'shop' });

    const h = graphOf([[CART, 'cart-1', { zone: 'a', name: 'cart', 'k8s-app': 'cart' }]]);
    assignSelectors(h);
    assert.deepEqual(selectorOf(h, CART), { 'k8s-app': 'cart' });

    const i = graphOf([[CART, 'cart-1', { zone: 'a', tier: 'web' }]]);
    assignSelectors(i);
    assert.deepEqual(selectorOf(i, CART), { tier: 'web' });
  });

  test('never chooses a volatile label, even when it is the only one that tells two workloads apart', () => {
    const g = graphOf([
      [CART, 'cart-6d9f8c7b5-abcdf', { app: 'shop', 'pod-template-hash': '6d9f8c7b5' }],
      [ORDERS, 'orders-5b7d9c8f4-zq2xk', { app: 'shop', 'pod-template-hash': '5b7d9c8f4' }],
      ['shop/Job/seed', 'seed-k2x9z', { app: 'shop', 'job-name': 'seed', 'batch.kubernetes.io/job-name': 'seed' }],
    ]);
    assignSelectors(g);
    for (const node of g.peers.values()) assert.equal(node.selector, undefined, node.key);
    assert.equal(
      g.peers.get(CART)?.selectorReason,
      'pods of shop/Deployment/cart and shop/Deployment/orders, shop/Job/seed share every stable label: app=shop; ' +
        'add a distinguishing label to the pod template of shop/Deployment/cart',
    );
  });

  test('a rolling update across two pod-template-hash values still yields a selector', () => {
    const g = graphOf([
      [CART, 'cart-6d9f8c7b5-abcdf', { app: 'cart', 'pod-template-hash': '6d9f8c7b5', version: 'v1' }],
      [CART, 'cart-6d9f8c7b5-bcdfg', { app: 'cart', 'pod-template-hash': '6d9f8c7b5', version: 'v1' }],
      [CART, 'cart-7c8b9d6f5-x2k4z', { app: 'cart', 'pod-template-hash': '7c8b9d6f5', version: 'v2' }],
      [ORDERS, 'orders-5b7d9c8f4-zq2xk', { app: 'orders', version: 'v2' }],
    ]);
    assignSelectors(g);
    assert.deepEqual(selectorOf(g, CART), { app: 'cart' });
  });

  test('a label that differs between a workload’s own pods is not chosen, even where it would be preferred', () => {
    const g = graphOf([
      [CART, 'cart-a', { 'app.kubernetes.io/name': 'cart-v1', tier: 'web' }],
      [CART, 'cart-b', { 'app.kubernetes.io/name': 'cart-v2', tier: 'web' }],
      [ORDERS, 'orders-a', { tier: 'backend' }],
    ]);
    assignSelectors(g);
    assert.deepEqual(selectorOf(g, CART), { tier: 'web' });
  });

  test('two workloads sharing `app` get an extra label, and the reason says why', () => {
    const g = graphOf([
      [CART, 'cart-1', { app: 'shop', tier: 'web' }],
      [ORDERS, 'orders-1', { app: 'shop', tier: 'worker' }],
      ['shop/Deployment/blog', 'blog-1', { app: 'blog', tier: 'web' }],
    ]);
    assignSelectors(g);
    assert.deepEqual(selectorOf(g, CART), { app: 'shop', tier: 'web' });
    assert.deepEqual(selectorOf(g, ORDERS), { tier: 'worker' });
    assert.deepEqual(selectorOf(g, 'shop/Deployment/blog'), { app: 'blog' });
    assert.equal(
      g.peers.get(CART)?.selectorReason,
      'app=shop, tier=web is on the 1 observed pod of shop/Deployment/cart and on none of the 2 other observed pods ' +
        'in namespace shop; app=shop alone would also select shop/Deployment/orders',
    );
  });

  test('a workload whose labels are a subset of another’s gets none; the other one can still be selected', () => {
    const g = graphOf([
      [CART, 'cart-1', { app: 'cart' }],
      [ORDERS, 'orders-1', { app: 'cart', role: 'orders' }],
    ]);
    assignSelectors(g);
    assert.equal(selectorOf(g, CART), undefined);
    assert.match(
      g.peers.get(CART)?.selectorReason ?? '',
      /^pods of shop\/Deployment\/cart and shop\/Deployment\/orders share/,
    );
    assert.deepEqual(selectorOf(g, ORDERS), { role: 'orders' });
  });

  test('pods in other namespaces and other clusters do not compete', () => {
    const g = graphOf([
      [CART, 'cart-1', { app: 'cart' }],
      ['staging/Deployment/cart', 'cart-1', { app: 'cart' }],
      ['east:shop/Deployment/cart', 'cart-1', { app: 'cart' }],
      ['west:shop/Deployment/cart', 'cart-1', { app: 'cart' }],
    ]);
    assignSelectors(g);
    for (const node of g.peers.values()) assert.deepEqual(node.selector, { app: 'cart' }, node.key);
    assert.equal(
      g.peers.get('east:shop/Deployment/cart')?.selectorReason,
      "app=cart is on the 1 observed pod of east:shop/Deployment/cart; no other workload's pods were observed in east:shop",
    );
  });

  test('no observed pods, or no stable common label, gives no selector and a reason', () => {
    const g = graphOf(
      [
        [CART, 'cart-a', { 'pod-template-hash': '6d9f8c7b5', version: 'v1' }],
        [CART, 'cart-b', { 'pod-template-hash': '7c8b9d6f5', version: 'v2' }],
      ],
      [workloadNode(ORDERS)],
    );
    assignSelectors(g);
    assert.equal(selectorOf(g, CART), undefined);
    assert.equal(
      g.peers.get(CART)?.selectorReason,
      'all 2 observed pods of shop/Deployment/cart share no stable label (labels that differ between its pods: ' +
        'version; volatile labels left out: pod-template-hash); add one to its pod template',
    );
    assert.equal(selectorOf(g, ORDERS), undefined);
    assert.equal(
      g.peers.get(ORDERS)?.selectorReason,
      'no pods of shop/Deployment/orders were observed, so its labels are unknown',
    );
  });

  test('peers that are not workloads are left alone', () => {
    const host: PeerNode = {
      key: 'reserved:host',
      peer: { type: 'reserved', entity: 'host' },
      names: [],
      ips: [],
      serviceAccounts: [],
      firstSeen: 0,
      lastSeen: 0,
    };
    const g = graphOf([[CART, 'cart-1', { app: 'cart' }]], [host]);
    assignSelectors(g);
    assert.equal(host.selector, undefined);
    assert.equal(host.selectorReason, undefined);
  });

  test('the result does not depend on the order of pods', () => {
    const specs: PodSpec[] = [
      [CART, 'cart-1', { app: 'shop', tier: 'web', team: 'a' }],
      [CART, 'cart-2', { app: 'shop', tier: 'web', team: 'a' }],
      [ORDERS, 'orders-1', { app: 'shop', tier: 'worker', team: 'a' }],
      ['shop/Deployment/blog', 'blog-1', { app: 'blog', tier: 'web', team: 'a' }],
      ['shop/Deployment/wiki', 'wiki-1', { app: 'wiki', tier: 'web', team: 'b' }],
    ];
    const forward = graphOf(specs);
    const backward = graphOf([...specs].reverse());
    assignSelectors(forward);
    assignSelectors(backward);
    for (const [key, node] of forward.peers) {
      assert.deepEqual(backward.peers.get(key)?.selector, node.selector, key);
      assert.equal(backward.peers.get(key)?.selectorReason, node.selectorReason, key);
      assert.equal(explainSelector(backward, key), explainSelector(forward, key));
    }
  });

  test('many common labels: the search stays bounded and still finds a separating set', () => {
    // Each other pod lacks one of the last five labels, so all five are needed; trying every subset of
    // 25 labels up to size five is past the search limit, which exercises the greedy fallback.
    const keys = Array.from({ length: 25 }, (_, i) => `l${String(i).padStart(2, '0')}`);
    const all = Object.fromEntries(keys.map((k) => [k, 'y']));
    const specs: PodSpec[] = [[CART, 'cart-1', all]];
    for (const missing of keys.slice(20)) {
      const labels = { ...all };
      delete labels[missing];
      specs.push([`shop/Deployment/other-${missing}`, `other-${missing}`, labels]);
    }
    const g = graphOf(specs);
    assignSelectors(g);
    assert.deepEqual(selectorOf(g, CART), { l20: 'y', l21: 'y', l22: 'y', l23: 'y', l24: 'y' });
  });

  test('more than 32 competing pods (several bitset words) are all taken into account', () => {
    const specs: PodSpec[] = [[CART, 'cart-1', { app: 'shop', tier: 'web' }]];
    for (let i = 0; i < 70; i++) specs.push([`shop/Deployment/w${i}`, `w${i}-1`, { app: 'shop', tier: `t${i}` }]);
    specs.push(['shop/Deployment/last', 'last-1', { app: 'other', tier: 'web' }]);
    const g = graphOf(specs);
    assignSelectors(g);
    assert.deepEqual(selectorOf(g, CART), { app: 'shop', tier: 'web' });
    assert.deepEqual(selectorOf(g, 'shop/Deployment/w69'), { tier: 't69' });
  });
});

describe('explainSelector', () => {
  test('explains a chosen selector with the labels considered and what each would select', () => {
    const g = graphOf([
      [CART, 'cart-6d9f8c7b5-abcdf', { app: 'shop', tier: 'web', 'pod-template-hash': '6d9f8c7b5', version: 'v1' }],
      [CART, 'cart-7c8b9d6f5-x2k4z', { app: 'shop', tier: 'web', 'pod-template-hash': '7c8b9d6f5', version: 'v2' }],
      [ORDERS, 'orders-1', { app: 'shop', tier: 'worker' }],
      ['shop/Deployment/blog', 'blog-1', { app: 'blog', tier: 'web' }],
    ]);
    assert.equal(
      explainSelector(g, CART),
      [
        'shop/Deployment/cart: selector app=shop, tier=web',
        '  why: app=shop, tier=web is on all 2 observed pods of shop/Deployment/cart and on none of the 2 other observed ' +
          'pods in namespace shop; app=shop alone would also select shop/Deployment/orders',
        '  observed pods (2): cart-6d9f8c7b5-abcdf, cart-7c8b9d6f5-x2k4z',
        '  stable labels on all of them, preferred first: app=shop, tier=web',
        '  left out, not the same on all its pods: version (v1, v2)',
        '  left out, volatile: pod-template-hash',
        '  other observed pods in shop: 2, of shop/Deployment/blog, shop/Deployment/orders',
        '  each stable label alone:',
        '    app=shop: also selects shop/Deployment/orders',
        '    tier=web: also selects shop/Deployment/blog',
      ].join('\n'),
    );
  });

  test('explains a missing selector, an unknown key and a non-workload peer', () => {
    const g = graphOf([
      [CART, 'cart-1', { app: 'shop' }],
      [ORDERS, 'orders-1', { app: 'shop' }],
    ]);
    assert.equal(
      explainSelector(g, CART),
      [
        'shop/Deployment/cart: no selector',
        '  why: pods of shop/Deployment/cart and shop/Deployment/orders share every stable label: app=shop; ' +
          'add a distinguishing label to the pod template of shop/Deployment/cart',
        '  observed pods (1): cart-1',
        '  stable labels on all of them, preferred first: app=shop',
        '  other observed pods in shop: 1, of shop/Deployment/orders',
        '  each stable label alone:',
        '    app=shop: also selects shop/Deployment/orders',
      ].join('\n'),
    );
    assert.equal(explainSelector(g, 'shop/Deployment/nope'), 'shop/Deployment/nope: not in the graph');
    const world: PeerNode = {
      key: 'reserved:world',
      peer: { type: 'reserved', entity: 'world' },
      names: [],
      ips: [],
      serviceAccounts: [],
      firstSeen: 0,
      lastSeen: 0,
    };
    g.peers.set(world.key, world);
    assert.equal(
      explainSelector(g, 'reserved:world'),
      'reserved:world: not a workload; only workloads are selected by labels',
    );
  });

  test('agrees with assignSelectors', () => {
    const g = graphOf([
      [CART, 'cart-1', { app: 'shop', tier: 'web' }],
      [ORDERS, 'orders-1', { app: 'shop', tier: 'worker' }],
    ]);
    assignSelectors(g);
    const first = explainSelector(g, CART).split('\n');
    assert.equal(first[0], 'shop/Deployment/cart: selector tier=web');
    assert.equal(first[1], `  why: ${g.peers.get(CART)?.selectorReason}`);
  });
});

describe('isKubeDns', () => {
  test('kube-system workloads with k8s-app=kube-dns pods, or named coredns / kube-dns', () => {
    const g = graphOf([
      ['kube-system/Deployment/dns-server', 'dns-server-1', { 'k8s-app': 'kube-dns' }],
      ['kube-system/Deployment/coredns', 'coredns-1', {}],
      ['kube-system/Deployment/kube-dns', 'kube-dns-1', {}],
      ['kube-system/Deployment/metrics-server', 'metrics-server-1', { 'k8s-app': 'metrics-server' }],
      ['shop/Deployment/coredns', 'coredns-1', { 'k8s-app': 'kube-dns' }],
    ]);
    const verdict = (key: string) => isKubeDns(g.peers.get(key) as PeerNode, g.pods);
    assert.equal(verdict('kube-system/Deployment/dns-server'), true);
    assert.equal(verdict('kube-system/Deployment/coredns'), true);
    assert.equal(verdict('kube-system/Deployment/kube-dns'), true);
    assert.equal(verdict('kube-system/Deployment/metrics-server'), false);
    assert.equal(verdict('shop/Deployment/coredns'), false);
  });

  test('a reserved peer is never kube-dns', () => {
    const node: PeerNode = {
      key: 'reserved:host',
      peer: { type: 'reserved', entity: 'host' },
      names: [],
      ips: [],
      serviceAccounts: [],
      firstSeen: 0,
      lastSeen: 0,
    };
    assert.equal(isKubeDns(node, []), false);
  });
});
