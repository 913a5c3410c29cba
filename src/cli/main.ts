#!/usr/bin/env node
// The flowwright command line: builds the commander program, runs it, and turns errors into one line on
// stderr and an exit code from the table in model/errors.ts. Nothing else in flowwright prints errors.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { describeError, EXIT_CODES, FlowwrightError } from '../model/index.js';
import { registerCollectCommand } from './collect.js';
import { registerConsistencyCommand } from './consistency.js';
import { registerDiffCommand } from './diff.js';
import { registerExplainCommand } from './explain.js';
import { registerGraphCommand } from './graph.js';
import { registerIngestCommand } from './ingest.js';
import { registerPrCommand } from './pr.js';
import { registerProposeCommand } from './propose.js';
import { registerReplayCommand } from './replay.js';
import { registerServeCommand } from './serve.js';
import { registerVerifyCommand } from './verify.js';

export function buildProgram(): Command {
  const program = new Command('flowwright')
    .description(
      'Learn the network dependencies a Kubernetes cluster really has from Cilium Hubble and Calico flow logs, ' +
        'and propose least-privilege policy for humans to review.',
    )
    .version('0.1.0')
    .showSuggestionAfterError()
    .exitOverride()
    .addHelpText(
      'after',
      '\nA first run:\n' +
        '  $ flowwright ingest samples/shop-hubble.jsonl.gz   # learn the graph into ./flowwright.db\n' +
        '  $ flowwright graph                                  # look at it\n' +
        '  $ flowwright propose --out policies/                # one NetworkPolicy file per workload\n' +
        '\nExit codes: 0 ok, 1 policy finding, 2 usage, 3 bad input, 4 source unreachable, 5 store, 6 nothing to do, 70 internal.',
    );
  registerIngestCommand(program);
  registerGraphCommand(program);
  registerProposeCommand(program);
  registerVerifyCommand(program);
  registerDiffCommand(program);
  registerExplainCommand(program);
  registerConsistencyCommand(program);
  registerPrCommand(program);
  registerServeCommand(program);
  registerCollectCommand(program);
  registerReplayCommand(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_CODES.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit "successfully" through the override; real parse errors are usage errors
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0)
        return EXIT_CODES.ok;
      return EXIT_CODES.usage;
    }
    if (err instanceof FlowwrightError) {
      process.stderr.write(`flowwright: ${describeError(err)}\n`);
      return err.exitCode;
    }
    process.stderr.write(
      `flowwright: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return EXIT_CODES.internal;
  }
}

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    // the npm bin is a symlink to this file
    return realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // `flowwright graph | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT_CODES.ok);
    throw err;
  });
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
