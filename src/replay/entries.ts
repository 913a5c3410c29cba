// Turns exported Hubble JSON lines into what the replay server sends: each line becomes one encoded
// GetFlowsResponse plus the few facts GetFlows filters need (time, namespaces, pods, verdict, reply...),
// so that serving a flow costs no decoding.
import { expandInputs, readLines } from '../collect/files.js';
import { jsonToResponse, loadHubbleProto, parseTimestamp } from '../collect/hubble/proto.js';
import { addIssue, type CollectStats } from '../model/index.js';

/** One response the server can send, encoded once at load time. */
export interface ReplayEntry {
  bytes: Uint8Array;
  seconds: number;
  nanos: number;
  /** The facts filters match on; undefined for node_status and lost_events responses. */
  flow?: FlowFacts;
}

export interface FlowFacts {
  uuid: string;
  node: string;
  verdict: string;
  /** undefined when the record does not say (is_reply absent). */
  reply: boolean | undefined;
  direction: string;
  /** Lower-case L4 protocol (`tcp`, `udp`, `icmpv4`...) and, for L7 records, the L7 one (`dns`, `http`, `kafka`). */
  protocols: string[];
  sourceIp: string;
  destinationIp: string;
  sourceNamespace: string;
  sourcePod: string;
  destinationNamespace: string;
  destinationPod: string;
}

/** A line of input with where it came from, for error messages. */
export interface SourceLine {
  text: string;
  file: string;
  line: number;
}

type Obj = Record<string, unknown>;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const obj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

function flowFacts(flow: Obj): FlowFacts {
  const ip = obj(flow.IP);
  const src = obj(flow.source);
  const dst = obj(flow.destination);
  const l4 = obj(flow.l4);
  const l7 = obj(flow.l7);
  const protocols = Object.keys(l4).map((k) => k.toLowerCase());
  for (const k of ['dns', 'http', 'kafka']) if (k in l7) protocols.push(k);
  const isReply = flow.is_reply ?? flow.isReply;
  return {
    uuid: str(flow.uuid),
    node: str(flow.node_name ?? flow.nodeName),
    verdict: str(flow.verdict),
    reply: typeof isReply === 'boolean' ? isReply : undefined,
    direction: str(flow.traffic_direction ?? flow.trafficDirection),
    protocols,
    sourceIp: str(ip.source),
    destinationIp: str(ip.destination),
    sourceNamespace: str(src.namespace),
    sourcePod: str(src.pod_name ?? src.podName),
    destinationNamespace: str(dst.namespace),
    destinationPod: str(dst.pod_name ?? dst.podName),
  };
}

/**
 * Reads lines of `hubble observe -o json` (or jsonpb, or bare flow objects) into replay entries.
 * Malformed lines are counted in `stats` with file, line and field, and skipped.
 */
export async function entriesFromLines(
  lines: AsyncIterable<SourceLine> | Iterable<SourceLine>,
  stats: CollectStats,
): Promise<ReplayEntry[]> {
  const proto = loadHubbleProto();
  const entries: ReplayEntry[] = [];
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
    let response = obj(parsed);
    // A bare flow object (some exporters write the flow without the response around it).
    if (!('flow' in response) && !('node_status' in response) && !('lost_events' in response)) {
      if (!('time' in response) || !('verdict' in response || 'IP' in response || 'source' in response)) {
        stats.nonFlow++;
        continue;
      }
      response = { flow: response, node_name: response.node_name, time: response.time };
    }
    const flow = response.flow === undefined ? undefined : obj(response.flow);
    const time = parseTimestamp(str(flow?.time ?? response.time));
    if (!time) {
      addIssue(stats, { file, line, field: flow ? 'flow.time' : 'time', message: 'missing or not an RFC 3339 time' });
      continue;
    }
    let bytes: Uint8Array;
    try {
      bytes = proto.GetFlowsResponse.encode(jsonToResponse(proto, response)).finish();
    } catch (err) {
      addIssue(stats, { file, line, message: (err as Error).message });
      continue;
    }
    if (flow) stats.flows++;
    else stats.nonFlow++;
    entries.push({ bytes, seconds: time.seconds, nanos: time.nanos, flow: flow ? flowFacts(flow) : undefined });
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
export function loadReplayFiles(paths: string[], stats: CollectStats): Promise<ReplayEntry[]> {
  return entriesFromLines(sourceLines(paths), stats);
}
