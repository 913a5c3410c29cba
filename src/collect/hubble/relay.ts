// The live Hubble collector: reads flows from Hubble Relay (or a single agent, or `flowwright replay`)
// with Observer.GetFlows and yields them in batches, like the file collector does.
//
// What it takes care of, in the order a connection goes through it:
//   1. ServerStatus at connect: how many nodes and flows the server has (reported, never required).
//   2. GetFlows with server-side filters (namespaces, verdicts, replies) and `since` when resuming.
//   3. Every response converted to the exact JSON shape of `hubble observe -o json`, then the same
//      normalizer as the file collector, so both sources produce identical records.
//   4. On any failure: reconnect with exponential backoff and jitter, asking for flows since the last flow
//      time seen; flows at exactly that instant that were already counted are skipped.
import * as grpc from '@grpc/grpc-js';
import {
  addIssue,
  type CollectStats,
  type Flow,
  type FlowBatch,
  FlowwrightError,
  issueOf,
  usageError,
} from '../../model/index.js';
import {
  backoffDelay,
  channelCredentials,
  describeGrpcError,
  FATAL_CODES,
  type GrpcTlsOptions,
  type HostPort,
  parseHostPort,
  sleep,
} from '../grpc.js';
import { handleHubbleRecord } from './json.js';
import {
  decodeKeepingUnknown,
  formatTimestamp,
  GET_FLOWS_PATH,
  type HubbleProto,
  loadHubbleProto,
  parseTimestamp,
  responseToJson,
  SERVER_STATUS_PATH,
  unknownFields,
} from './proto.js';

/** TLS for Hubble Relay: `ca` is the `hubble-relay-client-certs` ca.crt; the name is often `*.hubble-relay.cilium.io`. */
export type RelayTlsOptions = GrpcTlsOptions;

export interface RelayOptions {
  /** `host:port` (port 4245 when left out), or `[ipv6]:port`. */
  address: string;
  /** Connect with TLS; undefined = plaintext, as Hubble Relay listens by default. */
  tls?: RelayTlsOptions;
  /** Keep the stream open for new flows; false = read what the server holds and stop. */
  follow: boolean;
  /** Start at this time (RFC 3339). */
  since?: string;
  /**
   * Resume from a checkpoint position (RFC 3339 with nanoseconds): flows at exactly that instant were
   * counted by an earlier run and are skipped. Wins over `since`.
   */
  resumeAfter?: string;
  /** Only flows from or to these namespaces. */
  namespaces?: string[];
  /** Only flows with these verdicts (`FORWARDED`, `dropped`...). */
  verdicts?: string[];
  /** Ask the server to leave out flows it knows are replies (those that do not say are still sent). */
  excludeReplies?: boolean;
  backoff?: { initialMs: number; maxMs: number };
  /** Failed attempts in a row before giving up; undefined = forever when following, 5 otherwise. */
  maxAttempts?: number;
  signal?: AbortSignal;
  onEvent?: (e: RelayEvent) => void;
  /** Stop after this many flow records (duplicates from a resumed stream do not count). */
  maxFlows?: number;
  /** Flows per yielded batch (default 1000). */
  batchSize?: number;
  /** Yield a partial batch after this long without reaching batchSize (default 250 ms), so live progress shows. */
  batchWaitMs?: number;
  /**
   * A reconnect asks for flows from this long (in flow time) before the last one seen, because Relay
   * sends flows only roughly in time order; repeats are recognized by uuid. Default 2000 ms.
   */
  resumeOverlapMs?: number;
}

export type RelayEvent =
  | {
      type: 'connected';
      address: string;
      nodes?: number;
      unavailableNodes?: number;
      seenFlows?: number;
      version?: string;
    }
  | { type: 'disconnected'; address: string; error: string; attempt: number; retryInMs: number }
  | { type: 'lost'; n: number; source: string; node: string }
  | { type: 'node_status'; state: string; nodes: string[]; message: string }
  | { type: 'duplicates'; n: number }
  /**
   * Fields the server sent that this version's protocol does not have (a newer Relay), by where they
   * were and how many responses carried them. They are kept on the decoded messages, not read.
   */
  | { type: 'unknown_fields'; fields: Record<string, number> };

const DEFAULT_ATTEMPTS_NO_FOLLOW = 5;
const STATUS_DEADLINE_MS = 10_000;
/** Responses buffered before the stream is paused; gRPC flow control then slows the server down. */
const HIGH_WATER = 4096;

const VERDICTS = ['FORWARDED', 'DROPPED', 'ERROR', 'AUDIT', 'REDIRECTED', 'TRACED', 'TRANSLATED'];

