// The Kafka consumer and shipper against a real single-node broker (test/kafka/broker.mjs):
//   (a) N flows produced in every encoding → consumed → the graph equals a file ingest of the same flows
//   (b) the consumer process is SIGKILLed inside a batch (before, and after, its store transaction) and
//       restarted: the graph still equals it
//   (c) two consumer processes in one group split the partitions; one is SIGKILLed, the other takes over
//   (d) poison messages are skipped, reported with topic/partition/offset and copied to a dead-letter topic,
//       while the rest of their partition is consumed
//   and shipping: a collector publishes edge deltas keyed by edge, an analyzer consumes them.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { KafkaMessage } from 'kafkajs';
import { type RunKafkaCollectOptions, runKafkaCollect, runShipToKafka } from '../../src/cli/kafka.js';
import { consumeKafka, type KafkaTopic, kafkaCheckpointSource } from '../../src/collect/kafka/index.js';
import { EXIT_CODES, emptyStats, FlowwrightError } from '../../src/model/index.js';
import { loadReplayFiles, startReplayServer } from '../../src/replay/index.js';
import { openStore } from '../../src/store/index.js';
import {
  type BrokerHandle,
  createTopic,
  graphSnapshot,
  kafkaClient,
  kafkaSkipReason,
  mixedMessages,
  produce,
  referenceSnapshot,
  shopLines,
  tempDir,
  waitFor,
  withAdmin,
} from '../kafka/helpers.js';

const skip = kafkaSkipReason();
const root = new URL('../..', import.meta.url).pathname;

