// Live Hubble ingest throughput beside file ingest of the same flows, in the same run: the file through
// `runIngest`, then the same file served by the replay server (in a child process, so that server and
// collector do not share one event loop) and read with `runCollect --no-follow` into a fresh database.
//
//   node --import tsx bench/relay.ts                    200,000 generated flows
//   node --import tsx bench/relay.ts --flows 1000000
//   node --import tsx bench/relay.ts --file flows.jsonl.gz
//   options: --seed <n>, --json (one JSON line instead of the table)
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { DEFAULT_SPAN_MS, DEFAULT_START, hubbleLines } from '../samples/hubble.js';
import { shopScenario } from '../samples/shop.js';
import { runCollect } from '../src/cli/collect.js';
import { runIngest } from '../src/cli/ingest.js';
import { emptyStats } from '../src/model/index.js';
import { loadReplayFiles, startReplayServer } from '../src/replay/index.js';

const { values } = parseArgs({
  options: {
    flows: { type: 'string', default: '200000' },
    seed: { type: 'string', default: '7' },
    file: { type: 'string' },
    json: { type: 'boolean', default: false },
    serve: { type: 'string' }, // internal: the child process that serves a file
  },
});

// The child: load the file, serve it on a free port, print the port, run until told to stop.
if (values.serve) {
  const stats = emptyStats();
  const started = performance.now();
  const entries = await loadReplayFiles([values.serve], stats);
  const server = await startReplayServer(entries, { port: 0 });
  process.stdout.write(`${JSON.stringify({ port: server.port, loadMs: performance.now() - started })}\n`);
  process.once('SIGTERM', () => server.close().then(() => process.exit(0)));
} else {
  await main();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fw-bench-relay-'));
  try {
    let file = values.file;
    if (!file) {
      file = join(dir, 'flows.jsonl.gz');
      const flows = Number(values.flows);
      if (!Number.isSafeInteger(flows) || flows < 1)
        throw new Error(`--flows: not a positive integer: ${values.flows}`);
      const lines = hubbleLines(shopScenario(), {
        flows,
        seed: Number(values.seed),
        startMs: Date.parse(DEFAULT_START),
        spanMs: DEFAULT_SPAN_MS,
        l7: false,
      });
      await pipeline(
        (function* () {
          for (const line of lines) yield `${line}\n`;
        })(),
        createGzip(),
        createWriteStream(file),
      );
    }

    // 1. the file, as `flowwright ingest` reads it
    const fileStarted = performance.now();
    const fromFile = await runIngest({ inputs: [file], db: join(dir, 'file.db'), progress: false });
    const fileMs = performance.now() - fileStarted;

    // 2. the same file over gRPC, as `flowwright collect --no-follow` reads it
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const ready = await new Promise<{ port: number; loadMs: number }>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
      });
      child.once('exit', (code) => reject(new Error(`the replay server exited (${code}) before it was ready`)));
    });
    let grpcMs: number;
    let fromGrpc: Awaited<ReturnType<typeof runCollect>>;
    try {
      const grpcStarted = performance.now();
      fromGrpc = await runCollect({
        address: `127.0.0.1:${ready.port}`,
        follow: false,
        db: join(dir, 'grpc.db'),
        progress: false,
      });
      grpcMs = performance.now() - grpcStarted;
    } finally {
      child.kill('SIGTERM');
    }

    const same = fromFile.flows === fromGrpc.flows && fromFile.edges === fromGrpc.edges;
    const result = {
      flows: fromFile.flows,
      file: { ms: Math.round(fileMs), flowsPerSecond: Math.round(fromFile.flows / (fileMs / 1000)) },
      grpc: {
        ms: Math.round(grpcMs),
        flowsPerSecond: Math.round(fromGrpc.flows / (grpcMs / 1000)),
        serverLoadMs: Math.round(ready.loadMs),
      },
      sameGraph: same,
    };
    if (values.json) {
      console.log(JSON.stringify(result));
    } else {
      const row = (name: string, ms: number, rate: number) =>
        `| ${name.padEnd(28)} | ${(ms / 1000).toFixed(2).padStart(8)} s | ${rate.toLocaleString('en-US').padStart(12)} flows/s |`;
      console.log(
        `${result.flows.toLocaleString('en-US')} flows (${fromFile.records.toLocaleString('en-US')} records)`,
      );
      console.log(row('file ingest (gzip JSON)', result.file.ms, result.file.flowsPerSecond));
      console.log(row('gRPC collect (replay server)', result.grpc.ms, result.grpc.flowsPerSecond));
      console.log(
        `gRPC / file: ${(result.grpc.flowsPerSecond / result.file.flowsPerSecond).toFixed(2)}; ` +
          `server load ${(result.grpc.serverLoadMs / 1000).toFixed(2)} s (not counted); same graph: ${same}`,
      );
    }
    if (!same) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
