// The Goldmane collector against the Goldmane replay server, both real gRPC on 127.0.0.1: streaming with
// exact checkpoints, a server restart mid-stream (nothing lost, nothing counted twice), resuming from a
// checkpoint, List when not following, mTLS, and malformed records reported with file and line.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { calicoLines } from '../../samples/calico.js';
import { shopScenario } from '../../samples/shop.js';
import { type GoldmaneEvent, type GoldmaneOptions, streamGoldmaneFlows } from '../../src/collect/calico/goldmane.js';
import { type CollectStats, emptyStats, type Flow, type FlowBatch, FlowwrightError } from '../../src/model/index.js';
import { startGoldmaneReplay } from '../../src/replay/goldmane.js';
import { makeTestCertificates } from './test-ca.js';

let dir: string;
let file: string;
/** The documents in `file`: what every complete read must add up to. */
let docs: Record<string, unknown>[];
/**
 * Flows a Goldmane server makes of them: one per flow key and interval, the reports of several nodes
 * (Calico Enterprise logs per node) merged, as Goldmane aggregates across nodes.
 */
let served: number;

const START = Date.parse('2024-06-03T00:00:00Z');

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowwright-goldmane-'));
  file = join(dir, 'flows.log');
  const lines = [...calicoLines(shopScenario(), { events: 800, seed: 7, startMs: START, spanMs: 2 * 3600_000 })];
  writeFileSync(file, `${lines.join('\n')}\n`);
  docs = lines.map((l) => JSON.parse(l));
  // Goldmane's flow key: names by aggregate (no pod names, no addresses), no node.
  const keyFields = [
    'start_time',
    'source_name_aggr',
    'source_namespace',
    'source_type',
    'dest_name_aggr',
    'dest_namespace',
    'dest_type',
    'dest_port',
    'dest_service_namespace',
    'dest_service_name',
    'dest_service_port',
    'proto',
    'reporter',
    'action',
    'policies',
  ];
  const keys = new Set(docs.map((d) => JSON.stringify(keyFields.map((k) => d[k]))));
  served = keys.size;
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

const totalCount = () => docs.reduce((sum, d) => sum + (d.num_flows as number), 0);

