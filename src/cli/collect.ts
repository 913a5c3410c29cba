// `flowwright collect --hubble-relay host:port` (or `--goldmane host:port`): learn from a live Hubble Relay
// (or Calico's Goldmane) for a while, then stop. It stops after --duration, after --max-flows, when a
// --no-follow stream ends, or on Ctrl-C; in every case it writes what it has and prints the same summary as
// `ingest`. A later run resumes after the last flow the previous one stored (the checkpoint of
// `hubble-relay:<address>` or `goldmane:<address>`).
import { type Command, Option } from 'commander';
import { type GoldmaneEvent, streamGoldmaneFlows } from '../collect/calico/goldmane.js';
import { type RelayEvent, type RelayOptions, type RelayTlsOptions, streamRelayFlows } from '../collect/hubble/relay.js';
import { emptyStats, usageError } from '../model/index.js';
import { openStore } from '../store/index.js';
import {
  formatIngestSummary,
  type IngestSummary,
  ingestBatches,
  limitFlows,
  runStopper,
  stopOnSignals,
  summarizeIngest,
} from './ingest.js';
import { addKafkaOptions, isKafkaRun, KAFKA_HELP, runKafkaCommand } from './kafka.js';
import { addOptions, parseDuration, parseInteger, parseTime, resolveConfig } from './options.js';
import { createProgress, formatCount } from './progress.js';

/** The live sources `collect` reads. */
export type LiveSource = 'hubble-relay' | 'goldmane';

export interface RunCollectOptions {
  /** Which API `address` serves (default Hubble Relay). */
  source?: LiveSource;
  address: string;
  tls?: RelayTlsOptions;
  /** Keep the stream open for new flows (default); false = read what the server holds, then stop. */
  follow: boolean;
  /** Stop after this long (ms). */
  durationMs?: number;
  /** Stop after this many flow records. */
  maxFlows?: number;
  /** Start at this time (RFC 3339) instead of where the last run stopped. */
  since?: string;
  namespaces?: string[];
  /** Hubble Relay only: server-side verdict filter. */
  verdicts?: string[];
  /** Hubble Relay only. */
  excludeReplies?: boolean;
  db: string;
  progress?: boolean;
  flushEvery?: number;
  /** Write to the database at least this often while following (default 10 s). */
  flushIntervalMs?: number;
  backoff?: RelayOptions['backoff'];
  maxAttempts?: number;
  /** Stops the collection early, like the duration running out (Ctrl-C in the CLI). */
  signal?: AbortSignal;
  /** Where connection events are reported, one line each (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface CollectSummary extends IngestSummary {
  /** Flows skipped because a resumed stream sent them again. */
  duplicates: number;
  /** Connections made (1 + reconnects). */
  connections: number;
  /** Fields a newer Hubble sent that this version does not know: where, and in how many responses. */
  unknownFields: Record<string, number>;
  /** Where the next run will resume (the last flow time stored). */
  resumePosition?: string;
}

export function relaySource(address: string): string {
  return `hubble-relay:${address}`;
}

/** The checkpoint name of a live source: what a later run resumes from. */
export function liveSource(source: LiveSource, address: string): string {
  return `${source}:${address}`;
}

function describeEvent(e: RelayEvent | GoldmaneEvent): string | undefined {
  switch (e.type) {
    case 'connected': {
      if (!('nodes' in e) && 'from' in e)
        return `connected to ${e.address}${e.from > 0 ? `, reading flows from ${new Date(e.from * 1000).toISOString()}` : ''}`;
      const parts = [];
      if (e.nodes !== undefined) parts.push(`${formatCount(e.nodes)} nodes connected`);
      if (e.unavailableNodes) parts.push(`${formatCount(e.unavailableNodes)} unavailable`);
      if (e.seenFlows !== undefined) parts.push(`${formatCount(e.seenFlows)} flows seen by the server`);
      return `connected to ${e.address}${parts.length ? `: ${parts.join(', ')}` : ''}`;
    }
    case 'disconnected':
      return `lost ${e.address} (${e.error}); retrying in ${(e.retryInMs / 1000).toFixed(1)}s (attempt ${e.attempt})`;
    case 'lost':
      return `${e.node || 'the server'} reports ${formatCount(e.n)} events lost (${e.source || 'unknown source'})`;
    case 'node_status':
      return e.state === 'NODE_CONNECTED'
        ? undefined
        : `node ${e.nodes.join(', ')}: ${e.state}${e.message ? ` (${e.message})` : ''}`;
    case 'duplicates':
    case 'unknown_fields':
      return undefined;
  }
}

