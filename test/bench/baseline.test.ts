import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generate } from '../../samples/generate.js';
import { DEFAULT_START } from '../../samples/hubble.js';

const root = new URL('../..', import.meta.url).pathname;

describe('bench baseline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-bench-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parses every line of a gzip file and reports time and peak RSS', async () => {
    const file = join(dir, 'flows.jsonl.gz');
    const lines = await generate({
      flows: 2000,
      seed: 1,
      startMs: Date.parse(DEFAULT_START),
      spanMs: 60_000,
      l7: false,
      out: file,
    });
    const result = spawnSync(process.execPath, ['bench/baseline.mjs', file], { cwd: root, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.lines, lines);
    assert.ok(report.elapsedMs > 0);
    assert.ok(report.maxRssKb > 1000);
  });
});