/** Reads batches until `enough` says stop (or the time limit passes), then aborts the collector. */
async function collect(
  opts: Omit<GoldmaneOptions, 'signal'>,
  enough: (flows: Flow[], batches: FlowBatch[]) => boolean,
  onBatch?: (flows: Flow[]) => Promise<void> | void,
  stats: CollectStats = emptyStats(),
): Promise<{ flows: Flow[]; batches: FlowBatch[]; stats: CollectStats }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 15_000);
  const flows: Flow[] = [];
  const batches: FlowBatch[] = [];
  try {
    for await (const batch of streamGoldmaneFlows({ ...opts, signal: controller.signal }, stats)) {
      flows.push(...batch.flows);
      batches.push(batch);
      await onBatch?.(flows);
      if (enough(flows, batches)) break;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return { flows, batches, stats };
}

/** Interval start and flow key of a flow, as the collector's dedup sees it. */
const identity = (f: Flow) =>
  `${f.time}|${f.reporter}|${f.source.namespace}/${f.source.pod ?? f.source.networkSet ?? f.source.reserved}>` +
  `${f.destination.namespace}/${f.destination.pod ?? f.destination.networkSet ?? f.destination.reserved}|${f.protocol}/${f.port}|${f.verdict}|${f.service}|${(f.policies ?? []).join(',')}`;

const sumCounts = (flows: Flow[]) => flows.reduce((s, f) => s + f.count, 0);

describe('Goldmane collector and replay server', () => {
  it('streams every flow once, with checkpoints that only move forward', async () => {
    const server = await startGoldmaneReplay({ listen: '127.0.0.1:0', files: [file] });
    try {
      assert.equal(server.flows, served);
      assert.ok(served < docs.length, 'some reports were merged across nodes');
      const { flows, batches } = await collect(
        { address: server.address, since: 1, settleMs: 150, batchSize: 50 },
        (f) => f.length >= served,
      );
      assert.equal(flows.length, served);
      assert.equal(sumCounts(flows), totalCount());
      assert.equal(new Set(flows.map(identity)).size, flows.length, 'no flow twice');
      const positions = batches.flatMap((b) => (b.checkpoint ? [Number(b.checkpoint.position)] : []));
      assert.ok(positions.length > 0);
      for (let i = 1; i < positions.length; i++) assert.ok(positions[i]! >= positions[i - 1]!);
      // A batch's checkpoint covers its flows: none of them started after it.
      for (const b of batches) {
        if (!b.checkpoint) continue;
        assert.equal(b.checkpoint.source, `goldmane:${server.address}`);
        for (const f of b.flows) assert.ok(f.time / 1000 <= Number(b.checkpoint.position));
      }
      // Goldmane has no addresses: networks are the network sets pub / pvt.
      assert.ok(flows.some((f) => f.destination.networkSet === 'pub'));
      assert.ok(flows.some((f) => f.destination.reserved === 'kube-apiserver'));
    } finally {
      await server.close();
    }
  });

  it('survives the server restarting mid-stream: nothing lost, nothing counted twice', async () => {
    const first = await startGoldmaneReplay({ listen: '127.0.0.1:0', files: [file], rate: 400 });
    const port = first.port;
    let second: Awaited<ReturnType<typeof startGoldmaneReplay>> | undefined;
    const events: GoldmaneEvent[] = [];
    try {
      const { flows } = await collect(
        {
          address: first.address,
          since: 1,
          settleMs: 150,
          batchSize: 20,
          backoff: { initialMs: 50, maxMs: 200 },
          onEvent: (e) => events.push(e),
        },
        (f) => f.length >= served,
        async (f) => {
          if (second === undefined && f.length >= served / 4) {
            // Crash the server while it is streaming, then bring a fresh one up on the same port.
            first.kill();
            second = await startGoldmaneReplay({ listen: `127.0.0.1:${port}`, files: [file] });
          }
        },
      );
      assert.ok(second, 'the server was restarted');
      assert.ok(first.released() < served, 'the first server had not sent everything');
      assert.ok(events.some((e) => e.type === 'disconnected'));
      // The new server sent again what the collector already held: recognized, not counted.
      assert.ok(events.some((e) => e.type === 'duplicates' && e.n > 0));
      assert.equal(events.filter((e) => e.type === 'connected').length >= 2, true);
      assert.equal(flows.length, served);
      assert.equal(new Set(flows.map(identity)).size, flows.length, 'no flow twice');
      assert.equal(sumCounts(flows), totalCount());
    } finally {
      first.kill();
      await second?.close();
    }
  });

  it('resumes after a checkpoint without repeating what it covers', async () => {
    const server = await startGoldmaneReplay({ listen: '127.0.0.1:0', files: [file] });
    try {
      const firstRun = await collect(
        { address: server.address, since: 1, settleMs: 150, batchSize: 30 },
        (_f, batches) => batches.some((b) => b.checkpoint !== undefined && b.flows.length > 0),
      );
      const checkpoint = firstRun.batches.filter((b) => b.checkpoint).at(-1)!.checkpoint!;
      const counted = firstRun.flows.filter((f) => f.time / 1000 <= Number(checkpoint.position));
      const rest = await collect(
        { address: server.address, resumeAfter: checkpoint.position, settleMs: 150 },
        (f) => counted.length + f.length >= served,
      );
      assert.equal(counted.length + rest.flows.length, served);
      for (const f of rest.flows) assert.ok(f.time / 1000 > Number(checkpoint.position));
    } finally {
      await server.close();
    }
  });

  it('lists what the server holds and stops when not following', async () => {
    const server = await startGoldmaneReplay({ listen: '127.0.0.1:0', files: [file] });
    try {
      const stats = emptyStats();
      const batches: FlowBatch[] = [];
      for await (const b of streamGoldmaneFlows(
        { address: server.address, follow: false, pageSize: 64, batchSize: 100 },
        stats,
      ))
        batches.push(b);
      const flows = batches.flatMap((b) => b.flows);
      assert.equal(flows.length, served);
      assert.equal(sumCounts(flows), totalCount());
      assert.equal(stats.records, served);
      const last = batches.at(-1)!.checkpoint!;
      assert.equal(Number(last.position), Math.max(...docs.map((d) => d.start_time as number)));
    } finally {
      await server.close();
    }
  });

  it('gives up with an unreachable error when nothing listens', async () => {
    const server = await startGoldmaneReplay({ listen: '127.0.0.1:0', files: [file] });
    const address = server.address;
    await server.close();
    await assert.rejects(
      collect({ address, follow: false, maxAttempts: 2, backoff: { initialMs: 10, maxMs: 20 } }, () => false),
      (err: unknown) => err instanceof FlowwrightError && err.code === 'unreachable',
    );
  });

  it('reports malformed records of a replayed file with file and line, and serves the rest', async () => {
    const bad = join(dir, 'bad.log');
    const good = readFileSync(file, 'utf8').split('\n').slice(0, 3);
    writeFileSync(
      bad,
      [good[0], '{"start_time": 17', JSON.stringify({ ...docs[1], dest_type: 'vm' }), good[2]].join('\n'),
    );
    const server = await startGoldmaneReplay({ listen: '127.0.0.1:0', files: [bad] });
    try {
      assert.equal(server.flows, 2);
      assert.equal(server.stats.malformed, 2);
      assert.deepEqual(
        server.stats.issues.map((i) => [i.file, i.line, i.field]),
        [
          [bad, 2, undefined],
          [bad, 3, 'dest_type'],
        ],
      );
    } finally {
      await server.close();
    }
  });
});

describe('Goldmane replay of Goldmane JSON', () => {
  it('serves FlowResults in protobuf JSON (lowerCamelCase, 64-bit integers as strings) and bare Flows', async () => {
    const path = join(dir, 'goldmane.jsonl');
    const key = {
      sourceName: 'frontend-6d9f8c7b5-*',
      sourceNamespace: 'shop',
      sourceType: 'WorkloadEndpoint',
      destName: 'cartservice-7b8f9c6d4-*',
      destNamespace: 'shop',
      destType: 'WorkloadEndpoint',
      destPort: '7070',
      proto: 'TCP',
      reporter: 'Src',
      action: 'Allow',
    };
    writeFileSync(
      path,
      [
        JSON.stringify({
          id: '9',
          flow: { Key: key, startTime: '1717372815', endTime: '1717372830', numConnectionsStarted: '4' },
        }),
        JSON.stringify({
          Key: { ...key, reporter: 'Dst' },
          start_time: 1717372800,
          end_time: 1717372815,
          num_connections_started: 2,
        }),
      ].join('\n'),
    );
    const server = await startGoldmaneReplay({ listen: '127.0.0.1:0', files: [path] });
    try {
      assert.equal(server.stats.malformed, 0);
      const { flows } = await collect({ address: server.address, follow: false }, () => false);
      assert.deepEqual(
        flows.map((f) => [f.time / 1000, f.reporter, f.count, f.port, f.source.pod]),
        [
          [1717372800, 'dst', 2, 7070, 'frontend-6d9f8c7b5-*'],
          [1717372815, 'src', 4, 7070, 'frontend-6d9f8c7b5-*'],
        ],
      );
    } finally {
      await server.close();
    }
  });
});

describe('Goldmane over mTLS', () => {
  let certs: string;
  before(() => {
    certs = mkdtempSync(join(tmpdir(), 'flowwright-goldmane-tls-'));
    makeTestCertificates(certs, [
      { name: 'server', subject: '/CN=server', ext: 'subjectAltName=DNS:goldmane.test,IP:127.0.0.1\n' },
      { name: 'client', subject: '/CN=client', ext: 'extendedKeyUsage=clientAuth\n' },
    ]);
  });
  after(() => {
    rmSync(certs, { recursive: true, force: true });
  });

  it('streams with a client certificate and is refused without one', async () => {
    const pem = (n: string) => readFileSync(join(certs, n));
    const server = await startGoldmaneReplay({
      listen: '127.0.0.1:0',
      files: [file],
      tls: { cert: pem('server.crt'), key: pem('server.key'), clientCa: pem('ca.crt') },
    });
    try {
      const tls = {
        ca: join(certs, 'ca.crt'),
        cert: join(certs, 'client.crt'),
        key: join(certs, 'client.key'),
        serverName: 'goldmane.test',
      };
      const { flows } = await collect({ address: server.address, tls, follow: false }, () => false);
      assert.equal(flows.length, served);
      await assert.rejects(
        collect(
          { address: server.address, tls: { ca: tls.ca, serverName: tls.serverName }, follow: false, maxAttempts: 1 },
          () => false,
        ),
        (err: unknown) => err instanceof FlowwrightError && err.code === 'unreachable',
      );
    } finally {
      await server.close();
    }
  });
});