describe('kafka against a real broker', { skip }, () => {
  let broker: BrokerHandle;
  const tmp = tempDir();
  const children: ChildProcess[] = [];

  before(async () => {
    const { useBroker } = await import('../kafka/helpers.js');
    broker = await useBroker();
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await broker?.stop();
    tmp.remove();
  });

  /** Starts test/kafka/consumer-child.ts; collects its output lines. */
  function startChild(options: Record<string, unknown>) {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/kafka/consumer-child.ts', JSON.stringify(options)],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    const lines: string[] = [];
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts);
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    return { child, lines, exited, stderr: () => stderr };
  }

  async function killHard(c: ReturnType<typeof startChild>) {
    c.child.kill('SIGKILL');
    const { signal } = await c.exited;
    assert.equal(signal, 'SIGKILL');
  }

  /** Consumes what `topic` holds now (no follow) into `db` as member of `groupId`. */
  function consume(groupId: string, topic: KafkaTopic, db: string, extra: Partial<RunKafkaCollectOptions> = {}) {
    return runKafkaCollect({
      connection: { brokers: [broker.brokers] },
      groupId,
      topics: [topic],
      db,
      follow: false,
      progress: false,
      ...extra,
    });
  }

  /** The graph in `db` has the counts and edges of the reference (a file ingest of the same flows). */
  function assertGraphEquals(db: string, reference: Awaited<ReturnType<typeof referenceSnapshot>>) {
    const got = graphSnapshot(db);
    assert.deepEqual(got.counts, reference.counts);
    assert.deepEqual(got.edges, reference.edges);
    return got;
  }

  /** Reads `topic` from its beginning with a fresh group until at least `count` messages came. */
  async function readTopic(topic: string, groupId: string, count: number, what: string) {
    const messages: { partition: number; message: KafkaMessage }[] = [];
    const consumer = kafkaClient(broker.brokers).consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        messages.push({ partition, message });
      },
    });
    await waitFor(what, () => (messages.length >= count ? true : undefined), 30_000);
    await consumer.disconnect();
    return messages;
  }

  test('(a) N flows in single, batched and gzip messages over 3 partitions: the graph equals a file ingest', async () => {
    const lines = shopLines(3000);
    const topic = await createTopic(broker.brokers, 'flows-a', 3);
    await produce(broker.brokers, topic, mixedMessages(lines, 3));
    const db = join(tmp.dir, 'a.db');
    const logs: string[] = [];
    const summary = await consume('a', { topic, format: 'auto' }, db, { log: (l) => logs.push(l) });
    const reference = await referenceSnapshot(lines, tmp.dir);
    assert.equal(summary.flows, reference.summary.flows, 'every flow record was read once');
    assert.equal(summary.flows, 3000);
    assert.equal(summary.malformed, 0);
    assert.equal(summary.kafka.poison, 0);
    const got = assertGraphEquals(db, reference);
    assert.ok(got.counts.flows > 1000, 'the shop has many dependency flows');
    assert.ok(
      logs.some((l) => l.includes('group a assigned')),
      logs.join('\n'),
    );

    // A second run of the same group finds nothing new: offsets came from the store.
    const again = await consume('a', { topic, format: 'auto' }, db);
    assert.equal(again.flows, 0);
    assert.deepEqual(graphSnapshot(db).counts, reference.counts);
  });

  for (const point of ['hangBeforeWrite', 'hangAfterWrite'] as const) {
    test(`(b) SIGKILL inside a batch (${point === 'hangBeforeWrite' ? 'before' : 'after'} its transaction), restart: counts equal N`, async () => {
      const lines = shopLines(2400, 23);
      const topic = await createTopic(broker.brokers, 'flows-b', 2);
      // Small record batches and small fetches: many batches, so the kill lands in the middle of the stream.
      await produce(broker.brokers, topic, mixedMessages(lines, 2), 10);
      const db = join(tmp.dir, `b-${point}.db`);
      const options = {
        brokers: broker.brokers,
        group: `b-${point}`,
        topics: [{ topic, format: 'auto' }],
        db,
        follow: false,
        maxBytesPerPartition: 16 * 1024,
        // The killed member leaves the group only when its session times out; keep that short.
        sessionTimeoutMs: 6000,
      };
      const first = startChild({ ...options, [point]: 4 });
      await waitFor('the consumer to reach the 4th batch', () => first.lines.includes('HANG') || undefined).catch(
        (err) => {
          throw new Error(`${err.message}; consumer said:\n${first.lines.join('\n')}\n${first.stderr()}`);
        },
      );
      await killHard(first);

      const stored = graphSnapshot(db).counts.flows;
      const reference = await referenceSnapshot(lines, tmp.dir);
      assert.ok(
        stored > 0 && stored < reference.counts.flows,
        `killed mid-stream (${stored} of ${reference.counts.flows})`,
      );
      // Where the store and Kafka's committed offsets stand after the kill.
      const storedAt = new Map<number, string | undefined>();
      const store = openStore(db, { readonly: true });
      for (const p of [0, 1])
        storedAt.set(p, store.getCheckpoint(kafkaCheckpointSource(`b-${point}`, topic, p))?.position);
      store.close();
      const committed = await withAdmin(
        broker.brokers,
        async (admin) => (await admin.fetchOffsets({ groupId: `b-${point}`, topics: [topic] }))[0]!.partitions,
      );
      const behind = committed.filter(
        (c) => storedAt.get(c.partition) !== undefined && BigInt(c.offset) < BigInt(storedAt.get(c.partition)!),
      );
      if (point === 'hangAfterWrite')
        assert.equal(behind.length, 1, 'the store is one batch ahead of Kafka on one partition');
      else assert.equal(behind.length, 0);

      const second = startChild(options);
      const { code } = await second.exited;
      assert.equal(code, 0, second.stderr());
      const done = JSON.parse(second.lines.find((l) => l.startsWith('DONE '))!.slice(5));
      // The restart seeks every partition to the store's offset, not to Kafka's committed one.
      for (const [p, at] of storedAt)
        if (at !== undefined)
          assert.ok(
            second.lines.some((l) => l.includes(`${topic}/${p}@${at}`)),
            `partition ${p} resumed at the stored offset ${at}:\n${second.lines.join('\n')}`,
          );
      assert.equal(done.flows + stored > 0, true);
      assertGraphEquals(db, reference);
    });
  }

  test('(c) two consumers in one group split the partitions; one is killed, the other takes over', async () => {
    const lines = shopLines(4000, 31);
    const half = Math.floor(lines.length / 2);
    const partitions = 4;
    const topic = await createTopic(broker.brokers, 'flows-c', partitions);
    await produce(broker.brokers, topic, mixedMessages(lines.slice(0, half), partitions));
    const db = join(tmp.dir, 'c.db');
    const options = {
      brokers: broker.brokers,
      group: 'c',
      topics: [{ topic, format: 'auto' }],
      db,
      follow: true,
      sessionTimeoutMs: 6000,
    };
    const a = startChild(options);
    await waitFor(
      'A to be assigned partitions',
      () => a.lines.some((l) => l.includes('group c assigned ')) || undefined,
    );
    const b = startChild(options);
    const assignedOf = (c: ReturnType<typeof startChild>) => {
      const last = c.lines.filter((l) => l.includes('group c assigned')).pop() ?? '';
      return [...last.matchAll(new RegExp(`${topic}/(\\d+)@`, 'g'))].map((m) => Number(m[1])).sort();
    };
    // After B joins, the group rebalances and each member holds some of the 4 partitions.
    await waitFor(
      'the partitions to be split between A and B',
      () => {
        const pa = assignedOf(a);
        const pb = assignedOf(b);
        return pa.length > 0 && pb.length > 0 && pa.length + pb.length === partitions && !pa.some((p) => pb.includes(p))
          ? true
          : undefined;
      },
      60_000,
    );
    const splitA = assignedOf(a);

    await killHard(a);
    await produce(broker.brokers, topic, mixedMessages(lines.slice(half), partitions));
    // B takes over A's partitions once the group notices A is gone (session timeout) and reads to the end.
    await waitFor('B to hold all partitions', () => (assignedOf(b).length === partitions ? true : undefined), 60_000);
    const ends = await withAdmin(broker.brokers, (admin) => admin.fetchTopicOffsets(topic));
    await waitFor('every partition stored to its end', () => {
      const store = openStore(db, { readonly: true });
      try {
        return ends.every(
          (e) => store.getCheckpoint(kafkaCheckpointSource('c', topic, e.partition))?.position === e.high,
        )
          ? true
          : undefined;
      } finally {
        store.close();
      }
    });
    b.child.kill('SIGTERM');
    assert.equal((await b.exited).code, 0, b.stderr());
    assert.ok(splitA.length > 0 && splitA.length < partitions);

    assertGraphEquals(db, await referenceSnapshot(lines, tmp.dir));
  });

  test('(d) poison messages are skipped, reported with topic/partition/offset and dead-lettered; the partition goes on', async () => {
    const lines = shopLines(600, 41);
    const topic = await createTopic(broker.brokers, 'flows-d', 1);
    const dlq = await createTopic(broker.brokers, 'flows-d-dlq', 1);
    const good = mixedMessages(lines, 1);
    const mid = Math.floor(good.length / 2);
    const poison = [
      { value: 'this is not JSON' },
      { value: Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad]) }, // gzip header, then garbage
      { value: '{"some":"json","that is":"no flow"}' },
    ];
    await produce(broker.brokers, topic, [...good.slice(0, mid), ...poison, ...good.slice(mid)]);
    const db = join(tmp.dir, 'd.db');
    const logs: string[] = [];
    const summary = await consume('d', { topic, format: 'auto' }, db, {
      deadLetterTopic: dlq,
      log: (l) => logs.push(l),
    });
    assert.equal(summary.kafka.poison, 3);
    assert.equal(summary.kafka.deadLettered, 3);
    const poisonLogs = logs.filter((l) => l.includes('poison message'));
    assert.deepEqual(
      poisonLogs.map((l) => /poison message (\S+) skipped/.exec(l)?.[1]),
      [0, 1, 2].map((i) => `${topic}/0@${mid + i}`),
    );
    assert.match(poisonLogs[0]!, /not valid JSON/);
    assert.match(poisonLogs[1]!, /cannot gunzip/);
    assert.match(poisonLogs[2]!, /unrecognized format/);
    assert.equal(summary.issues[0]?.file, `${topic}/0@${mid}`);

    const reference = await referenceSnapshot(lines, tmp.dir);
    assert.deepEqual(graphSnapshot(db).counts, reference.counts, 'every good message around the poison was consumed');

    // The dead-letter topic holds the three messages as they were, with why and where.
    const dead = (await readTopic(dlq, 'd-dlq-reader', 3, '3 dead letters')).map(({ message }) => ({
      value: message.value,
      error: String(message.headers?.['flowwright-error']),
      origin: String(message.headers?.['flowwright-origin']),
    }));
    assert.deepEqual(
      dead.map((d) => d.origin),
      [0, 1, 2].map((i) => `${topic}/0@${mid + i}`),
    );
    assert.equal(dead[0]!.value?.toString(), 'this is not JSON');
    assert.match(dead[1]!.error, /gunzip/);
  });

  test('shipping: edge deltas keyed by edge, consumed by an analyzer, give the graph of the raw flows', async () => {
    const lines = shopLines(3000, 53);
    // Two files: the shipper flushes a bucket after each (flushEvery 1000), so edges recur across buckets.
    const files = [lines.slice(0, 1500), lines.slice(1500)].map((part, i) => {
      const file = join(tmp.dir, `ship-${i}.jsonl.gz`);
      writeFileSync(file, gzipSync(`${part.join('\n')}\n`));
      return file;
    });
    const topic = await createTopic(broker.brokers, 'deltas', 3);
    const shipperDb = join(tmp.dir, 'shipper.db');
    const shipped = await runShipToKafka({
      from: 'files',
      inputs: files,
      connection: { brokers: [broker.brokers] },
      topic,
      db: shipperDb,
      flushEvery: 1000,
      progress: false,
    });
    assert.equal(shipped.stats.flows, 3000);
    assert.ok(shipped.messages > 0 && shipped.buckets >= 2, JSON.stringify(shipped));
    const rawBytes = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    assert.ok(
      shipped.bytes < rawBytes / 2,
      `deltas (${shipped.bytes} B) are much smaller than raw flows (${rawBytes} B)`,
    );

    // Re-running the shipper on the same files publishes nothing: its checkpoints say they were shipped.
    const rerun = await runShipToKafka({
      from: 'files',
      inputs: files,
      connection: { brokers: [broker.brokers] },
      topic,
      db: shipperDb,
      progress: false,
    });
    assert.equal(rerun.messages, 0);
    assert.equal(rerun.stats.filesSkipped, 2);

    // One edge's deltas all sit in one partition.
    const partitionsOfKey = new Map<string, Set<number>>();
    const deltas = await readTopic(topic, 'deltas-key-check', shipped.messages, 'every delta message');
    for (const { partition, message } of deltas) {
      const key = String(message.key);
      if (!partitionsOfKey.has(key)) partitionsOfKey.set(key, new Set());
      partitionsOfKey.get(key)!.add(partition);
    }
    const seen = deltas.length;
    const repeated = [...partitionsOfKey.values()].filter((s) => s.size > 1);
    assert.equal(repeated.length, 0);
    assert.ok(seen > partitionsOfKey.size, 'some edges were shipped in more than one bucket');

    const db = join(tmp.dir, 'analyzer.db');
    const consumed = await consume('analyzers', { topic, format: 'delta' }, db);
    assert.equal(consumed.kafka.poison, 0);
    assertGraphEquals(db, await referenceSnapshot(lines, tmp.dir));
  });

  test('shipping from a live Hubble Relay (the replay server): deltas give the graph; a rerun resumes', async () => {
    const lines = shopLines(2000, 71);
    const file = join(tmp.dir, 'relay.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const entries = await loadReplayFiles([file], emptyStats());
    const server = await startReplayServer(entries, { port: 0 });
    const topic = await createTopic(broker.brokers, 'relay-deltas', 2);
    const shipperDb = join(tmp.dir, 'relay-shipper.db');
    try {
      const ship = (extra = {}) =>
        runShipToKafka({
          from: 'hubble-relay',
          address: server.address,
          connection: { brokers: [broker.brokers] },
          topic,
          db: shipperDb,
          follow: false,
          progress: false,
          ...extra,
        });
      const first = await ship({ flushEvery: 500 });
      assert.equal(first.stats.flows, 2000);
      assert.ok(first.buckets >= 2, JSON.stringify(first));
      const store = openStore(shipperDb, { readonly: true });
      const cp = store.getCheckpoint(`hubble-relay:${server.address}`);
      const counts = store.counts();
      store.close();
      assert.ok(cp?.position, 'the shipper keeps where it read its source to');
      assert.equal(counts.edges, 0, 'and no graph');
      const again = await ship();
      assert.equal(again.messages, 0, JSON.stringify(again));
    } finally {
      server.kill();
    }
    const db = join(tmp.dir, 'relay-analyzer.db');
    await consume('relay', { topic, format: 'delta' }, db);
    assertGraphEquals(db, await referenceSnapshot(lines, tmp.dir));
  });

  /** The real command line, in its own process. */
  function flowwright(args: string[]) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, FLOWWRIGHT_DB: '', NO_COLOR: '1' },
    });
    return { code: r.status, stderr: r.stderr };
  }

  test('the collect command: ship files as deltas, consume them, and usage errors', async () => {
    const lines = shopLines(1500, 67);
    const file = join(tmp.dir, 'cli.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const topic = await createTopic(broker.brokers, 'cli-deltas', 2);
    const B = broker.brokers;

    const ship = flowwright([
      'collect',
      '--from',
      'files',
      '--input',
      file,
      '--to-kafka',
      '--kafka-brokers',
      B,
      '--topic',
      topic,
      '--db',
      join(tmp.dir, 'cli-shipper.db'),
      '--no-progress',
    ]);
    assert.equal(ship.code, EXIT_CODES.ok, ship.stderr);
    assert.match(ship.stderr, /shipped 1,500 flows from [\d,]+ records .* delta messages/);

    const db = join(tmp.dir, 'cli-analyzer.db');
    const consume = flowwright([
      'collect',
      '--kafka-brokers',
      B,
      '--topic',
      `${topic}:delta`,
      '--kafka-group',
      'cli',
      '--no-follow',
      '--db',
      db,
      '--no-progress',
    ]);
    assert.equal(consume.code, EXIT_CODES.ok, consume.stderr);
    assert.match(consume.stderr, /group cli assigned /);
    assert.match(consume.stderr, /kafka: [\d,]+ messages in [\d,]+ transactions, 0 poison skipped/);
    const reference = await referenceSnapshot(lines, tmp.dir);
    assert.deepEqual(graphSnapshot(db).counts, reference.counts);

    const usage = [
      [['collect', '--kafka-brokers', B, '--db', db], /--topic <name> is required/],
      [['collect', '--kafka-brokers', 'no-port', '--topic', 't'], /'no-port' is not host:port/],
      [['collect', '--kafka-brokers', B, '--topic', 'flows:avro'], /format must be one of auto, hubble, calico, delta/],
      [['collect', '--to-kafka', '--kafka-brokers', B, '--topic', topic], /--to-kafka needs --from/],
      [
        ['collect', '--kafka-brokers', B, '--topic', 'no-such-topic', '--no-follow', '--db', db],
        /topic 'no-such-topic' does not exist/,
      ],
      [['collect', '--kafka-brokers', B, '--topic', topic, '--since', '1h'], /--since does not apply to Kafka/],
    ] as const;
    for (const [args, message] of usage) {
      const r = flowwright([...args]);
      assert.equal(r.code, EXIT_CODES.usage, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });

  test('a store that fails stops the consumer with its error; nothing is committed to Kafka', async () => {
    const topic = await createTopic(broker.brokers, 'flows-store-fail', 1);
    await produce(broker.brokers, topic, mixedMessages(shopLines(200, 83), 1));
    const failure = new FlowwrightError('store', 'disk full');
    let writes = 0;
    await assert.rejects(
      consumeKafka({
        connection: { brokers: [broker.brokers] },
        groupId: 'store-fail',
        topics: [{ topic, format: 'auto' }],
        stats: emptyStats(),
        follow: true,
        sink: {
          position: () => undefined,
          write: () => {
            writes++;
            throw failure;
          },
        },
      }),
      (err: unknown) => err === failure,
    );
    assert.equal(writes, 1, 'stopped at the first failed write instead of retrying');
    const committed = await withAdmin(
      broker.brokers,
      async (admin) => (await admin.fetchOffsets({ groupId: 'store-fail', topics: [topic] }))[0]!.partitions,
    );
    assert.deepEqual(
      committed.map((c) => c.offset),
      ['-1'],
    );
  });

  test('a broker that cannot be reached is an unreachable-source error', async () => {
    await assert.rejects(
      runKafkaCollect({
        connection: { brokers: ['127.0.0.1:1'], retries: 0, connectionTimeoutMs: 1000 },
        topics: [{ topic: 'flows', format: 'auto' }],
        db: join(tmp.dir, 'unreachable.db'),
        follow: false,
        progress: false,
      }),
      (err: unknown) =>
        err instanceof FlowwrightError && err.code === 'unreachable' && /127\.0\.0\.1:1/.test(err.message),
    );
  });
});
