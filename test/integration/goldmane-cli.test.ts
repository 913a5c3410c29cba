// `flowwright replay --goldmane` and `flowwright collect --goldmane` through the real command line program:
// Calico flow logs served over Goldmane's gRPC API on loopback, collected into a SQLite file, give the same
// graph as ingesting the file, and a second run resumes instead of counting again.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { calicoLines } from '../../samples/calico.js';
import { shopScenario } from '../../samples/shop.js';
import { runCollect } from '../../src/cli/collect.js';
import { main } from '../../src/cli/main.js';
import { runReplay } from '../../src/cli/replay.js';
import { EXIT_CODES } from '../../src/model/index.js';
import { openStore } from '../../src/store/index.js';

const START = Date.parse('2024-06-03T00:00:00Z');

let dir: string;
let file: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowwright-goldmane-cli-'));
  file = join(dir, 'flows.log');
  const lines = calicoLines(shopScenario(), {
    events: 1_500,
    seed: 3,
    startMs: START,
    spanMs: 6 * 3600_000,
    aggregation: 'prefix',
  });
  writeFileSync(file, `${[...lines].join('\n')}\n`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Edges as comparable lines: source, destination, port, flow and drop counts. */
function edgeLines(db: string): string[] {
  const store = openStore(db, { readonly: true });
  try {
    const graph = store.loadGraph({});
    return graph.edges
      .map((e) => `${e.src} -> ${e.dst} ${e.port}/${e.protocol} ${e.flows} ${JSON.stringify(e.verdicts)}`)
      .sort();
  } finally {
    store.close();
  }
}

describe('collect --goldmane from replay --goldmane', () => {
  it('learns the same edges and counts as ingesting the file, and resumes on a second run', async () => {
    const logs: string[] = [];
    const server = await runReplay({ inputs: [file], listen: '127.0.0.1:0', goldmane: true, log: (l) => logs.push(l) });
    try {
      assert.match(logs.join('\n'), /over the Goldmane API on 127\.0\.0\.1:\d+/);
      const collected = join(dir, 'collected.db');
      const code = await main(['collect', '--goldmane', server.address, '--no-follow', '--db', collected]);
      assert.equal(code, EXIT_CODES.ok);

      const ingested = join(dir, 'ingested.db');
      assert.equal(await main(['ingest', file, '--db', ingested]), EXIT_CODES.ok);
      const fromFile = edgeLines(ingested);
      assert.ok(fromFile.length > 20, `the sample should give many edges, got ${fromFile.length}`);
      // Goldmane's flow key carries no addresses: the one external address the flow log names (a denied
      // scanner) can only be "the public internet" when it arrives over Goldmane.
      const withoutAddresses = fromFile.map((l) => l.replace(/^cidr:[^ ]+ /, 'netset:pub ')).sort();
      assert.ok(
        fromFile.some((l) => l.startsWith('cidr:')),
        'the file names the scanner by address',
      );
      assert.deepEqual(edgeLines(collected), withoutAddresses);

      // The second run starts after the checkpoint: nothing new, nothing counted twice.
      const again = await runCollect({
        source: 'goldmane',
        address: server.address,
        follow: false,
        db: collected,
        progress: false,
      });
      assert.equal(again.flows, 0);
      assert.deepEqual(edgeLines(collected), withoutAddresses);
    } finally {
      await server.close();
    }
  });

  it('collect refuses no source, two sources, and Hubble-only filters with Goldmane (usage, exit 2)', async () => {
    const db = join(dir, 'usage.db');
    assert.equal(await main(['collect', '--db', db]), EXIT_CODES.usage);
    assert.equal(await main(['collect', '--hubble-relay', 'a:1', '--goldmane', 'b:2', '--db', db]), EXIT_CODES.usage);
    assert.equal(await main(['collect', '--goldmane', 'b:2', '--verdict', 'DROPPED', '--db', db]), EXIT_CODES.usage);
  });

  it('a Goldmane address with nothing listening fails with "unreachable" (exit 4) after its retries', async () => {
    const summary = runCollect({
      source: 'goldmane',
      address: '127.0.0.1:1',
      follow: false,
      db: join(dir, 'down.db'),
      progress: false,
      backoff: { initialMs: 10, maxMs: 20 },
      maxAttempts: 2,
    });
    await assert.rejects(summary, (err: Error & { code?: string }) => err.code === 'unreachable');
  });

  it('replay --goldmane of Hubble flows says so and serves nothing (bad input)', async () => {
    const hubble = new URL('../../samples/shop-hubble.jsonl.gz', import.meta.url).pathname;
    const logs: string[] = [];
    await assert.rejects(
      runReplay({ inputs: [hubble], listen: '127.0.0.1:0', goldmane: true, log: (l) => logs.push(l) }),
      (err: Error & { code?: string }) => err.code === 'input' && /no Calico flows/.test(err.message),
    );
    assert.match(logs.join('\n'), /a Hubble flow, not a Calico one/);
  });

  it('replay refuses a TLS certificate that is not PEM, naming the file', async () => {
    const bad = join(dir, 'not-pem.crt');
    writeFileSync(bad, 'garbage\n');
    await assert.rejects(
      runReplay({ inputs: [file], listen: '127.0.0.1:0', goldmane: true, tls: { cert: bad, key: bad } }),
      (err: Error & { code?: string; location?: { file?: string } }) =>
        err.code === 'input' && err.location?.file === bad && /not PEM/.test(err.message),
    );
  });

  it('replay --goldmane of a file without Calico flows is bad input', async () => {
    const empty = join(dir, 'empty.log');
    writeFileSync(empty, '\n');
    await assert.rejects(
      runReplay({ inputs: [empty], listen: '127.0.0.1:0', goldmane: true }),
      (err: Error & { code?: string }) => err.code === 'input' && /no Calico flows/.test(err.message),
    );
  });
});
