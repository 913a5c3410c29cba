import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { FlowwrightError, MAX_DETAILS_PER_EDGE, peerKey } from '../../src/model/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { api, db, delta, edge, HOUR, idle, pod, sighting, stripe, T0, tempDir, web } from './helpers.js';

const H = T0 / HOUR; // the first hour of the test day

function open(t: { after(fn: () => void): void }): Store {
  const store = openStore(join(tempDir(t), 'graph.db'));
  t.after(() => store.close());
  return store;
}

test('applying a delta twice adds the counts and merges sets', (t) => {
  const store = open(t);
  const e = edge(web, api, 8080, [{ hour: H, flows: 2 }]);
  e.verdicts = { forwarded: 1, dropped: 1 };
  e.hours[0]!.verdicts = { forwarded: 1, dropped: 1 };
  e.http = [{ method: 'GET', path: '/cart', status: 0, count: 2, firstSeen: T0, lastSeen: T0 + 5 }];
  e.dropReasons = [{ value: 'POLICY_DENIED', count: 1, firstSeen: T0, lastSeen: T0 }];
  const d = delta({
    peers: [
      sighting(web, T0, T0 + 10, { serviceAccounts: ['web'] }),
      sighting(api, T0),
      sighting(stripe, T0, T0, { names: ['api.stripe.com'], ips: ['203.0.113.7'] }),
    ],
    pods: [pod('web-1', web, T0, { ips: ['10.0.0.1'], serviceAccount: 'web' })],
    edges: [e],
  });
  store.applyDelta(d);
  // The second flush saw the same edge later, and one more name for the external peer.
  const later = structuredClone(d);
  later.peers[2]!.names = ['stripe.com'];
  later.peers[2]!.lastSeen = T0 + HOUR;
  later.pods[0]!.ips = ['10.0.0.2'];
  later.pods[0]!.lastSeen = T0 + HOUR;
  later.edges[0]!.lastSeen = T0 + HOUR + 1;
  later.edges[0]!.http[0]!.status = 200;
  store.applyDelta(later);

  const g = store.loadGraph();
  assert.equal(g.edges.length, 1);
  const got = g.edges[0]!;
  assert.equal(got.flows, 4);
  assert.deepEqual(got.verdicts, { forwarded: 2, dropped: 2 });
  assert.equal(got.firstSeen, e.firstSeen);
  assert.equal(got.lastSeen, T0 + HOUR + 1);
  assert.deepEqual(got.http, [
    { method: 'GET', path: '/cart', count: 4, statuses: [200], firstSeen: T0, lastSeen: T0 + 5 },
  ]);
  assert.deepEqual(got.dropReasons, ['POLICY_DENIED']);
  assert.deepEqual(store.counts(), { peers: 3, workloads: 2, edges: 1, pods: 1, flows: 4 });

  const ext = g.peers.get(peerKey(stripe));
  assert.equal(ext, undefined, 'an external peer on no edge is not part of the graph');
  assert.deepEqual(g.pods, [
    {
      namespace: 'shop',
      name: 'web-1',
      workload: peerKey(web),
      labels: { app: 'web' },
      serviceAccount: 'web',
      ips: ['10.0.0.1', '10.0.0.2'],
      firstSeen: T0,
      lastSeen: T0 + HOUR,
    },
  ]);
  assert.deepEqual(g.peers.get(peerKey(web))?.serviceAccounts, ['web']);
});

test('external peers on an edge carry their names and addresses, sorted', (t) => {
  const store = open(t);
  store.applyDelta(
    delta({
      peers: [
        sighting(web, T0),
        sighting(stripe, T0, T0, { names: ['z.stripe.com', 'api.stripe.com'], ips: ['203.0.113.7'] }),
      ],
      edges: [edge(web, stripe, 443, [{ hour: H, flows: 1 }])],
    }),
  );
  store.applyDelta(delta({ peers: [sighting(stripe, T0 + 1, T0 + 1, { names: ['m.stripe.com', 'api.stripe.com'] })] }));
  const node = store.loadGraph().peers.get('cidr:203.0.113.7/32');
  assert.deepEqual(node, {
    key: 'cidr:203.0.113.7/32',
    peer: stripe,
    names: ['api.stripe.com', 'm.stripe.com', 'z.stripe.com'],
    ips: ['203.0.113.7'],
    serviceAccounts: [],
    firstSeen: T0,
    lastSeen: T0 + 1,
  });
});

