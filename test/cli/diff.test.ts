// `flowwright diff` on a copy of the hand-written shop set: the YAML diff applies with `git apply` and
// gives the tightened files; --exit-code, --mode and --unused-for behave as documented.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_CODES } from '../../src/model/index.js';
import { loadPolicyFiles } from '../../src/policy/index.js';
import { flowwright, removeWorkspace, workspace } from '../review/cli.js';

describe('flowwright diff', () => {
  let dir: string;
  before(async () => {
    dir = await workspace();
  });
  after(() => removeWorkspace(dir));
  /** `flowwright diff` of the learned shop against the copied existing set, with more arguments. */
  const diff = (...args: string[]) => flowwright(dir, ['diff', '--db', 'shop.db', '--existing', 'existing', ...args]);

  it('prints the semantic diff as a table by default (mode additive)', () => {
    const r = diff();
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.match(r.stdout, /^Mode additive: 9 existing NetworkPolicies against 10 proposed NetworkPolicies/);
    assert.match(
      r.stdout,
      /Newly allowed:\nSOURCE .*\nops\/blackbox-exporter {2}shop\/frontend {2}8080\/TCP {2}16 flows/,
    );
    assert.match(r.stdout, /added {4}existing\/shop\/frontend\.networkpolicy\.yaml/);
  });

  it('writes a unified diff that git apply turns into the tightened set', () => {
    const r = diff('--mode', 'tighten', '--format', 'yaml-diff');
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    const apply = spawnSync('git', ['apply', '-p1', '-'], { cwd: dir, input: r.stdout, encoding: 'utf8' });
    assert.equal(apply.status, 0, apply.stderr);
    assert.ok(existsSync(join(dir, 'existing/shop/frontend.networkpolicy.yaml')));
    assert.doesNotMatch(readFileSync(join(dir, 'existing/shop/frontend.yaml'), 'utf8'), /0\.0\.0\.0\/0/);
    const set = loadPolicyFiles([join(dir, 'existing')]);
    assert.deepEqual(set.issues, []);
    assert.equal(set.networkPolicies.length, 10);
    // Applied, the set covers all observed TCP and UDP traffic (the ICMP probe, which no NetworkPolicy can
    // allow, stays denied where the frontend is isolated), and a second tighten has nothing left to do.
    const v = flowwright(dir, ['verify', '--db', 'shop.db', '--policies', 'existing']);
    assert.equal(v.code, EXIT_CODES.finding, v.stdout);
    assert.match(v.stdout, /1 observed connection would be DENIED/);
    assert.match(v.stdout, /8\/ICMPv4 .* not expressible in NetworkPolicy/);
    const again = diff('--mode', 'tighten', '--exit-code');
    assert.equal(again.code, EXIT_CODES.ok, again.stdout);
    assert.match(
      again.stdout,
      /Newly allowed: 0\. Newly denied: 0 \(0 observed\)\..*Unused existing rules: 0\. Files changed: 0\./,
    );
  });

  it('--exit-code exits 1 when files would change; JSON and Markdown formats', () => {
    const r = diff('--mode', 'replace', '--format', 'json', '--exit-code');
    assert.equal(r.code, EXIT_CODES.finding);
    assert.match(r.stderr, /file\(s\) would change/);
    const json = JSON.parse(r.stdout);
    assert.equal(json.mode, 'replace');
    assert.equal(json.summary.newlyDeniedObserved, 0);
    const md = diff('--format', 'markdown');
    assert.match(md.stdout, /^### flowwright policy diff \(mode `additive`\)/);
  });

  it('--unused-for marks rules whose last match is older as unused', () => {
    const r = diff('--unused-for', '1h', '--format', 'json');
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.ok(json.unusedSince);
    assert.ok(json.unusedRules.some((u: { lastSeen: string | null }) => u.lastSeen !== null));
  });

  it('rejects a bad mode, a bad duration and a missing --existing with exit 2', () => {
    assert.equal(diff('--mode', 'merge').code, EXIT_CODES.usage);
    const d = diff('--unused-for', 'soon');
    assert.equal(d.code, EXIT_CODES.usage);
    assert.match(d.stderr, /--unused-for: expected a duration like 30s, 15m, 24h or 7d/);
    assert.equal(flowwright(dir, ['diff', '--db', 'shop.db']).code, EXIT_CODES.usage);
  });

  it('teaches modes and formats in --help', () => {
    const r = flowwright(dir, ['diff', '--help']);
    assert.match(r.stdout, /additive \(default\) keeps the existing set/);
    assert.match(r.stdout, /--format <format> +output format \(choices: "table", "markdown", "json",\s+"yaml-diff"/);
    assert.doesNotMatch(r.stdout, /default: \[\]/);
    assert.match(r.stdout, /\$ flowwright diff --existing cluster-policies\/ --format yaml-diff \| git apply/);
  });
});
