// Opening the database file and bringing its schema up to date. Migrations are the numbered files in
// <repo>/migrations (001_initial.sql, 002_...), applied in order; PRAGMA user_version records the last
// one applied and is set inside that migration's transaction, so a failed migration leaves no trace.
// A file is only written once it is known to be flowwright's (PRAGMA application_id, or an empty file),
// and a read-only open works on a file the user can only read.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { FlowwrightError } from '../model/index.js';

export type Db = Database.Database;

export interface Migration {
  version: number;
  /** The file name, for messages. */
  name: string;
  sql: string;
}

export interface OpenOptions {
  /** Open without writing: no file is created and no migration applied. */
  readonly?: boolean;
  /** Where the migration files are; defaults to the repository's `migrations/`. */
  migrationsDir?: string;
  /** How long to wait for another process's write lock before failing (ms). */
  busyTimeoutMs?: number;
}

/** A store failure whose message names the database file, so the one-line CLI error is actionable. */
export function storeError(path: string, what: string, cause?: unknown): FlowwrightError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new FlowwrightError('store', `${path}: ${what}${detail}`, undefined, { cause });
}

/**
 * The repository's migrations folder. This module runs as src/store/open.ts (tsx) or as
 * dist/src/store/open.js (after tsc), so the folder is two or three levels up.
 */
export function defaultMigrationsDir(): string {
  for (const up of ['../../migrations', '../../../migrations']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(dir)) return dir;
  }
  throw new FlowwrightError('internal', `migrations folder not found near ${fileURLToPath(import.meta.url)}`);
}

/** Reads `NNN_name.sql` files; their numbers must run 1, 2, 3... without gaps. */
export function loadMigrations(dir: string): Migration[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.sql'));
  } catch (err) {
    throw storeError(dir, 'cannot read the migrations folder', err);
  }
  const migrations = names.map((name) => {
    const number = name.slice(0, name.indexOf('_'));
    const version = /^\d+$/.test(number) ? Number(number) : Number.NaN;
    if (!Number.isInteger(version)) throw storeError(join(dir, name), 'migration file names must start with NNN_');
    return { version, name, sql: readFileSync(join(dir, name), 'utf8') };
  });
  migrations.sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw storeError(join(dir, m.name), `expected migration number ${i + 1}`);
  });
  return migrations;
}

export function userVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** `PRAGMA application_id` of flowwright's databases: "FlWr". */
export const APPLICATION_ID = 0x466c5772;

/**
 * Refuses a database some other program made, before anything is written into it. Flowwright's files
 * carry APPLICATION_ID; files made before it was stamped are recognized by their tables. A file with
 * no schema at all (new or empty) is free to use.
 */
function checkOwnership(db: Db, path: string): 'new' | 'ours' | 'unstamped' {
  const id = db.pragma('application_id', { simple: true }) as number;
  if (id === APPLICATION_ID) return 'ours';
  const objects = db.prepare('SELECT type, name FROM sqlite_master ORDER BY name').all() as {
    type: string;
    name: string;
  }[];
  const tables = objects.filter((o) => o.type === 'table').map((o) => o.name);
  if (id === 0 && objects.length === 0 && userVersion(db) === 0) return 'new';
  if (id === 0 && userVersion(db) > 0 && ['checkpoints', 'edges', 'peers'].every((t) => tables.includes(t)))
    return 'unstamped';
  const holds =
    id !== 0
      ? `its application_id is ${id}`
      : tables.length > 0
        ? `it holds the tables ${tables.length > 5 ? `${tables.slice(0, 5).join(', ')}, ...` : tables.join(', ')}`
        : `it has schema version ${userVersion(db)} and none of flowwright's tables`;
  throw storeError(path, `not a flowwright database (${holds}); flowwright does not write into it (pass another --db)`);
}

/**
 * Opens an existing file for reading. SQLite needs a `-shm` file beside a database in WAL mode; when
 * the user cannot create one (a read-only directory) and no writer has left a write-ahead log, the
 * file is read into memory instead, where WAL does not apply (header bytes 18-19 say so).
 */
function openReadonly(path: string): Db {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    userVersion(db);
    return db;
  } catch (err) {
    db.close();
    const code = (err as { code?: string }).code ?? '';
    if (!code.startsWith('SQLITE_READONLY') && !code.startsWith('SQLITE_CANTOPEN')) throw err;
    let walBytes = 0;
    try {
      walBytes = statSync(`${path}-wal`).size;
    } catch {
      // no write-ahead log: the file holds everything
    }
    if (walBytes > 0)
      throw storeError(
        path,
        `cannot read it: its write-ahead log (${path}-wal) needs a ${path}-shm file this user cannot create; ` +
          'open it once with write access (any flowwright command that writes), or read it as its owner',
      );
    const image = readFileSync(path);
    if (image.length >= 20 && image[18] === 2 && image[19] === 2) {
      image[18] = 1;
      image[19] = 1;
    }
    return new Database(image, { readonly: true });
  }
}

/** Opens (creating unless readonly) and migrates; any failure closes the handle and names the file. */
export function openDatabase(path: string, opts: OpenOptions = {}): Db {
  const readonly = opts.readonly ?? false;
  if (readonly && path !== ':memory:' && !existsSync(path))
    throw storeError(path, 'no database here (ingest flows first, or pass --db / FLOWWRIGHT_DB)');
  const migrations = loadMigrations(opts.migrationsDir ?? defaultMigrationsDir());

  let db: Db;
  try {
    db = readonly && path !== ':memory:' ? openReadonly(path) : new Database(path);
  } catch (err) {
    if (err instanceof FlowwrightError) throw err;
    throw storeError(path, 'cannot open the database', err);
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs ?? 5000))}`);
    // Reading the schema version is the first real read: a file that is not SQLite fails here.
    const current = userVersion(db);
    const ownership = checkOwnership(db, path);
    const latest = migrations.length;
    if (current > latest)
      throw storeError(
        path,
        `the database is at schema version ${current}, newer than this flowwright knows (${latest}); upgrade flowwright`,
      );
    if (readonly) {
      if (current < latest)
        throw storeError(
          path,
          current === 0
            ? 'not a flowwright database (no schema)'
            : `the database is at schema version ${current} and needs migrating to ${latest}; run flowwright ingest once`,
        );
    } else {
      // WAL lets readers (graph, propose, the service's web page) run while an ingest writes.
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      migrate(db, path, migrations);
      if (ownership !== 'ours') db.pragma(`application_id = ${APPLICATION_ID}`);
    }
    db.pragma('foreign_keys = ON');
    return db;
  } catch (err) {
    db.close();
    if (err instanceof FlowwrightError) throw err;
    throw storeError(path, 'cannot use the database', err);
  }
}

function migrate(db: Db, path: string, migrations: Migration[]): void {
  for (const m of migrations) {
    if (m.version <= userVersion(db)) continue;
    const apply = db.transaction(() => {
      // Another process may have migrated while we waited for the write lock.
      if (m.version <= userVersion(db)) return;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    });
    try {
      apply.immediate();
    } catch (err) {
      throw storeError(path, `migration ${m.name} failed`, err);
    }
  }
}
