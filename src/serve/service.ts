// The learning half of the service: every configured source streams into ONE aggregator, which is
// written to the store on an interval (and when enough flows are pending), together with each source's
// checkpoint, in one transaction. A source that fails is retried with backoff forever; its state is
// what /readyz and /metrics report. stop() (SIGTERM) ends every stream, lets each hand over what it
// has received, writes it all, and closes the store: what was received is in the database, and each
// source resumes after its stored checkpoint on the next start.
import { createAggregator } from '../aggregate/index.js';
import { type GoldmaneEvent, streamGoldmaneFlows } from '../collect/calico/goldmane.js';
import { sleep } from '../collect/grpc.js';
import { type RelayEvent, streamRelayFlows } from '../collect/hubble/relay.js';
import { consumeKafka, emptyKafkaCounters, type KafkaCounters, mergeFragment } from '../collect/kafka/index.js';
import {
  type CollectStats,
  describeError,
  emptyStats,
  type FlowBatch,
  FlowwrightError,
  type GraphDelta,
} from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import type { KafkaSource, ServeConfig, SourceConfig } from './config.js';
import { createHistogram } from './metrics.js';

const HOUR_MS = 3_600_000;

export type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export type ConnectionState = 'starting' | 'connected' | 'reconnecting' | 'failed' | 'stopped';

export interface SourceStatus {
  name: string;
  type: SourceConfig['type'];
  /** The checkpoint key in the store. */
  checkpoint: string;
  state: ConnectionState;
  stats: CollectStats;
  /** Flows a resumed stream sent again, recognized and skipped. */
  duplicates: number;
  connections: number;
  reconnects: number;
  lastError?: string;
  lastConnectedAt?: number;
  /** Kafka sources: the consumer's counters (poison messages, rebalances, lag per partition, ...). */
  kafka?: KafkaCounters;
}

/** Opens one source's stream of batches. Kafka plugs in here when its consumer is available. */
export type SourceOpener = (
  source: SourceConfig,
  ctx: {
    stats: CollectStats;
    status: SourceStatus;
    signal: AbortSignal;
    resumeAfter?: string;
    log: Log;
  },
) => AsyncIterable<FlowBatch>;

export interface ServiceOptions {
  config: ServeConfig;
  log: Log;
  /** Openers by source type; the built-in ones cover hubble-relay and goldmane. */
  openers?: Partial<Record<SourceConfig['type'], SourceOpener>>;
  now?: () => number;
}

export interface Service {
  readonly store: Store;
  readonly sources: SourceStatus[];
  /** Bumped by every flush that wrote flows, so readers can cache per generation. */
  generation(): number;
  /** Writes everything pending now. */
  flush(): void;
  /** Deletes hourly buckets older than the retention window; returns rows removed. */
  prune(): number;
  /** Counters and timings for /metrics. */
  readonly counters: {
    flushes: number;
    flushErrors: number;
    pruned: number;
    replies: () => number;
    /** Flows that became edge evidence (replies excluded). */
    dependencies: () => number;
    unknownReply: () => number;
    pendingFlows: () => number;
    flushSeconds: ReturnType<typeof createHistogram>;
  };
  readonly stopping: () => boolean;
  /** Stops every source, writes what was received, closes the store. Safe to call twice. */
  stop(): Promise<void>;
}

/** The checkpoint source in the store (for Kafka, the prefix of its per-partition checkpoints). */
export function sourceCheckpointKey(s: SourceConfig): string {
  if (s.type === 'hubble-relay') return `hubble-relay:${s.address}`;
  if (s.type === 'goldmane') return `goldmane:${s.address}`;
  return `kafka:${s.groupId}:`;
}

const builtInOpeners: Partial<Record<SourceConfig['type'], SourceOpener>> = {
  'hubble-relay': (s, ctx) => {
    if (s.type !== 'hubble-relay') throw new Error('wrong opener');
    const now = Date.now();
    return streamRelayFlows(
      {
        address: s.address,
        tls: s.tls,
        follow: true,
        resumeAfter: ctx.resumeAfter,
        since:
          ctx.resumeAfter === undefined && s.sinceMs !== undefined
            ? new Date(now - s.sinceMs).toISOString()
            : undefined,
        namespaces: s.namespaces,
        verdicts: s.verdicts,
        excludeReplies: s.excludeReplies,
        backoff: s.reconnect,
        signal: ctx.signal,
        onEvent: trackEvents(ctx),
      },
      ctx.stats,
    );
  },
  goldmane: (s, ctx) => {
    if (s.type !== 'goldmane') throw new Error('wrong opener');
    return streamGoldmaneFlows(
      {
        address: s.address,
        tls: s.tls,
        follow: true,
        resumeAfter: ctx.resumeAfter,
        since: s.sinceMs !== undefined ? -Math.floor(s.sinceMs / 1000) : undefined,
        settleMs: s.settleMs,
        namespaces: s.namespaces,
        backoff: s.reconnect,
        signal: ctx.signal,
        onEvent: trackEvents(ctx),
      },
      ctx.stats,
    );
  },
};

