// The replay server: serves exported Hubble flows over Hubble's Observer gRPC API, so that any Hubble
// client (the hubble CLI, Hubble UI, flowwright's own relay collector) can read a file as if it were a
// live cluster. GetFlows supports number/first, follow, since/until and whitelist/blacklist filters on
// pods (namespaces), IPs, verdict, reply, direction, protocol, node and uuid; ServerStatus reports counts.
//
// Without a rate every entry is "in the ring buffer" from the start. With a rate, entries are released
// at that many per second from the moment the server starts, like traffic that is happening now:
// following clients receive them as they are released.
import * as grpc from '@grpc/grpc-js';
import { GET_FLOWS_PATH, loadHubbleProto, SERVER_STATUS_PATH } from '../collect/hubble/proto.js';
import { FlowwrightError } from '../model/index.js';
import type { FlowFacts, ReplayEntry } from './entries.js';
import { type Listening, listen, passBytes, type ReplayTls, releaseEntries } from './serving.js';

export interface ReplayServerOptions {
  /** Host to listen on; 127.0.0.1 unless told otherwise. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Entries released per second; undefined = all available at once. */
  rate?: number;
  tls?: ReplayTls;
}

export interface ReplayServer extends Listening {
  /** Entries released so far (all of them without a rate). */
  released(): number;
  /** GetFlows calls received so far, for tests and logs. */
  calls(): number;
}

interface Timestamp {
  seconds: number;
  nanos: number;
}

/** The request as protobufjs's toObject gives it (keepCase, longs and enums converted). */
interface FlowsRequest {
  number?: number;
  follow?: boolean;
  first?: boolean;
  since?: Timestamp;
  until?: Timestamp;
  whitelist?: Record<string, unknown[]>[];
  blacklist?: Record<string, unknown[]>[];
}

const before = (e: ReplayEntry, t: Timestamp) =>
  e.seconds < t.seconds || (e.seconds === t.seconds && e.nanos < t.nanos);
const after = (e: ReplayEntry, t: Timestamp) => e.seconds > t.seconds || (e.seconds === t.seconds && e.nanos > t.nanos);

/** `namespace/pod-prefix`, `namespace/` or a bare pod prefix, as Hubble's pod filters take them. */
function podMatches(patterns: string[], namespace: string, pod: string): boolean {
  return patterns.some((p) => {
    const slash = p.indexOf('/');
    if (slash < 0) return pod.startsWith(p);
    return namespace === p.slice(0, slash) && pod.startsWith(p.slice(slash + 1));
  });
}

const SUPPORTED_FILTER_FIELDS = new Set([
  'uuid',
  'source_ip',
  'destination_ip',
  'source_pod',
  'destination_pod',
  'verdict',
  'reply',
  'node_name',
  'traffic_direction',
  'protocol',
]);

type FlowPredicate = (f: FlowFacts) => boolean;

/** One FlowFilter: every field it sets must match. Unsupported fields are refused rather than ignored. */
function compileFilter(filter: Record<string, unknown[]>): FlowPredicate {
  const checks: FlowPredicate[] = [];
  for (const [field, values] of Object.entries(filter)) {
    if (!Array.isArray(values) || values.length === 0) continue;
    if (!SUPPORTED_FILTER_FIELDS.has(field))
      throw new FlowwrightError('usage', `the replay server does not support the FlowFilter field '${field}'`);
    const set = new Set(values.map((v) => (typeof v === 'string' ? v : String(v))));
    const strings = [...set];
    switch (field) {
      case 'uuid':
        checks.push((f) => set.has(f.uuid));
        break;
      case 'source_ip':
        checks.push((f) => set.has(f.sourceIp));
        break;
      case 'destination_ip':
        checks.push((f) => set.has(f.destinationIp));
        break;
      case 'source_pod':
        checks.push((f) => podMatches(strings, f.sourceNamespace, f.sourcePod));
        break;
      case 'destination_pod':
        checks.push((f) => podMatches(strings, f.destinationNamespace, f.destinationPod));
        break;
      case 'verdict':
        checks.push((f) => set.has(f.verdict));
        break;
      case 'reply':
        // Like Hubble: a flow that does not say whether it is a reply matches no reply filter.
        checks.push((f) => f.reply !== undefined && set.has(String(f.reply)));
        break;
      case 'node_name':
        checks.push((f) => set.has(f.node));
        break;
      case 'traffic_direction':
        checks.push((f) => set.has(f.direction));
        break;
      case 'protocol': {
        const lower = new Set(strings.map((s) => s.toLowerCase()));
        checks.push((f) => f.protocols.some((p) => lower.has(p)));
        break;
      }
    }
  }
  return (f) => checks.every((c) => c(f));
}

/** Whitelist: any filter matches (or none given); blacklist: no filter matches. Non-flow responses always pass. */
function compileFilters(req: FlowsRequest): (e: ReplayEntry) => boolean {
  const white = (req.whitelist ?? []).map(compileFilter);
  const black = (req.blacklist ?? []).map(compileFilter);
  return (e) => {
    const f = e.flow;
    if (!f) return true;
    if (white.length > 0 && !white.some((p) => p(f))) return false;
    return !black.some((p) => p(f));
  };
}

