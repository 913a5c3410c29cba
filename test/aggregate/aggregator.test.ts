import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createAggregator } from '../../src/aggregate/index.js';
import { combineReports, type Flow, MAX_DETAILS_PER_EDGE } from '../../src/model/index.js';
import { openStore } from '../../src/store/index.js';
import { api1, dns1, flow, H0, HOUR, podEp, T0, web1, web2, world } from './flows.js';

const WEB = 'shop/Deployment/web';
const API = 'shop/Deployment/api';
const COREDNS = 'kube-system/Deployment/coredns';

test('flows become edges with verdict counts, hour buckets and first/last seen', () => {
  const agg = createAggregator();
  agg.add([
    flow(web1(), api1(), { time: T0 + 10 }),
    flow(web2(), api1(), { time: T0 + HOUR + 5, verdict: 'dropped', dropReason: 'POLICY_DENIED' }),
    flow(web1(), api1(), { time: T0 + HOUR + 7, count: 3 }),
    flow(web1(), api1(), { time: T0 + 20, port: 9090, protocol: 'UDP' }),
  ]);
  const d = agg.take();
  assert.deepEqual(
    d.edges.map((e) => `${e.src} ${e.dst} ${e.protocol}/${e.port}`),
    [`${WEB} ${API} TCP/8080`, `${WEB} ${API} UDP/9090`],
  );
  const e = d.edges[0]!;
  assert.equal(e.flows, 5);
  assert.deepEqual(e.verdicts, { forwarded: 4, dropped: 1 });
  assert.equal(e.firstSeen, T0 + 10);
  assert.equal(e.lastSeen, T0 + HOUR + 7);
  assert.deepEqual(e.hours, [
    { hour: H0, flows: 1, verdicts: { forwarded: 1 } },
    { hour: H0 + 1, flows: 4, verdicts: { forwarded: 3, dropped: 1 } },
  ]);
  assert.deepEqual(e.dropReasons, [
    { value: 'POLICY_DENIED', count: 1, firstSeen: T0 + HOUR + 5, lastSeen: T0 + HOUR + 5 },
  ]);
  assert.deepEqual(agg.stats, { flows: 4, replies: 0, unknownReply: 0, reported: 0, edgesTouched: 2 });

  // Peers and pods: the workload peers, their service accounts, and each pod under its workload.
  assert.deepEqual(
    d.peers.map((p) => [p.key, p.serviceAccounts, p.firstSeen, p.lastSeen]),
    [
      [API, ['api'], T0 + 10, T0 + HOUR + 7],
      [WEB, ['web'], T0 + 10, T0 + HOUR + 7],
    ],
  );
  assert.deepEqual(
    d.pods.map((p) => [p.name, p.workload, p.ips, p.firstSeen, p.lastSeen]),
    [
      ['api-1', API, ['10.0.1.1'], T0 + 10, T0 + HOUR + 7],
      ['web-1', WEB, ['10.0.0.1'], T0 + 10, T0 + HOUR + 7],
      ['web-2', WEB, ['10.0.0.2'], T0 + HOUR + 5, T0 + HOUR + 5],
    ],
  );
  assert.deepEqual(d.pods[2]!.labels, { app: 'web' });
  assert.equal(d.pods[2]!.serviceAccount, 'web');
});

test('both observation points of one connection count: flows are records', () => {
  const agg = createAggregator();
  agg.add([flow(web1(), api1(), { direction: 'egress' }), flow(web1(), api1(), { direction: 'ingress' })]);
  assert.equal(agg.take().edges[0]!.flows, 2);
});

