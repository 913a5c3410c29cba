// Kafka for `flowwright collect`:
//   collect --kafka-brokers h:p --topic flows          consume flow topics (or shipped deltas) into the store
//   collect --from hubble-relay --hubble-relay h:p --to-kafka --kafka-brokers h:p --topic deltas
//                                                      pre-aggregate a source into edge deltas and publish them
// runKafkaCollect composes the consumer (collect/kafka) with the aggregator and the store: each fetched
// batch of one partition becomes one transaction holding its counts and the partition's next offset.
// runShipToKafka composes a collector with the aggregator and the delta publisher; the shipper keeps its
// own checkpoints (where its source was read to) in its --db.
import { type Command, Option } from 'commander';
import { createAggregator } from '../aggregate/index.js';
import { streamGoldmaneFlows } from '../collect/calico/goldmane.js';
import { type RelayTlsOptions, streamRelayFlows } from '../collect/hubble/relay.js';
import { readFlowFiles } from '../collect/index.js';
import {
  consumeKafka,
  createDeltaPublisher,
  emptyKafkaCounters,
  type KafkaConnection,
  type KafkaCounters,
  type KafkaTopic,
  mergeFragment,
  parseBrokers,
  SASL_MECHANISMS,
  type SaslMechanism,
  TOPIC_FORMATS,
  type TopicFormat,
} from '../collect/kafka/index.js';
import { type CollectStats, emptyStats, type FlowBatch, type GraphDelta, usageError } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import {
  formatIngestSummary,
  formatMalformedKinds,
  type IngestSummary,
  limitFlows,
  runStopper,
  stopOnSignals,
  summarizeIngest,
} from './ingest.js';
import { parseDuration } from './options.js';
import { createProgress, formatCount, formatDuration } from './progress.js';

export const DEFAULT_GROUP = 'flowwright';

export interface RunKafkaCollectOptions {
  connection: KafkaConnection;
  groupId?: string;
  topics: KafkaTopic[];
  db: string;
  deadLetterTopic?: string;
  follow?: boolean;
  durationMs?: number;
  maxFlows?: number;
  sessionTimeoutMs?: number;
  /** Bytes fetched per partition per request: the most one transaction holds (default 1 MiB). */
  maxBytesPerPartition?: number;
  progress?: boolean;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Test hooks, passed to the consumer (see KafkaConsumeOptions). */
  beforeWrite?: Parameters<typeof consumeKafka>[0]['beforeWrite'];
  afterWrite?: Parameters<typeof consumeKafka>[0]['afterWrite'];
}

export interface KafkaCollectSummary extends IngestSummary {
  kafka: KafkaCounters;
}

/** Consumes Kafka topics into the store until stopped; see consumeKafka for how nothing is lost or counted twice. */
export async function runKafkaCollect(opts: RunKafkaCollectOptions): Promise<KafkaCollectSummary> {
  const started = Date.now();
  const store = openStore(opts.db);
  const stats = emptyStats();
  const counters = emptyKafkaCounters();
  const aggregator = createAggregator();
  const progress = createProgress(opts.progress ?? true);
  const { stop, dispose } = runStopper(opts.signal, opts.durationMs);
  try {
    await consumeKafka({
      connection: opts.connection,
      groupId: opts.groupId ?? DEFAULT_GROUP,
      topics: opts.topics,
      stats,
      counters,
      deadLetterTopic: opts.deadLetterTopic,
      follow: opts.follow,
      maxFlows: opts.maxFlows,
      sessionTimeoutMs: opts.sessionTimeoutMs,
      maxBytesPerPartition: opts.maxBytesPerPartition,
      signal: stop.signal,
      log: opts.log,
      beforeWrite: opts.beforeWrite,
      afterWrite: opts.afterWrite,
      sink: {
        position: (source) => store.getCheckpoint(source)?.position,
        write: (batch) => {
          aggregator.add(batch.flows);
          aggregator.setCheckpoint(batch.checkpoint);
          const delta = aggregator.take();
          mergeFragment(delta, batch.deltas);
          const ok = store.applyDeltaIf(delta, [{ source: batch.checkpoint.source, position: batch.expected }]);
          progress.update(stats.flows, `kafka ${batch.topic}/${batch.partition}@${batch.checkpoint.position}`);
          return ok;
        },
      },
    });
  } finally {
    dispose();
    progress.done();
  }
  try {
    return { ...summarizeIngest(stats, aggregator.stats, store, started), kafka: counters };
  } finally {
    store.close();
  }
}

