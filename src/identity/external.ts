// External peers: addresses outside the cluster, widened to networks on request, and the DNS names
// seen resolving to them (so a reviewer reads `api.stripe.com` rather than a bare address).

import type { Flow } from '../model/index.js';
import { inputError } from '../model/index.js';

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
type AddressBytes = number[];

/** Dotted-quad IPv4 to 4 bytes, or undefined. Leading zeros are refused: some tools read them as octal. */
function parseIPv4(s: string): AddressBytes | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const bytes: AddressBytes = [];
  for (const part of parts) {
    if (part.length === 0 || part.length > 3 || (part.length > 1 && part[0] === '0')) return undefined;
    let n = 0;
    for (let i = 0; i < part.length; i++) {
      const c = part.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return undefined;
      n = n * 10 + c;
    }
    if (n > 255) return undefined;
    bytes.push(n);
  }
  return bytes;
}

/** One to four hex digits as a 16-bit group, or undefined. */
function parseGroup(s: string): number | undefined {
  // parseInt alone would accept `1g` as 1, so the characters are checked first.
  if (!/^[0-9a-fA-F]{1,4}$/.test(s)) return undefined;
  return Number.parseInt(s, 16);
}

/** RFC 4291 text (with `::` and an optional trailing dotted quad) to 16 bytes, or undefined. */
function parseIPv6(s: string): AddressBytes | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (text: string): number[] | undefined => {
    if (text === '') return [];
    const out: number[] = [];
    const parts = text.split(':');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (i === parts.length - 1 && part.includes('.')) {
        // An embedded IPv4 address (`::ffff:192.0.2.1`) fills the last two groups.
        const v4 = parseIPv4(part);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        const g = parseGroup(part);
        if (g === undefined) return undefined;
        out.push(g);
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  if (!head || !tail) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  const bytes: AddressBytes = [];
  for (const g of groups) bytes.push(g >> 8, g & 0xff);
  return bytes;
}

/** An IP address (v4 or v6) as bytes, or undefined when it is not one. Zone ids (`%eth0`) are not accepted. */
export function parseIp(s: string): AddressBytes | undefined {
  return s.includes(':') ? parseIPv6(s) : parseIPv4(s);
}

/** True when the text is an IPv4 or IPv6 address. */
export function isIp(s: string): boolean {
  return parseIp(s) !== undefined;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (2+) of zero groups as `::`. */
function formatIPv6(bytes: AddressBytes): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

function formatIp(bytes: AddressBytes): string {
  return bytes.length === 4 ? bytes.join('.') : formatIPv6(bytes);
}

/**
 * Widens an address to the network of the given prefix length: ('203.0.113.7', 24) → '203.0.113.0/24',
 * ('2001:db8::1', 64) → '2001:db8::/64'. Throws a FlowwrightError (code `input`) for a bad address or a
 * prefix outside 0..32 (IPv4) or 0..128 (IPv6).
 */
export function externalCidr(ip: string, prefix: number): string {
  const bytes = parseIp(ip);
  if (!bytes) throw inputError(`'${ip}' is not an IP address`);
  const bits = bytes.length * 8;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits)
    throw inputError(`prefix length ${prefix} is not valid for ${ip} (0 to ${bits})`);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.min(8, Math.max(0, prefix - i * 8));
    bytes[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return `${formatIp(bytes)}/${prefix}`;
}

/** A DNS name as flowwright shows it: lower case, without the trailing root dot Hubble reports. */
export function normalizeDnsName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * Adds what one flow says about names and addresses to `into` (address → names): a DNS answer maps
 * each answered address to the query, and an endpoint's `names` (Hubble `destination_names`, Calico
 * `dest_domains`) map its IP to those names. Answers that are not addresses (CNAME targets) are skipped.
 */
export function noteDnsNames(into: Map<string, Set<string>>, flow: Flow): void {
  const dns = flow.l7?.dns;
  if (dns?.query && dns.answers.length > 0) {
    const name = normalizeDnsName(dns.query);
    for (const answer of dns.answers) if (isIp(answer)) addName(into, answer, name);
  }
  for (const ep of [flow.source, flow.destination]) {
    if (ep.ip && ep.names) for (const n of ep.names) if (n) addName(into, ep.ip, normalizeDnsName(n));
  }
}

function addName(into: Map<string, Set<string>>, ip: string, name: string): void {
  let names = into.get(ip);
  if (!names) {
    names = new Set();
    into.set(ip, names);
  }
  names.add(name);
}

/** Address → sorted DNS names seen resolving to it, over a set of flows (see noteDnsNames). */
export function dnsNamesByIp(flows: Iterable<Flow>): Map<string, string[]> {
  const seen = new Map<string, Set<string>>();
  for (const f of flows) noteDnsNames(seen, f);
  const out = new Map<string, string[]>();
  for (const ip of [...seen.keys()].sort()) out.set(ip, [...(seen.get(ip) ?? [])].sort());
  return out;
}
