// `flowwright collect` through commander, as the lead wires it into main.ts: the flags reach runCollect,
// the summary is printed, and contradictory flags are usage errors.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import { DEFAULT_START, hubbleLines } from '../../samples/hubble.js';
import { shopScenario } from '../../samples/shop.js';
import { registerCollectCommand } from '../../src/cli/collect.js';
import { emptyStats, FlowwrightError } from '../../src/model/index.js';
import { entriesFromLines, startReplayServer } from '../../src/replay/index.js';
import { openStore } from '../../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'flowwright-collect-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function program(): Command {
  const p = new Command('flowwright').exitOverride();
  registerCollectCommand(p);
  for (const c of p.commands) c.exitOverride();
  return p;
}

/** Runs the program with stderr captured. */
async function run(args: string[]): Promise<string> {
  const write = process.stderr.write.bind(process.stderr);
  let out = '';
  process.stderr.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    await program().parseAsync(args, { from: 'user' });
  } finally {
    process.stderr.write = write;
  }
  return out;
}

describe('flowwright collect', () => {
  it('collects a --no-follow stream with namespace filters into --db and prints the summary', async () => {
    const lines = [
      ...hubbleLines(shopScenario(), {
        flows: 400,
        seed: 4,
        startMs: Date.parse(DEFAULT_START),
        spanMs: 60_000,
        l7: false,
      }),
    ];
    const entries = await entriesFromLines(
      lines.map((text, i) => ({ text, file: 'f', line: i + 1 })),
      emptyStats(),
    );
    const server = await startReplayServer(entries, { port: 0 });
    const db = join(dir, 'cli.db');
    try {
      const out = await run([
        'collect',
        '--hubble-relay',
        server.address,
        '--no-follow',
        '--namespace',
        'data',
        '--db',
        db,
        '--no-progress',
      ]);
      assert.match(
        out,
        new RegExp(`^connected to ${server.address.replaceAll('.', '\\.')}: \\d+ nodes connected`, 'm'),
      );
      assert.match(out, /^collected \d+ flows from \d+ records in /m);
      const store = openStore(db, { readonly: true });
      try {
        const graph = store.loadGraph();
        assert.ok(graph.edges.length > 0);
        // peer keys are `[cluster:]namespace/Kind/name`
        const inData = (key: string) => /^([^:/]+:)?data\//.test(key);
        for (const e of graph.edges) assert.ok(inData(e.src) || inData(e.dst), `${e.src} -> ${e.dst} touches data`);
        assert.ok(store.getCheckpoint(`hubble-relay:${server.address}`));
      } finally {
        store.close();
      }
    } finally {
      server.kill();
    }
  });

  it('refuses --duration with --no-follow, and a bad --max-flows', async () => {
    await assert.rejects(
      run(['collect', '--hubble-relay', '127.0.0.1:1', '--no-follow', '--duration', '1m']),
      (err: unknown) => err instanceof FlowwrightError && err.code === 'usage',
    );
    await assert.rejects(
      run(['collect', '--hubble-relay', '127.0.0.1:1', '--max-flows', 'many']),
      (err: unknown) => err instanceof FlowwrightError && err.code === 'usage' && /--max-flows/.test(err.message),
    );
  });
});
