// The Kafka consumer: a consumer group member that reads flow topics (Hubble JSON, Calico flow logs or
// shipped graph deltas) and hands each fetched batch of one partition to a sink that stores it.
//
// No loss, no double counting. The offsets live in the store, not in Kafka:
//   - the sink writes a batch's counts and its checkpoint `kafka:<group>:<topic>:<partition>` (the next
//     offset) in ONE transaction, and only if the stored checkpoint is still the one the batch started
//     from, so a member that lost its partition in a rebalance cannot write over its successor;
//   - on every assignment (start and each rebalance) the consumer seeks each partition to the offset stored
//     in the store, and every batch skips messages below it, so a crash between the transaction and the
//     Kafka commit, or a fetch that raced the seek, re-reads nothing into the counts;
//   - the offset is committed to Kafka too (for lag monitoring and for analyzers that keep separate
//     stores), after the transaction; the store wins whenever the two disagree, unless Kafka is ahead.
// Poison messages (nothing readable) are counted, logged with topic/partition/offset, optionally copied
// to a dead-letter topic, and skipped; the partition goes on.
import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import { type Checkpoint, type CollectStats, type Flow, FlowwrightError } from '../../model/index.js';
import { createKafka, type KafkaConnection, kafkaError } from './client.js';
import { decodeMessage, messagePosition, type TopicFormat } from './decode.js';
import type { DeltaFragment } from './delta.js';

export interface KafkaTopic {
  topic: string;
  format: TopicFormat;
}

/** What the sink stores in one transaction. */
export interface KafkaBatch {
  topic: string;
  partition: number;
  flows: Flow[];
  /** Shipped graph deltas read from the batch (topics in `delta` format). */
  deltas: DeltaFragment;
  /** The partition's next offset after this batch. */
  checkpoint: Checkpoint;
  /** The checkpoint position the batch started from (undefined: none stored); the write must check it. */
  expected: string | undefined;
}

export interface KafkaSink {
  /** The stored position (next offset) of a checkpoint source, if any. */
  position(source: string): string | undefined;
  /**
   * Stores flows, deltas and checkpoint in one transaction, provided the stored position still equals
   * `batch.expected`. Returns false, writing nothing, when it does not (another member moved it).
   */
  write(batch: KafkaBatch): boolean;
}

export interface KafkaCounters {
  messages: number;
  /** Messages skipped because the store already holds them (re-delivery after a crash or a rebalance). */
  alreadyStored: number;
  poison: number;
  deadLettered: number;
  /** Batches written. */
  batches: number;
  /** Batches dropped because another member had stored the partition further meanwhile. */
  staleBatches: number;
  /** Offsets Kafka moved past that the store never saw (retention, or an analyzer with another store). */
  offsetsSkipped: number;
  rebalances: number;
  /** Shipped edge deltas read, and the flows they stand for. */
  deltaEdges: number;
  deltaFlows: number;
  /**
   * Messages each partition still has to read after its last stored batch (the partition's high watermark
   * minus the next offset), keyed `topic/partition`: the consumer lag.
   */
  lag: Map<string, { topic: string; partition: number; lag: number }>;
}

export function emptyKafkaCounters(): KafkaCounters {
  return {
    messages: 0,
    alreadyStored: 0,
    poison: 0,
    deadLettered: 0,
    batches: 0,
    staleBatches: 0,
    offsetsSkipped: 0,
    rebalances: 0,
    deltaEdges: 0,
    deltaFlows: 0,
    lag: new Map(),
  };
}

export interface KafkaConsumeOptions {
  connection: KafkaConnection;
  groupId: string;
  topics: KafkaTopic[];
  sink: KafkaSink;
  stats: CollectStats;
  counters?: KafkaCounters;
  /** Copy poison messages here (with `flowwright-error` and `flowwright-origin` headers). */
  deadLetterTopic?: string;
  /** true (default): run until stopped. false: stop once the assigned partitions reach the end offsets they had when assigned. */
  follow?: boolean;
  /** A group that has no offsets yet starts at the oldest message (default) or, false, at new ones only. */
  fromBeginning?: boolean;
  /** Stop after this many flows (checked after each batch). */
  maxFlows?: number;
  signal?: AbortSignal;
  /** Consumer group session timeout (ms, default 30 s): how soon a dead member's partitions move. */
  sessionTimeoutMs?: number;
  /** Bytes fetched per partition per request (default 1 MiB; a compressed batch may hold far more flows). */
  maxBytesPerPartition?: number;
  /** One line per notable event: assignment, poison message, skipped offsets, stale batch. */
  log?: (line: string) => void;
  /** Called inside each batch after decoding and before the write (tests use it to die mid-batch). */
  beforeWrite?: (batch: KafkaBatch) => void | Promise<void>;
  /** Called after the write and before the Kafka commit. */
  afterWrite?: (batch: KafkaBatch) => void | Promise<void>;
}

