// `npm run bench`: ingest throughput of the full pipeline against a JSON.parse-only baseline on the same
// generated file, and the peak memory of each, measured in separate processes. Results go to
// BENCHMARKS.md (one row per flow count, replaced on rerun).
//
//   npm run bench                          1M flows
//   npm run bench -- --flows 5000000       the memory check
//   npm run bench -- --verify              the policy verifier instead (bench/verify.mjs, three sizes)
//   npm run bench -- --kafka               Kafka consumer vs file ingest, shipped delta sizes (200,000 flows)
//   npm run bench -- --page                the review page's first render at 1,000 workloads (bench/page.ts)
//   options: --seed <n> --runs <n> --skip-build --source (run src/ through tsx) --no-record --check
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const TARGET_RATIO = 0.7;
const TARGET_RSS_MB = 300;

const { values } = parseArgs({
  options: {
    flows: { type: 'string' },
    seed: { type: 'string', default: '7' },
    runs: { type: 'string', default: '1' },
    'skip-build': { type: 'boolean', default: false },
    source: { type: 'boolean', default: false },
    'no-record': { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    verify: { type: 'boolean', default: false },
    kafka: { type: 'boolean', default: false },
    page: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    readFileSync(new URL(import.meta.url), 'utf8')
      .split('\n')
      .slice(0, 11)
      .join('\n')
      .replaceAll('// ', ''),
  );
  process.exit(0);
}
// The Kafka benchmark produces every flow to a broker: 200,000 unless --flows says otherwise.
const flows = Number(values.flows ?? (values.kafka ? '200000' : '1000000'));
const runs = Math.max(1, Number(values.runs));
if (!Number.isSafeInteger(flows) || flows < 1) fail(`--flows: not a positive integer: ${values.flows}`);

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}

function node(args, opts = {}) {
  return spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24, ...opts });
}