export async function runCollect(opts: RunCollectOptions): Promise<CollectSummary> {
  const started = Date.now();
  const store = openStore(opts.db);
  const stats = emptyStats();
  const { stop, dispose } = runStopper(opts.signal, opts.durationMs);
  let duplicates = 0;
  let connections = 0;
  const unknownFields: Record<string, number> = {};
  try {
    const kind = opts.source ?? 'hubble-relay';
    const source = liveSource(kind, opts.address);
    // An explicit --since wins; otherwise continue after what an earlier run stored. The checkpoint is
    // read either way: the store then refuses to write it if another process moves it meanwhile.
    const stored = store.getCheckpoint(source);
    const previous = opts.since === undefined ? stored : undefined;
    const onEvent = (e: RelayEvent | GoldmaneEvent) => {
      if (e.type === 'connected') connections++;
      if (e.type === 'duplicates') duplicates += e.n;
      if (e.type === 'unknown_fields')
        for (const [where, n] of Object.entries(e.fields)) unknownFields[where] = (unknownFields[where] ?? 0) + n;
      const line = describeEvent(e);
      if (line) opts.log?.(line);
    };
    const batches =
      kind === 'goldmane'
        ? limitFlows(
            streamGoldmaneFlows(
              {
                address: opts.address,
                tls: opts.tls,
                follow: opts.follow,
                // Goldmane takes Unix seconds; without --since a first run starts with what the server holds
                // when not following, and with new flows when following (like Hubble).
                since: opts.since !== undefined ? Math.floor(Date.parse(opts.since) / 1000) : undefined,
                resumeAfter: previous?.position,
                namespaces: opts.namespaces,
                backoff: opts.backoff,
                maxAttempts: opts.maxAttempts,
                signal: stop.signal,
                onEvent,
              },
              stats,
            ),
            opts.maxFlows,
            stop,
          )
        : streamRelayFlows(
            {
              address: opts.address,
              tls: opts.tls,
              follow: opts.follow,
              since: opts.since,
              resumeAfter: previous?.position,
              namespaces: opts.namespaces,
              verdicts: opts.verdicts,
              excludeReplies: opts.excludeReplies,
              maxFlows: opts.maxFlows,
              backoff: opts.backoff,
              maxAttempts: opts.maxAttempts,
              signal: stop.signal,
              onEvent,
            },
            stats,
          );
    const agg = await ingestBatches(batches, {
      store,
      stats,
      flushEvery: opts.flushEvery ?? 50_000,
      flushIntervalMs: opts.flushIntervalMs ?? 10_000,
      progress: createProgress(opts.progress ?? true),
      describe: () => `from ${opts.address}`,
    });
    return {
      ...summarizeIngest(stats, agg, store, started),
      duplicates,
      connections,
      unknownFields,
      resumePosition: store.getCheckpoint(source)?.position,
    };
  } finally {
    dispose();
    store.close();
  }
}

const appendList = (value: string, previous: string[] = []) => [...previous, ...value.split(',').filter(Boolean)];

