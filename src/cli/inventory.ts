// What every command shares about the cluster inventory: reading an --inventory file or directory, storing
// it (ingest), and the inventory a read-only command works with (the stored one plus the one given).
import { existsSync } from 'node:fs';
import { readInventoryPath } from '../cluster/index.js';
import { type ClusterInventory, type InventoryIndex, indexInventory } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { formatCount } from './progress.js';

export const INVENTORY_HELP =
  'kubectl get namespaces,pods,services,endpointslices -A -o json (a List), or a directory of such files: ' +
  'owners, labels, service accounts, pod IPs over time, Services (ingest stores it for later commands)';

function describeRead(path: string, objects: number, files: number, ignored: Record<string, number>): string {
  const other = Object.entries(ignored)
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([k, n]) => `${k} ${n}`);
  return (
    `inventory: ${formatCount(objects)} objects from ${path}${files > 1 ? ` (${files} files)` : ''}` +
    (other.length ? `; other kinds left out: ${other.join(', ')}` : '')
  );
}

/** Reads an --inventory path and stores it (ingest): later commands use it without being given it again. */
export function loadInventoryInto(store: Store, path: string): void {
  const read = readInventoryPath(path);
  store.applyInventory(read.objects, Date.now());
  process.stderr.write(`${describeRead(path, read.objects.length, read.files.length, read.ignored)}\n`);
}

/**
 * The inventory a command that does not write works with: what ingest stored in the database (when it
 * exists) and the --inventory path given now (read, not stored).
 */
export function commandInventory(db: string, path: string | undefined): InventoryIndex {
  const inv: ClusterInventory = { objects: [] };
  if (existsSync(db)) {
    const store = openStore(db, { readonly: true });
    try {
      inv.objects.push(...store.loadInventory().objects);
    } finally {
      store.close();
    }
  }
  if (path !== undefined) {
    const read = readInventoryPath(path);
    inv.objects.push(...read.objects);
    process.stderr.write(`${describeRead(path, read.objects.length, read.files.length, read.ignored)}\n`);
  }
  return indexInventory(inv);
}
