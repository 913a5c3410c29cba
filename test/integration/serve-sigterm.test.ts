// `flowwright serve` as a child process, stopped with SIGTERM while traffic is streaming in: it exits 0,
// every flow it had received (and counted in /metrics before the signal) is in the database, and a
// second run resumes after the stored checkpoint, so the two runs together learn exactly the graph that
// `ingest` learns from the same flows: nothing lost, nothing counted twice.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { emptyStats } from '../../src/model/index.js';
import { loadReplayFiles, type ReplayEntry, startReplayServer } from '../../src/replay/index.js';
import { openStore } from '../../src/store/index.js';
import { loadGraph, type ShopExport, shopExport, waitFor } from '../serve/helpers.js';
import { parsePrometheus, sampleValue } from '../serve/prometheus.js';

const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'flowwright-serve-sigterm-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let shop: ShopExport;
let entries: ReplayEntry[];

before(async () => {
  shop = await shopExport(dir, 4000, 11);
  entries = await loadReplayFiles([shop.file], emptyStats());
});

interface Child {
  proc: ChildProcess;
  logs: Array<Record<string, unknown>>;
  url: Promise<string>;
  exit: Promise<number | null>;
}

function startServe(config: string): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', config], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let buffer = '';
  let resolveUrl: (u: string) => void;
  const url = new Promise<string>((r) => {
    resolveUrl = r;
  });
  proc.stderr!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf('\n');
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line);
      } catch {
        entry = { msg: 'not JSON', line };
      }
      logs.push(entry);
      if (entry.msg === 'serving') resolveUrl(String(entry.url));
    }
  });
  const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, logs, url, exit };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function scrape(url: string) {
  return parsePrometheus(await (await fetch(`${url}/metrics`)).text());
}

describe('serve stopped with SIGTERM mid-stream', () => {
  it('writes everything it received, exits 0, and the next run resumes without loss or doubling', async () => {
    // The source comes up after the service (which retries until it can connect), so that the traffic
    // starts once the service is listening, whatever the machine's start-up time.
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    let server: Awaited<ReturnType<typeof startReplayServer>> | undefined;
    const db = join(dir, 'serve.db');
    const config = join(dir, 'flowwright.yaml');
    writeFileSync(
      config,
      [
        `db: ${db}`,
        'listen: 127.0.0.1:0',
        // Longer than the test: only the stop itself writes, so nothing is on disk unless SIGTERM writes it.
        'flushInterval: 1h',
        'flushEvery: 1000000',
        'sources:',
        '  - type: hubble-relay',
        '    name: relay',
        `    address: ${address}`,
        '    since: 1h',
        '    reconnect: { initial: 50ms, max: 200ms }',
      ].join('\n'),
    );
    try {
      const first = startServe(config);
      const url = await first.url;
      server = await startReplayServer(entries, { port, rate: 1000 });
      const source = server;
      const acknowledged = await waitFor('a part of the traffic', async () => {
        const n = sampleValue(await scrape(url), 'flowwright_flows_ingested_total', { source: 'relay' }) ?? 0;
        return n >= 500 ? n : undefined;
      });
      assert.ok(source.released() < entries.length, 'stopped while the source was still sending');
      first.proc.kill('SIGTERM');
      assert.equal(await first.exit, 0, JSON.stringify(first.logs));
      const stopped = first.logs.find((l) => l.msg === 'stopped');
      assert.ok(stopped, 'the stop is logged');
      const received = Number(stopped.flowsReceived);
      const dependencies = Number(stopped.dependencies);
      assert.ok(received >= acknowledged, `received ${received} >= ${acknowledged} counted before SIGTERM`);
      assert.ok(received < shop.flows);
      assert.equal(received, dependencies + Number(stopped.repliesSkipped));
      const store = openStore(db, { readonly: true });
      try {
        assert.equal(store.counts().flows, dependencies, 'every received flow is in the database');
        assert.ok(store.getCheckpoint(`hubble-relay:${address}`), 'with the checkpoint it reaches');
      } finally {
        store.close();
      }

      // A second run picks up after the checkpoint and reads the rest.
      const second = startServe(config);
      const url2 = await second.url;
      await waitFor(
        'the rest of the traffic',
        async () => {
          const n = sampleValue(await scrape(url2), 'flowwright_flows_ingested_total', { source: 'relay' }) ?? 0;
          return received + n >= shop.flows || undefined;
        },
        20_000,
      );
      second.proc.kill('SIGTERM');
      assert.equal(await second.exit, 0, JSON.stringify(second.logs));
      const stopped2 = second.logs.find((l) => l.msg === 'stopped')!;
      assert.equal(received + Number(stopped2.flowsReceived), shop.flows, 'no flow read twice');
      assert.deepEqual(loadGraph(db), shop.graph);
    } finally {
      server?.kill();
    }
  });
});
