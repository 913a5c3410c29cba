// Every source refuses a record whose names Kubernetes (or DNS) would refuse, through the one check in
// model/names.ts: counted as a malformed record of its own kind, with its file and line (or stream
// position) and field, and never turned into a flow. Files and stdin, Calico flow logs, Kafka messages
// and shipped deltas, Hubble Relay and Goldmane over real gRPC on 127.0.0.1.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { streamGoldmaneFlows } from '../../src/collect/calico/goldmane.js';
import { normalizeGoldmaneFlow } from '../../src/collect/calico/proto.js';
import { streamRelayFlows } from '../../src/collect/hubble/relay.js';
import { readFlowFiles } from '../../src/collect/index.js';
import { decodeMessage, parseDeltaRecord } from '../../src/collect/kafka/index.js';
import { type CollectStats, emptyStats, type Flow, FlowwrightError } from '../../src/model/index.js';
import { startGoldmaneReplay } from '../../src/replay/goldmane.js';
import { entriesFromLines, startReplayServer } from '../../src/replay/index.js';
import { calicoDoc } from './calico-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'fw-names-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Ends = { source?: Record<string, unknown>; destination?: Record<string, unknown> };

/** A Hubble JSON line from shop/web to shop/api; `ends` replaces fields of either end. */
function hubbleLine(i: number, ends: Ends = {}, extra: Record<string, unknown> = {}): string {
  const time = new Date(Date.UTC(2024, 5, 3, 10) + i * 1000).toISOString();
  return JSON.stringify({
    flow: {
      time,
      verdict: 'FORWARDED',
      IP: { source: '10.244.1.10', destination: '10.244.2.20' },
      l4: { TCP: { source_port: 40000, destination_port: 8080, flags: { SYN: true } } },
      source: { namespace: 'shop', labels: ['k8s:app=web'], pod_name: 'web-7d4b9c-aaaaa', ...ends.source },
      destination: { namespace: 'shop', labels: ['k8s:app=api'], pod_name: 'api-0', ...ends.destination },
      traffic_direction: 'EGRESS',
      is_reply: false,
      ...extra,
    },
    time,
  });
}

/** The hostile records of the issue, one per line after a good line, and a good last line. */
const HOSTILE: { ends?: Ends; extra?: Record<string, unknown>; kind: string; field: string }[] = [
  { ends: { source: { namespace: '../../x' } }, kind: 'invalid namespace name', field: 'source.namespace' },
  {
    ends: { destination: { pod_name: '../../../../tmp/.../PWNED' } },
    kind: 'invalid pod name',
    field: 'destination.pod',
  },
  { ends: { source: { namespace: 'shop\nx' } }, kind: 'invalid namespace name', field: 'source.namespace' },
  { ends: { source: { namespace: 'x'.repeat(300) } }, kind: 'invalid namespace name', field: 'source.namespace' },
  { ends: { source: { labels: ['k8s:app=<script>'] } }, kind: 'invalid label value', field: 'source.labels.app' },
  { ends: { source: { labels: ['k8s:app\u001b[2J=web'] } }, kind: 'invalid label key', field: 'source.labels' },
  {
    ends: { destination: { workloads: [{ kind: 'Deployment', name: '../../../../tmp/PWNED' }] } },
    kind: 'invalid workload name',
    field: 'destination.workload',
  },
  {
    ends: { source: { labels: ['k8s:app=web', 'k8s:io.cilium.k8s.policy.serviceaccount=a/b'] } },
    kind: 'invalid service account name',
    field: 'source.serviceAccount',
  },
  { extra: { destination_names: ['*'] }, kind: 'invalid DNS name', field: 'destination.names' },
  {
    extra: { l7: { type: 'REQUEST', dns: { query: 'evil.example.\nx' } } },
    kind: 'invalid DNS name',
    field: 'l7.dns.query',
  },
  { ends: { source: { namespace: 'shop\u0000' } }, kind: 'invalid namespace name', field: 'source.namespace' },
  {
    extra: { l7: { type: 'REQUEST', http: { method: 'GET /admin HTTP/1.1\r\n', url: '/x' } } },
    kind: 'invalid HTTP method',
    field: 'l7.http.method',
  },
];

function hostileLines(): string[] {
  return [hubbleLine(0), ...HOSTILE.map((h, i) => hubbleLine(i + 1, h.ends, h.extra)), hubbleLine(99)];
}

