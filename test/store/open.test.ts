import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { FlowwrightError } from '../../src/model/index.js';
import { APPLICATION_ID, defaultMigrationsDir, openStore } from '../../src/store/index.js';
import { api, delta, edge, sighting, T0, tempDir, web } from './helpers.js';

const HOUR0 = T0 / 3_600_000;

function pragma(path: string, name: string): unknown {
  const raw = new Database(path, { readonly: true });
  try {
    return raw.pragma(name, { simple: true });
  } finally {
    raw.close();
  }
}

/** Copies the repository's migrations into `dir`; returns how many (the schema version they reach). */
function copyMigrations(dir: string): number {
  const names = readdirSync(defaultMigrationsDir()).filter((n) => n.endsWith('.sql'));
  for (const name of names) copyFileSync(join(defaultMigrationsDir(), name), join(dir, name));
  return names.length;
}

/** `NNN_name.sql` for migration number `n`. */
const migrationFile = (n: number, name: string) => `${String(n).padStart(3, '0')}_${name}.sql`;

function isStoreError(path: string, fragment: string) {
  return (err: unknown) => {
    assert.ok(err instanceof FlowwrightError, `expected FlowwrightError, got ${String(err)}`);
    assert.equal(err.code, 'store');
    assert.ok(err.message.includes(path), `message names the file: ${err.message}`);
    assert.ok(err.message.includes(fragment), `message mentions "${fragment}": ${err.message}`);
    return true;
  };
}

test('a fresh file gets every migration, WAL, and user_version = number of migration files', (t) => {
  const path = join(tempDir(t), 'fresh.db');
  const store = openStore(path);
  store.close();
  const files = readdirSync(defaultMigrationsDir()).filter((n) => n.endsWith('.sql'));
  assert.ok(files.length >= 1);
  assert.equal(pragma(path, 'user_version'), files.length);
  assert.equal(pragma(path, 'journal_mode'), 'wal');
});

test('reopening is idempotent and keeps the data', (t) => {
  const path = join(tempDir(t), 'again.db');
  const first = openStore(path);
  first.applyDelta(
    delta({
      peers: [sighting(web, T0), sighting(api, T0)],
      edges: [edge(web, api, 8080, [{ hour: HOUR0, flows: 3 }])],
    }),
  );
  first.close();
  const version = pragma(path, 'user_version');
  const second = openStore(path);
  assert.equal(second.counts().edges, 1);
  assert.equal(second.counts().flows, 3);
  second.close();
  assert.equal(pragma(path, 'user_version'), version);
});

test('a failing migration leaves user_version and the schema unchanged', (t) => {
  const dir = tempDir(t);
  const migrations = join(dir, 'migrations');
  mkdirSync(migrations);
  const current = copyMigrations(migrations);
  const path = join(dir, 'db.sqlite');
  openStore(path, { migrationsDir: migrations }).close();
  assert.equal(pragma(path, 'user_version'), current);

  // The first statement succeeds, the second fails: the whole migration must roll back.
  const broken = migrationFile(current + 1, 'broken');
  writeFileSync(
    join(migrations, broken),
    'CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n',
  );
  assert.throws(() => openStore(path, { migrationsDir: migrations }), isStoreError(path, broken));
  assert.equal(pragma(path, 'user_version'), current);
  const raw = new Database(path, { readonly: true });
  const tables = raw.prepare("SELECT name FROM sqlite_master WHERE name = 'half_done'").all();
  raw.close();
  assert.deepEqual(tables, []);

  // Fixed, it applies on the next open.
  writeFileSync(join(migrations, broken), 'CREATE TABLE half_done (x INTEGER);\n');
  openStore(path, { migrationsDir: migrations }).close();
  assert.equal(pragma(path, 'user_version'), current + 1);
});

test('migration numbers must run without gaps', (t) => {
  const dir = tempDir(t);
  copyFileSync(join(defaultMigrationsDir(), '001_initial.sql'), join(dir, '001_initial.sql'));
  writeFileSync(join(dir, '003_later.sql'), 'SELECT 1;');
  assert.throws(() => openStore(join(dir, 'x.db'), { migrationsDir: dir }), isStoreError('003_later.sql', 'expected'));
});

test('a database newer than the code is refused clearly', (t) => {
  const path = join(tempDir(t), 'newer.db');
  openStore(path).close();
  const raw = new Database(path);
  raw.pragma('user_version = 99');
  raw.close();
  assert.throws(() => openStore(path), isStoreError(path, 'newer than this flowwright'));
  assert.throws(() => openStore(path, { readonly: true }), isStoreError(path, 'newer than this flowwright'));
});

test('readonly open of a missing file errors and creates nothing', (t) => {
  const path = join(tempDir(t), 'missing.db');
  assert.throws(() => openStore(path, { readonly: true }), isStoreError(path, 'no database here'));
  assert.equal(existsSync(path), false);
});

