// `flowwright ingest`: files, directories or stdin → collector → aggregator → store. ingestBatches() is the
// loop every source shares (files here, live gRPC and Kafka in `collect` and `serve`): it aggregates
// batches in memory and writes them with their checkpoints in one transaction per flush.
import type { Command } from 'commander';
import { type AggregateStats, createAggregator } from '../aggregate/index.js';
import { readFlowFiles } from '../collect/index.js';
import { resolveWithInventory } from '../identity/index.js';
import {
  type CollectStats,
  emptyStats,
  type FlowBatch,
  formatLocation,
  type InventoryIndex,
  indexInventory,
} from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { INVENTORY_HELP, loadInventoryInto } from './inventory.js';
import { addOptions, resolveConfig } from './options.js';
import { createProgress, formatCount, formatDuration, type Progress } from './progress.js';

export interface IngestContext {
  store: Store;
  stats: CollectStats;
  /** Write to the store once this many flows are pending. */
  flushEvery: number;
  /** Also write when this long has passed since the last write (live sources). */
  flushIntervalMs?: number;
  progress?: Progress;
  /** Text for the progress line, e.g. the current file. */
  describe?: (batch: FlowBatch) => string;
  /** Who is behind names and addresses (the stored --inventory, the cluster watch). */
  inventory?: InventoryIndex;
}

export interface IngestSummary extends CollectStats {
  /** Flows that became edge evidence (replies excluded). */
  dependencies: number;
  unknownReply: number;
  edges: number;
  workloads: number;
  elapsedMs: number;
  flowsPerSecond: number;
}

/** Aggregates batches into the store. Flushes what it has even when the source fails, then rethrows. */
export async function ingestBatches(batches: AsyncIterable<FlowBatch>, ctx: IngestContext) {
  const aggregator = createAggregator();
  let lastFlush = Date.now();
  // Always applied, even when empty of flows: the checkpoints of a file made only of replies or
  // non-flow records must be written too.
  const flush = () => {
    ctx.store.applyDelta(aggregator.take());
    lastFlush = Date.now();
  };
  try {
    for await (const batch of batches) {
      if (ctx.inventory) resolveWithInventory(batch.flows, ctx.inventory);
      aggregator.add(batch.flows);
      if (batch.checkpoint) aggregator.setCheckpoint(batch.checkpoint);
      ctx.progress?.update(ctx.stats.flows, ctx.describe?.(batch));
      const due = ctx.flushIntervalMs !== undefined && Date.now() - lastFlush >= ctx.flushIntervalMs;
      if (aggregator.pending().flows >= ctx.flushEvery || due) flush();
    }
  } finally {
    flush();
    ctx.progress?.done();
  }
  return aggregator.stats;
}

/**
 * What stops a live run: the caller's signal (Ctrl-C), --duration running out, or the run itself
 * (`stop.abort()`, e.g. at --max-flows). `dispose()` clears the timer and the listener.
 */
export function runStopper(outer: AbortSignal | undefined, durationMs: number | undefined) {
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort();
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  const timer = durationMs !== undefined ? setTimeout(() => stop.abort(), durationMs) : undefined;
  return {
    stop,
    dispose() {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    },
  };
}

