#!/usr/bin/env node
// The real `hubble` CLI for the tests that use it as a client of `flowwright replay`.
//
//   node test/hubble/cli.mjs build                 build it once (cached); prints the binary's path
//   node test/hubble/cli.mjs build --background    start that build detached and return at once
//   node test/hubble/cli.mjs path                  the binary's path (whether it is built yet or not)
//
// How it builds (`go install github.com/cilium/hubble@v1.19.4` is refused: the module's go.mod has
// replace directives): `go mod download -json github.com/cilium/hubble@v1.19.4` fetches the module from
// the Go module proxy into the module cache; the module is copied out of the (read-only) cache and
// `go build -mod=mod` runs inside the copy, which resolves the replaced modules through the proxy as well.
// The binary is kept in $FLOWWRIGHT_HUBBLE_CACHE (default ~/.cache/flowwright)/hubble-<version>/hubble;
// a cold build takes about 5 minutes of CPU (15 on a busy 2-core machine), a cached one nothing.
// Importers get hubblePath(), missingTools() and waitForBuild().
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HUBBLE_VERSION = '1.19.4';
const MODULE = `github.com/cilium/hubble@v${HUBBLE_VERSION}`;

export function cacheDir() {
  return join(
    process.env.FLOWWRIGHT_HUBBLE_CACHE || join(homedir(), '.cache', 'flowwright'),
    `hubble-${HUBBLE_VERSION}`,
  );
}

/** Where the binary is (FLOWWRIGHT_HUBBLE wins, for a CLI built elsewhere). */
export function hubblePath() {
  return process.env.FLOWWRIGHT_HUBBLE || join(cacheDir(), 'hubble');
}

/** Why the CLI can neither be found nor built here, or undefined. */
export function missingTools() {
  if (isBuilt()) return undefined;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error) return 'go is not installed (the hubble CLI is built from the Go module proxy)';
  return undefined;
}

function isBuilt() {
  const bin = hubblePath();
  if (!existsSync(bin)) return false;
  const r = spawnSync(bin, ['version'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

const pidFile = () => join(cacheDir(), 'build.pid');
const logFile = () => join(cacheDir(), 'build.log');

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid of a build in progress (started by this script), or undefined. */
function buildInProgress() {
  if (!existsSync(pidFile())) return undefined;
  const pid = Number(readFileSync(pidFile(), 'utf8'));
  return pid && alive(pid) ? pid : undefined;
}

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error || r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed: ${r.error?.message ?? ''}${r.stderr ?? ''}`.trim());
  return r.stdout;
}

/** Builds the CLI unless it is cached; returns its path. */
export function build() {
  if (isBuilt()) return hubblePath();
  mkdirSync(cacheDir(), { recursive: true });
  writeFileSync(pidFile(), String(process.pid));
  try {
    const info = JSON.parse(run('go', ['mod', 'download', '-json', MODULE]));
    if (!info.Dir) throw new Error(`go mod download gave no directory for ${MODULE}: ${info.Error ?? ''}`);
    const src = join(cacheDir(), 'src');
    rmSync(src, { recursive: true, force: true });
    cpSync(info.Dir, src, { recursive: true });
    makeWritable(src);
    const tmp = join(cacheDir(), 'hubble.tmp');
    run(
      'go',
      [
        'build',
        '-mod=mod',
        '-trimpath',
        '-ldflags',
        `-s -w -X github.com/cilium/cilium/hubble/pkg.Version=${HUBBLE_VERSION}`,
        '-o',
        tmp,
        '.',
      ],
      { cwd: src, env: { ...process.env, CGO_ENABLED: '0' } },
    );
    renameSync(tmp, join(cacheDir(), 'hubble'));
    rmSync(src, { recursive: true, force: true });
    return hubblePath();
  } finally {
    rmSync(pidFile(), { force: true });
  }
}

/** The module cache is read-only; the copy must be writable for go.sum and for removing it later. */
function makeWritable(dir) {
  run('chmod', ['-R', 'u+w', dir]);
}

/** Starts the build detached (output in build.log beside the binary) unless it is built or building. */
export function buildInBackground() {
  if (isBuilt() || buildInProgress()) return;
  mkdirSync(cacheDir(), { recursive: true });
  const out = openSync(logFile(), 'w');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'build'], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  writeFileSync(pidFile(), String(child.pid));
  child.unref();
}

/**
 * Waits for a background build to finish (up to `timeoutMs`), then returns the binary's path; builds it
 * here when no build is running. Throws with the build's log when it failed.
 */
export async function waitForBuild(timeoutMs = 40 * 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (buildInProgress()) {
    if (Date.now() > deadline) throw new Error(`the hubble CLI build is still running after ${timeoutMs / 60_000} min`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  if (isBuilt()) return hubblePath();
  try {
    return build();
  } catch (err) {
    const log = existsSync(logFile()) ? readFileSync(logFile(), 'utf8').slice(-2000) : '';
    throw new Error(`${err.message}${log ? `\nbackground build log:\n${log}` : ''}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, flag] = process.argv.slice(2);
  try {
    if (command === 'build' && flag === '--background') {
      buildInBackground();
      console.log(isBuilt() ? `hubble CLI cached at ${hubblePath()}` : `building the hubble CLI, log in ${logFile()}`);
    } else if (command === 'build') {
      console.log(build());
    } else if (command === 'path') {
      console.log(hubblePath());
    } else {
      console.error('usage: cli.mjs build [--background] | path');
      process.exit(2);
    }
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