test('a readonly store reads but refuses to write', (t) => {
  const path = join(tempDir(t), 'ro.db');
  const rw = openStore(path);
  rw.applyDelta(delta({ peers: [sighting(web, T0)], checkpoints: [{ source: 'file:abc', position: '10' }] }));
  rw.close();
  const ro = openStore(path, { readonly: true });
  t.after(() => ro.close());
  assert.deepEqual(ro.getCheckpoint('file:abc'), { source: 'file:abc', position: '10' });
  assert.throws(() => ro.applyDelta(delta({})), isStoreError(path, 'read-only'));
});

test('a file that is not a database errors with its path', (t) => {
  const path = join(tempDir(t), 'garbage.db');
  writeFileSync(path, 'this is not sqlite, just text that is long enough to look like a header block'.repeat(20));
  assert.throws(() => openStore(path), isStoreError(path, 'not a database'));
  assert.throws(() => openStore(path, { readonly: true }), isStoreError(path, 'not a database'));
});

test('a directory that does not exist errors with the path', (t) => {
  const path = join(tempDir(t), 'no', 'such', 'dir', 'x.db');
  assert.throws(() => openStore(path), isStoreError(path, 'cannot open'));
});

test('a write lock held by another connection fails after busy_timeout with a store error', (t) => {
  const path = join(tempDir(t), 'locked.db');
  openStore(path).close();
  const other = new Database(path);
  other.exec('BEGIN IMMEDIATE');
  t.after(() => {
    other.exec('ROLLBACK');
    other.close();
  });
  const store = openStore(path, { busyTimeoutMs: 50 });
  t.after(() => store.close());
  assert.throws(() => store.applyDelta(delta({ peers: [sighting(web, T0)] })), isStoreError(path, 'locked'));
});

test('readonly refuses a file without the schema, and one that still needs migrating', (t) => {
  const dir = tempDir(t);
  const empty = join(dir, 'empty.db');
  new Database(empty).close();
  assert.throws(() => openStore(empty, { readonly: true }), isStoreError(empty, 'not a flowwright database'));

  const migrations = join(dir, 'migrations');
  mkdirSync(migrations);
  const current = copyMigrations(migrations);
  const old = join(dir, 'old.db');
  openStore(old, { migrationsDir: migrations }).close();
  writeFileSync(join(migrations, migrationFile(current + 1, 'more')), 'CREATE TABLE more (x INTEGER);\n');
  assert.throws(
    () => openStore(old, { readonly: true, migrationsDir: migrations }),
    isStoreError(old, `needs migrating to ${current + 1}`),
  );
  assert.equal(pragma(old, 'user_version'), current);
});

test('a database another program made is refused before anything is written into it', (t) => {
  const dir = tempDir(t);
  const theirs = join(dir, 'theirs.db');
  const raw = new Database(theirs);
  raw.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada')");
  raw.close();
  const bytes = readFileSync(theirs);
  for (const readonly of [false, true])
    assert.throws(() => openStore(theirs, { readonly }), isStoreError(theirs, 'not a flowwright database'));
  assert.throws(() => openStore(theirs), /it holds the tables users.*does not write into it/);
  assert.deepEqual(readFileSync(theirs), bytes, 'not a byte changed (no migration, no WAL switch)');
  assert.equal(existsSync(`${theirs}-wal`), false);

  // Another program's application_id, even with no tables yet, or a schema version and none of our tables.
  const other = join(dir, 'other.db');
  const o = new Database(other);
  o.pragma('application_id = 1234');
  o.close();
  assert.throws(() => openStore(other), /application_id is 1234/);
  const versioned = join(dir, 'versioned.db');
  const v = new Database(versioned);
  v.pragma('user_version = 3');
  v.close();
  assert.throws(() => openStore(versioned), /schema version 3 and none of flowwright's tables/);
});

test("flowwright's own databases are stamped with its application_id, older ones on their next open", (t) => {
  const path = join(tempDir(t), 'ours.db');
  openStore(path).close();
  assert.equal(pragma(path, 'application_id'), APPLICATION_ID);
  // A file from before the stamp: recognized by its tables, stamped, and its data kept.
  const s = openStore(path);
  s.applyDelta(delta({ peers: [sighting(web, T0)] }));
  s.close();
  const raw = new Database(path);
  raw.pragma('application_id = 0');
  raw.close();
  const again = openStore(path);
  assert.equal(again.counts().peers, 1);
  again.close();
  assert.equal(pragma(path, 'application_id'), APPLICATION_ID);
  const ro = openStore(path, { readonly: true });
  assert.equal(ro.counts().peers, 1);
  ro.close();
});