test('the newest namespace labels and pod labels win, also when older data arrives later', (t) => {
  const store = open(t);
  const labels = (team: string) => ({ 'kubernetes.io/metadata.name': 'shop', team });
  store.applyDelta(
    delta({
      peers: [sighting(web, T0 + HOUR, T0 + HOUR, { namespaceLabels: labels('new') })],
      pods: [pod('web-1', web, T0 + HOUR, { labels: { app: 'web', v: '2' } })],
    }),
  );
  store.applyDelta(
    delta({
      peers: [sighting(web, T0, T0, { namespaceLabels: labels('old') })],
      pods: [pod('web-1', web, T0, { labels: { app: 'web', v: '1' } })],
    }),
  );
  const g = store.loadGraph();
  assert.deepEqual(g.peers.get(peerKey(web))?.namespaceLabels, labels('new'));
  assert.equal(g.peers.get(peerKey(web))?.firstSeen, T0);
  assert.deepEqual(g.pods[0]?.labels, { app: 'web', v: '2' });
  assert.equal(g.pods[0]?.firstSeen, T0);
});

test('a window sums the hourly buckets that overlap it and drops edges without flows in it', (t) => {
  const store = open(t);
  const webApi = edge(web, api, 8080, [
    { hour: H, flows: 1 },
    { hour: H + 2, flows: 10 },
    { hour: H + 5, flows: 100 },
  ]);
  webApi.hours[1]!.verdicts = { forwarded: 7, dropped: 3 };
  webApi.verdicts = { forwarded: 108, dropped: 3 };
  store.applyDelta(
    delta({
      peers: [sighting(web, T0, T0 + 6 * HOUR), sighting(api, T0, T0 + 6 * HOUR), sighting(db, T0)],
      edges: [webApi, edge(api, db, 5432, [{ hour: H, flows: 4 }])],
    }),
  );

  const all = store.loadGraph();
  assert.deepEqual(
    all.edges.map((e) => [e.src, e.dst, e.flows]),
    [
      [peerKey(api), peerKey(db), 4],
      [peerKey(web), peerKey(api), 111],
    ],
  );
  assert.deepEqual(all.window, {});

  // [H+1:30, H+3): hours H+1 (nothing) and H+2 overlap; api->db had flows only in hour H.
  const since = T0 + HOUR + HOUR / 2;
  const until = T0 + 3 * HOUR;
  const w = store.loadGraph({ since, until });
  assert.deepEqual(w.window, { since, until });
  assert.equal(w.edges.length, 1);
  const e = w.edges[0]!;
  assert.equal(e.flows, 10);
  assert.deepEqual(e.verdicts, { forwarded: 7, dropped: 3 });
  // Clamped to the hour that had flows: precise to the hour, never outside the window.
  assert.equal(e.firstSeen, T0 + 2 * HOUR);
  assert.equal(e.lastSeen, T0 + 3 * HOUR - 1);
  // db is on no edge in the window and was last seen before it.
  assert.deepEqual([...w.peers.keys()], [peerKey(api), peerKey(web)]);

  // A partial hour at the start counts whole: since inside hour H counts hour H.
  assert.equal(store.loadGraph({ since: T0 + 30 * 60_000, until: T0 + HOUR }).edges.length, 2);
  // Open-ended windows.
  assert.equal(store.loadGraph({ since: T0 + 4 * HOUR }).edges[0]?.flows, 100);
  assert.deepEqual(
    store.loadGraph({ until: T0 + HOUR }).edges.map((x) => x.flows),
    [4, 1],
  );
  // A window with no traffic at all.
  assert.deepEqual(store.loadGraph({ since: T0 + 10 * HOUR }).edges, []);
});

test('a window keeps workloads seen in it even without edges, and only pods seen in it', (t) => {
  const store = open(t);
  store.applyDelta(
    delta({
      peers: [sighting(web, T0), sighting(api, T0), sighting(idle, T0 + 5 * HOUR)],
      pods: [pod('web-1', web, T0), pod('idle-1', idle, T0 + 5 * HOUR)],
      edges: [edge(web, api, 80, [{ hour: H, flows: 1 }])],
    }),
  );
  const w = store.loadGraph({ since: T0 + 4 * HOUR, until: T0 + 6 * HOUR });
  assert.deepEqual(w.edges, []);
  assert.deepEqual([...w.peers.keys()], [peerKey(idle)]);
  assert.deepEqual(
    w.pods.map((p) => p.name),
    ['idle-1'],
  );
});

