// IPv4 and IPv6 addresses and CIDR blocks as bigints, so that "is this address in that block" is two
// integer operations for both families. Parsing is strict: a malformed address returns undefined.

export interface IpAddress {
  v6: boolean;
  value: bigint;
}

export interface Cidr {
  v6: boolean;
  /** The network address (host bits cleared). */
  base: bigint;
  prefix: number;
  /** All-ones in the network part, for the family's width. */
  mask: bigint;
  /** The text as written, for explanations. */
  text: string;
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const p of parts) {
    // Leading zeros are refused: Kubernetes rejects them because some parsers read them as octal.
    if (p.length === 0 || p.length > 3 || (p.length > 1 && p[0] === '0')) return undefined;
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
    }
    const n = Number(p);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseHextet(h: string): number | undefined {
  if (h.length === 0 || h.length > 4) return undefined;
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i) | 0x20;
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return undefined;
  }
  return Number.parseInt(h, 16);
}

function parseV6(text: string): bigint | undefined {
  // An embedded IPv4 tail (::ffff:10.0.0.1) counts as two hextets.
  let tail: bigint | undefined;
  let head = text;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > 0) {
    tail = parseV4(text.slice(lastColon + 1));
    if (tail === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const left = halves[0] === '' ? [] : halves[0].split(':');
  const right = halves.length === 2 ? (halves[1] === '' ? [] : halves[1].split(':')) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...left, ...new Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right];
  let value = 0n;
  for (const g of groups) {
    const n = parseHextet(g);
    if (n === undefined) return undefined;
    value = (value << 16n) | BigInt(n);
  }
  if (tail !== undefined) value = (value & ~0xffffffffn) | tail;
  return value;
}

export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const value = parseV6(text);
    return value === undefined ? undefined : { v6: true, value };
  }
  const value = parseV4(text);
  return value === undefined ? undefined : { v6: false, value };
}

/** Parses `address/prefix`. Host bits may be set (older clusters accept that); they are cleared. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!ip || prefixText.length === 0 || prefixText.length > 3 || !/^\d+$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const width = ip.v6 ? 128 : 32;
  if (prefix > width) return undefined;
  const all = (1n << BigInt(width)) - 1n;
  const mask = all ^ ((1n << BigInt(width - prefix)) - 1n);
  return { v6: ip.v6, base: ip.value & mask, prefix, mask, text };
}

export function cidrContains(block: Cidr, ip: IpAddress): boolean {
  return block.v6 === ip.v6 && (ip.value & block.mask) === block.base;
}

/** True when `inner` lies inside `outer` and is smaller than it (what the API requires of `except`). */
export function cidrStrictlyInside(inner: Cidr, outer: Cidr): boolean {
  return inner.v6 === outer.v6 && inner.prefix > outer.prefix && (inner.base & outer.mask) === outer.base;
}

/** True when the host bits of the text were not zero, e.g. `10.0.0.1/8`. */
export function cidrHasHostBits(block: Cidr): boolean {
  const slash = block.text.indexOf('/');
  const ip = parseIp(block.text.slice(0, slash));
  return ip !== undefined && ip.value !== block.base;
}
