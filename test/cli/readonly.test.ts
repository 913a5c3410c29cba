// Read-only use of a database the user can only read: `graph`, `propose` and `serve` (without sources)
// on a file in a directory the user may not write. The commands run as another user when the tests run
// as root (root ignores file modes), else the file and its directory are made read-only.
import assert from 'node:assert/strict';
import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runIngest } from '../../src/cli/ingest.js';
import { EXIT_CODES } from '../../src/model/index.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const SAMPLE = join(ROOT, 'samples/shop-hubble.jsonl.gz');
const TSX = import.meta.resolve('tsx');
const NOBODY = 65_534;
const asRoot = process.getuid?.() === 0;

let dir: string;
let db: string;
let bytes: Buffer;

function options(): SpawnOptions {
  const { FLOWWRIGHT_DB: _ignored, ...env } = process.env;
  return {
    cwd: dir,
    env: { ...env, NO_COLOR: '1', HOME: dir },
    ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  };
}

function flowwright(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), ...args], {
    ...options(),
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowwright-readonly-'));
  db = join(dir, 'shop.db');
  await runIngest({ inputs: [SAMPLE], db, progress: false });
  writeFileSync(join(dir, 'flowwright.yaml'), `db: ${db}\nlisten: 127.0.0.1:0\n`);
  bytes = readFileSync(db);
  chmodSync(db, 0o444);
  chmodSync(dir, 0o555);
});
after(() => {
  chmodSync(dir, 0o755);
  rmSync(dir, { recursive: true, force: true });
});

describe('a database the user can only read', () => {
  it('can not be written by this user (the premise of the tests)', () => {
    const r = spawnSync(process.execPath, ['-e', `require('fs').appendFileSync(${JSON.stringify(db)}, 'x')`], {
      ...options(),
      encoding: 'utf8',
    });
    assert.notEqual(r.status, 0, 'the test user can write the database: the tests below would prove nothing');
  });

  it('graph reads it', () => {
    const r = flowwright(['graph', '--db', db]);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.match(r.stdout, /shop\/frontend/);
    assert.equal(r.stdout.trim().split('\n').length, 49, 'a header and the 48 edges');
  });

  it('propose reads it', () => {
    const r = flowwright(['propose', '--db', db]);
    assert.equal(r.code, EXIT_CODES.ok, r.stderr);
    assert.match(r.stdout, /kind: NetworkPolicy/);
  });

  it('serve without sources opens it read-only and answers', async () => {
    const child = spawn(
      process.execPath,
      ['--import', TSX, join(ROOT, 'src/cli/main.ts'), 'serve', '--config', 'flowwright.yaml'],
      { ...options(), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let log = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (d) => {
        log += d;
        const m = /"msg":"serving".*?"url":"([^"]+)"/.exec(log);
        if (m) resolve(m[1]!);
      });
      void exit.then((code) => reject(new Error(`serve exited ${code}: ${log}`)));
    });
    try {
      const res = await fetch(`${url}/api/v1/graph`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { edges: unknown[] };
      assert.equal(body.edges.length, 48);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exit, 0, log);
    assert.doesNotMatch(log, /"level":"error"/);
  });

  it('is left exactly as it was, with no file created beside it', () => {
    assert.deepEqual(readFileSync(db), bytes);
    assert.deepEqual(readdirSync(dir).sort(), ['flowwright.yaml', 'shop.db']);
    assert.equal(existsSync(`${db}-wal`), false);
  });
});