function decodeRequest(buf: Buffer): FlowsRequest {
  const proto = loadHubbleProto();
  return proto.GetFlowsRequest.toObject(proto.GetFlowsRequest.decode(buf), {
    enums: String,
    longs: Number,
    defaults: false,
  }) as FlowsRequest;
}

export async function startReplayServer(entries: ReplayEntry[], opts: ReplayServerOptions): Promise<ReplayServer> {
  const proto = loadHubbleProto();
  const startedAt = Date.now();
  const nodes = new Set(entries.flatMap((e) => (e.flow?.node ? [e.flow.node] : [])));
  const release = releaseEntries(entries.length, opts.rate);
  let calls = 0;

  const serveFlows = async (call: grpc.ServerWritableStream<Buffer, Uint8Array>) => {
    calls++;
    let cancelled = false;
    let failed = false;
    call.on('cancelled', () => {
      cancelled = true;
      release.wake();
    });
    // A client that goes away mid-write makes the stream emit 'error'; it is not ours to report.
    call.on('error', () => {
      cancelled = true;
    });
    try {
      const req = call.request as unknown as FlowsRequest;
      let matches: (e: ReplayEntry) => boolean;
      try {
        matches = compileFilters(req);
      } catch (err) {
        // grpc-js sends a status to the client for an 'error' emitted on a server stream.
        failed = true;
        call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
        return;
      }
      const inWindow = (e: ReplayEntry) => !(req.since && before(e, req.since));
      const number = req.number ?? 0;
      // Where to start: the first N matching flows, the last N, everything since a time, or (following
      // without any of these) only what happens from now on, as Hubble does.
      let cursor = 0;
      if (number > 0 && !req.first) {
        let seen = 0;
        cursor = release.released();
        while (cursor > 0 && seen < number) {
          const e = entries[cursor - 1];
          if (!inWindow(e)) break;
          if (e.flow && matches(e)) seen++;
          cursor--;
        }
      } else if (req.follow && number === 0 && !req.since) {
        cursor = release.released();
      }
      let sentFlows = 0;
      let pastUntil = false;
      // Non-following calls see what was released when they arrived, like a snapshot of the ring buffer.
      const snapshot = release.released();
      for (;;) {
        const limit = req.follow ? release.released() : snapshot;
        while (cursor < limit && !cancelled && !release.closing()) {
          const e = entries[cursor++];
          if (!inWindow(e) || !matches(e)) continue;
          if (req.until && after(e, req.until)) {
            // Records are only roughly in time order: skip this one, but a follower is done once the
            // traffic it is reading has passed `until`.
            pastUntil = true;
            continue;
          }
          // Waits for a slow client to catch up; a cancel or close wakes us too.
          await release.write(call, e.bytes);
          if (e.flow && ++sentFlows === number && req.first) return;
        }
        // A follower that has seen every entry stays open, as a live server with no new traffic would.
        if (!req.follow || cancelled || release.closing() || pastUntil) return;
        if (cursor >= release.released()) await release.next();
      }
    } finally {
      if (!cancelled && !failed) call.end();
    }
  };

  const serverStatus = (_call: unknown, callback: grpc.sendUnaryData<Uint8Array>) => {
    const flowsReleased = countFlows(entries, release.released());
    const status = proto.ServerStatusResponse.fromObject({
      num_flows: flowsReleased,
      max_flows: countFlows(entries, entries.length),
      seen_flows: flowsReleased,
      uptime_ns: (Date.now() - startedAt) * 1e6,
      num_connected_nodes: { value: nodes.size },
      num_unavailable_nodes: { value: 0 },
      version: 'flowwright-replay',
    });
    callback(null, proto.ServerStatusResponse.encode(status).finish());
  };

  const service: grpc.ServiceDefinition = {
    GetFlows: {
      path: GET_FLOWS_PATH,
      requestStream: false,
      responseStream: true,
      requestSerialize: (r: Buffer) => r,
      requestDeserialize: decodeRequest,
      responseSerialize: passBytes,
      responseDeserialize: (b: Buffer) => b,
    },
    ServerStatus: {
      path: SERVER_STATUS_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: (r: Buffer) => r,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: passBytes,
      responseDeserialize: (b: Buffer) => b,
    },
  };

  const server = new grpc.Server();
  server.addService(service, {
    GetFlows: (call: grpc.ServerWritableStream<Buffer, Uint8Array>) => {
      serveFlows(call).catch((err) =>
        call.emit('error', { code: grpc.status.INTERNAL, details: `replay server: ${(err as Error).message}` }),
      );
    },
    ServerStatus: serverStatus,
  });

  const listening = await listen(server, opts.host ?? '127.0.0.1', opts.port, opts.tls, release);
  return { ...listening, released: release.released, calls: () => calls };
}

function countFlows(entries: ReplayEntry[], upTo: number): number {
  let n = 0;
  for (let i = 0; i < upTo; i++) if (entries[i].flow) n++;
  return n;
}