/** A gRPC collector's events, reflected in the source's status (and the log). */
function trackEvents(ctx: { status: SourceStatus; log: Log }) {
  return (e: RelayEvent | GoldmaneEvent) => {
    if (e.type === 'connected') connected(ctx.status);
    else if (e.type === 'disconnected') disconnected(ctx.status, e.error, e.retryInMs, ctx.log);
    else if (e.type === 'duplicates') ctx.status.duplicates += e.n;
    else if (e.type === 'lost')
      ctx.log('warn', 'the source reports lost events', { source: ctx.status.name, lost: e.n, node: e.node });
  };
}

/** Exponential backoff after the n-th failure in a row, capped by the source's maximum. */
function retryDelay(reconnect: SourceConfig['reconnect'], failures: number): number {
  return Math.min(reconnect.maxMs, reconnect.initialMs * 2 ** Math.min(failures, 16));
}

function connected(status: SourceStatus) {
  status.state = 'connected';
  status.connections++;
  status.lastConnectedAt = Date.now();
}

function disconnected(status: SourceStatus, error: string, retryInMs: number, log: Log) {
  status.state = 'reconnecting';
  status.reconnects++;
  status.lastError = error;
  log('warn', 'source disconnected', { source: status.name, error, retryInMs });
}

/** Opens the store and starts every source. Throws FlowwrightError('store') if the database cannot be opened. */
export function startService(opts: ServiceOptions): Service {
  const { config, log } = opts;
  const now = opts.now ?? Date.now;
  const openers = { ...builtInOpeners, ...opts.openers };
  for (const s of config.sources) {
    if (s.type !== 'kafka' && !openers[s.type])
      throw new FlowwrightError(
        'usage',
        `${s.name}: sources of type '${s.type}' are not supported by this build of flowwright`,
        config.file ? { file: config.file } : undefined,
      );
  }
  // With no source to learn from and no retention to apply, the service only reads: it opens the
  // database read-only, so it works on a file (or a volume) it may not write.
  const readonly = config.sources.length === 0 && config.retentionMs === undefined;
  const store = openStore(config.db, { readonly });
  const aggregator = createAggregator();
  // Kafka batches are written by the consumer as they come (each with its partition offsets, checked against
  // the store), through aggregators of their own.
  const kafkaAggregators: ReturnType<typeof createAggregator>[] = [];
  const sumKafka = (key: 'replies' | 'flows' | 'unknownReply') =>
    kafkaAggregators.reduce((n, a) => n + a.stats[key], 0);
  const stop = new AbortController();
  const unwritten: GraphDelta[] = [];
  let generation = 0;
  const flushSeconds = createHistogram([0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  const counters: Service['counters'] = {
    flushes: 0,
    flushErrors: 0,
    pruned: 0,
    replies: () => aggregator.stats.replies + sumKafka('replies'),
    dependencies: () => aggregator.stats.flows + sumKafka('flows'),
    unknownReply: () => aggregator.stats.unknownReply + sumKafka('unknownReply'),
    pendingFlows: () => aggregator.pending().flows,
    flushSeconds,
  };

  const flush = () => {
    if (readonly) return;
    const started = performance.now();
    const pending = aggregator.pending();
    unwritten.push(aggregator.take());
    try {
      // Deltas add up and checkpoints only move forward, so writing an earlier failed delta first keeps both right.
      while (unwritten.length > 0) {
        store.applyDelta(unwritten[0]);
        unwritten.shift();
      }
      counters.flushes++;
      if (pending.flows > 0) generation++;
    } catch (err) {
      counters.flushErrors++;
      log('error', 'cannot write to the database; will retry at the next flush', {
        error: describeError(err),
        unwrittenFlushes: unwritten.length,
      });
    } finally {
      flushSeconds.observe((performance.now() - started) / 1000);
    }
  };

  const prune = () => {
    if (config.retentionMs === undefined) return 0;
    const hour = Math.floor((now() - config.retentionMs) / HOUR_MS);
    try {
      const removed = store.pruneHoursBefore(hour);
      counters.pruned += removed;
      if (removed > 0) {
        generation++;
        log('info', 'retention: removed hourly buckets', { removed, before: new Date(hour * HOUR_MS).toISOString() });
      }
      return removed;
    } catch (err) {
      log('error', 'retention: cannot prune', { error: describeError(err) });
      return 0;
    }
  };

  const statuses: SourceStatus[] = config.sources.map((s) => ({
    name: s.name,
    type: s.type,
    checkpoint: sourceCheckpointKey(s),
    state: 'starting',
    stats: emptyStats(),
    duplicates: 0,
    connections: 0,
    reconnects: 0,
  }));

  /**
   * Runs one source until the service stops: `attempt` streams until it fails or ends, calling `progress`
   * whenever something arrived (the backoff starts over); each failure waits with backoff and runs it again.
   */
  const supervise = async (
    source: SourceConfig,
    status: SourceStatus,
    ended: string,
    attempt: (progress: () => void) => Promise<unknown>,
    failed: (error: string, retryInMs: number) => void,
  ) => {
    let failures = 0;
    const progress = () => {
      failures = 0;
    };
    while (!stop.signal.aborted) {
      try {
        await attempt(progress);
        if (stop.signal.aborted) break;
        throw new Error(ended);
      } catch (err) {
        if (stop.signal.aborted) break;
        failures++;
        const retryInMs = retryDelay(source.reconnect, failures);
        failed(describeError(err), retryInMs);
        await sleep(retryInMs, stop.signal);
      }
    }
    status.state = 'stopped';
  };

  const runSource = (source: SourceConfig, status: SourceStatus) => {
    // The last position handed over in this process: the aggregator (or a delta waiting for a disk that
    // failed) holds everything up to it, so a restart continues there, not at the possibly older stored one.
    let handedOver: string | undefined;
    return supervise(
      source,
      status,
      'the stream ended',
      async (progress) => {
        const resumeAfter = handedOver ?? store.getCheckpoint(status.checkpoint)?.position;
        const batches = openers[source.type]!(source, {
          stats: status.stats,
          status,
          signal: stop.signal,
          resumeAfter,
          log,
        });
        for await (const batch of batches) {
          progress();
          aggregator.add(batch.flows);
          if (batch.checkpoint) {
            aggregator.setCheckpoint(batch.checkpoint);
            handedOver = batch.checkpoint.position;
          }
          if (aggregator.pending().flows >= config.flushEvery) flush();
        }
      },
      // The collectors retry connection failures themselves; what reaches here is a refusal or a bug.
      (error, retryInMs) => {
        status.state = 'failed';
        status.lastError = error;
        status.reconnects++;
        log('error', 'source failed; restarting it', { source: status.name, error, retryInMs });
      },
    );
  };

  const runKafka = (source: KafkaSource, status: SourceStatus) => {
    const agg = createAggregator();
    kafkaAggregators.push(agg);
    const counters = emptyKafkaCounters();
    status.kafka = counters;
    return supervise(
      source,
      status,
      'the consumer stopped',
      (progress) =>
        consumeKafka({
          connection: source.connection,
          groupId: source.groupId,
          topics: source.topics,
          stats: status.stats,
          counters,
          deadLetterTopic: source.deadLetterTopic,
          fromBeginning: source.fromBeginning,
          follow: true,
          signal: stop.signal,
          log: (line) => log('info', line, { source: status.name }),
          sink: {
            position: (checkpoint) => {
              // Asked for each partition on every assignment: the consumer has joined its group.
              if (status.state !== 'connected') connected(status);
              return store.getCheckpoint(checkpoint)?.position;
            },
            write: (batch) => {
              progress();
              const started = performance.now();
              agg.add(batch.flows);
              agg.setCheckpoint(batch.checkpoint);
              const delta = agg.take();
              mergeFragment(delta, batch.deltas);
              try {
                const ok = store.applyDeltaIf(delta, [{ source: batch.checkpoint.source, position: batch.expected }]);
                if (ok && batch.flows.length + batch.deltas.edges.length > 0) generation++;
                return ok;
              } finally {
                flushSeconds.observe((performance.now() - started) / 1000);
              }
            },
          },
        }),
      (error, retryInMs) => disconnected(status, error, retryInMs, log),
    );
  };

  const loops = config.sources.map((s, i) =>
    s.type === 'kafka' ? runKafka(s, statuses[i]) : runSource(s, statuses[i]),
  );
  const flushTimer = setInterval(flush, config.flushIntervalMs);
  prune();
  const pruneTimer = setInterval(prune, HOUR_MS);
  flushTimer.unref?.();
  pruneTimer.unref?.();

  let stopping: Promise<void> | undefined;
  return {
    store,
    sources: statuses,
    generation: () => generation,
    flush,
    prune,
    counters,
    stopping: () => stop.signal.aborted,
    stop() {
      stopping ??= (async () => {
        stop.abort();
        clearInterval(flushTimer);
        clearInterval(pruneTimer);
        await Promise.allSettled(loops);
        flush();
        const lost = unwritten.length;
        store.close();
        if (lost > 0) throw new FlowwrightError('store', `${config.db}: could not write ${lost} pending flushes`);
      })();
      return stopping;
    },
  };
}
