import type { Command } from 'commander';
import { readPem } from '../collect/grpc.js';
import { parseRelayAddress } from '../collect/hubble/relay.js';
import { emptyStats, formatLocation, inputError, usageError } from '../model/index.js';
import { startGoldmaneReplay } from '../replay/goldmane.js';
import { loadReplayFiles, type ReplayServer, SORT_WINDOW, startReplayServer } from '../replay/index.js';
import { formatCount } from './progress.js';

export interface RunReplayOptions {
  inputs: string[];
  /** `host:port`; port 0 picks a free one. */
  listen: string;
  /** Records per second; undefined = all available at once. */
  rate?: number;
  /** PEM files. With a client CA, clients must present a certificate it signed (mTLS). */
  tls?: { cert: string; key: string; clientCa?: string };
  /** Serve Calico flow logs over Goldmane's Flows API instead of Hubble flows over the Observer API. */
  goldmane?: boolean;
  log?: (line: string) => void;
}

/** Loads the inputs and starts serving them; the caller closes the returned server. */
export async function runReplay(opts: RunReplayOptions): Promise<Pick<ReplayServer, 'address' | 'close'>> {
  const { host, port } = parseRelayAddress(opts.listen, '--listen', true);
  const tls = opts.tls && {
    cert: readPem(opts.tls.cert, 'certificate'),
    key: readPem(opts.tls.key, 'key'),
    clientCa: opts.tls.clientCa ? readPem(opts.tls.clientCa, 'client CA') : undefined,
  };
  const stats = emptyStats();
  const log = opts.log ?? (() => {});
  const reportMalformed = () => {
    for (const issue of stats.issues) log(`  malformed: ${formatLocation(issue)}: ${issue.message}`);
    if (stats.malformed > stats.issues.length)
      log(`  ... and ${formatCount(stats.malformed - stats.issues.length)} more malformed records`);
  };
  if (opts.goldmane) {
    const server = await startGoldmaneReplay({ listen: opts.listen, files: opts.inputs, rate: opts.rate, tls, stats });
    reportMalformed();
    if (server.flows === 0) {
      await server.close();
      throw inputError(`no Calico flows in ${opts.inputs.join(', ')}`);
    }
    log(
      `serving ${formatCount(server.flows)} Calico flows (${formatCount(stats.malformed)} malformed skipped) over ` +
        `the Goldmane API on ${server.address}${tls ? ' with TLS' : ''}` +
        `${opts.rate ? ` at ${formatCount(opts.rate)} flows/s` : ''}; Ctrl-C to stop`,
    );
    return server;
  }
  const unknown = new Map<string, number>();
  const entries = await loadReplayFiles(opts.inputs, stats, unknown);
  reportMalformed();
  // Keys a newer Hubble may write that this version's protocol lacks: they cannot be sent, so say so.
  for (const [path, n] of [...unknown].sort())
    log(`  not served (unknown to this version): ${path} in ${formatCount(n)} records`);
  if (stats.flows === 0) throw inputError(`no Hubble flows in ${opts.inputs.join(', ')}`);
  const server = await startReplayServer(entries, { host, port, rate: opts.rate, tls });
  log(
    `serving ${formatCount(stats.flows)} flows (${formatCount(entries.length)} records, ` +
      `${formatCount(stats.malformed)} malformed skipped) on ${server.address}` +
      `${tls ? ' with TLS' : ''}${opts.rate ? ` at ${formatCount(opts.rate)} records/s` : ''}; Ctrl-C to stop`,
  );
  return server;
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .summary('serve exported Hubble flows (or Calico flow logs) over the Hubble Observer (or Goldmane) gRPC API')
    .description(
      'Serve flows exported with `hubble observe -o json` (files, directories or - for stdin, gzip or not) as a ' +
        'read-only Hubble Relay, so that any Hubble client (the hubble CLI, Hubble UI) can read them as if from a ' +
        'live cluster: the gRPC health service, ServerStatus, GetNodes, GetNamespaces, GetFlows with number, first, ' +
        'follow, since/until, every FlowFilter field (CEL expressions included) and field masks, and empty ' +
        `GetAgentEvents/GetDebugEvents streams. Flows are sent by time within a window of ${SORT_WINDOW} records, as Relay ` +
        'sorts them. With --rate, records are released over time, as live traffic would arrive. With --goldmane, ' +
        "serve Calico flow logs (flows.log lines or Elasticsearch exports) over Calico Goldmane's Flows API (Stream " +
        'and List) instead, on 127.0.0.1:7443 unless --listen says otherwise.',
    )
    .argument('<inputs...>', "files, directories, or '-' for stdin")
    .option('--listen <host:port>', 'address to listen on (port 0 picks a free port; default 127.0.0.1:4245)')
    .option('--goldmane', "serve Calico flow logs over Goldmane's Flows API (default address 127.0.0.1:7443)")
    .option('--rate <records-per-second>', 'release records at this pace instead of all at once')
    .option('--tls-cert <file>', 'serve TLS with this certificate (PEM)')
    .option('--tls-key <file>', 'key of the TLS certificate (PEM)')
    .option('--tls-client-ca <file>', 'require client certificates signed by this CA (mTLS)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ flowwright replay samples/shop-hubble.jsonl.gz\n' +
        '  $ hubble observe --server localhost:4245 --last 20\n' +
        "  $ hubble observe --server localhost:4245 --not --to-port 53 --cel-expression '_flow.verdict == Verdict.DROPPED'\n" +
        '  $ flowwright replay --listen 127.0.0.1:4245 --rate 500 flows.json.gz &\n' +
        '  $ flowwright collect --hubble-relay 127.0.0.1:4245 --duration 1m\n' +
        '  $ flowwright replay --goldmane --listen 127.0.0.1:7443 calico-flows.log.gz &\n' +
        '  $ flowwright collect --goldmane 127.0.0.1:7443 --no-follow',
    )
    .action(async (inputs: string[], flags: Record<string, string | boolean | undefined>) => {
      let rate: number | undefined;
      if (flags.rate !== undefined) {
        rate = Number(flags.rate);
        if (!Number.isFinite(rate) || rate <= 0)
          throw usageError(`--rate: expected a positive number, got '${flags.rate}'`);
      }
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined))
        throw usageError('--tls-cert and --tls-key go together');
      if (flags.tlsClientCa !== undefined && flags.tlsCert === undefined)
        throw usageError('--tls-client-ca needs --tls-cert and --tls-key');
      const goldmane = flags.goldmane === true;
      const str = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
      const server = await runReplay({
        inputs,
        listen: str('listen') ?? (goldmane ? '127.0.0.1:7443' : '127.0.0.1:4245'),
        rate,
        goldmane,
        tls: str('tlsCert') ? { cert: str('tlsCert')!, key: str('tlsKey')!, clientCa: str('tlsClientCa') } : undefined,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });
}
