// Small helpers shared by the review renderers: times, ports, aligned text tables, Markdown cells.
import { isoTime } from '../synthesize/index.js';
import type { DiffReport } from './diff.js';
import type { EdgeRef } from './verify.js';

/** RFC 3339 to the second, UTC (the proposal's evidence comments use the same). */
export const iso = isoTime;

export function isoOrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : iso(ms);
}

export function portText(e: Pick<EdgeRef, 'protocol' | 'port'>): string {
  return e.port > 0 ? `${e.port}/${e.protocol}` : e.protocol;
}

export function windowText(w: { since: number | null; until: number | null }): string {
  if (w.since === null && w.until === null) return 'all stored flows';
  return `${w.since === null ? 'the first flow' : iso(w.since)} to ${w.until === null ? 'now' : iso(w.until)}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Columns padded to the widest cell; columns listed in `right` are right-aligned. */
export function textTable(header: string[], rows: string[][], right: number[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** A Markdown table cell: pipes escaped, line breaks folded. */
export function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function markdownTable(header: string[], rows: string[][], right: number[] = []): string {
  const sep = header.map((_, i) => (right.includes(i) ? '---:' : '---'));
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), `|${sep.join('|')}|`, ...rows.map(line)].join('\n');
}

/** `code` in Markdown, safe for backticks inside. */
export function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

/** Newly denied connections that carried traffic: the ones a reviewer must not miss. */
export function newlyDeniedObserved(r: DiffReport): number {
  return r.newlyDenied.filter((c) => c.observed && c.observed.allowedFlows > 0).length;
}
