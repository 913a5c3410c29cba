// Running the real hubble CLI (built by test/hubble/cli.mjs) against a replay server.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: a plain ES module without types
import { HUBBLE_VERSION, missingTools, waitForBuild } from './cli.mjs';

export const CLI_VERSION: string = HUBBLE_VERSION;

/** Why the hubble tests cannot run here (one line), or undefined; throws when FLOWWRIGHT_REQUIRE_HUBBLE=1. */
export function hubbleSkipReason(): string | undefined {
  const why = (missingTools as () => string | undefined)();
  if (!why) return undefined;
  if (process.env.FLOWWRIGHT_REQUIRE_HUBBLE === '1')
    throw new Error(`FLOWWRIGHT_REQUIRE_HUBBLE=1 but the hubble CLI cannot be built: ${why}`);
  return `hubble CLI tests skipped: ${why}`;
}

/** The CLI's path, once built (waits for the build .ci/run started in the background). */
export function hubbleBinary(): Promise<string> {
  return (waitForBuild as () => Promise<string>)();
}

export interface HubbleRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

// The CLI reads a config file from the home directory: give it an empty one of its own.
const home = mkdtempSync(join(tmpdir(), 'flowwright-hubble-home-'));

/**
 * Runs `hubble <args>` to its end, or until `stopWhen` says its stdout so far is enough (then it is
 * killed, as Ctrl-C would stop `--follow`).
 */
export function runHubble(
  binary: string,
  args: string[],
  opts: { stopWhen?: (stdout: string) => boolean; timeoutMs?: number } = {},
): Promise<HubbleRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, {
      env: { PATH: process.env.PATH ?? '', HOME: home, XDG_CONFIG_HOME: join(home, '.config'), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hubble ${args.join(' ')} did not finish in ${opts.timeoutMs ?? 120_000} ms\n${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (opts.stopWhen?.(stdout)) child.kill('SIGINT');
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
