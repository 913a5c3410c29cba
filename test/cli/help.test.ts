// Golden `--help` of the program and of every command: the help is part of the manual, so a change to it is
// reviewed like a change to the README. `UPDATE_GOLDEN=1 node scripts/test.mjs test/cli/help` rewrites them.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';

const DIR = new URL('help/', import.meta.url).pathname;
const update = process.env.UPDATE_GOLDEN === '1';

/** Help text as a user sees it, with the after-help text (examples) included, at 80 columns. */
function helpOf(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s), getOutHelpWidth: () => 80 });
  cmd.outputHelp(); // writes through writeOut; unlike help(), it does not exit
  return text;
}

describe('--help goldens', () => {
  const program = buildProgram();
  const pages: [string, Command][] = [
    ['flowwright', program],
    ...program.commands.map((c) => [c.name(), c] as [string, Command]),
  ];

  for (const [name, cmd] of pages) {
    it(`${name} --help`, () => {
      const file = join(DIR, `${name}.golden.txt`);
      const actual = helpOf(cmd);
      assert.match(actual, /^Usage: /);
      if (update || !existsSync(file)) {
        assert.ok(update, `${file} is missing: run with UPDATE_GOLDEN=1 and review it`);
        writeFileSync(file, actual);
        return;
      }
      assert.equal(actual, readFileSync(file, 'utf8'));
    });
  }

  it('has no golden for a command that no longer exists', () => {
    const names = new Set(pages.map(([n]) => `${n}.golden.txt`));
    const stale = readdirSync(DIR).filter((f) => f.endsWith('.golden.txt') && !names.has(f));
    assert.deepEqual(stale, []);
  });
});