test('replies are not edges, but their DNS answers name external addresses', () => {
  const agg = createAggregator();
  const query = flow(web1(), dns1(), {
    protocol: 'UDP',
    port: 53,
    l7: { type: 'request', dns: { query: 'API.Stripe.com.', answers: [] } },
  });
  const answer = flow(dns1(), web1(), {
    time: T0 + 1,
    protocol: 'UDP',
    port: 41234,
    reply: true,
    l7: {
      type: 'response',
      dns: { query: 'api.stripe.com.', answers: ['203.0.113.7', '2001:DB8::7', 'edge.stripe.net.'] },
    },
  });
  agg.add([query, answer]);
  const d = agg.take();
  assert.deepEqual(
    d.edges.map((e) => `${e.src} ${e.dst} ${e.protocol}/${e.port}`),
    [`${WEB} ${COREDNS} UDP/53`],
  );
  assert.deepEqual(d.edges[0]!.dnsNames, [{ value: 'api.stripe.com', count: 1, firstSeen: T0, lastSeen: T0 }]);
  const external = d.peers.filter((p) => p.peer.type === 'external');
  assert.deepEqual(
    external.map((p) => [p.key, p.names, p.ips, p.firstSeen]),
    [
      ['cidr:2001:db8::7/128', ['api.stripe.com'], ['2001:db8::7'], T0 + 1],
      ['cidr:203.0.113.7/32', ['api.stripe.com'], ['203.0.113.7'], T0 + 1],
    ],
  );
  assert.equal(agg.stats.replies, 1);
  assert.equal(agg.stats.flows, 1);
});

test('destination names name the external destination', () => {
  const agg = createAggregator();
  agg.add([
    flow(web1(), world('198.51.100.9', { names: ['Example.org.', 'www.example.org'] }), { port: 443 }),
    flow(web1(), world('198.51.100.9', { names: ['cdn.example.org'] }), { port: 443, time: T0 + 5 }),
  ]);
  const d = agg.take();
  const ext = d.peers.find((p) => p.key === 'cidr:198.51.100.9/32');
  assert.deepEqual(ext?.names, ['cdn.example.org', 'example.org', 'www.example.org']);
  assert.deepEqual(ext?.ips, ['198.51.100.9']);
  assert.equal(d.edges[0]!.dst, 'cidr:198.51.100.9/32');
  assert.equal(d.edges[0]!.flows, 2);
});

test('a flow that cannot tell request from reply counts as a request', () => {
  const agg = createAggregator();
  agg.add([flow(web1(), api1(), { reply: null }), flow(api1(), web1(), { reply: true, port: 50000 })]);
  const d = agg.take();
  assert.equal(d.edges.length, 1);
  assert.equal(d.edges[0]!.src, WEB);
  assert.equal(agg.stats.unknownReply, 1);
  assert.equal(agg.stats.replies, 1);
});

test('HTTP, Kafka, services and policies are counted per edge', () => {
  const agg = createAggregator();
  const http = (method: string, path: string, status?: number, time = T0): Flow =>
    flow(web1(), api1(), { time, l7: { type: 'request', http: { method, path, status } } });
  agg.add([
    http('GET', '/cart'),
    http('GET', '/cart', undefined, T0 + 9),
    http('POST', '/cart'),
    http('GET', '/cart', 200),
    http('GET', '/about'),
    flow(web1(), api1(), {
      port: 9092,
      l7: { type: 'request', kafka: { topic: 'orders' } },
      service: 'shop/kafka:9092',
      policies: ['0|default|shop/default.allow-kafka|allow|0'],
    }),
  ]);
  const [web8080, web9092] = agg.take().edges;
  assert.deepEqual(
    web8080!.http.map((h) => [h.method, h.path, h.status, h.count]),
    [
      ['GET', '/about', 0, 1],
      ['GET', '/cart', 0, 2],
      ['GET', '/cart', 200, 1],
      ['POST', '/cart', 0, 1],
    ],
  );
  assert.equal(web8080!.http[1]!.lastSeen, T0 + 9);
  assert.deepEqual(
    web9092!.kafkaTopics.map((k) => k.value),
    ['orders'],
  );
  assert.deepEqual(
    web9092!.services.map((k) => k.value),
    ['shop/kafka:9092'],
  );
  assert.deepEqual(
    web9092!.policies.map((k) => k.value),
    ['0|default|shop/default.allow-kafka|allow|0'],
  );
});