export function registerCollectCommand(program: Command): void {
  const cmd = program
    .command('collect')
    .summary('learn the dependency graph from a live Hubble Relay, Calico Goldmane or Kafka topics')
    .description(
      "Read flows from Hubble Relay's Observer API (GetFlows) or from Calico Goldmane's Flows API (Stream, or " +
        'List with --no-follow) and add them to the graph in the database, like `ingest` does for files. Stops ' +
        'after --duration, after --max-flows, when the server ends a --no-follow stream, or on Ctrl-C, and always ' +
        'writes what it has read. Reconnects with backoff when the connection drops, and a later run continues ' +
        'after the last flow stored. Like `hubble observe --follow`, a first following run reads only new flows; ' +
        'add --since (e.g. --since 1h) to start with what the server still holds.',
    )
    .option('--hubble-relay <host:port>', 'Hubble Relay address (port 4245 when left out)')
    .option('--goldmane <host:port>', 'Calico Goldmane address (port 7443 when left out); Goldmane requires mTLS')
    .option('--duration <time>', 'stop after this long, e.g. 30s, 10m, 2h')
    .option('--max-flows <n>', 'stop after this many flow records')
    .option('--no-follow', 'read the flows the server holds now and stop, instead of waiting for new ones')
    .option('--since <time>', 'start at this time (RFC 3339 or a duration before now, e.g. 1h) instead of resuming')
    .option('--namespace <ns>', 'only flows from or to this namespace (repeatable, or comma-separated)', appendList)
    .option(
      '--verdict <verdict>',
      'Hubble Relay: only flows with this verdict, e.g. FORWARDED or DROPPED (repeatable)',
      appendList,
    )
    .option('--exclude-replies', 'Hubble Relay: ask the server to leave out flows it knows are replies')
    .option('--tls', 'connect with TLS (implied by the other --tls-* options)')
    .option('--tls-ca <file>', 'CA certificate (PEM) that signed the server certificate')
    .option('--tls-cert <file>', 'client certificate (PEM) for mTLS')
    .option('--tls-key <file>', 'client key (PEM) for mTLS')
    .option('--tls-server-name <name>', 'name to verify in the server certificate, e.g. ui.hubble-relay.cilium.io')
    .addOption(new Option('--tls-insecure-skip-verify', 'do not verify the server certificate (testing only)'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ cilium hubble port-forward &\n' +
        '  $ flowwright collect --hubble-relay localhost:4245 --duration 10m\n' +
        '  $ flowwright collect --hubble-relay hubble-relay.kube-system:443 --tls-ca ca.crt \\\n' +
        '      --tls-server-name ui.hubble-relay.cilium.io --namespace shop --max-flows 1000000\n' +
        '  $ flowwright replay --listen 127.0.0.1:4245 flows.json.gz &   # a recorded cluster\n' +
        '  $ flowwright collect --hubble-relay 127.0.0.1:4245 --no-follow\n' +
        '  $ flowwright collect --goldmane goldmane.calico-system:7443 --tls-ca ca.crt --tls-cert tls.crt \\\n' +
        '      --tls-key tls.key --duration 10m\n' +
        '  $ flowwright replay --goldmane --listen 127.0.0.1:7443 flows.log &   # Calico flow logs as Goldmane\n' +
        '  $ flowwright collect --goldmane 127.0.0.1:7443 --no-follow',
    );
  addOptions(cmd, ['db', 'progress', 'flushEvery']);
  addKafkaOptions(cmd);
  cmd.addHelpText('after', KAFKA_HELP);
  cmd.action(async (flags: Record<string, unknown>) => {
    const config = resolveConfig(flags, ['db', 'progress', 'flushEvery']);
    const str = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
    const wantsTls =
      flags.tls === true ||
      flags.tlsInsecureSkipVerify === true ||
      ['tlsCa', 'tlsCert', 'tlsKey', 'tlsServerName'].some((k) => str(k) !== undefined);
    const tls: RelayTlsOptions | undefined = wantsTls
      ? {
          ca: str('tlsCa'),
          cert: str('tlsCert'),
          key: str('tlsKey'),
          serverName: str('tlsServerName'),
          insecureSkipVerify: flags.tlsInsecureSkipVerify === true,
        }
      : undefined;
    const durationMs = str('duration') !== undefined ? parseDuration(str('duration')!, '--duration') : undefined;
    const maxFlows = str('maxFlows') !== undefined ? parseInteger(1)(str('maxFlows')!, '--max-flows') : undefined;
    const sinceMs = str('since') !== undefined ? parseTime(str('since')!, '--since') : undefined;
    if (isKafkaRun(flags)) {
      const { db, progress, flushEvery } = config;
      const namespaces = flags.namespace as string[] | undefined;
      const follow = flags.follow !== false;
      return runKafkaCommand(flags, { db, progress, flushEvery, durationMs, maxFlows, follow, tls, namespaces });
    }
    const relay = str('hubbleRelay');
    const goldmane = str('goldmane');
    if ((relay === undefined) === (goldmane === undefined))
      throw usageError(
        'collect needs one source: --hubble-relay <host:port>, --goldmane <host:port> or --kafka-brokers <host:port>',
      );
    if (goldmane !== undefined && (flags.verdict !== undefined || flags.excludeReplies === true))
      throw usageError('--verdict and --exclude-replies apply to --hubble-relay only');
    if (flags.follow === false && durationMs !== undefined)
      throw usageError('--duration applies to following; with --no-follow the server decides when the stream ends');

    // Ctrl-C stops the collection; what was read is still written and summarized.
    const summary = await stopOnSignals((signal) =>
      runCollect({
        source: goldmane !== undefined ? 'goldmane' : 'hubble-relay',
        address: (goldmane ?? relay)!,
        tls,
        follow: flags.follow !== false,
        durationMs,
        maxFlows,
        since: sinceMs !== undefined ? new Date(sinceMs).toISOString() : undefined,
        namespaces: flags.namespace as string[] | undefined,
        verdicts: flags.verdict as string[] | undefined,
        excludeReplies: flags.excludeReplies === true,
        db: config.db,
        progress: config.progress,
        flushEvery: config.flushEvery,
        signal,
        log: (line) => process.stderr.write(`${line}\n`),
      }),
    );
    process.stderr.write(`${formatIngestSummary(summary, 'collected')}\n`);
    if (summary.duplicates > 0)
      process.stderr.write(`  ${formatCount(summary.duplicates)} repeated flows skipped after reconnecting\n`);
    for (const [where, n] of Object.entries(summary.unknownFields).sort())
      process.stderr.write(
        `  ${where}: unknown to this version (a newer Hubble?), in ${formatCount(n)} responses; received, not read\n`,
      );
  });
}
