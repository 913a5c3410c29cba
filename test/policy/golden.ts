// Golden-file comparison: byte for byte; rewritten only when UPDATE_GOLDEN=1 is set explicitly (then
// read the new text by eye before committing). The review tests use it for their own directory.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** An assertGolden for the golden files in `dir`. */
export function goldenIn(dir: string): (name: string, actual: string) => void {
  return (name, actual) => {
    const path = join(dir, name);
    if (process.env.UPDATE_GOLDEN === '1') {
      writeFileSync(path, actual);
      return;
    }
    assert.ok(existsSync(path), `golden file ${name} is missing: run with UPDATE_GOLDEN=1 and review it`);
    assert.equal(actual, readFileSync(path, 'utf8'), `output differs from golden file ${name}`);
  };
}

/** The explanations' golden files, under golden/. */
export const assertGolden = goldenIn(join(import.meta.dirname, 'golden'));
