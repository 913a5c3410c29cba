// `flowwright serve --config flowwright.yaml`: the in-cluster service. Reads the configuration (the
// shared keys through the options table, the service's own keys through serve/config), runs until
// SIGTERM or SIGINT, then writes everything received and exits 0.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import {
  jsonLog,
  loadServeConfig,
  readServeConfigText,
  runServe,
  SERVE_FILE_KEYS,
  type SharedConfig,
} from '../serve/index.js';
import { addOptions, OPTIONS, resolveConfig } from './options.js';
import { PROPOSAL_KEYS } from './propose.js';

/** The shared options the service reads: the database, how often to write, and what shapes a proposal. */
const KEYS = ['db', 'flushEvery', ...PROPOSAL_KEYS] as const satisfies readonly (keyof SharedConfig)[];

export function registerServeCommand(program: Command): void {
  const cmd = program
    .command('serve')
    .summary('run the in-cluster service: live collectors, HTTP API, metrics and web page')
    .description(
      'Learn continuously from the sources in the configuration (Hubble Relay, Goldmane, Kafka), write the graph to the ' +
        'database on an interval, drop hourly data older than the retention window, and serve a read-only JSON API ' +
        '(/api/v1), /healthz, /readyz, Prometheus /metrics and a web page to review the graph and the proposals. ' +
        'A source that goes away is retried with backoff. SIGTERM stops the sources, writes everything received and ' +
        'exits 0; each source resumes after its stored checkpoint on the next start. The log is one JSON object per ' +
        'line on stderr. See the README for the configuration file.',
    )
    .option(
      '--listen <host:port>',
      'address to listen on (default 127.0.0.1:8080; config key listen; env FLOWWRIGHT_LISTEN)',
    )
    .option(
      '--policies <dir>',
      'existing policies (a directory of YAML) for the diff, verify and explain views (config key policies.dir)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ flowwright serve --config flowwright.yaml\n' +
        '  $ flowwright serve --db flowwright.db --listen 127.0.0.1:8080     # browse a database, no sources\n' +
        '  $ flowwright serve --db flowwright.db --policies policies/         # and diff against existing policies\n' +
        '\nA minimal flowwright.yaml:\n' +
        '  db: /var/lib/flowwright/flowwright.db\n' +
        '  listen: 0.0.0.0:8080\n' +
        '  retention: 30d\n' +
        '  sources:\n' +
        '    - type: hubble-relay\n' +
        '      address: hubble-relay.kube-system.svc:80\n',
    );
  addOptions(cmd, [...KEYS]);
  cmd.action(async (flags: Record<string, unknown>) => {
    const shared = resolveConfig(flags, [...KEYS], process.env, SERVE_FILE_KEYS);
    const file =
      typeof flags.config === 'string' ? flags.config : existsSync('flowwright.yaml') ? 'flowwright.yaml' : undefined;
    const config = loadServeConfig({
      text: file !== undefined ? readServeConfigText(file) : undefined,
      file,
      shared,
      listen: typeof flags.listen === 'string' ? flags.listen : undefined,
      policies: typeof flags.policies === 'string' ? flags.policies : undefined,
      sharedKeys: Object.keys(OPTIONS),
    });
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    try {
      await runServe({ config, log: jsonLog(), signal: stop.signal });
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  });
}
