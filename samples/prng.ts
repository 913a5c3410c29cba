// A small seeded pseudo-random generator (sfc32) so that generated samples are identical for the same
// seed on every machine. Math.random cannot be seeded; sfc32 is short, fast and statistically good
// enough for synthetic traffic.

export interface Rng {
  /** A uniformly distributed unsigned 32-bit integer. */
  u32(): number;
  /** A float in [0, 1). */
  float(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** An integer in [min, max], both included. */
  between(min: number, max: number): number;
  /** true with probability p. */
  chance(p: number): boolean;
}

export function createRng(seed: number): Rng {
  // Spread the seed over the four state words, then discard the first outputs, as sfc32's authors advise.
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const u32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 15; i++) u32();
  const float = () => u32() / 4294967296;
  return {
    u32,
    float,
    int: (n) => Math.floor(float() * n),
    between: (min, max) => min + Math.floor(float() * (max - min + 1)),
    chance: (p) => float() < p,
  };
}

/** A stable 32-bit hash of a string (FNV-1a), for names that must not depend on the traffic seed. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Picks from items by weight. Built once; `pick` is a short linear scan, which is fast for the few
 * dozen connections a scenario has.
 */
export function weightedPicker<T>(items: readonly T[], weight: (item: T) => number): (rng: Rng) => T {
  const cumulative: number[] = [];
  let total = 0;
  for (const item of items) {
    total += weight(item);
    cumulative.push(total);
  }
  if (items.length === 0 || total <= 0) throw new Error('weightedPicker needs at least one positive weight');
  return (rng) => {
    const x = rng.float() * total;
    for (let i = 0; i < cumulative.length; i++) if (x < cumulative[i]!) return items[i]!;
    return items[items.length - 1]!;
  };
}
