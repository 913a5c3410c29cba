// The rollout commands as users run them: real processes on a real database learned from generated traffic.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { hubbleLines } from '../../samples/hubble.js';
import { shopScenario } from '../../samples/shop.js';
import { EXIT_CODES } from '../../src/model/index.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

let dir: string;
let db: string;

function flowwright(args: string[]) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLOWWRIGHT_')));
  const r = spawnSync(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...env, NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function files(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(root, join(d.parentPath, d.name)))
    .sort();
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowwright-rollout-cli-'));
  db = join(dir, 'shop.db');
  const input = join(dir, 'shop.jsonl');
  const lines = hubbleLines(shopScenario(), {
    flows: 4_000,
    seed: 5,
    startMs: Date.parse('2024-06-03T00:00:00Z'),
    spanMs: 6 * 3600_000,
    l7: true,
  });
  writeFileSync(input, `${[...lines].join('\n')}\n`);
  const r = flowwright(['ingest', input, '--db', db]);
  assert.equal(r.code, EXIT_CODES.ok, r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('flowwright propose --staged', () => {
  it('writes the staged forms under the same paths, leaves Cilium out and says why', () => {
    const plain = join(dir, 'plain');
    const staged = join(dir, 'staged');
    const kinds = 'networkpolicy,authorizationpolicy,cilium';
    assert.equal(flowwright(['propose', '--db', db, '--kinds', kinds, '--out', plain]).code, EXIT_CODES.ok);
    const r = flowwright(['propose', '--db', db, '--kinds', kinds, '--staged', '--out', staged]);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    const enforcing = files(plain);
    assert.deepEqual(
      files(staged),
      enforcing.filter((f) => !f.endsWith('.cilium.yaml')),
    );
    assert.match(r.stderr, /\[staged\]\n/);
    for (const f of enforcing.filter((f) => f.endsWith('.cilium.yaml')))
      assert.ok(r.stderr.includes(`${f}: not written: Cilium has no policy-level staged form`), f);
    const np = readFileSync(join(staged, 'shop/frontend.networkpolicy.yaml'), 'utf8');
    assert.match(np, /^# staged by flowwright: this document does not enforce/);
    assert.match(np, /^apiVersion: projectcalico.org\/v3\nkind: StagedKubernetesNetworkPolicy$/m);
    const ap = readFileSync(join(staged, 'shop/frontend.authorizationpolicy.yaml'), 'utf8');
    assert.match(ap, /^ {4}istio.io\/dry-run: "true"$/m);
    // Nothing in the staged directory enforces when verify reads it as the cluster would.
    const v = flowwright(['verify', '--db', db, '--policies', staged, '--format', 'json']);
    assert.equal(v.code, EXIT_CODES.ok, v.stderr);
    assert.deepEqual(JSON.parse(v.stdout).policies, { networkPolicies: 0, authorizationPolicies: 0 });
    assert.match(v.stderr, /AuthorizationPolicy \(dry-run\) \d+/);
  });
});
