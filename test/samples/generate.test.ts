import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { generate, parseOptions, parseSpan } from '../../samples/generate.js';
import { DEFAULT_START } from '../../samples/hubble.js';
import { shopIntendedConnections, shopScenario } from '../../samples/shop.js';
import { analyze, connectionKey } from './analyze.js';

const root = new URL('../..', import.meta.url).pathname;
const SAMPLE = join(root, 'samples/shop-hubble.jsonl.gz');
/** How the checked-in sample was made; samples/README.md must show the same command. */
const SAMPLE_COMMAND =
  'node --import tsx samples/generate.ts --flows 12000 --seed 42 --out samples/shop-hubble.jsonl.gz';

const dir = mkdtempSync(join(tmpdir(), 'fw-samples-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'samples/generate.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
  });
}

describe('generate options', () => {
  it('parses spans with units', () => {
    assert.equal(parseSpan('45s'), 45_000);
    assert.equal(parseSpan('90m'), 5_400_000);
    assert.equal(parseSpan('2d'), 172_800_000);
    assert.equal(parseSpan('1500'), 1500);
    assert.throws(() => parseSpan('two days'), /not a duration/);
    assert.throws(() => parseSpan('0s'), /positive/);
  });

  it('applies defaults and rejects bad values', () => {
    const o = parseOptions([]);
    assert.ok(o !== 'help');
    assert.equal(o.flows, 100_000);
    assert.equal(o.startMs, Date.parse(DEFAULT_START));
    assert.equal(o.l7, false);
    assert.equal(o.out, undefined);
    assert.equal(parseOptions(['--help']), 'help');
    assert.throws(() => parseOptions(['--flows', '-3']), /--flows/);
    assert.throws(() => parseOptions(['--start', 'yesterday']), /--start/);
    assert.throws(() => parseOptions(['--bogus']), /bogus/);
  });
});

describe('generate', () => {
  it('writes the same records to plain and gzip files', async () => {
    const opts = { flows: 500, seed: 3, startMs: Date.parse(DEFAULT_START), spanMs: 3_600_000, l7: true };
    const plain = join(dir, 'a.jsonl');
    const gz = join(dir, 'a.jsonl.gz');
    assert.equal(await generate({ ...opts, out: plain }), await generate({ ...opts, out: gz }));
    assert.deepEqual(gunzipSync(readFileSync(gz)), readFileSync(plain));
    assert.equal(analyze(readFileSync(plain, 'utf8').trimEnd().split('\n')).flows, 500);
  });

  it('prints to stdout, shows help, and fails with exit code 2 on bad options', () => {
    const out = run(['--flows', '20', '--seed', '5']);
    assert.equal(out.status, 0, out.stderr);
    assert.equal(analyze(out.stdout.trimEnd().split('\n')).flows, 20);
    const help = run(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--flows <n>/);
    const bad = run(['--span', 'soon']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--span: not a duration: soon/);
  });
});

describe('checked-in sample', () => {
  const sample = readFileSync(SAMPLE);
  const text = gunzipSync(sample).toString('utf8');

  it('is under 1 MB', () => {
    assert.ok(statSync(SAMPLE).size < 1_000_000, `${statSync(SAMPLE).size} bytes`);
  });

  it('is documented with the command that made it, and that command makes it again', () => {
    const readme = readFileSync(join(root, 'samples/README.md'), 'utf8');
    assert.ok(readme.includes(SAMPLE_COMMAND), 'samples/README.md shows the command');
    const args = SAMPLE_COMMAND.split(' ').slice(4);
    const out = join(dir, 'again.jsonl.gz');
    args[args.indexOf('--out') + 1] = out;
    const result = run(args);
    assert.equal(result.status, 0, result.stderr);
    // Compared after decompression: gzip bytes may differ between zlib builds, the records may not.
    assert.ok(gunzipSync(readFileSync(out)).equals(Buffer.from(text)), 'regenerated sample differs');
  });

  it('contains every intended connection, only those, and both rollouts of every workload', () => {
    const stats = analyze(text.trimEnd().split('\n'));
    const intended = shopIntendedConnections().map(connectionKey);
    assert.deepEqual([...stats.forwarded].sort(), [...intended].sort());
    for (const w of shopScenario().workloads.values()) assert.equal(stats.rolloutHashes.get(w.key)?.size, 2, w.key);
    assert.ok(stats.dropped > 0 && stats.replies > 0 && Object.keys(stats.nonFlow).length === 2);
  });
});
