// Turns exported Hubble JSON lines into what the replay server sends: each line becomes one encoded
// GetFlowsResponse, with its time and the few facts the server's own answers need (node, namespaces),
// so that serving a flow costs no conversion. Filters decode the bytes they judge.

import { jsonToResponse, loadHubbleProto, parseTimestamp } from '../collect/hubble/proto.js';
import { classifyHubbleRecord, expandInputs, readLines } from '../collect/index.js';
import { addIssue, type CollectStats } from '../model/index.js';

/** One response the server can send, encoded once at load time. */
export interface ReplayEntry {
  bytes: Uint8Array;
  seconds: number;
  nanos: number;
  /** Set for flows; undefined for node_status and lost_events responses. */
  flow?: FlowFacts;
}

export interface FlowFacts {
  /** The node that observed the flow (`node` or `cluster/node`), '' when the record does not say. */
  node: string;
  /** Namespaces of the source and destination ('' left out). */
  namespaces: string[];
}

/** A line of input with where it came from, for error messages. */
export interface SourceLine {
  text: string;
  file: string;
  line: number;
}

/** JSON keys of the input that no field of this version's protocol has: not served, and reported. */
export type UnknownFields = Map<string, number>;

type Obj = Record<string, unknown>;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

function flowFacts(flow: Obj, response: Obj): FlowFacts {
  const namespaces = [str(obj(flow.source).namespace), str(obj(flow.destination).namespace)].filter((n) => n !== '');
  return { node: str(flow.node_name ?? flow.nodeName ?? response.node_name ?? response.nodeName), namespaces };
}

/**
 * The GetFlowsResponse a parsed line stands for: the line itself when it is one (`hubble observe -o json`
 * or `-o jsonpb`), or a bare flow or lost event wrapped in one (the exporter without wrapper, and
 * `HUBBLE_COMPAT=legacy-json-output`). Undefined for records that are not Hubble events.
 */
function asResponse(record: Obj): Obj | undefined {
  const kind = classifyHubbleRecord(record);
  if (kind === 'unknown' || kind === 'other-event') return undefined;
  if ('flow' in record || 'node_status' in record || 'nodeStatus' in record) return record;
  if ('lost_events' in record || 'lostEvents' in record) return record;
  if (kind === 'lost_events') return { lost_events: record };
  return { flow: record, node_name: record.node_name ?? record.nodeName, time: record.time };
}

/**
 * Reads lines of `hubble observe -o json` (or jsonpb, or bare flow objects) into replay entries, in input
 * order. Malformed lines are counted in `stats` with file, line and field, and skipped; keys that this
 * version's protocol does not have are counted in `unknown` by path (`flow.some_new_field`).
 */
export async function entriesFromLines(
  lines: AsyncIterable<SourceLine> | Iterable<SourceLine>,
  stats: CollectStats,
  unknown: UnknownFields = new Map(),
): Promise<ReplayEntry[]> {
  const proto = loadHubbleProto();
  const entries: ReplayEntry[] = [];
  const onUnknown = (path: string) => unknown.set(path, (unknown.get(path) ?? 0) + 1);
  for await (const { text, file, line } of lines) {
    if (text.trim() === '') continue;
    stats.records++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      addIssue(stats, { file, line, message: 'not valid JSON' });
      continue;
    }
    const response = asResponse(obj(parsed));
    if (!response) {
      stats.nonFlow++;
      continue;
    }
    const flow = response.flow === undefined ? undefined : obj(response.flow);
    const lost = obj(response.lost_events ?? response.lostEvents);
    // A lost event printed bare has no time of its own but the first and last events it counts.
    const time = parseTimestamp(str(flow?.time ?? response.time ?? lost.last ?? lost.first));
    if (!time) {
      addIssue(stats, { file, line, field: flow ? 'flow.time' : 'time', message: 'missing or not an RFC 3339 time' });
      continue;
    }
    let bytes: Uint8Array;
    try {
      bytes = proto.GetFlowsResponse.encode(jsonToResponse(proto, response, onUnknown)).finish();
    } catch (err) {
      addIssue(stats, { file, line, message: (err as Error).message });
      continue;
    }
    if (flow) stats.flows++;
    else {
      stats.nonFlow++;
      const n = Number(lost.num_events_lost ?? lost.numEventsLost ?? 0);
      if (n > 0) stats.lostEvents += n;
    }
    entries.push({
      bytes,
      seconds: time.seconds,
      nanos: time.nanos,
      flow: flow ? flowFacts(flow, response) : undefined,
    });
  }
  return entries;
}

/** The lines of files, directories or stdin (`-`), gzip or not, as the file collector reads them. */
async function* sourceLines(paths: string[]): AsyncGenerator<SourceLine> {
  for (const src of await expandInputs(paths)) {
    for await (const chunk of readLines(src)) {
      for (let i = 0; i < chunk.lines.length; i++)
        yield { text: chunk.lines[i], file: src.display, line: chunk.firstLine + i };
    }
  }
}

/** Loads exported Hubble JSON from files, directories or stdin into replay entries, in input order. */
export function loadReplayFiles(paths: string[], stats: CollectStats, unknown?: UnknownFields): Promise<ReplayEntry[]> {
  return entriesFromLines(sourceLines(paths), stats, unknown);
}

/**
 * How far out of time order Relay lets flows be: it merges the nodes' streams through a priority queue
 * of this many responses, sending the oldest when the queue is full.
 */
export const SORT_WINDOW = 100;

/**
 * The entries in the order Relay would send them: by time, within a window of SORT_WINDOW responses (an
 * entry is sent before later ones only when it is older than every entry of the window after it).
 * Entries with the same time keep their input order.
 */
export function sortWithinWindow(entries: readonly ReplayEntry[], window = SORT_WINDOW): ReplayEntry[] {
  const out: ReplayEntry[] = [];
  const heap: { e: ReplayEntry; i: number }[] = [];
  const less = (a: { e: ReplayEntry; i: number }, b: { e: ReplayEntry; i: number }) =>
    a.e.seconds !== b.e.seconds
      ? a.e.seconds < b.e.seconds
      : a.e.nanos !== b.e.nanos
        ? a.e.nanos < b.e.nanos
        : a.i < b.i;
  const push = (x: { e: ReplayEntry; i: number }) => {
    heap.push(x);
    let c = heap.length - 1;
    while (c > 0) {
      const p = (c - 1) >> 1;
      if (!less(heap[c], heap[p])) break;
      [heap[c], heap[p]] = [heap[p], heap[c]];
      c = p;
    }
  };
  const pop = () => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let p = 0;
      for (;;) {
        const l = 2 * p + 1;
        const r = l + 1;
        let m = p;
        if (l < heap.length && less(heap[l], heap[m])) m = l;
        if (r < heap.length && less(heap[r], heap[m])) m = r;
        if (m === p) break;
        [heap[m], heap[p]] = [heap[p], heap[m]];
        p = m;
      }
    }
    return top.e;
  };
  entries.forEach((e, i) => {
    if (heap.length === window) out.push(pop());
    push({ e, i });
  });
  while (heap.length > 0) out.push(pop());
  return out;
}
