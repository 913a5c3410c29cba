// `npm run bench -- --verify`: the verifier benchmark (bench/verify.mjs) at three sizes, each in its own
// process so that peak RSS belongs to it alone, and the result recorded in BENCHMARKS.md between the
// bench:verify markers (a rerun replaces the rows). Linear work shows as a flat cost per edge across
// sizes; the baseline (the same replay with no policies) is measured in the same process.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';

const SCALES = [0.1, 0.5, 1];

export function runVerifyBench({ root, source, record }) {
  const moduleRoot = source ? 'src' : 'dist/src';
  const results = [];
  for (const scale of SCALES) {
    console.error(`verify benchmark at scale ${scale}...`);
    const r = spawnSync(
      process.execPath,
      [...(source ? ['--import', 'tsx'] : []), 'bench/verify.mjs', moduleRoot, String(scale)],
      { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    const last = r.stdout.trim().split('\n').pop();
    if (r.status !== 0 || !last?.startsWith('{')) {
      console.error(
        `scale ${scale}: failed (exit ${r.status})\n  ${r.stderr.trim().split('\n').slice(0, 6).join('\n  ')}`,
      );
      return 1;
    }
    results.push(JSON.parse(last));
  }
  const fmt = (n) => n.toLocaleString('en-US');
  const perEdge = (r) => (r.verifyMs * 1000) / r.edges;
  const machine = `${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`;
  const date = new Date().toISOString().slice(0, 10);
  const rows = results.map(
    (r) =>
      `| ${date} | ${fmt(r.workloads)} | ${fmt(r.edges)} | ${fmt(r.policies)} | ${(r.parseMs / 1000).toFixed(2)} s | ` +
      `${(r.baselineMs / 1000).toFixed(2)} s | ${(r.verifyMs / 1000).toFixed(2)} s | ${(r.verifyMs / r.baselineMs).toFixed(2)} | ` +
      `${perEdge(r).toFixed(1)} µs | ${r.podSelectorChecksPerPod} | ${r.broken} | ${fmt(Math.round(r.maxRssKb / 1024))} MB | ${machine} |`,
  );
  const growth = perEdge(results[results.length - 1]) / perEdge(results[0]);
  console.log('\nverify benchmark (bench/verify.mjs):');
  for (const r of results) {
    console.log(
      `  ${fmt(r.workloads)} workloads, ${fmt(r.edges)} edges, ${fmt(r.policies)} policies: verify ${r.verifyMs.toFixed(0)} ms ` +
        `(${perEdge(r).toFixed(1)} µs/edge, ${(r.verifyMs / r.baselineMs).toFixed(2)}× the no-policy baseline), ` +
        `parse ${r.parseMs.toFixed(0)} ms, peak RSS ${Math.round(r.maxRssKb / 1024)} MB, ${r.broken} broken`,
    );
  }
  console.log(`  cost per edge at the largest size / at the smallest: ${growth.toFixed(2)} (1 = linear)`);
  if (record) {
    const path = join(root, 'BENCHMARKS.md');
    const START = '<!-- bench:verify:start -->';
    const END = '<!-- bench:verify:end -->';
    const text = readFileSync(path, 'utf8');
    if (!text.includes(START) || !text.includes(END)) {
      console.error(`BENCHMARKS.md has no ${START} … ${END} block; not recorded`);
      return 0;
    }
    const [head, rest] = text.split(START);
    const [table, tail] = rest.split(END);
    const header = table.trim().split('\n').slice(0, 2);
    writeFileSync(path, `${head}${START}\n${[...header, ...rows].join('\n')}\n${END}${tail}`);
    console.log('\nrecorded in BENCHMARKS.md');
  }
  return 0;
}
