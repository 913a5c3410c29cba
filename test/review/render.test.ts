// Golden tests of every renderer on the sample shop: verify of the hand-written existing set, and the
// diff of that set against the proposal (tighten, which exercises additions, in-place deletions and
// unused rules at once; additive for the short Markdown a typical pull request shows).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DIFF_FORMATS,
  type DiffFormat,
  diffPolicies,
  renderDiff,
  renderVerify,
  VERIFY_FORMATS,
  type VerifyFormat,
  verifyPolicies,
} from '../../src/review/index.js';
import { goldenIn } from '../policy/golden.js';
import { EXISTING_DIR, shop } from './shop.js';

/** The golden files sit beside these tests. */
const assertGolden = goldenIn(import.meta.dirname);

const EXT: Record<string, string> = { table: 'txt', markdown: 'md', json: 'json', 'yaml-diff': 'diff' };

describe('verify renderers', async () => {
  const s = await shop();
  const report = verifyPolicies(s.graph, s.inventory, s.existing);
  for (const format of VERIFY_FORMATS) {
    it(`renders --format ${format}`, () => {
      assertGolden(`verify-existing.golden.${EXT[format]}`, renderVerify(report, format as VerifyFormat));
    });
  }

  it('JSON is the report with RFC 3339 times and a schema version', () => {
    const json = JSON.parse(renderVerify(report, 'json'));
    assert.equal(json.schemaVersion, 1);
    assert.equal(json.kind, 'verify');
    assert.equal(json.coverage, 95.6);
    assert.equal(json.broken[1].lastSeen, '2024-06-04T15:28:48Z');
    assert.equal(json.broken[1].request, null);
  });
});

describe('diff renderers', async () => {
  const input = await shop();
  const tighten = diffPolicies(input, { mode: 'tighten', outDir: EXISTING_DIR });
  for (const format of DIFF_FORMATS) {
    it(`renders --format ${format}`, () => {
      assertGolden(`diff-tighten.golden.${EXT[format]}`, renderDiff(tighten, format as DiffFormat));
    });
  }

  it('renders the additive diff as Markdown for a pull request', () => {
    const additive = diffPolicies(input, { mode: 'additive', outDir: EXISTING_DIR });
    assertGolden('diff-additive.golden.md', renderDiff(additive, 'markdown'));
  });

  it('JSON summarizes the lists and carries both texts of every changed file', () => {
    const json = JSON.parse(renderDiff(tighten, 'json'));
    assert.equal(json.schemaVersion, 1);
    assert.equal(json.kind, 'diff');
    assert.equal(json.mode, 'tighten');
    assert.equal(json.summary.newlyAllowed, json.newlyAllowed.length);
    assert.equal(json.summary.unusedRules, 4);
    const added = json.files.find((f: { status: string }) => f.status === 'added');
    assert.equal(added.before, null);
    assert.match(added.after, /kind: NetworkPolicy/);
  });

  it('the YAML diff is the same text the Markdown folds in', () => {
    const diff = renderDiff(tighten, 'yaml-diff');
    assert.ok(renderDiff(tighten, 'markdown').includes(diff.trimEnd()));
  });
});
