// The `--inventory` file: `kubectl get namespaces,pods,services,endpointslices -A -o json` (a List; YAML
// works too), or a directory of such files. Anything else is bad input naming the file and field.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { inputError, type Timed } from '../model/index.js';
import { toInventoryObject } from './objects.js';

export const INVENTORY_COMMAND = 'kubectl get namespaces,pods,services,endpointslices -A -o json';

export interface InventoryRead {
  objects: Timed[];
  /** Objects of kinds the inventory does not keep, by kind. */
  ignored: Record<string, number>;
  files: string[];
}

function filesOf(path: string): string[] {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (err) {
    throw inputError(`cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file: path });
  }
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  for (const name of readdirSync(path).sort()) {
    const child = join(path, name);
    if (statSync(child).isDirectory()) out.push(...filesOf(child));
    else if (/\.(json|ya?ml)$/i.test(name)) out.push(child);
  }
  return out;
}

function parseFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw inputError(`cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file });
  }
  try {
    if (/\.ya?ml$/i.test(file)) return parseYaml(text);
    return JSON.parse(text);
  } catch (err) {
    throw inputError(`not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(err as Error).message}`, { file });
  }
}

/** Adds the objects of one parsed document (a List, or one object) to `into`. */
export function addInventoryDocument(doc: unknown, file: string, into: InventoryRead): void {
  const d = doc as Record<string, unknown> | null;
  const kind = typeof d?.kind === 'string' ? d.kind : undefined;
  if (d && typeof d === 'object' && Array.isArray(d.items) && (kind === undefined || kind.endsWith('List'))) {
    const itemKind = kind && kind !== 'List' ? kind.slice(0, -'List'.length) : undefined;
    d.items.forEach((item, i) => {
      const t = toInventoryObject(item, { file }, `items[${i}]`, itemKind);
      if (t) into.objects.push(t);
      else {
        const k = (item as { kind?: string }).kind ?? itemKind ?? 'unknown';
        into.ignored[k] = (into.ignored[k] ?? 0) + 1;
      }
    });
    return;
  }
  if (d && typeof d === 'object' && !Array.isArray(d) && kind && !kind.endsWith('List')) {
    const t = toInventoryObject(d, { file }, 'object');
    if (t) into.objects.push(t);
    else into.ignored[kind] = (into.ignored[kind] ?? 0) + 1;
    return;
  }
  throw inputError(`not an inventory: expected a kubectl List (${INVENTORY_COMMAND})`, { file });
}

/** Reads an inventory file or directory; a directory without inventory files is an error too. */
export function readInventoryPath(path: string): InventoryRead {
  const files = filesOf(path);
  if (files.length === 0) throw inputError(`no .json or .yaml inventory files in this directory`, { file: path });
  const into: InventoryRead = { objects: [], ignored: {}, files };
  for (const file of files) addInventoryDocument(parseFile(file), file, into);
  return into;
}