/**
 * Checks `host:port` syntax and fills in Hubble Relay's port. Returns the gRPC target. `what` names the
 * option in messages; a listening address may use port 0 (any free port).
 */
export function parseRelayAddress(address: string, what = '--hubble-relay', allowPortZero = false): HostPort {
  return parseHostPort(address, { option: what, defaultPort: 4245, example: 'localhost:4245', allowPortZero });
}

/** Channel credentials and the options that go with them (the name to verify). */
export const relayCredentials = channelCredentials;

/** The whitelist and blacklist that express the options, as hubble observe would send them. */
export function flowFilters(opts: Pick<RelayOptions, 'namespaces' | 'verdicts' | 'excludeReplies'>): {
  whitelist: Record<string, unknown[]>[];
  blacklist: Record<string, unknown[]>[];
} {
  const verdicts = (opts.verdicts ?? []).map((v) => {
    const name = v.toUpperCase();
    if (!VERDICTS.includes(name)) throw usageError(`unknown verdict '${v}' (known: ${VERDICTS.join(', ')})`);
    return name;
  });
  const withVerdicts = (f: Record<string, unknown[]>) => (verdicts.length > 0 ? { ...f, verdict: verdicts } : f);
  const whitelist: Record<string, unknown[]>[] = [];
  // Filters in one list are alternatives: a flow from or to any of the namespaces matches.
  for (const ns of opts.namespaces ?? []) {
    whitelist.push(withVerdicts({ source_pod: [`${ns}/`] }), withVerdicts({ destination_pod: [`${ns}/`] }));
  }
  if (whitelist.length === 0 && verdicts.length > 0) whitelist.push({ verdict: verdicts });
  // A blacklist on reply=true keeps flows whose is_reply is absent; a whitelist on reply=false would drop them.
  const blacklist = opts.excludeReplies ? [{ reply: [true] }] : [];
  return { whitelist, blacklist };
}

export { backoffDelay };

function serverStatus(
  client: grpc.Client,
  proto: HubbleProto,
): Promise<Extract<RelayEvent, { type: 'connected' }> | undefined> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      SERVER_STATUS_PATH,
      (r: Uint8Array) => Buffer.from(r),
      (b: Buffer) => proto.ServerStatusResponse.toObject(proto.ServerStatusResponse.decode(b), { longs: Number }),
      proto.ServerStatusRequest.encode({}).finish(),
      new grpc.Metadata(),
      { deadline: Date.now() + STATUS_DEADLINE_MS },
      (err, res) => {
        // An agent or proxy without ServerStatus can still stream flows.
        if (err && err.code === grpc.status.UNIMPLEMENTED) return resolve(undefined);
        if (err || !res) return reject(err);
        const s = res as Record<string, { value?: number } | number | string | undefined>;
        resolve({
          type: 'connected',
          address: '',
          nodes: (s.num_connected_nodes as { value?: number } | undefined)?.value,
          unavailableNodes: (s.num_unavailable_nodes as { value?: number } | undefined)?.value,
          seenFlows: s.seen_flows as number | undefined,
          version: s.version as string | undefined,
        });
      },
    );
  });
}

type Json = Record<string, unknown>;

/**
 * Streams flows from a Hubble Observer server as FlowBatches, counting records in `stats` as the file
 * collector does (replies included: the aggregator skips them).
 * Ends when a non-following stream ends, when `signal` aborts, or when the consumer stops iterating;
 * throws FlowwrightError('unreachable') after `maxAttempts` failed attempts in a row.
 */
