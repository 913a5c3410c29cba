// The README is the user's manual: its exit-code table must match the one table in src/model/errors.ts,
// and its options table must be the one generated from the options table that drives flags, environment
// variables and config keys. `UPDATE_GOLDEN=1` rewrites the options block from the code.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { optionsTableMarkdown } from '../../src/cli/options.js';
import { EXIT_CODES } from '../../src/model/index.js';

const README = new URL('../../README.md', import.meta.url);
const text = () => readFileSync(README, 'utf8');

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README has a "## ${heading}" section`);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

describe('README', () => {
  it('starts with the two commands that work on a fresh machine', () => {
    const head = text().split('\n').slice(0, 8).join('\n');
    assert.match(head, /npm install && npm start/);
    assert.match(head, /npm test/);
  });

  it('lists exactly the exit codes of src/model/errors.ts', () => {
    const rows = [...section(text(), 'Exit codes').matchAll(/^\|\s*(\d+)\s*\|/gm)].map((m) => Number(m[1]));
    const codes = [...new Set(Object.values(EXIT_CODES))].sort((a, b) => a - b);
    assert.deepEqual(rows, codes);
  });

  it('carries the options table generated from src/cli/options.ts', () => {
    const markdown = text();
    const open = markdown.indexOf('<!-- options:start');
    const close = markdown.indexOf('<!-- options:end -->');
    assert.ok(open >= 0 && close > open, 'README has the options markers');
    const openEnd = markdown.indexOf('-->', open) + 3;
    const expected = `\n${optionsTableMarkdown()}\n`;
    if (process.env.UPDATE_GOLDEN === '1') {
      writeFileSync(README, markdown.slice(0, openEnd) + expected + markdown.slice(close));
      return;
    }
    assert.equal(markdown.slice(openEnd, close), expected);
  });
});
