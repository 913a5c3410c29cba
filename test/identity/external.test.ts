import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dnsNamesByIp, externalCidr, isIp } from '../../src/identity/index.js';
import { type Endpoint, type Flow, FlowwrightError } from '../../src/model/index.js';

describe('externalCidr', () => {
  test('widens IPv4 addresses to their network', () => {
    assert.equal(externalCidr('203.0.113.7', 24), '203.0.113.0/24');
    assert.equal(externalCidr('10.129.200.1', 9), '10.128.0.0/9');
    assert.equal(externalCidr('192.168.77.200', 27), '192.168.77.192/27');
  });

  test('/32 keeps the address and /0 is the whole space', () => {
    assert.equal(externalCidr('203.0.113.7', 32), '203.0.113.7/32');
    assert.equal(externalCidr('203.0.113.7', 0), '0.0.0.0/0');
    assert.equal(externalCidr('255.255.255.255', 31), '255.255.255.254/31');
  });

  test('widens IPv6 addresses and writes them the RFC 5952 way', () => {
    assert.equal(externalCidr('2001:db8:abcd:12:ffff::1', 64), '2001:db8:abcd:12::/64');
    assert.equal(externalCidr('2001:DB8:0:0:0:0:0:1', 128), '2001:db8::1/128');
    assert.equal(externalCidr('2001:db8::1', 0), '::/0');
    assert.equal(externalCidr('2001:db8:1:0:0:1:0:0', 128), '2001:db8:1::1:0:0/128');
    assert.equal(externalCidr('2001:db8:0:1:1:1:1:1', 128), '2001:db8:0:1:1:1:1:1/128');
    assert.equal(externalCidr('fe80::1:2', 10), 'fe80::/10');
  });

  test('accepts an IPv4 tail in IPv6 text', () => {
    assert.equal(externalCidr('::ffff:192.0.2.128', 128), '::ffff:c000:280/128');
    assert.equal(externalCidr('::ffff:192.0.2.128', 120), '::ffff:c000:200/120');
  });

  const bad: Array<[string, number]> = [
    ['203.0.113.7', 33],
    ['203.0.113.7', -1],
    ['203.0.113.7', 24.5],
    ['203.0.113.7', Number.NaN],
    ['2001:db8::1', 129],
    ['203.0.113', 24],
    ['203.0.113.256', 24],
    ['203.0.113.07', 24],
    ['203.0.113.7/32', 32],
    ['', 0],
    ['example.com', 32],
    ['2001:db8::1::2', 64],
    ['2001:db8:1:2:3:4:5:6:7', 64],
    ['2001:db8:1:2:3:4:5:6::', 64],
    ['2001:db8::g', 64],
    ['12345::', 64],
    ['fe80::1%eth0', 64],
  ];
  for (const [ip, prefix] of bad) {
    test(`refuses ${JSON.stringify(ip)} /${prefix}`, () => {
      assert.throws(
        () => externalCidr(ip, prefix),
        (e: unknown) => e instanceof FlowwrightError && e.code === 'input',
      );
    });
  }

  test('isIp tells addresses from names', () => {
    assert.equal(isIp('10.0.0.1'), true);
    assert.equal(isIp('::1'), true);
    assert.equal(isIp('api.stripe.com'), false);
  });
});

function flow(source: Endpoint, destination: Endpoint, extra: Partial<Flow> = {}): Flow {
  return {
    time: 0,
    source,
    destination,
    protocol: 'UDP',
    verdict: 'forwarded',
    reply: false,
    direction: 'egress',
    count: 1,
    origin: { source: 'test' },
    ...extra,
  };
}

describe('dnsNamesByIp', () => {
  test('maps answered addresses to the query and endpoint names to the endpoint address, sorted', () => {
    const client: Endpoint = { namespace: 'shop', pod: 'pay-1', labels: {}, ip: '10.0.0.9' };
    const dnsServer: Endpoint = { namespace: 'kube-system', pod: 'coredns-1', labels: {}, ip: '10.0.0.2' };
    const flows = [
      flow(client, dnsServer, {
        l7: {
          type: 'response',
          dns: { query: 'API.Stripe.com.', answers: ['198.51.100.7', 'api-edge.stripe.net', '198.51.100.8'] },
        },
      }),
      flow(client, { labels: {}, ip: '198.51.100.7', reserved: 'world', names: ['checkout.stripe.com'] }),
      flow(client, { labels: {}, ip: '2001:db8::5', reserved: 'world', names: ['v6.example.org.'] }),
    ];
    assert.deepEqual(
      [...dnsNamesByIp(flows)],
      [
        ['198.51.100.7', ['api.stripe.com', 'checkout.stripe.com']],
        ['198.51.100.8', ['api.stripe.com']],
        ['2001:db8::5', ['v6.example.org']],
      ],
    );
  });

  test('a DNS record without answers names nothing', () => {
    const ep: Endpoint = { labels: {}, ip: '10.0.0.9' };
    const f = flow(ep, ep, { l7: { type: 'request', dns: { query: 'db.shop.svc.cluster.local.', answers: [] } } });
    assert.equal(dnsNamesByIp([f]).size, 0);
  });
});