/** Runs `run` with a signal that SIGINT (Ctrl-C) or SIGTERM aborts: the run stops, writes what it read and returns. */
export async function stopOnSignals<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await run(stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Stops a stream once `maxFlows` flow records have passed (`collect` passes the limit to the Hubble
 * Relay collector instead). The batch that crosses the limit is kept whole, so its
 * checkpoint stays true.
 */
export async function* limitFlows(
  batches: AsyncIterable<FlowBatch>,
  maxFlows: number | undefined,
  stop: AbortController,
): AsyncGenerator<FlowBatch> {
  let seen = 0;
  for await (const batch of batches) {
    yield batch;
    seen += batch.flows.length;
    if (maxFlows !== undefined && seen >= maxFlows) {
      stop.abort();
      return;
    }
  }
}

export interface RunIngestOptions {
  inputs: string[];
  db: string;
  strict?: boolean;
  progress?: boolean;
  flushEvery?: number;
  /** An --inventory file or directory, stored before the flows are read. */
  inventory?: string;
}

export async function runIngest(opts: RunIngestOptions): Promise<IngestSummary> {
  const started = Date.now();
  const store = openStore(opts.db);
  const stats = emptyStats();
  try {
    if (opts.inventory !== undefined) loadInventoryInto(store, opts.inventory);
    // What earlier runs stored counts as well: the inventory is given once.
    const inventory = indexInventory(store.loadInventory());
    const batches = readFlowFiles(opts.inputs, {
      strict: opts.strict ?? false,
      stats,
      resume: (source) => store.getCheckpoint(source),
    });
    const agg = await ingestBatches(batches, {
      store,
      stats,
      flushEvery: opts.flushEvery ?? 50_000,
      progress: createProgress(opts.progress ?? true),
      describe: (b) => b.checkpoint?.label ?? '',
      inventory,
    });
    return summarizeIngest(stats, agg, store, started);
  } finally {
    store.close();
  }
}

/**
 * The summary of a run (ingest, collect, Kafka): the collector's counts, what the aggregator made of them
 * (replies are counted there) and what the graph in the store now holds.
 */
export function summarizeIngest(
  stats: CollectStats,
  agg: AggregateStats,
  store: Store,
  started: number,
): IngestSummary {
  const counts = store.counts();
  const elapsedMs = Date.now() - started;
  return {
    ...stats,
    replies: agg.replies,
    dependencies: agg.flows,
    unknownReply: agg.unknownReply,
    edges: counts.edges,
    workloads: counts.workloads,
    elapsedMs,
    flowsPerSecond: Math.round(stats.flows / Math.max(elapsedMs / 1000, 0.001)),
  };
}

/** ` (2 invalid namespace name, 1 not valid JSON)`: malformed records by kind, most frequent first; '' when none. */
export function formatMalformedKinds(s: Pick<CollectStats, 'malformedKinds'>): string {
  const kinds = Object.entries(s.malformedKinds ?? {}).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return kinds.length === 0 ? '' : ` (${kinds.map(([kind, n]) => `${formatCount(n)} ${kind}`).join(', ')})`;
}

/** The summary line (and the first malformed records) that `ingest` and `collect` print. */
export function formatIngestSummary(s: IngestSummary, what = 'ingested'): string {
  const lines = [
    `${what} ${formatCount(s.flows)} flows from ${formatCount(s.records)} records in ${formatDuration(s.elapsedMs)} ` +
      `(${formatCount(s.flowsPerSecond)} flows/s): ${formatCount(s.replies)} replies skipped, ` +
      `${formatCount(s.nonFlow)} non-flow records, ${formatCount(s.malformed)} malformed${formatMalformedKinds(s)}` +
      (s.unknownReply ? `, ${formatCount(s.unknownReply)} reply unknown (counted as requests)` : '') +
      (s.lostEvents ? `, ${formatCount(s.lostEvents)} events lost at the source` : '') +
      (s.filesSkipped ? `, ${formatCount(s.filesSkipped)} files already ingested` : '') +
      (s.incompleteLastLines
        ? `, ${formatCount(s.incompleteLastLines)} incomplete last lines left for the next run`
        : ''),
    `graph: ${formatCount(s.edges)} edges, ${formatCount(s.workloads)} workloads`,
  ];
  for (const issue of s.issues) lines.push(`  malformed: ${formatLocation(issue)}: ${issue.message}`);
  if (s.malformed > s.issues.length)
    lines.push(`  ... and ${formatCount(s.malformed - s.issues.length)} more malformed records`);
  return lines.join('\n');
}

export function registerIngestCommand(program: Command): void {
  const cmd = program
    .command('ingest')
    .summary('learn the dependency graph from exported flow logs')
    .description(
      'Read Hubble flows (hubble observe -o json / -o jsonpb, Hubble exporter files) or Calico flow logs ' +
        '(flows.log lines, Elasticsearch exports), detected per record, from files, directories (recursively, in ' +
        "sorted order) or '-' for stdin, gzip or not, and add them to the graph in the database.\n" +
        'Re-ingesting a file that was already ingested does not count it twice; a file that grew continues where it stopped.',
    )
    .argument('<inputs...>', "files, directories, or '-' for stdin")
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ flowwright ingest flows/*.json.gz\n' +
        '  $ hubble observe -o json --since 1h | flowwright ingest -\n' +
        '  $ flowwright ingest --db /var/lib/flowwright/graph.db --strict exports/\n' +
        '  $ flowwright ingest /var/log/calico/flowlogs/flows.log\n' +
        '  $ kubectl get namespaces,pods,services,endpointslices -A -o json > inventory.json\n' +
        '  $ flowwright ingest --inventory inventory.json flows.json',
    );
  cmd.option('--inventory <path>', INVENTORY_HELP);
  addOptions(cmd, ['db', 'strict', 'progress', 'flushEvery']);
  cmd.action(async (inputs: string[], flags: Record<string, unknown>) => {
    const config = resolveConfig(flags, ['db', 'strict', 'progress', 'flushEvery']);
    const summary = await runIngest({
      inputs,
      db: config.db,
      strict: config.strict,
      progress: config.progress,
      flushEvery: config.flushEvery,
      inventory: flags.inventory as string | undefined,
    });
    process.stderr.write(`${formatIngestSummary(summary)}\n`);
  });
}
