import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { clearPeerCache, resolvePeer } from '../../src/identity/index.js';
import { type Endpoint, peerKey, RESERVED_ENTITIES } from '../../src/model/index.js';

beforeEach(() => clearPeerCache());

describe('resolvePeer', () => {
  test('a pod becomes its workload peer', () => {
    const ep: Endpoint = {
      namespace: 'shop',
      pod: 'cart-7d9f8c6b5-xk2p9',
      labels: { app: 'cart', 'pod-template-hash': '7d9f8c6b5' },
      ip: '10.0.1.5',
    };
    assert.deepEqual(resolvePeer(ep), { type: 'workload', namespace: 'shop', kind: 'Deployment', name: 'cart' });
  });

  test('the cluster is kept on workload peers', () => {
    const ep: Endpoint = { cluster: 'east', namespace: 'shop', pod: 'debug', labels: {} };
    const peer = resolvePeer(ep);
    assert.deepEqual(peer, { type: 'workload', cluster: 'east', namespace: 'shop', kind: 'Pod', name: 'debug' });
    assert.equal(peerKey(peer), 'east:shop/Pod/debug');
  });

  test('the same pod name in two clusters gives two peers', () => {
    const a = resolvePeer({ cluster: 'east', namespace: 'shop', pod: 'debug', labels: {} });
    const b = resolvePeer({ cluster: 'west', namespace: 'shop', pod: 'debug', labels: {} });
    assert.notEqual(peerKey(a), peerKey(b));
  });

  test('a reported workload is used when present, and the same pod without it is derived', () => {
    const labels = { 'pod-template-hash': '7d9f8c6b5' };
    const reported = resolvePeer({
      namespace: 'shop',
      pod: 'cart-7d9f8c6b5-xk2p9',
      labels,
      workload: { kind: 'Deployment', name: 'cart-v2' },
    });
    const derived = resolvePeer({ namespace: 'shop', pod: 'cart-7d9f8c6b5-xk2p9', labels });
    assert.equal(peerKey(reported), 'shop/Deployment/cart-v2');
    assert.equal(peerKey(derived), 'shop/Deployment/cart');
  });

  test('reserved world with an IPv4 address → external /32', () => {
    assert.deepEqual(resolvePeer({ reserved: 'world', ip: '203.0.113.7', labels: {} }), {
      type: 'external',
      cidr: '203.0.113.7/32',
    });
  });

  test('reserved world with an IPv6 address → external /128, in canonical spelling', () => {
    assert.deepEqual(resolvePeer({ reserved: 'world', ip: '2001:DB8:0:0::7', labels: {} }), {
      type: 'external',
      cidr: '2001:db8::7/128',
    });
  });

  test('an endpoint with only an address → external', () => {
    assert.deepEqual(resolvePeer({ ip: '198.51.100.20', labels: {} }), { type: 'external', cidr: '198.51.100.20/32' });
  });

  test('world without an address stays the reserved world entity', () => {
    assert.deepEqual(resolvePeer({ reserved: 'world', labels: {} }), { type: 'reserved', entity: 'world' });
  });

  for (const entity of RESERVED_ENTITIES.filter((e) => e !== 'world')) {
    test(`reserved ${entity} → reserved entity, with or without an address`, () => {
      assert.deepEqual(resolvePeer({ reserved: entity, labels: {} }), { type: 'reserved', entity });
      assert.deepEqual(resolvePeer({ reserved: entity, ip: '10.0.0.1', labels: {} }), { type: 'reserved', entity });
    });
  }

  test('a reserved entity wins over pod fields the source may also have filled', () => {
    const ep: Endpoint = { reserved: 'host', namespace: 'kube-system', pod: 'kube-proxy-x7k2p', labels: {} };
    assert.deepEqual(resolvePeer(ep), { type: 'reserved', entity: 'host' });
  });

  test('a Calico network set → networkset, namespaced or global', () => {
    assert.deepEqual(resolvePeer({ namespace: 'shop', networkSet: 'partners', ip: '192.0.2.1', labels: {} }), {
      type: 'networkset',
      namespace: 'shop',
      name: 'partners',
    });
    assert.deepEqual(resolvePeer({ networkSet: 'pub', labels: {} }), { type: 'networkset', name: 'pub' });
  });

  test('an endpoint with nothing usable → reserved unknown', () => {
    assert.deepEqual(resolvePeer({ labels: {} }), { type: 'reserved', entity: 'unknown' });
    assert.deepEqual(resolvePeer({ namespace: 'shop', labels: { app: 'x' } }), { type: 'reserved', entity: 'unknown' });
  });

  test('a malformed address is unknown rather than a bogus network', () => {
    assert.deepEqual(resolvePeer({ ip: '999.1.1.1', labels: {} }), { type: 'reserved', entity: 'unknown' });
  });

  test('repeated endpoints share one frozen peer that cannot be changed by accident', () => {
    const ep: Endpoint = {
      namespace: 'shop',
      pod: 'cart-7d9f8c6b5-xk2p9',
      labels: { 'pod-template-hash': '7d9f8c6b5' },
    };
    const first = resolvePeer(ep);
    const second = resolvePeer({ ...ep });
    assert.equal(first, second);
    assert.ok(Object.isFrozen(first));
    assert.throws(() => {
      (first as { name: string }).name = 'other';
    }, TypeError);
  });
});
