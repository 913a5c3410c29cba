// The store: one SQLite file (better-sqlite3, WAL) holding the learned graph and how far each source
// has been read. The CLI, the long-running service, the Kafka consumer and the PR bot all use it
// through this surface; only this folder talks SQL.
import {
  type Checkpoint,
  type ClusterInventory,
  type Edge,
  FlowwrightError,
  type Graph,
  type GraphDelta,
  type InventoryKind,
  type Timed,
} from '../model/index.js';
import { createInventoryStore } from './inventory.js';
import { type OpenOptions, openDatabase, storeError } from './open.js';
import { createReader, type TimeWindow } from './read.js';
import { createWriter, type ExpectedCheckpoint } from './write.js';

export type { OpenOptions } from './open.js';
export { APPLICATION_ID, defaultMigrationsDir, loadMigrations } from './open.js';
export type { TimeWindow } from './read.js';
export type { ExpectedCheckpoint } from './write.js';

/** Used when neither --db nor FLOWWRIGHT_DB is given: a file in the working directory. */
export const DEFAULT_DB_PATH = 'flowwright.db';

export interface StoreCounts {
  peers: number;
  workloads: number;
  edges: number;
  pods: number;
  /** Sum of all edges' flow counts (replies excluded). */
  flows: number;
}

export interface Store {
  readonly path: string;
  /**
   * Adds one flush: peers, pods, edges, hourly buckets, L7 detail and checkpoints in ONE transaction.
   * Counts add up across calls, so applying the same delta twice doubles them: callers use checkpoints
   * to avoid re-reading what was stored.
   *
   * A checkpoint this store handle has read (getCheckpoint) or written is only moved if the database
   * still holds the position it had then, checked inside the write's transaction: when another
   * process wrote that source in between, nothing is written and a 'store' error says so. Two writers
   * reading the same file or stream into one database therefore never count it twice.
   */
  applyDelta(delta: GraphDelta): void;
  /**
   * applyDelta, but only when each `expected` checkpoint is still at the given position (undefined: not
   * stored); otherwise writes nothing and returns false. For consumers that share a store with others
   * (Kafka group members): a stale member cannot count a batch its successor already stored.
   */
  applyDeltaIf(delta: GraphDelta, expected: ExpectedCheckpoint[]): boolean;
  getCheckpoint(source: string): Checkpoint | undefined;
  listCheckpoints(): Checkpoint[];
  /**
   * The graph, or the part of it seen in [since, until). With a window, flows and verdicts are summed
   * from the hourly buckets that overlap it (precise to the hour), edges without flows in it are left
   * out, and peers are the ends of the returned edges plus the workloads seen in it.
   */
  loadGraph(window?: TimeWindow): Graph;
  /** Edges whose last flow was before `time` (ms), with their evidence: candidates for removal. */
  edgesUnusedSince(time: number): Edge[];
  counts(): StoreCounts;
  /** Deletes hourly buckets before `hour` (epoch hours); totals on the edges stay. Returns rows removed. */
  pruneHoursBefore(hour: number): number;
  /**
   * The cluster inventory (model/inventory.ts), from --inventory files and the API server: objects are
   * added or updated by (kind, uid) in one transaction; `seenAt` is when they were shown (ms).
   */
  applyInventory(objects: Timed[], seenAt: number): void;
  /** Marks one inventory object deleted at `at` (ms). */
  deleteInventoryObject(kind: InventoryKind, uid: string, at: number): void;
  /** After a complete list of `kind`: its stored objects that are not in `present` (uids) are deleted at `at`. */
  closeMissingInventory(kind: InventoryKind, present: Set<string>, at: number): number;
  /** Every stored inventory object with its interval. */
  loadInventory(): ClusterInventory;
  close(): void;
}

/**
 * Opens the database at `path`, creating it (unless readonly) and applying pending migrations.
 * Missing (readonly), corrupt, locked or unwritable files and schema versions newer than this code
 * fail with FlowwrightError('store') naming the path.
 */