/** The checkpoint source of one partition, as stored: `kafka:<group>:<topic>:<partition>`. */
export function kafkaCheckpointSource(groupId: string, topic: string, partition: number): string {
  return `kafka:${groupId}:${topic}:${partition}`;
}

const emptyFragment = (): DeltaFragment => ({ peers: [], pods: [], edges: [] });

/** Consumes until stopped (signal, maxFlows, caught up without follow) or a fatal error. */
export async function consumeKafka(opts: KafkaConsumeOptions): Promise<KafkaCounters> {
  const counters = opts.counters ?? emptyKafkaCounters();
  const log = opts.log ?? (() => {});
  const follow = opts.follow ?? true;
  const formats = new Map(opts.topics.map((t) => [t.topic, t.format]));
  const kafka: Kafka = createKafka(opts.connection);
  const admin = kafka.admin();
  const consumer: Consumer = kafka.consumer({
    groupId: opts.groupId,
    sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: Math.max(500, Math.floor((opts.sessionTimeoutMs ?? 30_000) / 10)),
    maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024,
    retry: { retries: opts.connection.retries ?? 5 },
  });
  let producer: Producer | undefined;

  // Stopping: the first reason wins; run() below waits for it.
  let finish!: (err?: Error) => void;
  const finished = new Promise<Error | undefined>((resolve) => {
    finish = (err) => resolve(err);
  });
  const onAbort = () => finish();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  // End offsets per `topic/partition` when it was assigned (--no-follow), and which are done.
  const endOffsets = new Map<string, bigint>();
  let assigned: string[] = [];
  const positions = new Map<string, bigint>();
  const tp = (topic: string, partition: number) => `${topic}/${partition}`;
  const checkCaughtUp = () => {
    if (follow) return;
    if (assigned.every((k) => (positions.get(k) ?? -1n) >= (endOffsets.get(k) ?? 0n))) finish();
  };

  const connect = async () => {
    try {
      await admin.connect();
      await consumer.connect();
      if (opts.deadLetterTopic) {
        producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
        await producer.connect();
      }
      const existing = new Set(await admin.listTopics());
      for (const t of opts.topics)
        if (!existing.has(t.topic))
          throw new FlowwrightError(
            'usage',
            `Kafka topic '${t.topic}' does not exist on ${opts.connection.brokers.join(',')}`,
          );
      await consumer.subscribe({ topics: opts.topics.map((t) => t.topic), fromBeginning: opts.fromBeginning ?? true });
    } catch (err) {
      throw kafkaError(err, `cannot connect to Kafka at ${opts.connection.brokers.join(',')}`);
    }
  };

  // On every assignment: seek each partition to the offset in the store (unless the group's committed
  // offset is further, which means another store consumed up to there) and note where --no-follow ends.
  const onAssigned = async (assignment: Record<string, number[]>) => {
    counters.rebalances++;
    assigned = Object.entries(assignment).flatMap(([topic, parts]) => parts.map((p) => tp(topic, p)));
    const described: string[] = [];
    for (const [topic, partitions] of Object.entries(assignment)) {
      const [committed, ends] = await Promise.all([
        admin.fetchOffsets({ groupId: opts.groupId, topics: [topic] }),
        follow ? Promise.resolve([]) : admin.fetchTopicOffsets(topic),
      ]);
      const committedOf = new Map(
        (committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)] as [number, bigint]),
      );
      for (const e of ends) endOffsets.set(tp(topic, e.partition), BigInt(e.high));
      for (const e of ends) if (BigInt(e.low) >= BigInt(e.high)) positions.set(tp(topic, e.partition), BigInt(e.high));
      for (const partition of partitions) {
        const stored = opts.sink.position(kafkaCheckpointSource(opts.groupId, topic, partition));
        const kafkaAt = committedOf.get(partition) ?? -1n;
        if (stored !== undefined) {
          const at = BigInt(stored);
          positions.set(tp(topic, partition), at > kafkaAt ? at : kafkaAt);
          if (at >= kafkaAt) consumer.seek({ topic, partition, offset: stored });
          described.push(`${tp(topic, partition)}@${at >= kafkaAt ? stored : kafkaAt}`);
        } else {
          if (kafkaAt >= 0n) positions.set(tp(topic, partition), kafkaAt);
          described.push(
            `${tp(topic, partition)}@${kafkaAt >= 0n ? kafkaAt : opts.fromBeginning === false ? 'end' : 'start'}`,
          );
        }
      }
    }
    log(
      described.length > 0
        ? `kafka: group ${opts.groupId} assigned ${described.join(', ')}`
        : `kafka: group ${opts.groupId} assigned no partitions (more members than partitions)`,
    );
    checkCaughtUp();
  };

  // Set when the group assigns partitions; batches wait for it so that seeks and the log come first.
  let assignmentDone: Promise<void> = Promise.resolve();

  const eachBatch = async ({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload) => {
    await assignmentDone;
    const { topic, partition } = batch;
    const key = tp(topic, partition);
    const source = kafkaCheckpointSource(opts.groupId, topic, partition);
    const expected = opts.sink.position(source);
    const storedNext = expected !== undefined ? BigInt(expected) : undefined;
    const format = formats.get(topic) ?? 'auto';
    const flows: Flow[] = [];
    const deltas = emptyFragment();
    let last: bigint | undefined;
    let sinceHeartbeat = 0;

    const first = batch.messages[0] ? BigInt(batch.messages[0].offset) : undefined;
    if (storedNext !== undefined && first !== undefined && first > storedNext) {
      counters.offsetsSkipped += Number(first - storedNext);
      log(
        `kafka: ${key}: the store is at offset ${storedNext} but the next message is ${first}; offsets ` +
          `${storedNext}..${first - 1n} were deleted by retention or consumed by an analyzer with another store`,
      );
    }
    for (const m of batch.messages) {
      if (!isRunning() || isStale()) break;
      const offset = BigInt(m.offset);
      if (storedNext !== undefined && offset < storedNext) {
        counters.alreadyStored++;
        continue;
      }
      counters.messages++;
      const where = messagePosition(topic, partition, m.offset);
      const decoded = decodeMessage(m.value, format, where, flows, deltas, opts.stats);
      if (decoded.poison !== undefined) {
        counters.poison++;
        let sent = '';
        if (producer && opts.deadLetterTopic) {
          try {
            await producer.send({
              topic: opts.deadLetterTopic,
              messages: [
                {
                  key: m.key,
                  value: m.value,
                  headers: { ...m.headers, 'flowwright-error': decoded.poison, 'flowwright-origin': where },
                },
              ],
            });
            counters.deadLettered++;
            sent = `; copied to ${opts.deadLetterTopic}`;
          } catch (err) {
            sent = `; could not copy it to ${opts.deadLetterTopic}: ${(err as Error).message}`;
          }
        }
        log(`kafka: poison message ${where} skipped: ${decoded.poison}${sent}`);
      }
      last = offset;
      if (++sinceHeartbeat >= 2000) {
        sinceHeartbeat = 0;
        await heartbeat();
      }
    }
    // Revoked meanwhile: its new owner reads from the stored offset; nothing of this batch is written.
    if (isStale() || last === undefined) return;

    const next = (last + 1n).toString();
    const out: KafkaBatch = {
      topic,
      partition,
      flows,
      deltas,
      checkpoint: { source, position: next, label: `kafka ${key} (group ${opts.groupId})` },
      expected,
    };
    await opts.beforeWrite?.(out);
    let written: boolean;
    try {
      written = opts.sink.write(out);
    } catch (err) {
      // The store failed (disk full, locked too long): stop with its error rather than retry forever.
      finish(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (!written) {
      counters.staleBatches++;
      log(`kafka: ${key}: another member stored this partition further meanwhile; batch at ${first} dropped`);
      return;
    }
    counters.batches++;
    counters.deltaEdges += deltas.edges.length;
    for (const e of deltas.edges) counters.deltaFlows += e.flows;
    positions.set(key, last + 1n);
    const highWatermark = BigInt(batch.highWatermark);
    counters.lag.set(key, {
      topic,
      partition,
      lag: Number(highWatermark > last + 1n ? highWatermark - last - 1n : 0n),
    });
    await opts.afterWrite?.(out);
    resolveOffset(last.toString());
    try {
      await consumer.commitOffsets([{ topic, partition, offset: next }]);
    } catch (err) {
      // The store has it; Kafka's copy is for lag monitoring and catches up with the next batch.
      log(`kafka: ${key}: commit to Kafka failed (${(err as Error).message}); the store has offset ${next}`);
    }
    if (opts.maxFlows !== undefined && opts.stats.flows >= opts.maxFlows) finish();
    checkCaughtUp();
    await heartbeat();
  };

  try {
    await connect();
  } catch (err) {
    opts.signal?.removeEventListener('abort', onAbort);
    await Promise.all(
      [consumer.disconnect(), producer?.disconnect(), admin.disconnect()].map((p) => p?.catch(() => {})),
    );
    throw err;
  }
  const removeJoin = consumer.on(consumer.events.GROUP_JOIN, (e) => {
    // Emitted synchronously before kafkajs fetches for the new assignment.
    assignmentDone = onAssigned(e.payload.memberAssignment).catch((err) =>
      log(`kafka: cannot read offsets after joining: ${err.message}`),
    );
  });
  const removeCrash = consumer.on(consumer.events.CRASH, (e) => {
    if (!e.payload.restart) finish(kafkaError(e.payload.error, 'the Kafka consumer stopped'));
  });
  try {
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch,
    });
    const err = await finished;
    if (err) throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    removeJoin();
    removeCrash();
    // disconnect() waits for the batch in progress, which writes what it read.
    await consumer.disconnect().catch(() => {});
    await producer?.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
  return counters;
}