test('distinct HTTP paths per edge are capped and the rest counted as overflow', () => {
  const agg = createAggregator();
  const flows: Flow[] = [];
  for (let i = 0; i < MAX_DETAILS_PER_EDGE + 5; i++)
    flows.push(flow(web1(), api1(), { l7: { type: 'request', http: { method: 'GET', path: `/item/${i}` } } }));
  // A path already kept still counts after the cap is reached.
  flows.push(flow(web1(), api1(), { l7: { type: 'request', http: { method: 'GET', path: '/item/0' } } }));
  agg.add(flows);
  const e = agg.take().edges[0]!;
  assert.equal(e.http.length, MAX_DETAILS_PER_EDGE);
  assert.equal(e.httpOverflow, 5);
  assert.equal(e.http.find((h) => h.path === '/item/0')?.count, 2);
  assert.equal(e.flows, MAX_DETAILS_PER_EDGE + 6, 'overflowing records still count as flows');
});

test('Calico: a connection counts whichever ends reported it, and once when both did', () => {
  const calico = (extra: Partial<Flow>) => flow(web1(), api1(), { count: 3, ...extra });
  const fromNetwork = flow({ networkSet: 'pub', labels: {} }, api1(), { reporter: 'dst', count: 2 });
  const fromHost = flow({ reserved: 'host', ip: '192.168.1.5', labels: {} }, api1(), { reporter: 'dst' });
  const toNetwork = flow(web1(), { networkSet: 'pub', labels: {} }, { reporter: 'src', port: 443 });
  const srcOnly = flow(web1(), dns1(), { reporter: 'src', protocol: 'UDP', port: 53, count: 7 });

  const agg = createAggregator();
  agg.add([calico({ reporter: 'src' }), calico({ reporter: 'dst' }), fromNetwork, fromHost, toNetwork, srcOnly]);
  const d = agg.take();
  assert.deepEqual(
    d.edges.map((e) => [e.src, e.dst, e.port, e.flows]),
    [
      ['netset:pub', API, 8080, 2],
      ['reserved:host', API, 8080, 1],
      [WEB, 'kube-system/Deployment/coredns', 53, 7],
      [WEB, 'netset:pub', 443, 1],
      [WEB, API, 8080, 3],
    ],
  );
  assert.equal(agg.stats.reported, 6);
  assert.deepEqual(d.edges.find((e) => e.dst === API && e.src === WEB)?.hours[0]?.reports, {
    src: { forwarded: 3 },
    dst: { forwarded: 3 },
  });
  assert.deepEqual(d.peers.find((p) => p.key === 'reserved:host')?.ips, ['192.168.1.5']);
});

test('combineReports: the larger end for allowed connections, the sum of both ends for denied ones', () => {
  assert.deepEqual(combineReports({ forwarded: 5 }, {}), { forwarded: 5 }, 'source only');
  assert.deepEqual(combineReports({}, { forwarded: 5 }), { forwarded: 5 }, 'destination only');
  assert.deepEqual(combineReports({ forwarded: 5 }, { forwarded: 5 }), { forwarded: 5 }, 'both: once');
  assert.deepEqual(combineReports({ forwarded: 5 }, { forwarded: 2 }), { forwarded: 5 }, 'the more complete end');
  assert.deepEqual(
    combineReports({ forwarded: 5 }, { forwarded: 1, dropped: 4 }),
    { forwarded: 1, dropped: 4 },
    "the destination's deny decides a connection the source allowed",
  );
  assert.deepEqual(
    combineReports({ forwarded: 2, dropped: 3 }, { forwarded: 2 }),
    { forwarded: 2, dropped: 3 },
    'denied on the way out never reaches the destination',
  );
  assert.deepEqual(combineReports({ unknown: 2 }, { unknown: 3 }), { unknown: 3 });
});

test('take() hands over everything once and starts empty; stats stay cumulative', () => {
  const agg = createAggregator();
  agg.add([flow(web1(), api1()), flow(api1(), web1(), { reply: true })]);
  agg.setCheckpoint({ source: 'file:a', position: '1' });
  agg.setCheckpoint({ source: 'file:a', position: '2', done: true });
  agg.setCheckpoint({ source: 'file:b', position: '9' });
  assert.deepEqual(agg.pending(), { flows: 2, edges: 1 });

  const first = agg.take();
  assert.equal(first.edges.length, 1);
  assert.deepEqual(first.checkpoints, [
    { source: 'file:a', position: '2', done: true },
    { source: 'file:b', position: '9' },
  ]);
  assert.deepEqual(agg.pending(), { flows: 0, edges: 0 });
  assert.deepEqual(agg.take(), { peers: [], pods: [], edges: [], checkpoints: [] });

  agg.add([flow(web1(), api1(), { time: T0 + 2 * HOUR })]);
  const second = agg.take();
  assert.equal(second.edges[0]!.flows, 1, 'counts restart after take()');
  assert.deepEqual(
    second.edges[0]!.hours.map((h) => h.hour),
    [H0 + 2],
  );
  assert.deepEqual(agg.stats, { flows: 2, replies: 1, unknownReply: 0, reported: 0, edgesTouched: 2 });
});

