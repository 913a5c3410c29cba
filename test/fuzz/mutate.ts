// Random and mutated inputs for the parser properties (test/fuzz/*.test.ts). A mutated record starts from a
// real one (a fixture, a sample line) and has a few of its values deleted, replaced by random JSON or by
// hostile text (path traversal, terminal escapes, markup, wildcards, over-long names, NUL), so the parser
// is driven past its first type check into the code that reads deeper fields.
import fc from 'fast-check';

/**
 * Cases per property: a bounded number in `npm test`, more under `npm run fuzz` (FLOWWRIGHT_FUZZ_RUNS).
 * FLOWWRIGHT_FUZZ_SEED replays a failure that fast-check reported.
 */
export function fuzzParams(defaultRuns = 150): fc.Parameters<unknown> {
  const runs = Number(process.env.FLOWWRIGHT_FUZZ_RUNS ?? defaultRuns);
  const seed = process.env.FLOWWRIGHT_FUZZ_SEED;
  return { numRuns: runs, includeErrorInReport: true, ...(seed !== undefined ? { seed: Number(seed) } : {}) };
}

/** Text that has broken or subverted tools that print or write names. */
export const HOSTILE_TEXT = [
  '../../x',
  '../../../../tmp/PWNED',
  'a\nb',
  '\u001b]0;retitled\u0007',
  '\u001b[2J',
  '\u0000',
  '<img src=x onerror=alert(1)>',
  '*',
  '.*',
  '/*',
  '',
  ' ',
  'x'.repeat(300),
  '\u202e',
  '\ud800',
  '-1',
  '1e309',
  'NaN',
  '0.0.0.0/0',
  '::/0',
  'reserved:world',
  'k8s:io.kubernetes.pod.namespace=../x',
];

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HOSTILE_TEXT),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ maxLength: 20 }),
);

/** Any JSON value, small, with hostile strings among the leaves. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: hostileString },
  {
    weight: 1,
    arbitrary: fc.constantFrom(-1, 0, 65536, 2 ** 53, Number.MAX_SAFE_INTEGER, 1.5, true, null, [], {}, [[[[[]]]]], {
      a: { b: { c: {} } },
    }),
  },
);

type Path = (string | number)[];

/** Every path to a value inside `v` (objects' keys and arrays' indexes), the root included. */
function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) for (const [i, x] of v.entries()) paths(x, [...at, i], out);
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) paths(x, [...at, k], out);
  return out;
}

export interface Mutation {
  /** Which path (modulo the number of paths). */
  pick: number;
  action: 'delete' | 'replace' | 'stringify' | 'wrap' | 'add-key';
  value: unknown;
  key: string;
}

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  pick: fc.nat(),
  action: fc.constantFrom('delete', 'replace', 'replace', 'stringify', 'wrap', 'add-key'),
  value: anyJson,
  key: fc.oneof(
    fc.constantFrom('flow', 'source', 'destination', 'l4', 'l7', 'labels', 'items', '__proto__'),
    hostileString,
  ),
});

/** `seed` with the mutations applied (a copy; the seed is not changed). */
export function applyMutations(seed: unknown, mutations: Mutation[]): unknown {
  let root = structuredClone(seed);
  for (const m of mutations) {
    const all = paths(root);
    const path = all[m.pick % all.length];
    const old = get(root, path);
    let next: unknown;
    switch (m.action) {
      case 'delete':
        next = undefined;
        break;
      case 'replace':
        next = structuredClone(m.value); // a copy: fast-check may hand the same value to two mutations
        break;
      case 'stringify':
        next =
          typeof old === 'string'
            ? Number(old) || `${old}${JSON.stringify(m.value) ?? ''}`
            : JSON.stringify(old ?? null);
        break;
      case 'wrap':
        next = [old];
        break;
      case 'add-key':
        next =
          old !== null && typeof old === 'object' && !Array.isArray(old)
            ? Object.defineProperty({ ...(old as object) }, m.key, {
                value: structuredClone(m.value),
                enumerable: true,
                writable: true,
                configurable: true,
              })
            : old;
        break;
    }
    root = set(root, path, next);
  }
  return root;
}

function get(v: unknown, path: Path): unknown {
  let at = v;
  for (const p of path) at = (at as Record<string | number, unknown>)[p];
  return at;
}

function set(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const parent = get(root, path.slice(0, -1)) as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else parent[last] = value;
  return root;
}

/** A record from `seeds` with up to `max` mutations. */
export function mutatedRecord(seeds: unknown[], max = 4): fc.Arbitrary<unknown> {
  return fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: max }))
    .map(([i, ms]) => applyMutations(seeds[i], ms));
}

/** Text lines: mutated records printed as JSON, with some lines cut short, mangled or replaced by noise. */
export function mutatedText(seeds: unknown[]): fc.Arbitrary<string> {
  return fc
    .tuple(
      mutatedRecord(seeds),
      fc.nat({ max: 200 }),
      fc.constantFrom('keep', 'truncate', 'noise', 'insert'),
      hostileString,
    )
    .map(([record, cut, how, noise]) => {
      const text = JSON.stringify(record) ?? 'null';
      if (how === 'truncate') return text.slice(0, cut);
      if (how === 'noise') return noise.replace(/[\r\n]/g, ' ');
      if (how === 'insert') return `${text.slice(0, cut)}${noise.replace(/[\r\n]/g, ' ')}${text.slice(cut)}`;
      return text;
    });
}