/** The line `collect` prints under the usual summary for a Kafka run. */
export function formatKafkaCounters(k: KafkaCounters): string {
  const parts = [
    `${formatCount(k.messages)} messages in ${formatCount(k.batches)} transactions`,
    `${formatCount(k.poison)} poison skipped${k.deadLettered ? ` (${formatCount(k.deadLettered)} sent to the dead-letter topic)` : ''}`,
  ];
  if (k.deltaEdges)
    parts.push(`${formatCount(k.deltaEdges)} shipped edge deltas standing for ${formatCount(k.deltaFlows)} flows`);
  if (k.alreadyStored) parts.push(`${formatCount(k.alreadyStored)} already stored`);
  if (k.staleBatches) parts.push(`${formatCount(k.staleBatches)} stale batches dropped`);
  if (k.offsetsSkipped) parts.push(`${formatCount(k.offsetsSkipped)} offsets never seen by this store`);
  return `  kafka: ${parts.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------------------
// Shipping

export type ShipSource = 'hubble-relay' | 'goldmane' | 'files';
export const SHIP_SOURCES: readonly ShipSource[] = ['hubble-relay', 'goldmane', 'files'];

export interface RunShipOptions {
  from: ShipSource;
  /** Hubble Relay or Goldmane address. */
  address?: string;
  tls?: RelayTlsOptions;
  /** Files, directories or '-' (from files). */
  inputs?: string[];
  connection: KafkaConnection;
  topic: string;
  /** The shipper's own database: only its source checkpoints are written there. */
  db: string;
  /** Publish the aggregate at least this often (ms, default 10 s): the time bucket of a delta. */
  bucketMs?: number;
  /** ... or once this many flows are pending (default 50,000). */
  flushEvery?: number;
  follow?: boolean;
  durationMs?: number;
  maxFlows?: number;
  namespaces?: string[];
  compression?: 'gzip' | 'none';
  progress?: boolean;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface ShipSummary {
  stats: CollectStats;
  /** Flows folded into deltas (replies excluded). */
  dependencies: number;
  replies: number;
  /** Flushes published. */
  buckets: number;
  messages: number;
  /** Published message value bytes (before Kafka's compression). */
  bytes: number;
  elapsedMs: number;
}

/**
 * Reads a source, folds its flows into edge deltas and publishes one set of delta messages per time bucket.
 * After Kafka acknowledged a bucket, the source checkpoints it reached are written to the shipper's --db,
 * so a restart continues after the last published bucket (a crash between the two re-sends one bucket).
 */
export async function runShipToKafka(opts: RunShipOptions): Promise<ShipSummary> {
  const started = Date.now();
  const store = openStore(opts.db);
  const stats = emptyStats();
  const { stop, dispose } = runStopper(opts.signal, opts.durationMs);
  const progress = createProgress(opts.progress ?? true);
  const publisher = await createDeltaPublisher({
    connection: opts.connection,
    topic: opts.topic,
    compression: opts.compression,
  }).catch((err) => {
    // Nothing was shipped: release the store and the --duration timer, or the process would wait it out.
    dispose();
    store.close();
    throw err;
  });
  const summary: ShipSummary = {
    stats,
    dependencies: 0,
    replies: 0,
    buckets: 0,
    messages: 0,
    bytes: 0,
    elapsedMs: 0,
  };
  const aggregator = createAggregator();
  const flushEvery = opts.flushEvery ?? 50_000;
  const bucketMs = opts.bucketMs ?? 10_000;
  let lastFlush = Date.now();
  const flush = async () => {
    lastFlush = Date.now();
    const delta = aggregator.take();
    const sent = await publisher.publish(delta);
    summary.messages += sent.messages;
    summary.bytes += sent.bytes;
    if (sent.messages > 0) summary.buckets++;
    // Only once Kafka has the deltas: the positions they cover.
    if (delta.checkpoints.length > 0) store.applyDelta(checkpointsOnly(delta));
  };
  try {
    const batches = limitFlows(shipSourceBatches(opts, store, stats, stop), opts.maxFlows, stop);
    for await (const batch of batches) {
      aggregator.add(batch.flows);
      if (batch.checkpoint) aggregator.setCheckpoint(batch.checkpoint);
      progress.update(stats.flows, `to ${opts.topic}`);
      if (aggregator.pending().flows >= flushEvery || Date.now() - lastFlush >= bucketMs) await flush();
    }
    await flush();
  } finally {
    dispose();
    progress.done();
    await publisher.close();
    store.close();
  }
  summary.dependencies = aggregator.stats.flows;
  summary.replies = aggregator.stats.replies;
  summary.elapsedMs = Date.now() - started;
  return summary;
}

function checkpointsOnly(delta: GraphDelta): GraphDelta {
  return { peers: [], pods: [], edges: [], checkpoints: delta.checkpoints };
}

function shipSourceBatches(
  opts: RunShipOptions,
  store: Store,
  stats: CollectStats,
  stop: AbortController,
): AsyncIterable<FlowBatch> {
  const follow = opts.follow ?? true;
  if (opts.from === 'files') {
    if (!opts.inputs?.length) throw usageError("--from files needs --input <path> (files, directories or '-')");
    return readFlowFiles(opts.inputs, { stats, resume: (s) => store.getCheckpoint(s) });
  }
  if (!opts.address) throw usageError(`--from ${opts.from} needs --${opts.from} <host:port>`);
  const previous = store.getCheckpoint(`${opts.from}:${opts.address}`);
  const live = {
    address: opts.address,
    tls: opts.tls,
    follow,
    resumeAfter: previous?.position,
    namespaces: opts.namespaces,
    signal: stop.signal,
  };
  return opts.from === 'goldmane' ? streamGoldmaneFlows(live, stats) : streamRelayFlows(live, stats);
}

export function formatShipSummary(s: ShipSummary): string {
  return (
    `shipped ${formatCount(s.stats.flows)} flows from ${formatCount(s.stats.records)} records in ` +
    `${formatDuration(s.elapsedMs)}: ${formatCount(s.dependencies)} dependencies as ${formatCount(s.messages)} ` +
    `delta messages (${formatCount(s.bytes)} bytes before compression) in ${formatCount(s.buckets)} buckets; ` +
    `${formatCount(s.replies)} replies skipped, ${formatCount(s.stats.malformed)} malformed${formatMalformedKinds(s.stats)}`
  );
}

// ---------------------------------------------------------------------------------------------------------
// Command line: options added to `collect`, and the action for a Kafka run.

const appendList = (value: string, previous: string[] = []) => [...previous, ...value.split(',').filter(Boolean)];

/** Adds the Kafka options and examples to the `collect` command. */
export function addKafkaOptions(cmd: Command): void {
  cmd
    .option(
      '--kafka-brokers <host:port,...>',
      'Kafka bootstrap brokers: consume from them, or with --to-kafka publish to them',
    )
    .option(
      '--topic <name[:format]>',
      `Kafka topic (repeatable); format ${TOPIC_FORMATS.join('|')}, default auto (detected per message)`,
      appendList,
    )
    .option(
      '--kafka-group <id>',
      `consumer group id (default ${DEFAULT_GROUP}); analyzers in one group split the partitions`,
    )
    .option('--dead-letter-topic <name>', 'copy poison messages (nothing readable) to this topic before skipping them')
    .option('--kafka-session-timeout <time>', "how soon a dead group member's partitions move to another (default 30s)")
    .option('--kafka-client-id <id>', 'client id shown in broker logs and quotas (default flowwright)')
    .option('--kafka-tls', 'connect to the brokers with TLS (implied by the other --kafka-tls-* options)')
    .option('--kafka-tls-ca <file>', 'CA certificate (PEM) of the brokers')
    .option('--kafka-tls-cert <file>', 'client certificate (PEM) for mTLS')
    .option('--kafka-tls-key <file>', 'client key (PEM) for mTLS')
    .addOption(new Option('--kafka-tls-insecure-skip-verify', 'do not verify broker certificates (testing only)'))
    .addOption(new Option('--kafka-sasl <mechanism>', 'SASL authentication').choices([...SASL_MECHANISMS]))
    .option('--kafka-sasl-username <name>', 'SASL user name')
    .option('--kafka-sasl-password <password>', 'SASL password (better: FLOWWRIGHT_KAFKA_SASL_PASSWORD)')
    .option('--to-kafka', 'ship instead of store: publish pre-aggregated edge deltas to --topic')
    .addOption(new Option('--from <source>', 'with --to-kafka: what to read').choices([...SHIP_SOURCES]))
    .option(
      '--input <path>',
      "with --from files: a file, directory or '-' (repeatable)",
      (v: string, p: string[] = []) => [...p, v],
    )
    .option('--bucket <time>', 'with --to-kafka: publish the aggregate this often (default 10s)');
}

export const KAFKA_HELP =
  '\nKafka: with --kafka-brokers, collect consumes --topic (Hubble JSON, Calico flow logs or shipped deltas;\n' +
  'one record or newline-delimited records per message, gzip or not) as a member of --kafka-group. Offsets\n' +
  'are stored with the counts in one transaction, so a crash neither loses nor double-counts a flow; poison\n' +
  'messages are logged with topic/partition@offset and skipped. With --to-kafka it ships edge deltas instead.\n' +
  '  $ flowwright collect --kafka-brokers kafka-0.kafka:9092 --topic hubble-flows --topic calico-flows:calico\n' +
  '  $ flowwright collect --kafka-brokers k:9092 --topic flows --no-follow   # read what is there, then stop\n' +
  '  $ FLOWWRIGHT_KAFKA_SASL_PASSWORD=... flowwright collect --kafka-brokers k:9093 --kafka-tls-ca ca.crt \\\n' +
  '      --kafka-sasl scram-sha-512 --kafka-sasl-username analyzer --topic flows --dead-letter-topic flows-dlq\n' +
  'Shipping edge deltas (one collector per cluster) to analyzers that read --topic deltas:delta:\n' +
  '  $ flowwright collect --from hubble-relay --hubble-relay hubble-relay.kube-system:80 --to-kafka \\\n' +
  '      --kafka-brokers k:9092 --topic deltas --db /var/lib/flowwright/shipper.db\n' +
  '  $ flowwright collect --from files --input exports/ --to-kafka --kafka-brokers k:9092 --topic deltas';

/** Whether `collect` was asked for a Kafka run (consumer or shipper). */
export function isKafkaRun(flags: Record<string, unknown>): boolean {
  return flags.kafkaBrokers !== undefined || flags.toKafka === true || flags.topic !== undefined;
}

function parseTopics(raw: string[] | undefined): KafkaTopic[] {
  if (!raw?.length) throw usageError('--topic <name> is required with --kafka-brokers');
  return raw.map((t) => {
    const [topic, format = 'auto', ...rest] = t.split(':');
    if (!topic || rest.length > 0 || !/^[A-Za-z0-9._-]{1,249}$/.test(topic))
      throw usageError(`--topic: '${t}' is not a topic name (letters, digits, . _ -) with an optional :format`);
    if (!TOPIC_FORMATS.includes(format as TopicFormat))
      throw usageError(`--topic ${t}: format must be one of ${TOPIC_FORMATS.join(', ')}`);
    return { topic, format: format as TopicFormat };
  });
}

/** The Kafka connection from flags and FLOWWRIGHT_KAFKA_* variables. */
export function kafkaConnection(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): KafkaConnection {
  const str = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
  const brokersRaw = str('kafkaBrokers') ?? env.FLOWWRIGHT_KAFKA_BROKERS;
  if (!brokersRaw) throw usageError('--kafka-brokers <host:port> is required');
  const conn: KafkaConnection = { brokers: parseBrokers(brokersRaw), clientId: str('kafkaClientId') };
  const tlsFiles = ['kafkaTlsCa', 'kafkaTlsCert', 'kafkaTlsKey'].some((k) => str(k) !== undefined);
  if (flags.kafkaTls === true || flags.kafkaTlsInsecureSkipVerify === true || tlsFiles)
    conn.ssl = {
      ca: str('kafkaTlsCa'),
      cert: str('kafkaTlsCert'),
      key: str('kafkaTlsKey'),
      insecureSkipVerify: flags.kafkaTlsInsecureSkipVerify === true,
    };
  const mechanism = str('kafkaSasl') as SaslMechanism | undefined;
  if (mechanism) {
    const username = str('kafkaSaslUsername') ?? env.FLOWWRIGHT_KAFKA_SASL_USERNAME;
    const password = str('kafkaSaslPassword') ?? env.FLOWWRIGHT_KAFKA_SASL_PASSWORD;
    if (!username || password === undefined)
      throw usageError('--kafka-sasl needs --kafka-sasl-username and a password (FLOWWRIGHT_KAFKA_SASL_PASSWORD)');
    conn.sasl = { mechanism, username, password };
  } else if (str('kafkaSaslUsername') !== undefined)
    throw usageError('--kafka-sasl-username needs --kafka-sasl <mechanism>');
  if (env.FLOWWRIGHT_KAFKA_DEBUG) conn.debugLog = (line) => process.stderr.write(`${line}\n`);
  return conn;
}

export interface KafkaCommandContext {
  db: string;
  progress: boolean;
  flushEvery: number;
  durationMs?: number;
  maxFlows?: number;
  follow: boolean;
  tls?: RelayTlsOptions;
  namespaces?: string[];
}

/** The `collect` action for Kafka runs; prints its summary on stderr. */
export async function runKafkaCommand(flags: Record<string, unknown>, ctx: KafkaCommandContext): Promise<void> {
  const connection = kafkaConnection(flags);
  if (flags.since !== undefined)
    throw usageError('--since does not apply to Kafka: offsets decide where reading starts');
  if (flags.verdict !== undefined || flags.excludeReplies === true)
    throw usageError('--verdict and --exclude-replies apply to --hubble-relay collection into the store only');
  // Ctrl-C stops; what was read is still written (the batch in progress) and summarized.
  await stopOnSignals((signal) => runKafka(flags, connection, { ...ctx, signal }));
}

async function runKafka(
  flags: Record<string, unknown>,
  connection: KafkaConnection,
  ctx: KafkaCommandContext & { signal: AbortSignal },
): Promise<void> {
  const str = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (flags.toKafka === true) {
    const topics = parseTopics(flags.topic as string[] | undefined);
    if (topics.length !== 1 || topics[0]!.format !== 'auto')
      throw usageError('--to-kafka publishes to exactly one --topic <name> (no :format)');
    const from = str('from') as ShipSource | undefined;
    if (!from) throw usageError(`--to-kafka needs --from <${SHIP_SOURCES.join('|')}>`);
    const address = from === 'hubble-relay' ? str('hubbleRelay') : from === 'goldmane' ? str('goldmane') : undefined;
    const summary = await runShipToKafka({
      from,
      address,
      tls: ctx.tls,
      inputs: flags.input as string[] | undefined,
      connection,
      topic: topics[0]!.topic,
      db: ctx.db,
      bucketMs: str('bucket') !== undefined ? parseDuration(str('bucket')!, '--bucket') : undefined,
      flushEvery: ctx.flushEvery,
      follow: ctx.follow,
      durationMs: ctx.durationMs,
      maxFlows: ctx.maxFlows,
      namespaces: ctx.namespaces,
      progress: ctx.progress,
      signal: ctx.signal,
      log,
    });
    log(formatShipSummary(summary));
    return;
  }
  for (const k of ['from', 'input', 'bucket'])
    if (flags[k] !== undefined) throw usageError(`--${k} applies to --to-kafka only`);
  const sessionTimeout = str('kafkaSessionTimeout');
  const summary = await runKafkaCollect({
    connection,
    groupId: str('kafkaGroup'),
    topics: parseTopics(flags.topic as string[] | undefined),
    db: ctx.db,
    deadLetterTopic: str('deadLetterTopic'),
    follow: ctx.follow,
    durationMs: ctx.durationMs,
    maxFlows: ctx.maxFlows,
    sessionTimeoutMs:
      sessionTimeout !== undefined ? parseDuration(sessionTimeout, '--kafka-session-timeout') : undefined,
    progress: ctx.progress,
    signal: ctx.signal,
    log,
  });
  log(formatIngestSummary(summary, 'consumed'));
  log(formatKafkaCounters(summary.kafka));
}
