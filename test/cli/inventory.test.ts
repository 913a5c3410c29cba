// `--inventory` on the command line: ingest reads and stores it, so flows ingested later (and the review
// commands) resolve names and addresses through it without being given it again; a file of the wrong
// shape stops the command with the bad-input exit code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { EXIT_CODES } from '../../src/model/index.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const FIXTURES = join(ROOT, 'test/cluster/fixtures');
const dir = mkdtempSync(join(tmpdir(), 'flowwright-cli-inventory-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function flowwright(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, FLOWWRIGHT_DB: '', NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface GraphJson {
  edges: { src: string; dst: string; protocol: string; port: number; services: string[] }[];
}

function edges(db: string): string[] {
  const r = flowwright(['graph', '--db', db, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as GraphJson).edges.map((e) => `${e.src} > ${e.dst} ${e.protocol}/${e.port}`);
}

describe('--inventory', () => {
  const db = join(dir, 'graph.db');

  it('ingest resolves pods without labels, bare addresses and Service addresses through it', () => {
    const r = flowwright([
      'ingest',
      '--db',
      db,
      '--inventory',
      join(FIXTURES, 'inventory.json'),
      join(FIXTURES, 'flows.jsonl'),
    ]);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.match(r.stderr, /inventory: 9 objects from .*inventory\.json; other kinds left out: ConfigMap 1/);
    // The web pod came as reserved:world, db-0 as a bare address, and the Service address on its port 80
    // is the web pod's port 8080 (post-DNAT).
    assert.deepEqual(edges(db), [
      'shop/Deployment/web > shop/StatefulSet/db TCP/5432',
      'shop/StatefulSet/db > shop/Deployment/web TCP/8080',
    ]);
  });

  it('is stored: a later ingest without it still resolves addresses', () => {
    const later = join(dir, 'later.jsonl');
    writeFileSync(
      later,
      `${JSON.stringify({
        time: '2024-06-03T11:00:00Z',
        verdict: 1,
        IP: { source: '10.0.1.7', destination: '10.96.0.20', ipVersion: 1 },
        l4: { TCP: { source_port: 40100, destination_port: 5432 } },
        source: { identity: 2, labels: ['reserved:world'] },
        destination: { identity: 2, labels: ['reserved:world'] },
        traffic_direction: 2,
        is_reply: false,
      })}\n`,
    );
    const r = flowwright(['ingest', '--db', db, later]);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.ok(edges(db).includes('shop/CronJob/report > shop/StatefulSet/db TCP/5432'), edges(db).join('\n'));
  });

  it('explain finds pods in the stored inventory', () => {
    const policy = join(dir, 'deny.yaml');
    writeFileSync(
      policy,
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db, namespace: shop}\n' +
        'spec: {podSelector: {matchLabels: {app: db}}, policyTypes: [Ingress]}\n',
    );
    const r = flowwright([
      'explain',
      '--db',
      db,
      '--policies',
      policy,
      'shop/report-28644120-q8m2z',
      'shop/db-0:5432',
      '--exit-code',
    ]);
    assert.equal(r.code, EXIT_CODES.finding, r.stderr);
    assert.match(r.stdout, /db/);
  });

  it('refuses an inventory of the wrong shape with the bad-input exit code', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ kind: 'List', items: [{ kind: 'Pod', metadata: { name: 'x' } }] }));
    const r = flowwright(['ingest', '--db', join(dir, 'other.db'), '--inventory', bad, join(FIXTURES, 'flows.jsonl')]);
    assert.equal(r.code, EXIT_CODES.input);
    assert.match(r.stderr, /bad\.json: items\[0\]\.metadata\.namespace: missing/);
    const notList = join(dir, 'array.json');
    writeFileSync(notList, '[]');
    const v = flowwright(['verify', '--db', db, '--policies', join(dir, 'deny.yaml'), '--inventory', notList]);
    assert.equal(v.code, EXIT_CODES.input);
    assert.match(v.stderr, /array\.json: not an inventory: expected a kubectl List/);
  });
});
