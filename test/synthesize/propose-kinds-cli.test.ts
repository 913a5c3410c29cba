// `flowwright propose --kinds ...` and `flowwright consistency` as users run them: real processes, a real
// database learned from generated traffic with HTTP records, files written under --out.
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
  // Settings of the machine running the tests must not leak in.
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
  dir = mkdtempSync(join(tmpdir(), 'flowwright-kinds-cli-'));
  db = join(dir, 'shop.db');
  const input = join(dir, 'shop.jsonl');
  const lines = hubbleLines(shopScenario(), {
    flows: 6_000,
    seed: 9,
    startMs: Date.parse('2024-06-03T00:00:00Z'),
    spanMs: 6 * 3600_000,
    l7: true,
  });
  writeFileSync(input, `${[...lines].join('\n')}\n`);
  const r = flowwright(['ingest', input, '--db', db]);
  assert.equal(r.code, EXIT_CODES.ok, r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('flowwright propose --kinds', () => {
  it('writes each kind in files of its own and checks NetworkPolicy against AuthorizationPolicy', () => {
    const out = join(dir, 'all');
    const r = flowwright([
      'propose',
      '--db',
      db,
      '--out',
      out,
      '--kinds',
      'networkpolicy,authorizationpolicy,cilium,calico,tenant-baseline',
      '--tenant-label',
      'team',
      '--istio-strict-mtls',
    ]);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    const written = files(out);
    for (const suffix of ['.networkpolicy.yaml', '.authorizationpolicy.yaml', '.cilium.yaml', '.calico.yaml'])
      assert.ok(written.includes(`shop/frontend${suffix}`), `${suffix} missing:\n${written.join('\n')}`);
    assert.ok(written.includes('shop/peer-authentication.peerauthentication.yaml'));
    assert.ok(written.includes('tenant-baseline.calico.yaml'));
    assert.ok(written.includes('tenant-baseline.adminnetworkpolicy.yaml'));
    assert.equal(
      written.some((f) => f.includes('allow-nothing')),
      false,
      'allow-nothing is opt-in',
    );
    for (const kind of ['networkpolicy', 'authorizationpolicy', 'cilium', 'calico', 'tenant-baseline'])
      assert.match(r.stderr, new RegExp(`\\[${kind}\\]\\nProposed`));
    assert.match(r.stderr, /Consistency: [\d,]+ connections to \d+ destinations compared, 0 inconsistent/);
    const ap = readFileSync(join(out, 'shop/frontend.authorizationpolicy.yaml'), 'utf8');
    assert.match(ap, /cluster\.local\/ns\/shop\/sa\/default/);
    assert.match(ap, /\/product\/\{\*\}/);
  });

  it('is deterministic, and the default stays NetworkPolicy only', () => {
    const a = flowwright([
      'propose',
      '--db',
      db,
      '--kinds',
      'authorizationpolicy,cilium',
      '--trust-domain',
      'corp.example',
    ]);
    const b = flowwright([
      'propose',
      '--db',
      db,
      '--kinds',
      'cilium,authorizationpolicy',
      '--trust-domain',
      'corp.example',
    ]);
    assert.equal(a.code, EXIT_CODES.ok, a.stderr);
    assert.equal(a.stdout, b.stdout);
    assert.match(a.stdout, /corp\.example\/ns\/shop\/sa\/frontend/);
    assert.doesNotMatch(a.stdout, /kind: NetworkPolicy/);
    const plain = flowwright(['propose', '--db', db]);
    assert.match(plain.stdout, /kind: NetworkPolicy/);
    assert.doesNotMatch(plain.stdout, /AuthorizationPolicy|CiliumNetworkPolicy/);
  });

  it('--l7 methods leaves paths out; bad values are usage errors naming the flag', () => {
    const r = flowwright(['propose', '--db', db, '--kinds', 'authorizationpolicy', '--l7', 'methods']);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.match(r.stdout, /methods:/);
    assert.doesNotMatch(r.stdout, /paths:/);
    const badKind = flowwright(['propose', '--db', db, '--kinds', 'networkpolicy,istio']);
    assert.equal(badKind.code, EXIT_CODES.usage);
    assert.match(badKind.stderr, /--kinds: unknown kind 'istio'/);
    const badL7 = flowwright(['propose', '--db', db, '--l7', 'headers']);
    assert.equal(badL7.code, EXIT_CODES.usage);
    assert.match(badL7.stderr, /--l7: expected off, methods or paths/);
  });
});

describe('flowwright consistency', () => {
  it('finds a proposal consistent, and an edited set inconsistent with both sides shown (exit 1)', () => {
    const out = join(dir, 'pair');
    assert.equal(
      flowwright(['propose', '--db', db, '--out', out, '--kinds', 'networkpolicy,authorizationpolicy']).code,
      0,
    );
    const ok = flowwright(['consistency', out, '--db', db]);
    assert.equal(ok.code, EXIT_CODES.ok, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /0 inconsistent/);
    // The layer 3/4 team drops cartservice's ingress; the Istio side still lets frontend in.
    const cart = join(out, 'shop/cartservice.networkpolicy.yaml');
    const text = readFileSync(cart, 'utf8');
    writeFileSync(cart, text.replace(/\n {2}ingress:\n(?: {4}.*\n)+/, '\n  ingress: []\n'));
    const bad = flowwright(['consistency', out, '--db', db]);
    assert.equal(bad.code, EXIT_CODES.finding, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /shop\/Deployment\/frontend -> shop\/Deployment\/cartservice TCP\/7070:/);
    assert.match(bad.stdout, /NetworkPolicy: +denies/);
    assert.match(bad.stdout, /AuthorizationPolicy: allows \(an ALLOW policy matches: shop\/flowwright-cartservice/);
    const json = JSON.parse(flowwright(['consistency', out, '--db', db, '--json']).stdout);
    assert.ok(json.findings.length >= 2);
  });
});
