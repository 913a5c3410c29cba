// The full ingest pipeline, as users run it: collector → aggregator → SQLite, via runIngest.
// Usage: node bench/pipeline.mjs <ingest module> <file.jsonl.gz>   (prints one JSON line with the result)
// The ingest module is dist/src/cli/ingest.js (built) or src/cli/ingest.ts (under `node --import tsx`).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [modulePath, file] = process.argv.slice(2);
if (!modulePath || !file) {
  console.error('usage: node bench/pipeline.mjs <ingest module> <file.jsonl.gz>');
  process.exit(2);
}

const { runIngest } = await import(pathToFileURL(resolve(modulePath)).href);
const dir = mkdtempSync(join(tmpdir(), 'fw-bench-'));
try {
  const started = performance.now();
  const summary = await runIngest({ inputs: [file], db: join(dir, 'bench.db'), progress: false });
  const elapsedMs = performance.now() - started;
  const { flows, records, replies, malformed, nonFlow, edges, workloads } = summary;
  console.log(
    JSON.stringify({
      elapsedMs,
      maxRssKb: process.resourceUsage().maxRSS,
      summary: { flows, records, replies, malformed, nonFlow, edges, workloads },
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