export async function* streamRelayFlows(opts: RelayOptions, stats: CollectStats): AsyncGenerator<FlowBatch> {
  const { target } = parseRelayAddress(opts.address);
  const { credentials, options: tlsOptions } = relayCredentials(opts.tls);
  const { whitelist, blacklist } = flowFilters(opts);
  const proto = loadHubbleProto();
  const source = `hubble-relay:${opts.address}`;
  const batchSize = opts.batchSize ?? 1000;
  const batchWaitMs = opts.batchWaitMs ?? 250;
  const overlapMs = opts.resumeOverlapMs ?? 2000;
  const maxAttempts = opts.maxAttempts ?? (opts.follow ? undefined : DEFAULT_ATTEMPTS_NO_FOLLOW);
  const emit = (e: RelayEvent) => opts.onEvent?.(e);

  const startText = opts.resumeAfter ?? opts.since;
  if (startText !== undefined && !parseTimestamp(startText))
    throw usageError(`'${startText}' is not an RFC 3339 time (e.g. 2024-06-03T00:00:00Z)`);

  // Time bookkeeping uses the nine-digit RFC 3339 strings that responseToJson produces: they have a fixed
  // width, so comparing the strings compares the times.
  /** The latest flow time seen: the checkpoint position, and where a reconnect resumes. */
  let lastTime = startText ? formatResume(startText) : '';
  /** With resumeAfter: flows at or before this time were counted by an earlier run. */
  const countedUpTo = opts.resumeAfter ? lastTime : '';
  // Hubble Relay merges the nodes' streams only roughly in time order, so a reconnect asks for a little
  // more than the last time seen and drops what it already counted, by key, within that overlap.
  const recent = createRecentKeys(overlapMs);
  /** Where the next GetFlows starts; set when a reconnect is due. */
  let resumeFrom = lastTime ? parseTimestamp(lastTime) : undefined;

  // stats may already hold counts from other sources: the limit is on the flows read here.
  const flowLimit = opts.maxFlows === undefined ? Number.POSITIVE_INFINITY : stats.flows + opts.maxFlows;
  let limitReached = false;
  let attempt = 0;
  let client: grpc.Client | undefined;
  let call: grpc.ClientReadableStream<Json> | undefined;
  const onAbort = () => call?.cancel();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  let flows: Flow[] = [];
  let duplicates = 0;
  let unknown: Record<string, number> = {};
  // One decode path for every response: protobuf (unknown fields kept) → Hubble JSON → the normalizer.
  const decodeResponse = (b: Buffer): Json => {
    const message = decodeKeepingUnknown(proto.GetFlowsResponse, b);
    for (const where of unknownFields(message, proto.GetFlowsResponse)) unknown[where] = (unknown[where] ?? 0) + 1;
    return responseToJson(proto, message);
  };
  const takeBatch = (): FlowBatch => {
    const batch: FlowBatch = { flows };
    if (lastTime) batch.checkpoint = { source, position: lastTime, label: opts.address };
    flows = [];
    return batch;
  };

  /** Whether a flow was already counted: before a checkpoint we resumed after, or seen again after a reconnect. */
  const isRepeat = (time: string, key: string): boolean =>
    (countedUpTo !== '' && time <= countedUpTo) || recent.has(key);

  // The same record handling as for files (handleHubbleRecord), so both sources produce identical flows;
  // replies stay in the batch, as there: the aggregator counts and skips them.
  const handleResponse = (res: Json) => {
    const flow = res.flow as Json | undefined;
    const time = ((flow?.time ?? res.time) as string | undefined) ?? '';
    const key = flow ? flowKey(flow) : '';
    if (flow && isRepeat(time, key)) {
      duplicates++;
      return;
    }
    stats.records++;
    const before = flows.length;
    try {
      handleHubbleRecord(res, { source, position: time }, flows, stats);
    } catch (err) {
      addIssue(stats, issueOf(err, { file: source }, `flow at ${time}: `));
      return;
    }
    if (flows.length > before) {
      recent.add(key, flows[flows.length - 1].time);
      if (time > lastTime) lastTime = time;
      return;
    }
    const lost = res.lost_events as Json | undefined;
    if (lost) {
      emit({
        type: 'lost',
        n: Number(lost.num_events_lost ?? 0),
        source: String(lost.source ?? ''),
        node: String(res.node_name ?? ''),
      });
    }
    const node = res.node_status as Json | undefined;
    if (node) {
      emit({
        type: 'node_status',
        state: String(node.state_change ?? ''),
        nodes: (node.node_names as string[] | undefined) ?? [],
        message: String(node.message ?? ''),
      });
    }
  };

  try {
    for (;;) {
      if (opts.signal?.aborted) break;
      client = new grpc.Client(target, credentials, {
        ...tlsOptions,
        'grpc.keepalive_time_ms': 30_000,
        'grpc.keepalive_timeout_ms': 10_000,
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
      });
      let failure: unknown;
      let ended = false;
      try {
        const status = await serverStatus(client, proto);
        emit({ ...(status ?? { type: 'connected' }), address: opts.address });

        const request = proto.GetFlowsRequest.encode(
          proto.GetFlowsRequest.fromObject({
            follow: opts.follow,
            since: resumeFrom,
            whitelist,
            blacklist,
          }),
        ).finish();
        const stream = client.makeServerStreamRequest(
          GET_FLOWS_PATH,
          (r: Uint8Array) => Buffer.from(r),
          decodeResponse,
          request,
          new grpc.Metadata(),
          {},
        );
        call = stream;

        // The stream pushes into `queue`; this loop drains it, pausing the stream when it runs ahead.
        let queue: Json[] = [];
        let wakeUp: (() => void) | undefined;
        const notify = () => {
          wakeUp?.();
          wakeUp = undefined;
        };
        stream.on('data', (res: Json) => {
          queue.push(res);
          if (queue.length >= HIGH_WATER) stream.pause();
          notify();
        });
        stream.on('error', (err) => {
          failure = err;
          notify();
        });
        stream.on('end', () => {
          ended = true;
          notify();
        });

        let received = false;
        for (;;) {
          if (queue.length > 0) {
            const items = queue;
            queue = [];
            if (stream.isPaused()) stream.resume();
            if (!received) {
              received = true;
              attempt = 0; // the connection works: the next failure starts the backoff afresh
            }
            for (const res of items) {
              handleResponse(res);
              if (stats.flows >= flowLimit) {
                limitReached = true;
                break;
              }
              if (flows.length >= batchSize) yield takeBatch();
            }
            if (limitReached) break;
            continue;
          }
          if (failure !== undefined || ended) break;
          // Wait for more; with flows pending, only briefly, so that a slow stream still shows progress.
          let timer: NodeJS.Timeout | undefined;
          const waited = await new Promise<boolean>((resolve) => {
            wakeUp = () => resolve(true);
            if (flows.length > 0) timer = setTimeout(() => resolve(false), batchWaitMs);
          });
          clearTimeout(timer);
          if (!waited && flows.length > 0) yield takeBatch();
        }
      } catch (err) {
        failure = err;
      } finally {
        // Closing the client does not end a call in progress (the consumer may have stopped early).
        call?.cancel();
        call = undefined;
        client.close();
      }

      if (flows.length > 0) yield takeBatch();
      if (duplicates > 0) {
        emit({ type: 'duplicates', n: duplicates });
        duplicates = 0;
      }
      if (Object.keys(unknown).length > 0) {
        emit({ type: 'unknown_fields', fields: unknown });
        unknown = {};
      }
      if (opts.signal?.aborted || limitReached) break;
      if (failure === undefined) {
        if (!opts.follow) break;
        failure = new Error('the server ended the stream');
      }
      const code = (failure as Partial<grpc.ServiceError>)?.code;
      if (code !== undefined && FATAL_CODES.has(code))
        throw new FlowwrightError('unreachable', `${opts.address}: ${describeGrpcError(failure)}`, undefined, {
          cause: failure,
        });

      attempt++;
      if (maxAttempts !== undefined && attempt >= maxAttempts)
        throw new FlowwrightError(
          'unreachable',
          `cannot read flows from ${opts.address} (${attempt} attempts): ${describeGrpcError(failure)}`,
          undefined,
          { cause: failure },
        );
      // Resume where we stopped: ask for flows since the last one seen, and recognize the ones at that
      // instant that were already counted.
      if (lastTime) resumeFrom = overlapStart(lastTime, overlapMs);
      const retryInMs = backoffDelay(attempt, opts.backoff);
      emit({ type: 'disconnected', address: opts.address, error: describeGrpcError(failure), attempt, retryInMs });
      await sleep(retryInMs, opts.signal);
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    call?.cancel();
    client?.close();
  }
}

/** Keys of the flows counted in the last `windowMs` of flow time, oldest first, to drop repeats after a reconnect. */
function createRecentKeys(windowMs: number) {
  const keys = new Set<string>();
  const order: { key: string; time: number }[] = [];
  let head = 0;
  let newest = Number.NEGATIVE_INFINITY;
  return {
    has: (key: string) => keys.has(key),
    add(key: string, time: number) {
      keys.add(key);
      order.push({ key, time });
      if (time > newest) newest = time;
      while (head < order.length && order[head].time < newest - windowMs) keys.delete(order[head++].key);
      // compact now and then instead of shifting on every flow
      if (head > 4096 && head * 2 > order.length) {
        order.splice(0, head);
        head = 0;
      }
    },
  };
}

/** The time a resumed stream starts at: `windowMs` before the last flow time seen. */
function overlapStart(lastTime: string, windowMs: number): { seconds: number; nanos: number } {
  const t = parseTimestamp(lastTime)!;
  const shiftedNs = t.nanos - (windowMs % 1000) * 1e6;
  const seconds = t.seconds - Math.floor(windowMs / 1000) + Math.floor(shiftedNs / 1e9);
  return { seconds, nanos: ((shiftedNs % 1e9) + 1e9) % 1e9 };
}

/** Identifies a flow among those at the same instant: its uuid, or (older agents have none) its content. */
function flowKey(flow: Json): string {
  return typeof flow.uuid === 'string' && flow.uuid !== '' ? flow.uuid : JSON.stringify(flow);
}

/** A since/checkpoint time in the nine-digit form used for comparisons. */
function formatResume(text: string): string {
  const ts = parseTimestamp(text);
  return ts ? formatTimestamp(ts) : '';
}