if (values.page) {
  const args = ['--import', 'tsx', 'bench/page.ts', '--runs', String(Math.max(3, runs))];
  if (values['no-record']) args.push('--no-record');
  process.exit(spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' }).status ?? 1);
}

// 1. Build, so that the pipeline runs the JavaScript users run.
if (!values.source && !values['skip-build']) {
  console.error('building (tsc -p tsconfig.json)...');
  const build = node([join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
  if (build.status !== 0) {
    const errors = build.stdout.trim().split('\n');
    console.error(`build reported ${errors.length} lines of errors (first: ${errors[0]}); measuring what was emitted`);
  }
}

if (values.verify) {
  const { runVerifyBench } = await import('../bench/verify-run.mjs');
  process.exit(runVerifyBench({ root, source: values.source, record: !values['no-record'] }));
}

// 2. The input, generated once.
const dataDir = join(root, 'bench/data');
const file = join(dataDir, `flows-${flows}-seed${values.seed}.jsonl.gz`);
if (!existsSync(file)) {
  mkdirSync(dataDir, { recursive: true });
  const built = join(root, 'dist/samples/generate.js');
  const generator = !values.source && existsSync(built) ? [built] : ['--import', 'tsx', 'samples/generate.ts'];
  console.error(`generating ${relative(root, file)}...`);
  const gen = node([...generator, '--flows', String(flows), '--seed', values.seed, '--out', file], {
    stdio: 'inherit',
  });
  if (gen.status !== 0) fail('generating the input failed');
}

if (values.kafka) {
  const { runKafkaBench } = await import('../bench/kafka-run.mjs');
  process.exit(await runKafkaBench({ root, source: values.source, record: !values['no-record'], file, flows, runs }));
}

// 3. Measurements, each in its own process so that peak RSS belongs to it alone.
function measure(label, args) {
  const result = node(args);
  const last = result.stdout.trim().split('\n').pop();
  if (result.status !== 0 || !last?.startsWith('{')) {
    const why = result.stderr.trim().split('\n').slice(0, 6).join('\n  ');
    console.error(`${label}: failed (exit ${result.status})\n  ${why}`);
    return undefined;
  }
  return JSON.parse(last);
}

const ingestModule = values.source ? 'src/cli/ingest.ts' : 'dist/src/cli/ingest.js';
const pipelineArgs = [...(values.source ? ['--import', 'tsx'] : []), 'bench/pipeline.mjs', ingestModule, file];
const best = { baseline: undefined, pipeline: undefined };
const peak = { baseline: 0, pipeline: 0 };
for (let i = 0; i < runs; i++) {
  for (const [label, args] of [
    ['baseline', ['bench/baseline.mjs', file]],
    ['pipeline', pipelineArgs],
  ]) {
    console.error(`run ${i + 1}/${runs}: ${label}...`);
    const r = measure(label, args);
    if (!r) continue;
    peak[label] = Math.max(peak[label], r.maxRssKb);
    if (!best[label] || r.elapsedMs < best[label].elapsedMs) best[label] = r;
  }
}
if (!best.baseline) fail('the baseline failed; nothing to compare with');

// 4. Report.
const rate = (r) => (r ? Math.round(flows / (r.elapsedMs / 1000)) : undefined);
const mb = (kb) => (kb ? Math.round(kb / 1024) : undefined);
const fmt = (n) => (n === undefined ? 'n/a' : n.toLocaleString('en-US'));
const baselineRate = rate(best.baseline);
const pipelineRate = rate(best.pipeline);
const ratio = pipelineRate ? pipelineRate / baselineRate : undefined;
const machine = `${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`;
const command = `npm run bench -- --flows ${flows}${values.source ? ' --source' : ''}`;

const rows = [
  ['', 'time', 'flows/s', 'peak RSS'],
  [
    'baseline (gunzip + JSON.parse)',
    `${(best.baseline.elapsedMs / 1000).toFixed(1)} s`,
    fmt(baselineRate),
    `${fmt(mb(peak.baseline))} MB`,
  ],
  [
    'pipeline (runIngest → SQLite)',
    best.pipeline ? `${(best.pipeline.elapsedMs / 1000).toFixed(1)} s` : 'n/a',
    fmt(pipelineRate),
    `${fmt(mb(peak.pipeline))} MB`,
  ],
];
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
console.log(
  `\ningest benchmark: ${fmt(flows)} flows, ${relative(root, file)} (${(statSync(file).size / 1e6).toFixed(1)} MB gzip)`,
);
console.log(`machine: ${machine}\n`);
for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   '));
if (best.pipeline) {
  console.log(`\nratio pipeline/baseline: ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO})`);
  console.log(`pipeline summary: ${JSON.stringify(best.pipeline.summary)}`);
}

// 5. Record in BENCHMARKS.md: one row per flow count, replaced by a rerun with the same count.
if (!values['no-record'] && best.pipeline) {
  const path = join(root, 'BENCHMARKS.md');
  const START = '<!-- bench:results:start -->';
  const END = '<!-- bench:results:end -->';
  const text = readFileSync(path, 'utf8');
  const [head, restText] = text.split(START);
  const [table, tail] = restText.split(END);
  const header = table.trim().split('\n').slice(0, 2);
  const kept = table
    .trim()
    .split('\n')
    .slice(2)
    .filter((line) => line.split('|')[2]?.trim() !== fmt(flows));
  const row =
    `| ${new Date().toISOString().slice(0, 10)} | ${fmt(flows)} | ${fmt(baselineRate)} | ${fmt(pipelineRate)} | ` +
    `${ratio.toFixed(2)} | ${fmt(mb(peak.baseline))} MB | ${fmt(mb(peak.pipeline))} MB | ${machine} | \`${command}\` |`;
  const sorted = [...kept, row].sort(
    (a, b) => Number(a.split('|')[2].replaceAll(',', '')) - Number(b.split('|')[2].replaceAll(',', '')),
  );
  writeFileSync(path, `${head}${START}\n${[...header, ...sorted].join('\n')}\n${END}${tail}`);
  console.log(`\nrecorded in BENCHMARKS.md`);
}

if (values.check) {
  const problems = [];
  if (!best.pipeline) problems.push('the pipeline did not run');
  else if (ratio < TARGET_RATIO) problems.push(`ratio ${ratio.toFixed(2)} < ${TARGET_RATIO}`);
  if (mb(peak.pipeline) >= TARGET_RSS_MB)
    problems.push(`pipeline peak RSS ${mb(peak.pipeline)} MB ≥ ${TARGET_RSS_MB} MB`);
  if (problems.length > 0) {
    console.error(`bench --check failed: ${problems.join('; ')}`);
    process.exit(1);
  }
}