function assertRefused(stats: CollectStats, flows: Flow[], where: (i: number) => Record<string, unknown>) {
  assert.equal(flows.length, 2, 'only the two good records become flows');
  assert.equal(stats.malformed, HOSTILE.length);
  const kinds: Record<string, number> = {};
  for (const h of HOSTILE) kinds[h.kind] = (kinds[h.kind] ?? 0) + 1;
  assert.deepEqual(stats.malformedKinds, kinds);
  for (const [i, issue] of stats.issues.entries()) {
    assert.equal(issue.kind, HOSTILE[i]!.kind);
    assert.equal(issue.field, HOSTILE[i]!.field);
    for (const [k, v] of Object.entries(where(i))) assert.equal((issue as unknown as Record<string, unknown>)[k], v);
    assert.doesNotMatch(issue.message, /[\u0000-\u001f]/, 'no raw control character in a message');
  }
  for (const f of flows) {
    assert.equal(f.source.namespace, 'shop');
    assert.equal(f.destination.namespace, 'shop');
  }
}

async function readAll(paths: string[], opts: { stdin?: Readable; strict?: boolean } = {}) {
  const stats = emptyStats();
  const flows: Flow[] = [];
  for await (const b of readFlowFiles(paths, { stats, ...opts })) flows.push(...b.flows);
  return { stats, flows };
}

