// The replay server: serves exported Hubble flows as a read-only Hubble Relay, so that any Hubble client
// (the hubble CLI, Hubble UI, grpcurl, flowwright's own relay collector) can read a file as if it were a
// live cluster. What it answers, as Relay does:
//   - grpc.health.v1 Check/Watch/List: SERVING for the server ("") and the Observer service;
//   - Observer.ServerStatus (flows, capacity, seen, rate, uptime, nodes, version), GetNodes (one node per
//     node name in the file) and GetNamespaces (the namespaces of the flows served so far);
//   - Observer.GetFlows with number/first, follow, since/until, every FlowFilter field, and field_mask,
//     with a NODE_CONNECTED status first;
//   - Observer.GetAgentEvents and GetDebugEvents: empty streams (a file holds no agent or debug events),
//     which stay open while following.
// Flows are served in Relay's order: by time within a window of SORT_WINDOW responses.
//
// Without a rate every entry is "in the ring buffer" from the start. With a rate, entries are released
// at that many per second from the moment the server starts, like traffic that is happening now:
// following clients receive them as they are released.
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import {
  decodeKeepingUnknown,
  GET_AGENT_EVENTS_PATH,
  GET_DEBUG_EVENTS_PATH,
  GET_FLOWS_PATH,
  GET_NAMESPACES_PATH,
  GET_NODES_PATH,
  HEALTH_CHECK_PATH,
  HEALTH_LIST_PATH,
  HEALTH_WATCH_PATH,
  type HubbleProto,
  loadHubbleProto,
  SERVER_STATUS_PATH,
  unknownFields,
} from '../collect/hubble/proto.js';
import type { FlowFacts, ReplayEntry } from './entries.js';
import { sortWithinWindow } from './entries.js';
import { compileFieldMask, type FieldMask } from './fieldmask.js';
import { compileFlowFilters, FilterError, type FlowFilterObject, type FlowPredicate } from './filter.js';
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

/** What ServerStatus and GetNodes report as the version. */
export const REPLAY_VERSION = 'flowwright-replay';
/** Health service names answered SERVING: the server, Hubble's name for the Observer, and the gRPC one. */
const HEALTHY_SERVICES = ['', 'hubble.server.Observer', 'observer.Observer'];
/** Relay's own name in the node status events it adds to a GetFlows stream. */
const RELAY_NODE_NAME = 'flowwright-replay';

interface Timestamp {
  seconds: number;
  nanos: number;
}

/** The request as protobufjs's toObject gives it (keepCase, 64-bit integers as strings, enums as numbers). */
interface FlowsRequest {
  number?: string;
  follow?: boolean;
  first?: boolean;
  since?: Timestamp;
  until?: Timestamp;
  whitelist?: FlowFilterObject[];
  blacklist?: FlowFilterObject[];
  field_mask?: { paths?: string[] };
}

/** A request the server refuses, with the reason the client is told (InvalidArgument). */
interface Refused {
  refused: string;
}

const before = (e: ReplayEntry, t: Timestamp) =>
  e.seconds < t.seconds || (e.seconds === t.seconds && e.nanos < t.nanos);
const after = (e: ReplayEntry, t: Timestamp) => e.seconds > t.seconds || (e.seconds === t.seconds && e.nanos > t.nanos);

function decodeFlowsRequest(proto: HubbleProto, buf: Buffer): FlowsRequest | Refused {
  let message: protobuf.Message;
  try {
    message = decodeKeepingUnknown(proto.GetFlowsRequest, buf);
  } catch (err) {
    return { refused: `malformed GetFlowsRequest: ${(err as Error).message}` };
  }
  const unknown = unknownFields(message, proto.GetFlowsRequest);
  // Extensions are for other Hubble-compatible servers; Hubble itself does not read them either.
  const meaningful = unknown.filter((u) => !u.startsWith('extensions'));
  if (meaningful.length > 0)
    return { refused: `the request sets fields this server does not know: ${meaningful.join(', ')}` };
  const req = proto.GetFlowsRequest.toObject(message, {
    enums: Number,
    longs: String,
    defaults: false,
  }) as FlowsRequest;
  // Timestamps compare as numbers.
  for (const key of ['since', 'until'] as const) {
    const t = req[key];
    if (t) req[key] = { seconds: Number(t.seconds ?? 0), nanos: t.nanos ?? 0 };
  }
  return req;
}

