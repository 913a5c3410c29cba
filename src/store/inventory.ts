// The cluster inventory's table (migrations/002_inventory.sql): objects by (kind, uid) with the interval
// they existed. A file and the live watch write through the same statements.
import type { ClusterInventory, InventoryKind, InventoryObject, Timed } from '../model/index.js';
import type { Db } from './open.js';

interface ObjectRow {
  data: string;
  valid_from: number;
  valid_until: number | null;
}

function namespaceOf(o: InventoryObject): string {
  return o.kind === 'Namespace' ? '' : o.namespace;
}

export function createInventoryStore(db: Db) {
  const upsert = db.prepare<[string, string, string, string, string, number, number | null, number]>(
    `INSERT INTO inventory_objects (kind, namespace, name, uid, data, valid_from, valid_until, seen_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (kind, uid) DO UPDATE SET
       -- what was shown last wins (labels change); an object deleted once stays deleted
       data = CASE WHEN excluded.seen_at >= seen_at THEN excluded.data ELSE data END,
       valid_from = min(valid_from, excluded.valid_from),
       valid_until = coalesce(valid_until, excluded.valid_until),
       seen_at = max(seen_at, excluded.seen_at)`,
  );
  const close = db.prepare<[number, string, string]>(
    'UPDATE inventory_objects SET valid_until = ? WHERE kind = ? AND uid = ? AND valid_until IS NULL',
  );
  const open = db.prepare<[string], { uid: string }>(
    'SELECT uid FROM inventory_objects WHERE kind = ? AND valid_until IS NULL',
  );
  const all = db.prepare<[], ObjectRow>(
    'SELECT data, valid_from, valid_until FROM inventory_objects ORDER BY kind, namespace, name, valid_from',
  );
  const count = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM inventory_objects');

  const apply = db.transaction((objects: Timed[], seenAt: number) => {
    for (const t of objects) {
      const o = t.object;
      upsert.run(o.kind, namespaceOf(o), o.name, o.uid, JSON.stringify(o), t.from, t.until ?? null, seenAt);
    }
  });
  const closeMissing = db.transaction((kind: InventoryKind, present: Set<string>, at: number) => {
    let closed = 0;
    for (const { uid } of open.all(kind)) if (!present.has(uid)) closed += close.run(at, kind, uid).changes;
    return closed;
  });

  return {
    /** Adds or updates objects in one transaction; `seenAt` is when they were shown (ms). */
    applyInventory(objects: Timed[], seenAt: number): void {
      apply(objects, seenAt);
    },
    /** Marks one object deleted at `at` (a watch DELETED event). */
    deleteInventoryObject(kind: InventoryKind, uid: string, at: number): void {
      close.run(at, kind, uid);
    },
    /** After a full list of `kind`: objects not in it are deleted at `at`. Returns how many. */
    closeMissingInventory(kind: InventoryKind, present: Set<string>, at: number): number {
      return closeMissing(kind, present, at);
    },
    loadInventory(): ClusterInventory {
      return {
        objects: all.all().map((r) => {
          const t: Timed = { object: JSON.parse(r.data) as InventoryObject, from: r.valid_from };
          if (r.valid_until !== null) t.until = r.valid_until;
          return t;
        }),
      };
    },
    inventoryCount(): number {
      return count.get()!.n;
    },
  };
}

export type InventoryStore = ReturnType<typeof createInventoryStore>;
