// The unified diff writer: exact output for small cases, and on random edits, applying the hunks to
// the old text must give the new text (checked by a minimal patch applier written here).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unifiedDiff } from '../../src/review/index.js';

/** Applies a unified diff produced by unifiedDiff to `before`. */
function applyPatch(before: string, patch: string): string {
  const old = before === '' ? [] : before.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  let at = 0;
  const lines = patch.replace(/\n$/, '').split('\n').slice(2);
  for (let i = 0; i < lines.length; i++) {
    const m = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@$/.exec(lines[i]);
    assert.ok(m, `hunk header expected: ${lines[i]}`);
    const count = m[2] === undefined ? 1 : Number(m[2]);
    const start = count === 0 ? Number(m[1]) : Number(m[1]) - 1;
    while (at < start) out.push(old[at++]);
    while (i + 1 < lines.length && !lines[i + 1].startsWith('@@')) {
      const l = lines[++i];
      if (l[0] === ' ') {
        assert.equal(old[at], l.slice(1), 'context line matches');
        out.push(old[at++]);
      } else if (l[0] === '-') {
        assert.equal(old[at], l.slice(1), 'deleted line matches');
        at++;
      } else out.push(l.slice(1));
    }
  }
  while (at < old.length) out.push(old[at++]);
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

describe('unifiedDiff', () => {
  it('writes a hunk with three lines of context', () => {
    const a = 'a\nb\nc\nd\ne\nf\ng\nh\n';
    const b = 'a\nb\nc\nd\nE\nf\ng\nh\n';
    assert.equal(
      unifiedDiff(a, b, 'x.yaml'),
      '--- a/x.yaml\n+++ b/x.yaml\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n',
    );
  });

  it('writes added and deleted files against /dev/null', () => {
    assert.equal(unifiedDiff(null, 'x\ny\n', 'n.yaml'), '--- /dev/null\n+++ b/n.yaml\n@@ -0,0 +1,2 @@\n+x\n+y\n');
    assert.equal(unifiedDiff('x\n', null, 'o.yaml'), '--- a/o.yaml\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n');
  });

  it('returns nothing for equal texts, and separate hunks for distant changes', () => {
    assert.equal(unifiedDiff('a\n', 'a\n', 'same'), '');
    const a = `${Array.from({ length: 30 }, (_, i) => `l${i}`).join('\n')}\n`;
    const b = a.replace('l2\n', 'L2\n').replace('l25\n', '');
    const d = unifiedDiff(a, b, 'f');
    assert.deepEqual(
      d.split('\n').filter((l) => l.startsWith('@@')),
      ['@@ -1,6 +1,6 @@', '@@ -23,7 +23,6 @@'],
    );
    assert.equal(applyPatch(a, d), b);
  });

  it('round-trips random edits through a patch applier', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const a = Array.from({ length: rand(25) }, () => `line ${rand(8)}`);
      const b = [...a];
      for (let k = rand(6); k > 0; k--) {
        const op = rand(3);
        const at = rand(b.length + 1);
        if (op === 0 && b.length > 0) b.splice(Math.min(at, b.length - 1), 1);
        else if (op === 1) b.splice(at, 0, `new ${rand(5)}`);
        else if (b.length > 0) b[Math.min(at, b.length - 1)] = `changed ${rand(5)}`;
      }
      const ta = a.length ? `${a.join('\n')}\n` : '';
      const tb = b.length ? `${b.join('\n')}\n` : '';
      const d = unifiedDiff(ta, tb, 'r');
      if (ta === tb) assert.equal(d, '');
      else assert.equal(applyPatch(ta, d), tb, `round ${round}:\n${d}`);
    }
  });
});