describe('invalid names are refused at every source', () => {
  it('files: counted by kind with file, line and field; the other lines are read', async () => {
    const file = join(dir, 'hostile.json');
    writeFileSync(file, `${hostileLines().join('\n')}\n`);
    const { stats, flows } = await readAll([file]);
    assertRefused(stats, flows, (i) => ({ file, line: i + 2 }));
  });

  it('stdin: the same, with "-" as the file', async () => {
    const { stats, flows } = await readAll(['-'], { stdin: Readable.from([`${hostileLines().join('\n')}\n`]) });
    assertRefused(stats, flows, (i) => ({ file: '-', line: i + 2 }));
  });

  it('--strict: the first invalid name is fatal, with its location and kind', async () => {
    const file = join(dir, 'strict.json');
    writeFileSync(file, `${hostileLines().join('\n')}\n`);
    await assert.rejects(readAll([file], { strict: true }), (err: unknown) => {
      assert.ok(err instanceof FlowwrightError);
      assert.equal(err.kind, 'invalid namespace name');
      assert.deepEqual(err.location, { file, line: 2, field: 'source.namespace' });
      return true;
    });
  });

  it('Calico flow logs: namespaces, aggregated names, labels, domains and services', async () => {
    const bad = [
      { doc: calicoDoc({ dest_namespace: '../../x' }), kind: 'invalid namespace name', field: 'destination.namespace' },
      { doc: calicoDoc({ source_name_aggr: 'front end-*' }), kind: 'invalid pod name', field: 'source.pod' },
      {
        doc: calicoDoc({ dest_labels: { labels: ['app=<b>'] } }),
        kind: 'invalid label value',
        field: 'destination.labels.app',
      },
      {
        doc: calicoDoc({ dest_type: 'net', dest_ip: '203.0.113.7', dest_domains: ['ok.example', 'a b.example'] }),
        kind: 'invalid DNS name',
        field: 'destination.names',
      },
      { doc: calicoDoc({ dest_service_name: 'cart\u001b' }), kind: 'invalid service name', field: 'service' },
    ];
    const file = join(dir, 'flows.log');
    writeFileSync(file, `${[calicoDoc(), ...bad.map((b) => b.doc)].map((d) => JSON.stringify(d)).join('\n')}\n`);
    const { stats, flows } = await readAll([file]);
    assert.equal(flows.length, 1);
    assert.deepEqual(
      stats.issues.map((i) => [i.line, i.kind, i.field]),
      bad.map((b, i) => [i + 2, b.kind, b.field]),
    );
  });

  it('Kafka messages: the bad record counted with its message position and line', () => {
    const stats = emptyStats();
    const flows: Flow[] = [];
    const deltas = { peers: [], pods: [], edges: [] };
    const value = Buffer.from(hostileLines().join('\n'));
    decodeMessage(value, 'auto', 'flows/0@7', flows, deltas, stats);
    assertRefused(stats, flows, (i) => ({ file: 'flows/0@7', line: i + 2 }));
  });

  it('shipped Kafka deltas: peers, pods, labels, DNS names and HTTP methods', () => {
    const base = { flowwright: 'graph-delta', version: 1, edges: [] };
    const peer = (p: Record<string, unknown>) => ({
      key: 'k',
      peer: { type: 'workload', namespace: 'shop', kind: 'Deployment', name: 'web', ...p },
      names: [],
      ips: [],
      serviceAccounts: [],
      firstSeen: 0,
      lastSeen: 0,
    });
    const pod = (p: Record<string, unknown>) => ({
      namespace: 'shop',
      name: 'web-1',
      workload: 'k',
      labels: { app: 'web' },
      ips: [],
      firstSeen: 0,
      lastSeen: 0,
      ...p,
    });
    parseDeltaRecord({ ...base, peers: [peer({})], pods: [pod({})] });
    const refused = (record: Record<string, unknown>, kind: string, field: string) =>
      assert.throws(
        () => parseDeltaRecord({ ...base, peers: [], pods: [], ...record }),
        (err: unknown) => err instanceof FlowwrightError && err.kind === kind && err.location?.field === field,
        field,
      );
    refused({ peers: [peer({ namespace: '../x' })] }, 'invalid namespace name', 'peers[0].peer.namespace');
    refused({ peers: [peer({ name: '../../PWNED' })] }, 'invalid workload name', 'peers[0].peer.name');
    refused({ peers: [{ ...peer({}), names: ['*'] }] }, 'invalid DNS name', 'peers[0].names[0]');
    refused({ pods: [pod({ name: 'a/b' })] }, 'invalid pod name', 'pods[0].name');
    refused({ pods: [pod({ labels: { 'a b': 'x' } })] }, 'invalid label key', 'pods[0].labels');
    refused({ pods: [pod({ serviceAccount: 'SA' })] }, 'invalid service account name', 'pods[0].serviceAccount');
    const edge = (method: string) => ({
      src: 'a',
      dst: 'b',
      protocol: 'TCP',
      port: 80,
      flows: 1,
      verdicts: {},
      firstSeen: 0,
      lastSeen: 0,
      http: [{ method, path: '/', status: 200, count: 1 }],
    });
    parseDeltaRecord({ ...base, peers: [], pods: [], edges: [edge('*')] });
    refused({ edges: [edge('GET /x')] }, 'invalid HTTP method', 'edges[0].http[0].method');
  });

  it('Hubble Relay over gRPC: counted with the stream position, the good flows still arrive', async () => {
    const lines = hostileLines();
    const replayStats = emptyStats();
    const entries = await entriesFromLines(
      lines.map((text, i) => ({ text, file: 'x', line: i + 1 })),
      replayStats,
    );
    const server = await startReplayServer(entries, { port: 0 });
    try {
      const stats = emptyStats();
      const flows: Flow[] = [];
      for await (const b of streamRelayFlows({ address: server.address, follow: false }, stats)) flows.push(...b.flows);
      assert.equal(flows.length, 2);
      assert.equal(stats.malformed, HOSTILE.length);
      assert.deepEqual(
        stats.issues.map((i) => [i.kind, i.field]),
        HOSTILE.slice(0, stats.issues.length).map((h) => [h.kind, h.field]),
      );
      assert.match(stats.issues[0]!.message, /^flow at 2024-06-03T10:00:01/);
      assert.equal(stats.issues[0]!.file, `hubble-relay:${server.address}`);
    } finally {
      server.kill();
    }
  });

  it('Goldmane over gRPC and as plain objects: the key names are checked', async () => {
    const key = {
      source_name: 'frontend-6d9f8c7b5-*',
      source_namespace: 'shop',
      source_type: 'WorkloadEndpoint',
      dest_name: 'cartservice-7b8f9c6d4-*',
      dest_namespace: 'shop',
      dest_type: 'WorkloadEndpoint',
      dest_port: 7070,
      proto: 'TCP',
      reporter: 'Src',
      action: 'Allow',
    };
    const flow = (k: Record<string, unknown>, start: number) => ({
      Key: { ...key, ...k },
      start_time: start,
      end_time: start + 15,
      num_connections_started: 1,
    });
    assert.throws(
      () => normalizeGoldmaneFlow(flow({ dest_namespace: '../x' }, 1717372800), { source: 'g' }),
      (err: unknown) => err instanceof FlowwrightError && err.kind === 'invalid namespace name',
    );
    const file = join(dir, 'goldmane.jsonl');
    writeFileSync(
      file,
      [
        flow({}, 1717372800),
        flow({ source_namespace: 'Shop' }, 1717372815),
        flow({}, 1717372830),
        { ...flow({}, 1717372845), source_labels: ['app=<script>'] },
      ]
        .map((f) => JSON.stringify(f))
        .join('\n'),
    );
    const server = await startGoldmaneReplay({ listen: '127.0.0.1:0', files: [file] });
    try {
      const stats = emptyStats();
      const flows: Flow[] = [];
      for await (const b of streamGoldmaneFlows({ address: server.address, follow: false }, stats))
        flows.push(...b.flows);
      assert.equal(flows.length, 2);
      assert.deepEqual(stats.malformedKinds, { 'invalid namespace name': 1, 'invalid label value': 1 });
      assert.equal(stats.issues[0]!.field, 'source.namespace');
      assert.match(stats.issues[0]!.message, /^list page 0 item 1: /);
    } finally {
      await server.close();
    }
  });
});
