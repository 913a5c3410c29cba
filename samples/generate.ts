// Command line for the sample generator:
//   node --import tsx samples/generate.ts --flows 1000000 --seed 7 --out bench/data/flows-1m.jsonl.gz
// Writes Hubble JSON lines of the shop scenario to a file (gzip when it ends in .gz) or stdout, streamed.
import { once } from 'node:events';
import { createWriteStream, realpathSync, renameSync, rmSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import { calicoLines } from './calico.js';
import { DEFAULT_SPAN_MS, DEFAULT_START, type HubbleOptions, hubbleLines } from './hubble.js';
import { shopScenario } from './shop.js';

export const USAGE = `Usage: node --import tsx samples/generate.ts [options]

Generates Hubble flow logs (hubble observe -o json lines) of the sample online shop.
The same options and seed always produce the same bytes.

Options:
  --flows <n>     number of flow records (default 100000; node_status/lost_events lines come on top)
  --seed <n>      seed of the traffic (default 1)
  --start <time>  time of the first record, RFC 3339 (default ${DEFAULT_START})
  --span <dur>    time the records are spread over: 45s, 90m, 36h, 2d or milliseconds (default 2d)
  --l7            add HTTP L7 request/response records (methods and paths, gRPC and REST)
  --format <f>    hubble (default) or calico: Calico Enterprise flows.log documents of the same
                  traffic, aggregated per 5 minutes; --flows then counts connections
  --out <file>    output file, gzip-compressed when it ends in .gz (default: stdout)
  -h, --help      show this help
`;

/** Parses `45s`, `90m`, `36h`, `2d`, or a plain number of milliseconds. */
export function parseSpan(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new Error(`--span: not a duration: ${text}`);
  const ms = Number(match[1]) * units[match[2] ?? 'ms']!;
  if (!(ms > 0)) throw new Error(`--span: must be positive: ${text}`);
  return ms;
}

export type GenerateOptions = HubbleOptions & { out?: string; format?: 'hubble' | 'calico' };

export function parseOptions(argv: string[]): GenerateOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      flows: { type: 'string' },
      seed: { type: 'string' },
      start: { type: 'string' },
      span: { type: 'string' },
      l7: { type: 'boolean' },
      format: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const flows = Number(values.flows ?? 100_000);
  if (!Number.isSafeInteger(flows) || flows < 1) throw new Error(`--flows: not a positive integer: ${values.flows}`);
  const seed = Number(values.seed ?? 1);
  if (!Number.isSafeInteger(seed)) throw new Error(`--seed: not an integer: ${values.seed}`);
  const format = values.format ?? 'hubble';
  if (format !== 'hubble' && format !== 'calico') throw new Error(`--format: hubble or calico, not ${format}`);
  const startMs = Date.parse(values.start ?? DEFAULT_START);
  if (Number.isNaN(startMs)) throw new Error(`--start: not an RFC 3339 time: ${values.start}`);
  return {
    flows,
    seed,
    startMs,
    spanMs: values.span === undefined ? DEFAULT_SPAN_MS : parseSpan(values.span),
    l7: values.l7 ?? false,
    out: values.out === '-' ? undefined : values.out,
    format,
  };
}

/** Writes the lines in chunks, waiting when the stream asks to (so memory stays flat). */
export async function writeLines(lines: Iterable<string>, out: Writable): Promise<number> {
  let chunk = '';
  let count = 0;
  for (const line of lines) {
    chunk += `${line}\n`;
    count++;
    if (chunk.length >= 1 << 18) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  if (chunk) out.write(chunk);
  return count;
}

/** Generates into a file (via a temporary name, so an interrupted run leaves no partial file) or stdout. */
export async function generate(opts: GenerateOptions): Promise<number> {
  const lines =
    opts.format === 'calico'
      ? calicoLines(shopScenario(), { events: opts.flows, seed: opts.seed, startMs: opts.startMs, spanMs: opts.spanMs })
      : hubbleLines(shopScenario(), opts);
  if (!opts.out) {
    const count = await writeLines(lines, process.stdout);
    return count;
  }
  const tmp = `${opts.out}.partial`;
  try {
    const file = createWriteStream(tmp);
    let count: number;
    if (opts.out.endsWith('.gz')) {
      const gzip = createGzip({ level: 6 });
      const done = pipeline(gzip, file);
      count = await writeLines(lines, gzip);
      gzip.end();
      await done;
    } else {
      count = await writeLines(lines, file);
      file.end();
      await once(file, 'finish');
    }
    renameSync(tmp, opts.out);
    return count;
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

async function main(): Promise<void> {
  let opts: ReturnType<typeof parseOptions>;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`generate: ${(err as Error).message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (opts === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  // A closed pipe (`| head`) is a normal way to stop reading.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const started = Date.now();
  const lines = await generate(opts);
  if (opts.out)
    process.stderr.write(`wrote ${lines} lines (${opts.flows} flows) to ${opts.out} in ${Date.now() - started} ms\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) await main();
