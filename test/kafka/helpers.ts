// Shared by the Kafka tests: a real broker (FLOWWRIGHT_KAFKA_BROKERS, or one started here from the jars
// that test/kafka/broker.mjs fetches), producing flows in the encodings the consumer accepts, and the graph
// a file ingest of the same flows gives, to compare with.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import kafkajs from 'kafkajs';
import { DEFAULT_SPAN_MS, hubbleLines } from '../../samples/hubble.js';
import { shopScenario } from '../../samples/shop.js';
import { runIngest } from '../../src/cli/ingest.js';
import { openStore } from '../../src/store/index.js';
// @ts-expect-error: a plain ES module without types
import { missingTools, startBroker } from './broker.mjs';

const { Kafka, logLevel } = kafkajs;

export interface BrokerHandle {
  brokers: string;
  stop(): Promise<void>;
}

/**
 * Why the Kafka tests cannot run here (printed once as the skip reason), or undefined. With
 * FLOWWRIGHT_REQUIRE_KAFKA=1 (CI) a missing broker is an error instead of a skip.
 */
export function kafkaSkipReason(): string | undefined {
  if (process.env.FLOWWRIGHT_KAFKA_BROKERS) return undefined;
  const why = missingTools() as string | undefined;
  if (!why) return undefined;
  if (process.env.FLOWWRIGHT_REQUIRE_KAFKA === '1')
    throw new Error(`FLOWWRIGHT_REQUIRE_KAFKA=1 but no Kafka broker can run: ${why}`);
  // The test runner prints this once, on the skipped suite's line.
  return `kafka tests skipped: ${why}`;
}

/** The broker from FLOWWRIGHT_KAFKA_BROKERS, or a fresh one started for this test file. */
export async function useBroker(): Promise<BrokerHandle> {
  const given = process.env.FLOWWRIGHT_KAFKA_BROKERS;
  if (given) return { brokers: given, stop: async () => {} };
  const b = await startBroker();
  return {
    brokers: b.brokers,
    stop: async () => {
      await b.stop();
      rmSync(b.dir, { recursive: true, force: true });
    },
  };
}

export function kafkaClient(brokers: string) {
  return new Kafka({ brokers: brokers.split(','), clientId: 'flowwright-test', logLevel: logLevel.NOTHING });
}

let topicCounter = 0;
/** A new topic with a unique name. */
export async function createTopic(brokers: string, prefix: string, partitions: number): Promise<string> {
  const topic = `${prefix}-${process.pid}-${Date.now()}-${topicCounter++}`;
  await withAdmin(brokers, (admin) =>
    admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true }),
  );
  return topic;
}

/** Runs `fn` with a connected admin client. */
export async function withAdmin<T>(brokers: string, fn: (admin: kafkajs.Admin) => Promise<T>): Promise<T> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

export interface Produced {
  key?: string;
  value: Buffer | string | null;
  partition?: number;
}

/** Sends `perSend` messages per request: each request becomes one record batch per partition in the log. */
export async function produce(brokers: string, topic: string, messages: Produced[], perSend = 100): Promise<void> {
  const producer = kafkaClient(brokers).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += perSend)
      await producer.send({ topic, messages: messages.slice(i, i + perSend) });
  } finally {
    await producer.disconnect();
  }
}

/** Hubble JSON lines of the shop scenario (flows plus a few node_status / lost_events records). */
export function shopLines(flows: number, seed = 11): string[] {
  return [
    ...hubbleLines(shopScenario(), {
      flows,
      seed,
      startMs: Date.parse('2024-06-03T00:00:00Z'),
      spanMs: DEFAULT_SPAN_MS / 8,
      l7: true,
    }),
  ];
}

/**
 * The lines as Kafka messages in every encoding the consumer reads, round-robin over partitions: one
 * record per message, newline-delimited batches of 1-7 records, and gzip-compressed batches.
 */
export function mixedMessages(lines: string[], partitions: number): Produced[] {
  const out: Produced[] = [];
  let i = 0;
  let n = 0;
  while (i < lines.length) {
    const kind = n % 3;
    const size = kind === 0 ? 1 : 1 + (n % 7);
    const chunk = lines.slice(i, i + size).join('\n');
    i += size;
    out.push({
      value: kind === 2 ? gzipSync(Buffer.from(`${chunk}\n`)) : chunk,
      partition: n % partitions,
    });
    n++;
  }
  return out;
}

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'flowwright-kafka-test-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** What two graphs must agree on: totals and every edge's flow and verdict counts. */
export function graphSnapshot(db: string) {
  const store = openStore(db, { readonly: true });
  try {
    const counts = store.counts();
    const edges = store
      .loadGraph()
      .edges.map((e) => `${e.src} -> ${e.dst} ${e.protocol}/${e.port} flows=${e.flows} ${JSON.stringify(e.verdicts)}`)
      .sort();
    return { counts, edges };
  } finally {
    store.close();
  }
}

/** The graph `flowwright ingest` learns from the same lines written to a file. */
export async function referenceSnapshot(lines: string[], dir: string) {
  const file = join(dir, `reference-${topicCounter++}.jsonl`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  const db = join(dir, `reference-${topicCounter++}.db`);
  const summary = await runIngest({ inputs: [file], db, progress: false });
  return { ...graphSnapshot(db), summary };
}

/** Polls until `check` returns a value or the time is up (then throws with `what`). */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