test('L7 detail in a window is what was seen in it', (t) => {
  const store = open(t);
  const e = edge(web, api, 80, [
    { hour: H, flows: 1 },
    { hour: H + 3, flows: 1 },
  ]);
  e.http = [
    { method: 'GET', path: '/old', status: 0, count: 1, firstSeen: T0, lastSeen: T0 },
    { method: 'POST', path: '/new', status: 0, count: 1, firstSeen: T0 + 3 * HOUR, lastSeen: T0 + 3 * HOUR },
  ];
  e.services = [{ value: 'shop/api:80', count: 2, firstSeen: T0, lastSeen: T0 + 3 * HOUR }];
  store.applyDelta(delta({ peers: [sighting(web, T0), sighting(api, T0)], edges: [e] }));
  const w = store.loadGraph({ since: T0 + 2 * HOUR });
  assert.deepEqual(
    w.edges[0]!.http.map((h) => `${h.method} ${h.path}`),
    ['POST /new'],
  );
  assert.deepEqual(w.edges[0]!.services, ['shop/api:80']);
  assert.deepEqual(
    store.loadGraph().edges[0]!.http.map((h) => `${h.method} ${h.path}`),
    ['POST /new', 'GET /old'],
  );
});

test('edges and peers come out sorted whatever order they were written in', (t) => {
  const store = open(t);
  const peers = [sighting(web, T0), sighting(db, T0), sighting(api, T0)];
  store.applyDelta(
    delta({
      peers,
      edges: [
        edge(web, db, 5432, [{ hour: H, flows: 1 }]),
        { ...edge(web, api, 8080, [{ hour: H, flows: 1 }]), protocol: 'UDP' },
        edge(web, api, 8080, [{ hour: H, flows: 1 }]),
        edge(web, api, 443, [{ hour: H, flows: 1 }]),
        edge(api, db, 5432, [{ hour: H, flows: 1 }]),
      ],
    }),
  );
  const g = store.loadGraph();
  assert.deepEqual(
    g.edges.map((e) => `${e.src} ${e.dst} ${e.protocol}/${e.port}`),
    [
      'shop/Deployment/api shop/StatefulSet/db TCP/5432',
      'shop/Deployment/web shop/Deployment/api TCP/443',
      'shop/Deployment/web shop/Deployment/api TCP/8080',
      'shop/Deployment/web shop/Deployment/api UDP/8080',
      'shop/Deployment/web shop/StatefulSet/db TCP/5432',
    ],
  );
  assert.deepEqual([...g.peers.keys()], ['shop/Deployment/api', 'shop/Deployment/web', 'shop/StatefulSet/db']);
});

test('checkpoints are written with the counts, and a failing flush writes neither', (t) => {
  const store = open(t);
  store.applyDelta(
    delta({
      peers: [sighting(web, T0), sighting(api, T0)],
      edges: [edge(web, api, 80, [{ hour: H, flows: 1 }])],
      checkpoints: [{ source: 'file:aaa', position: '100', label: 'a.json' }],
    }),
  );
  assert.deepEqual(store.getCheckpoint('file:aaa'), { source: 'file:aaa', position: '100', label: 'a.json' });

  // The second flush's last edge points at a peer nobody stored: the whole flush must roll back,
  // including the edge before it, the new peer and the checkpoint that would have claimed them.
  const failing = delta({
    peers: [sighting(db, T0)],
    edges: [edge(web, api, 80, [{ hour: H, flows: 5 }]), edge(web, idle, 80, [{ hour: H, flows: 1 }])],
    checkpoints: [
      { source: 'file:aaa', position: '200', done: true },
      { source: 'kafka:g:flows:0', position: '42' },
    ],
  });
  assert.throws(
    () => store.applyDelta(failing),
    (err: unknown) => err instanceof FlowwrightError && err.code === 'store' && err.message.includes(peerKey(idle)),
  );
  assert.deepEqual(store.counts(), { peers: 2, workloads: 2, edges: 1, pods: 0, flows: 1 });
  assert.deepEqual(store.listCheckpoints(), [{ source: 'file:aaa', position: '100', label: 'a.json' }]);

  // A constraint violation inside SQLite (a NOT NULL column) rolls back the same way.
  const bad = delta({
    edges: [edge(web, api, 80, [{ hour: H, flows: 5 }])],
    checkpoints: [{ source: 'file:aaa', position: '300' }],
  });
  bad.edges[0]!.port = null as unknown as number;
  assert.throws(
    () => store.applyDelta(bad),
    (err: unknown) => err instanceof FlowwrightError && err.code === 'store',
  );
  assert.equal(store.counts().flows, 1);
  assert.equal(store.getCheckpoint('file:aaa')?.position, '100');

  // Latest wins per source; the label is kept when a later checkpoint has none.
  store.applyDelta(delta({ checkpoints: [{ source: 'file:aaa', position: '300', done: true }] }));
  store.applyDelta(delta({ checkpoints: [{ source: 'kafka:g:flows:0', position: '7' }] }));
  assert.deepEqual(store.listCheckpoints(), [
    { source: 'file:aaa', position: '300', done: true, label: 'a.json' },
    { source: 'kafka:g:flows:0', position: '7' },
  ]);
  assert.equal(store.getCheckpoint('nothing'), undefined);
});

