// How evidence reads in comments and annotations: flow counts with thousands separators, times in
// RFC 3339 to the second, peers by their short label and known DNS names. Everything here is a pure
// function of the graph, never of the current time, so reruns give the same bytes.
import { type Graph, peerLabel } from '../model/index.js';
import type { RuleEdge } from './edges.js';

/** `1234567` → `1,234,567`, independent of the machine's locale. */
export function formatCount(n: number): string {
  const digits = String(Math.trunc(Math.abs(n)));
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? `-${out}` : out;
}

/** Milliseconds → `2026-11-01T10:00:00Z` (seconds are precise enough for evidence). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const MAX_NAMES_SHOWN = 3;

/** A list capped for one comment line: `a, b, c (+2 more)`. */
export function shortList(items: readonly string[], max = MAX_NAMES_SHOWN): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} (+${items.length - max} more)` : shown;
}

/** `shop/frontend`, `203.0.113.7/32 (api.stripe.com)`, `kube-apiserver`; the key itself for an unknown peer. */
export function peerDisplay(graph: Graph, key: string): string {
  const node = graph.peers.get(key);
  if (!node) return key;
  const label = peerLabel(node.peer);
  return node.names.length > 0 ? `${label} (${shortList(node.names)})` : label;
}

/**
 * One evidence line for an edge:
 * `shop/frontend -> shop/orders TCP/8080: 1,234 flows, first 2026-11-01T10:00:00Z, last 2026-11-02T09:13:00Z`
 * plus dropped flows, DNS names asked and the --allow-dropped marker where they apply.
 */
export function edgeEvidence(graph: Graph, r: RuleEdge): string {
  const e = r.edge;
  let line =
    `${peerDisplay(graph, e.src)} -> ${peerDisplay(graph, e.dst)} ${e.protocol}/${e.port}: ` +
    `${formatCount(r.flows)} flows, first ${isoTime(e.firstSeen)}, last ${isoTime(e.lastSeen)}`;
  const dropped = (e.verdicts.dropped ?? 0) + (e.verdicts.error ?? 0);
  if (r.dropped) {
    const reasons = e.dropReasons.length > 0 ? ` (${[...e.dropReasons].sort().join(', ')})` : '';
    const share = dropped >= r.flows ? '' : `${formatCount(dropped)} of them `;
    line += `; ${share}observed DROPPED${reasons}, included by --allow-dropped`;
  } else if (dropped > 0) {
    line += `; also ${formatCount(dropped)} dropped`;
  }
  if (e.dnsNames.length > 0) line += `; resolved ${shortList(e.dnsNames)}`;
  return line;
}

/**
 * `1,234 flows, 2026-11-01T10:00:00Z to 2026-11-02T09:13:00Z`: the flows behind a policy and the
 * window they came from (the learning window where it was limited, else the edges' own span).
 */
export function generatedFrom(window: Graph['window'], rules: readonly RuleEdge[]): string {
  const flows = rules.reduce((sum, r) => sum + r.flows, 0);
  let first = window.since;
  let last = window.until;
  // A loop, not Math.min(...spread): a busy workload can have more edges than a call has arguments.
  for (const r of rules) {
    if (window.since === undefined && (first === undefined || r.edge.firstSeen < first)) first = r.edge.firstSeen;
    if (window.until === undefined && (last === undefined || r.edge.lastSeen > last)) last = r.edge.lastSeen;
  }
  const span =
    first !== undefined && last !== undefined
      ? `, ${isoTime(first)} to ${isoTime(last)}`
      : first !== undefined
        ? `, since ${isoTime(first)}`
        : last !== undefined
          ? `, until ${isoTime(last)}`
          : '';
  return `${formatCount(flows)} flows${span}`;
}
