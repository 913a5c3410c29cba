// Golden-file comparison: byte for byte; rewritten only when UPDATE_GOLDEN=1 is set explicitly
// (then read the diff by eye before committing).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Proposal } from '../../src/synthesize/index.js';
import { renderProposalFile } from '../../src/synthesize/index.js';

const dir = join(import.meta.dirname, 'golden');

export function assertGolden(name: string, actual: string): void {
  const path = join(dir, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(path, actual);
    return;
  }
  assert.ok(existsSync(path), `golden file ${name} is missing: run with UPDATE_GOLDEN=1 and review it`);
  assert.equal(actual, readFileSync(path, 'utf8'), `output differs from golden file ${name}`);
}

/** Every file of a proposal in one text, each introduced by its path. */
export function proposalText(p: Proposal): string {
  return p.files.map((f) => `# file: ${f.path}\n${renderProposalFile(f)}`).join('---\n');
}