test('HTTP and DNS detail is capped per edge across flushes; the rest is counted', (t) => {
  const store = open(t);
  const peers = [sighting(web, T0), sighting(api, T0)];
  const withPaths = (from: number, to: number) => {
    const e = edge(web, api, 80, [{ hour: H, flows: to - from }]);
    for (let i = from; i < to; i++) {
      e.http.push({ method: 'GET', path: `/item/${i}`, status: 0, count: 1, firstSeen: T0, lastSeen: T0 });
      e.dnsNames.push({ value: `n${i}.example.com`, count: 2, firstSeen: T0, lastSeen: T0 });
    }
    return e;
  };
  store.applyDelta(delta({ peers, edges: [withPaths(0, MAX_DETAILS_PER_EDGE - 10)] }));
  const second = withPaths(MAX_DETAILS_PER_EDGE - 10, MAX_DETAILS_PER_EDGE + 15);
  second.http.push({ method: 'GET', path: '/item/0', status: 0, count: 3, firstSeen: T0, lastSeen: T0 });
  second.httpOverflow = 4; // overflow the aggregator already counted is added too
  store.applyDelta(delta({ peers, edges: [second] }));

  const e = store.loadGraph().edges[0]!;
  assert.equal(e.http.length, MAX_DETAILS_PER_EDGE);
  assert.equal(e.httpOverflow, 15 + 4);
  assert.equal(e.http.find((h) => h.path === '/item/0')?.count, 4, 'existing rows keep counting past the cap');
  assert.equal(e.dnsNames.length, MAX_DETAILS_PER_EDGE);
  assert.equal(e.dnsOverflow, 15 * 2);
});

test('edgesUnusedSince, pruneHoursBefore and counts', (t) => {
  const store = open(t);
  store.applyDelta(
    delta({
      peers: [sighting(web, T0), sighting(api, T0), sighting(db, T0)],
      edges: [
        edge(web, api, 80, [
          { hour: H, flows: 1 },
          { hour: H + 48, flows: 2 },
        ]),
        edge(api, db, 5432, [{ hour: H, flows: 3 }]),
      ],
    }),
  );
  const unused = store.edgesUnusedSince(T0 + 24 * HOUR);
  assert.deepEqual(
    unused.map((e) => [e.src, e.dst, e.flows]),
    [[peerKey(api), peerKey(db), 3]],
  );
  assert.deepEqual(store.edgesUnusedSince(T0), []);

  assert.equal(store.pruneHoursBefore(H + 1), 2);
  assert.equal(store.pruneHoursBefore(H + 1), 0);
  // Totals stay; windows only see the hours that remain.
  assert.deepEqual(store.counts(), { peers: 3, workloads: 3, edges: 2, pods: 0, flows: 6 });
  assert.deepEqual(
    store.loadGraph({ since: T0 }).edges.map((e) => e.flows),
    [2],
  );
});

test('a checkpoint another handle moved since this one read it is not written over, and nothing of its flush is', (t) => {
  const path = join(tempDir(t), 'two-writers.db');
  const a = openStore(path);
  const b = openStore(path);
  t.after(() => {
    a.close();
    b.close();
  });
  const flush = (position: string, flows: number, label = 'shop.jsonl') =>
    delta({
      peers: [sighting(web, T0), sighting(api, T0)],
      edges: [edge(web, api, 80, [{ hour: H, flows }])],
      checkpoints: [{ source: 'file:shop', position, label }],
    });
  // Both start reading the same file from nothing stored.
  assert.equal(a.getCheckpoint('file:shop'), undefined);
  assert.equal(b.getCheckpoint('file:shop'), undefined);
  a.applyDelta(flush('100', 3));
  assert.throws(
    () => b.applyDelta(flush('100', 3)),
    (err: unknown) =>
      err instanceof FlowwrightError &&
      err.code === 'store' &&
      err.exitCode === 5 &&
      err.message.includes(path) &&
      err.message.includes('another process is writing shop.jsonl (file:shop)') &&
      err.message.includes('nothing is counted twice'),
  );
  assert.equal(a.counts().flows, 3, 'the refused flush added nothing');
  // The first writer goes on from its own position; the second, once it reads again, from the stored one.
  a.applyDelta(flush('200', 2));
  assert.equal(b.getCheckpoint('file:shop')?.position, '200');
  b.applyDelta(flush('300', 1));
  assert.throws(() => a.applyDelta(flush('300', 1)), /another process is writing/);
  assert.equal(b.counts().flows, 6);
  // A source this handle never read is not checked (stdin has no checkpoint at all).
  b.applyDelta(delta({ checkpoints: [{ source: 'hubble-relay:x', position: '1' }] }));
  assert.equal(a.getCheckpoint('hubble-relay:x')?.position, '1');
});
