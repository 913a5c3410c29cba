// Crash safety and concurrent writers, on real processes and a real SQLite file: `ingest` killed with
// SIGKILL at random points and run again must leave exactly the graph of one clean run, and two
// `ingest` processes on one database must never count a line twice (each succeeds, or refuses with
// the store's exit code and says why).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generate } from '../../samples/generate.js';
import { DEFAULT_START } from '../../samples/hubble.js';
import { createRng } from '../../samples/prng.js';
import { EXIT_CODES } from '../../src/model/index.js';
import { openStore } from '../../src/store/index.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const TSX = import.meta.resolve('tsx');
// Small flushes: many transactions, so that a kill lands between and inside them.
const FLUSH_EVERY = '300';

let dir: string;
const files: string[] = [];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: dir,
    env: { ...process.env, FLOWWRIGHT_DB: '', NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exit = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  return { child, exit };
}

function ingest(db: string, inputs: string[]) {
  return start(['ingest', '--db', db, '--no-progress', '--flush-every', FLUSH_EVERY, ...inputs]);
}

/** Everything the graph holds (peers, pods, edges with their evidence), as comparable JSON. */
function graphOf(db: string): string {
  const store = openStore(db, { readonly: true });
  try {
    const g = store.loadGraph();
    return JSON.stringify({ peers: [...g.peers.values()], pods: g.pods, edges: g.edges }, null, 1);
  } finally {
    store.close();
  }
}

function checkpoints(db: string) {
  const store = openStore(db, { readonly: true });
  try {
    return store.listCheckpoints().map(({ source, position, done }) => ({ source, position, done: !!done }));
  } finally {
    store.close();
  }
}

async function cleanGraph(name: string, inputs: string[]): Promise<string> {
  const db = join(dir, `${name}.db`);
  const r = await ingest(db, inputs).exit;
  assert.equal(r.code, EXIT_CODES.ok, r.stderr);
  return graphOf(db);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lines stored so far, over every file checkpoint: moves with each committed flush. */
function linesStored(db: string): number {
  try {
    return checkpoints(db).reduce((n, c) => n + (JSON.parse(c.position) as { lines: number }).lines, 0);
  } catch {
    return 0; // not created, or not migrated yet
  }
}

/** Waits until the writer has committed a flush of its own (true), or has ended (false). */
async function untilProgress(db: string, exit: Promise<Exit>): Promise<boolean> {
  let ended = false;
  void exit.then(() => {
    ended = true;
  });
  const from = linesStored(db);
  while (!ended && linesStored(db) === from) await sleep(25);
  return !ended;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowwright-crash-'));
  // Three files of the sample shop with different traffic (seeds), each well over the 64 KiB fingerprint.
  for (const seed of [11, 12, 13]) {
    const out = join(dir, `shop-${seed}.jsonl`);
    await generate({ flows: 4_000, seed, startMs: Date.parse(DEFAULT_START), spanMs: 86_400_000, l7: false, out });
    files.push(out);
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * How long a run keeps writing after its first commit, measured on a clean run of the same inputs: kills
 * are timed inside this window, so they land midway however fast or slow the machine is.
 */
async function writingWindowMs(db: string, inputs: string[]): Promise<number> {
  const run = ingest(db, inputs);
  const committed = await untilProgress(db, run.exit);
  const from = performance.now();
  const r = await run.exit;
  assert.equal(r.code, EXIT_CODES.ok, r.stderr);
  assert.ok(committed, 'the clean run ended before its first commit was seen');
  return performance.now() - from;
}

describe('ingest killed with SIGKILL', () => {
  it('at random points, several times, then run to the end: the graph of one clean run', async () => {
    const window = await writingWindowMs(join(dir, 'clean.db'), files);
    const expected = graphOf(join(dir, 'clean.db'));
    const seed = Date.now() % 100_000;
    const random = createRng(seed);
    const db = join(dir, 'killed.db');
    const all = linesStored(join(dir, 'clean.db'));
    let killedMidway = 0;
    for (let round = 0; round < 5; round++) {
      const run = ingest(db, files);
      // After the run's first commit, somewhere in the rest of it (between or inside transactions).
      if (await untilProgress(db, run.exit)) {
        await sleep(random.int(Math.max(1, Math.floor(window * 0.8))));
        run.child.kill('SIGKILL');
      }
      const r = await run.exit;
      if (r.signal === 'SIGKILL' && linesStored(db) < all) killedMidway++;
    }
    const last = await ingest(db, files).exit;
    assert.equal(last.code, EXIT_CODES.ok, last.stderr);
    assert.ok(killedMidway > 0, `no kill landed before the end (seed ${seed}): the test proved nothing`);
    assert.equal(graphOf(db), expected, `graph after SIGKILLs differs from a clean run (seed ${seed})`);
    assert.deepEqual(checkpoints(db), checkpoints(join(dir, 'clean.db')));
  });
});

describe('two ingest processes on one database', () => {
  it('different files at once: both succeed, and the graph is that of both files ingested once', async () => {
    const expected = await cleanGraph('clean-two', [files[0]!, files[1]!]);
    const db = join(dir, 'two.db');
    const [a, b] = await Promise.all([ingest(db, [files[0]!]).exit, ingest(db, [files[1]!]).exit]);
    assert.equal(a.code, EXIT_CODES.ok, a.stderr);
    assert.equal(b.code, EXIT_CODES.ok, b.stderr);
    assert.equal(graphOf(db), expected);
  });

  it('the same file at once: never counted twice; a loser refuses with exit 5 and says why', async () => {
    const expected = await cleanGraph('clean-one', [files[2]!]);
    for (let round = 0; round < 3; round++) {
      const db = join(dir, `same-${round}.db`);
      const runs = await Promise.all([ingest(db, [files[2]!]).exit, ingest(db, [files[2]!]).exit]);
      for (const r of runs) {
        if (r.code === EXIT_CODES.ok) continue;
        assert.equal(r.code, EXIT_CODES.store, r.stderr);
        assert.match(r.stderr, /another process is writing .*shop-13\.jsonl.* nothing is counted twice/);
      }
      assert.ok(
        runs.some((r) => r.code === EXIT_CODES.ok),
        runs.map((r) => r.stderr).join('\n'),
      );
      assert.equal(graphOf(db), expected, `round ${round}: the file was counted twice or partly`);
    }
  });

  it('overlapping inputs at once, then a rerun: every file exactly once', async () => {
    const expected = await cleanGraph('clean-three', files);
    const db = join(dir, 'overlap.db');
    const runs = await Promise.all([ingest(db, [files[0]!, files[1]!]).exit, ingest(db, [files[1]!, files[2]!]).exit]);
    for (const r of runs) assert.ok(r.code === EXIT_CODES.ok || r.code === EXIT_CODES.store, r.stderr);
    // What a refused run did not store, a rerun adds; what was stored, it skips.
    const rerun = await ingest(db, files).exit;
    assert.equal(rerun.code, EXIT_CODES.ok, rerun.stderr);
    assert.equal(graphOf(db), expected);
  });
});