export function openStore(path: string, opts: OpenOptions = {}): Store {
  const db = openDatabase(path, opts);
  try {
    const reader = createReader(db);
    // The position of each source as this handle last saw it: what a write of its checkpoint expects.
    const known = new Map<string, string | undefined>();
    const write = opts.readonly
      ? () => {
          throw storeError(path, 'opened read-only');
        }
      : createWriter(db, path);
    const pruneHours = db.prepare<[number]>('DELETE FROM edge_hours WHERE hour < ?');
    const inventory = createInventoryStore(db);
    const readonlyGuard =
      <A extends unknown[], R>(fn: (...args: A) => R) =>
      (...args: A): R => {
        if (opts.readonly) throw storeError(path, 'opened read-only');
        return fn(...args);
      };
    const prune = db.transaction((hour: number) => {
      db.prepare('DELETE FROM edge_hour_reports WHERE hour < ?').run(hour);
      return pruneHours.run(hour).changes;
    });
    // Reads are wrapped too, so a file that goes bad under us still gives one clear line.
    const guard =
      <A extends unknown[], R>(what: string, fn: (...args: A) => R) =>
      (...args: A): R => {
        try {
          return fn(...args);
        } catch (err) {
          if (err instanceof FlowwrightError) throw err;
          throw storeError(path, what, err);
        }
      };
    const remember = (delta: GraphDelta) => {
      for (const cp of delta.checkpoints) known.set(cp.source, cp.position);
    };
    const getCheckpoint = guard('cannot read checkpoints', reader.getCheckpoint);
    return {
      path,
      applyDelta: (delta) => {
        const expected = delta.checkpoints
          .filter((cp) => known.has(cp.source))
          .map((cp) => ({ source: cp.source, position: known.get(cp.source) }));
        if (!write(delta, expected)) throw movedByAnother(path, delta, expected, getCheckpoint);
        remember(delta);
      },
      applyDeltaIf: (delta, expected) => {
        const ok = write(delta, expected);
        if (ok) remember(delta);
        return ok;
      },
      getCheckpoint: (source) => {
        const cp = getCheckpoint(source);
        known.set(source, cp?.position);
        return cp;
      },
      listCheckpoints: guard('cannot read checkpoints', reader.listCheckpoints),
      loadGraph: guard('cannot read the graph', reader.loadGraph),
      edgesUnusedSince: guard('cannot read the graph', reader.edgesUnusedSince),
      counts: guard('cannot read the graph', reader.counts),
      applyInventory: guard('cannot write the inventory', readonlyGuard(inventory.applyInventory)),
      deleteInventoryObject: guard('cannot write the inventory', readonlyGuard(inventory.deleteInventoryObject)),
      closeMissingInventory: guard('cannot write the inventory', readonlyGuard(inventory.closeMissingInventory)),
      loadInventory: guard('cannot read the inventory', inventory.loadInventory),
      pruneHoursBefore: guard('cannot prune hourly buckets', (hour: number) => prune(hour)),
      close: () => {
        if (db.open) db.close();
      },
    };
  } catch (err) {
    db.close();
    throw storeError(path, 'cannot prepare queries', err);
  }
}

/** The refusal of a write whose source another process moved since this one read it. */
function movedByAnother(
  path: string,
  delta: GraphDelta,
  expected: ExpectedCheckpoint[],
  read: (source: string) => Checkpoint | undefined,
): FlowwrightError {
  const moved = expected.find((e) => read(e.source)?.position !== e.position) ?? expected[0];
  const cp = delta.checkpoints.find((c) => c.source === moved?.source);
  const name = cp?.label ? `${cp.label} (${cp.source})` : (moved?.source ?? 'a source');
  return storeError(
    path,
    `another process is writing ${name} into this database: it moved that source's checkpoint while this ` +
      'one was reading it. Nothing of this write was stored, so nothing is counted twice; run again once ' +
      'the other process is done to continue after what it stored',
  );
}
