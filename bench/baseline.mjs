// Baseline for the ingest benchmark: the least any ingester must do with a gzip JSON-lines file.
// Streams the file, gunzips it, splits lines and JSON.parses each one, nothing else.
// Usage: node bench/baseline.mjs <file.jsonl.gz>   (prints one JSON line with the result)
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/baseline.mjs <file.jsonl.gz>');
  process.exit(2);
}

const started = performance.now();
let lines = 0;
let rest = '';
// 64 KiB reads and zlib chunks, like the pipeline's reader (larger buffers cost page faults, see BENCHMARKS.md).
const input = createReadStream(file, { highWaterMark: 1 << 16 }).pipe(createGunzip({ chunkSize: 1 << 16 }));
input.setEncoding('utf8');
for await (const chunk of input) {
  const text = rest + chunk;
  let start = 0;
  let end = text.indexOf('\n', start);
  while (end !== -1) {
    if (end > start) {
      JSON.parse(text.slice(start, end));
      lines++;
    }
    start = end + 1;
    end = text.indexOf('\n', start);
  }
  rest = text.slice(start);
}
if (rest.trim()) {
  JSON.parse(rest);
  lines++;
}
const elapsedMs = performance.now() - started;
console.log(JSON.stringify({ lines, elapsedMs, maxRssKb: process.resourceUsage().maxRSS }));