/** The compiled parts of a GetFlows request; a Refused when a filter or the mask cannot be used. */
function compileRequest(
  proto: HubbleProto,
  req: FlowsRequest,
): { matches?: FlowPredicate; mask?: FieldMask } | Refused {
  try {
    return {
      matches: compileFlowFilters(req.whitelist, req.blacklist),
      mask: compileFieldMask(req.field_mask?.paths, proto.Flow),
    };
  } catch (err) {
    if (err instanceof FilterError) return { refused: err.message };
    throw err;
  }
}

export async function startReplayServer(input: ReplayEntry[], opts: ReplayServerOptions): Promise<ReplayServer> {
  const proto = loadHubbleProto();
  const entries = sortWithinWindow(input);
  const startedAt = Date.now();
  const release = releaseEntries(entries.length, opts.rate);
  const facts = entries.map((e) => e.flow);
  const nodeNames = [...new Set(facts.flatMap((f) => (f?.node ? [f.node] : [])))].sort();
  const totalFlows = facts.filter((f) => f !== undefined).length;
  // Flows released so far, counted as they are released (counting is cheap, but not on every status call).
  const counted = { upTo: 0, flows: 0, perNode: new Map<string, number>(), namespaces: new Map<string, string>() };
  const catchUp = () => {
    for (const end = release.released(); counted.upTo < end; counted.upTo++) {
      const f: FlowFacts | undefined = facts[counted.upTo];
      if (!f) continue;
      counted.flows++;
      counted.perNode.set(f.node, (counted.perNode.get(f.node) ?? 0) + 1);
      // Hubble names a namespace's cluster only in a cluster mesh, where node names are `cluster/node`.
      const slash = f.node.indexOf('/');
      const cluster = slash > 0 ? f.node.slice(0, slash) : '';
      for (const ns of f.namespaces) counted.namespaces.set(`${cluster}/${ns}`, cluster);
    }
  };
  const perNodeMax = new Map<string, number>();
  for (const f of facts) if (f) perNodeMax.set(f.node, (perNodeMax.get(f.node) ?? 0) + 1);
  let calls = 0;

  /** Flows per second over the last minute: of release time with a rate, else of the recorded traffic. */
  const flowsRate = (): number => {
    const end = release.released();
    if (opts.rate) {
      const elapsed = Math.min(60, (Date.now() - startedAt) / 1000);
      return elapsed > 0 ? Math.min(end, opts.rate * elapsed) / elapsed : 0;
    }
    // "Now" is the newest flow. As an agent does, count the flows of the minute before it; when the
    // capture is shorter than that, divide by the time it spans instead of the minute.
    let newest: ReplayEntry | undefined;
    let oldest: ReplayEntry | undefined;
    let count = 0;
    let wholeMinute = false;
    const secondsBetween = (a: ReplayEntry, b: ReplayEntry) => a.seconds - b.seconds + (a.nanos - b.nanos) / 1e9;
    for (let i = end - 1; i >= 0; i--) {
      const e = entries[i];
      if (!e.flow) continue;
      newest ??= e;
      if (secondsBetween(newest, e) > 60) {
        wholeMinute = true;
        break;
      }
      oldest = e;
      count++;
    }
    if (!newest || !oldest) return 0;
    const span = wholeMinute ? 60 : secondsBetween(newest, oldest);
    return span > 0 ? count / span : 0;
  };

  const refuse = (call: grpc.ServerWritableStream<unknown, Uint8Array>, details: string): void => {
    // grpc-js sends a status to the client for an 'error' emitted on a server stream.
    call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details });
  };

  const serveFlows = async (call: grpc.ServerWritableStream<FlowsRequest | Refused, Uint8Array>) => {
    calls++;
    let cancelled = false;
    call.on('cancelled', () => {
      cancelled = true;
      release.wake();
    });
    // A client that goes away mid-write makes the stream emit 'error'; it is not ours to report.
    call.on('error', () => {
      cancelled = true;
    });
    const req = call.request;
    if ('refused' in req) return refuse(call, req.refused);
    const compiled = compileRequest(proto, req);
    if ('refused' in compiled) return refuse(call, compiled.refused);
    const { matches, mask } = compiled;

    /** Whether a flow entry passes the filters; non-flow entries (lost events, node status) always do. */
    const passes = (e: ReplayEntry): boolean => {
      if (!e.flow || !matches) return true;
      const response = proto.GetFlowsResponse.decode(e.bytes) as unknown as { flow: Record<string, unknown> };
      return matches({ flow: response.flow, response: e.bytes });
    };
    const number = Number(req.number ?? 0);
    const { since, until } = req;

    // Where to start, as a Hubble server finds it in its ring buffer: with `since`, after the newest
    // matching flow older than it (`number` then counts from there, first or last alike); with `first`,
    // the oldest; following without either, the newest; otherwise N matching flows back from the newest.
    let cursor = 0;
    const end = release.released();
    if (req.first && !since) cursor = 0;
    else if (req.follow && number === 0 && !since) cursor = end;
    else {
      let seen = 0;
      cursor = 0;
      for (let i = end - 1; i >= 0; i--) {
        const e = entries[i];
        if (!e.flow || !passes(e)) continue;
        seen++;
        if (since) {
          if (before(e, since)) {
            cursor = i + 1;
            break;
          }
        } else if (seen === number) {
          cursor = i;
          break;
        }
      }
    }

    try {
      // Relay says first which nodes it is reading from.
      if (nodeNames.length > 0 || entries.length > 0) await release.write(call, nodeStatus(proto, nodeNames));
      let sentFlows = 0;
      // Non-following calls see what was released when they arrived, like a snapshot of the ring buffer.
      const snapshot = end;
      for (;;) {
        const limit = req.follow ? release.released() : snapshot;
        while (cursor < limit && !cancelled && !release.closing()) {
          if (!req.follow && number > 0 && sentFlows >= number) return;
          const e = entries[cursor++];
          if (e.flow) {
            // A flow past `until` ends the stream, whatever the filters say (the ring is in time order).
            if (until && after(e, until)) return;
            if (since && before(e, since)) continue;
            if (!passes(e)) continue;
          }
          // Waits for a slow client to catch up; a cancel or close wakes us too.
          await release.write(call, mask && e.flow ? masked(proto, e.bytes, mask) : e.bytes);
          if (e.flow) sentFlows++;
        }
        // A follower that has seen every entry stays open, as a live server with no new traffic would.
        if (!req.follow || cancelled || release.closing()) return;
        if (cursor >= release.released()) await release.next();
      }
    } finally {
      if (!cancelled) call.end();
    }
  };

  /** GetAgentEvents and GetDebugEvents: a file holds none, so the stream is empty (open while following). */
  const serveNoEvents = async (call: grpc.ServerWritableStream<{ follow?: boolean }, Uint8Array>) => {
    if (call.request.follow) {
      let cancelled = false;
      call.on('cancelled', () => {
        cancelled = true;
        release.wake();
      });
      while (!cancelled && !release.closing()) await release.next();
      if (cancelled) return;
    }
    call.end();
  };

  const serverStatus = (_call: unknown, callback: grpc.sendUnaryData<Uint8Array>) => {
    catchUp();
    const status = proto.ServerStatusResponse.fromObject({
      num_flows: counted.flows,
      max_flows: totalFlows,
      seen_flows: counted.flows,
      uptime_ns: String(BigInt(Date.now() - startedAt) * 1_000_000n),
      num_connected_nodes: { value: nodeNames.length },
      num_unavailable_nodes: { value: 0 },
      version: REPLAY_VERSION,
      flows_rate: flowsRate(),
    });
    callback(null, proto.ServerStatusResponse.encode(status).finish());
  };

  const getNodes = (_call: unknown, callback: grpc.sendUnaryData<Uint8Array>) => {
    catchUp();
    const uptime = String(BigInt(Date.now() - startedAt) * 1_000_000n);
    const nodes = nodeNames.map((name) => ({
      name,
      version: REPLAY_VERSION,
      address: listening.address,
      state: 1, // NODE_CONNECTED
      tls: { enabled: opts.tls !== undefined, server_name: '' },
      uptime_ns: uptime,
      num_flows: counted.perNode.get(name) ?? 0,
      max_flows: perNodeMax.get(name) ?? 0,
      seen_flows: counted.perNode.get(name) ?? 0,
    }));
    callback(null, proto.GetNodesResponse.encode(proto.GetNodesResponse.fromObject({ nodes })).finish());
  };

  const getNamespaces = (_call: unknown, callback: grpc.sendUnaryData<Uint8Array>) => {
    catchUp();
    const namespaces = [...counted.namespaces.entries()]
      .map(([key, cluster]) => ({ cluster, namespace: key.slice(cluster.length + 1) }))
      .sort((a, b) =>
        a.cluster !== b.cluster ? (a.cluster < b.cluster ? -1 : 1) : a.namespace < b.namespace ? -1 : 1,
      );
    callback(null, proto.GetNamespacesResponse.encode(proto.GetNamespacesResponse.fromObject({ namespaces })).finish());
  };

  const healthStatus = (service: string) => (HEALTHY_SERVICES.includes(service) ? 1 : undefined); // SERVING
  const healthCheck = (
    call: grpc.ServerUnaryCall<{ service: string }, Uint8Array>,
    callback: grpc.sendUnaryData<Uint8Array>,
  ) => {
    const status = healthStatus(call.request.service);
    if (status === undefined) return callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
    callback(null, proto.HealthCheckResponse.encode({ status }).finish());
  };
  const healthList = (_call: unknown, callback: grpc.sendUnaryData<Uint8Array>) => {
    const statuses = Object.fromEntries(HEALTHY_SERVICES.map((s) => [s, { status: 1 }]));
    callback(null, proto.HealthListResponse.encode(proto.HealthListResponse.fromObject({ statuses })).finish());
  };
  const healthWatch = async (call: grpc.ServerWritableStream<{ service: string }, Uint8Array>) => {
    // The status never changes while the server runs: send it once and stay open, as the standard service does.
    const status = healthStatus(call.request.service) ?? 3; // SERVICE_UNKNOWN
    call.write(proto.HealthCheckResponse.encode({ status }).finish());
    let cancelled = false;
    call.on('cancelled', () => {
      cancelled = true;
      release.wake();
    });
    while (!cancelled && !release.closing()) await release.next();
    if (!cancelled) call.end();
  };

  const decodeWith = (type: protobuf.Type) => (b: Buffer) =>
    type.toObject(type.decode(b), { enums: Number, longs: String, defaults: true });
  const method = (path: string, responseStream: boolean, requestDeserialize: (b: Buffer) => unknown) => ({
    path,
    requestStream: false,
    responseStream,
    requestSerialize: (r: Buffer) => r,
    requestDeserialize,
    responseSerialize: passBytes,
    responseDeserialize: (b: Buffer) => b,
  });
  const observer: grpc.ServiceDefinition = {
    GetFlows: method(GET_FLOWS_PATH, true, (b) => decodeFlowsRequest(proto, b)),
    GetAgentEvents: method(GET_AGENT_EVENTS_PATH, true, decodeWith(proto.GetAgentEventsRequest)),
    GetDebugEvents: method(GET_DEBUG_EVENTS_PATH, true, decodeWith(proto.GetDebugEventsRequest)),
    GetNodes: method(GET_NODES_PATH, false, (b) => b),
    GetNamespaces: method(GET_NAMESPACES_PATH, false, (b) => b),
    ServerStatus: method(SERVER_STATUS_PATH, false, (b) => b),
  };
  const health: grpc.ServiceDefinition = {
    Check: method(HEALTH_CHECK_PATH, false, decodeWith(proto.HealthCheckRequest)),
    Watch: method(HEALTH_WATCH_PATH, true, decodeWith(proto.HealthCheckRequest)),
    List: method(HEALTH_LIST_PATH, false, (b) => b),
  };

  const streaming =
    <T>(serve: (call: grpc.ServerWritableStream<T, Uint8Array>) => Promise<void>) =>
    (call: grpc.ServerWritableStream<T, Uint8Array>) => {
      serve(call).catch((err) =>
        call.emit('error', { code: grpc.status.INTERNAL, details: `replay server: ${(err as Error).message}` }),
      );
    };
  const server = new grpc.Server();
  server.addService(observer, {
    GetFlows: streaming(serveFlows),
    GetAgentEvents: streaming(serveNoEvents),
    GetDebugEvents: streaming(serveNoEvents),
    GetNodes: getNodes,
    GetNamespaces: getNamespaces,
    ServerStatus: serverStatus,
  });
  server.addService(health, { Check: healthCheck, Watch: streaming(healthWatch), List: healthList });

  const listening = await listen(server, opts.host ?? '127.0.0.1', opts.port, opts.tls, release);
  return { ...listening, released: release.released, calls: () => calls };
}

/** The NODE_CONNECTED event Relay sends first on every GetFlows stream. */
function nodeStatus(proto: HubbleProto, nodes: string[]): Uint8Array {
  const now = Date.now();
  return proto.GetFlowsResponse.encode(
    proto.GetFlowsResponse.fromObject({
      node_status: { state_change: 1, node_names: nodes },
      node_name: RELAY_NODE_NAME,
      time: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 },
    }),
  ).finish();
}

/** A flow response re-encoded with only the masked fields; its time and node name are the masked flow's. */
function masked(proto: HubbleProto, bytes: Uint8Array, mask: FieldMask): Uint8Array {
  const response = proto.GetFlowsResponse.decode(bytes) as unknown as { flow: Record<string, unknown> };
  const flow = mask.apply(response.flow);
  return proto.GetFlowsResponse.encode(
    proto.GetFlowsResponse.fromObject({ flow, time: flow.time, node_name: flow.node_name }),
  ).finish();
}