test('memory follows distinct edges, not flows', () => {
  const agg = createAggregator();
  const batch: Flow[] = [];
  for (let i = 0; i < 20_000; i++)
    batch.push(flow(i % 2 ? web1() : web2(), api1(), { time: T0 + (i % 3) * HOUR, port: 8080 + (i % 4) }));
  agg.add(batch);
  agg.add(batch);
  assert.deepEqual(agg.pending(), { flows: 40_000, edges: 4 });
  const d = agg.take();
  assert.equal(d.pods.length, 3);
  assert.equal(
    d.edges.reduce((n, e) => n + e.hours.length, 0),
    12,
  );
  assert.equal(
    d.edges.reduce((n, e) => n + e.flows, 0),
    40_000,
  );
});

test('a pod seen with a new label set keeps the latest labels; an older record does not overwrite them', () => {
  const agg = createAggregator();
  agg.add([
    flow(podEp('web', 'web-1', '10.0.0.1', { labels: { app: 'web', v: '2' } }), api1(), { time: T0 + 10 }),
    flow(podEp('web', 'web-1', '10.0.0.1', { labels: { app: 'web', v: '1' } }), api1(), { time: T0 }),
  ]);
  const pod = agg.take().pods.find((p) => p.name === 'web-1');
  assert.deepEqual(pod?.labels, { app: 'web', v: '2' });
  assert.equal(pod?.firstSeen, T0);
});

test('aggregated deltas and checkpoints land in the store and read back as the graph', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flowwright-agg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openStore(join(dir, 'g.db'));
  t.after(() => store.close());
  const agg = createAggregator();

  agg.add([flow(web1(), api1(), { l7: { type: 'request', http: { method: 'GET', path: '/cart' } } })]);
  agg.setCheckpoint({ source: 'file:x', position: '1' });
  store.applyDelta(agg.take());
  agg.add([flow(web2(), api1(), { time: T0 + HOUR, verdict: 'dropped' })]);
  agg.setCheckpoint({ source: 'file:x', position: '2', done: true });
  store.applyDelta(agg.take());

  const g = store.loadGraph();
  assert.deepEqual(
    g.edges.map((e) => [e.src, e.dst, e.flows, e.verdicts, e.http.map((h) => h.path)]),
    [[WEB, API, 2, { forwarded: 1, dropped: 1 }, ['/cart']]],
  );
  assert.deepEqual(
    g.pods.map((p) => p.name),
    ['api-1', 'web-1', 'web-2'],
  );
  assert.deepEqual(store.getCheckpoint('file:x'), { source: 'file:x', position: '2', done: true });
  assert.equal(store.loadGraph({ since: T0 + HOUR }).edges[0]?.flows, 1);
});

test('pods with the same name in other namespaces or clusters, or reported differently, stay apart', () => {
  const agg = createAggregator();
  agg.add([
    flow(podEp('web', 'web-1', '10.0.0.1'), api1()),
    flow(podEp('web', 'web-1', '10.0.9.1', { namespace: 'staging' }), api1()),
    flow(podEp('web', 'web-1', '10.1.0.1', { cluster: 'east' }), api1()),
    flow(podEp('web', 'web-1', '10.0.0.1', { workload: { kind: 'StatefulSet', name: 'web' } }), api1()),
    flow(podEp('web', 'web-1', '10.0.0.1'), api1()),
  ]);
  const d = agg.take();
  assert.deepEqual(
    d.edges.map((e) => [e.src, e.flows]),
    [
      ['east:shop/Deployment/web', 1],
      [WEB, 2],
      ['shop/StatefulSet/web', 1],
      ['staging/Deployment/web', 1],
    ],
  );
});
