// Golden files beside the review tests, compared byte for byte; rewritten only with UPDATE_GOLDEN=1
// (then read every changed file by eye before committing it).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function assertGolden(name: string, actual: string): void {
  const path = join(import.meta.dirname, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(path, actual);
    return;
  }
  assert.ok(existsSync(path), `golden file ${name} is missing: run with UPDATE_GOLDEN=1 and review it`);
  assert.equal(actual, readFileSync(path, 'utf8'), `output differs from golden file ${name}`);
}
