// The live Calico collector: reads aggregated flows from Goldmane (Calico Open Source 3.30+, the flow
// API behind Calico Whisker; or `flowwright replay --goldmane`) and yields them in batches.
//
// Goldmane aggregates flows per flow key and 15-second interval and streams each interval's results once
// it is complete, interval after interval. The collector relies on that order to make checkpoints exact:
//   - flows of the newest interval are held back until a later interval starts (or the stream has been
//     quiet for `settleMs`), so a batch's checkpoint `through` means "every flow that started at or before
//     this second has been handed over, and none after it";
//   - after a reconnect it asks again from the first unsettled second; flows it already has (same interval
//     and flow key) are recognized and skipped, so a restarted server or a flaky network double-counts nothing;
//   - a restarted flowwright resumes from the checkpoint (`resumeAfter`) the store kept.
// follow: false reads what the server holds through the List call, page by page, and stops.
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
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
  channelReady,
  describeGrpcError,
  FATAL_CODES,
  type GrpcTlsOptions,
  parseHostPort,
  sleep,
} from '../grpc.js';
import { LIST_PATH, loadGoldmaneProto, normalizeGoldmaneFlow, STREAM_PATH, TO_OBJECT } from './proto.js';

/** TLS for Goldmane: its certificate is issued by the Tigera operator CA, and it requires client certificates. */
export type GoldmaneTlsOptions = GrpcTlsOptions;

export interface GoldmaneOptions {
  /** `host:port` (port 7443, Goldmane's, when left out) or `[ipv6]:port`. */
  address: string;
  /** Connect with TLS; undefined = plaintext (the replay server's default). */
  tls?: GoldmaneTlsOptions;
  /** Keep streaming new flows (Stream); false = read what the server holds (List) and stop. Default true. */
  follow?: boolean;
  /**
   * Where to start, as Goldmane's `start_time_gte`: Unix seconds; 0 = from now on (following) or the
   * oldest the server has (not following); negative = that many seconds before now. Default 0.
   */
  since?: number;
  /** A checkpoint position: every flow that started at or before it was counted by an earlier run. Wins over `since`. */
  resumeAfter?: string;
  /**
   * Only flows from or to these namespaces. Checked here: Goldmane's Filter ANDs its fields, so "source
   * or destination namespace" cannot be asked of the server in one call.
   */
  namespaces?: string[];
  backoff?: { initialMs: number; maxMs: number };
  /** Failed attempts in a row before giving up; undefined = forever when following, 5 otherwise. */
  maxAttempts?: number;
  signal?: AbortSignal;
  onEvent?: (e: GoldmaneEvent) => void;
  /** Flows per yielded batch, at most (default 1000). */
  batchSize?: number;
  /** How long a quiet stream waits before the newest interval counts as complete (default 20 s). */
  settleMs?: number;
  /** List page size when not following (default 1000). */
  pageSize?: number;
}

export type GoldmaneEvent =
  | { type: 'connected'; address: string; from: number }
  | { type: 'disconnected'; address: string; error: string; attempt: number; retryInMs: number }
  | { type: 'duplicates'; n: number };

/** Goldmane's port in calico-system. */
export const GOLDMANE_PORT = 7443;
const DEFAULT_ATTEMPTS_NO_FOLLOW = 5;
const DEFAULT_SETTLE_MS = 20_000;
/** Flow keys are remembered this long (seconds of flow time) to recognize repeats after a reconnect. */
const SEEN_WINDOW_S = 600;
const HIGH_WATER = 4096;

/** Checks `host:port` syntax and fills in Goldmane's port. Returns the gRPC target. */
export function parseGoldmaneAddress(address: string): string {
  return parseHostPort(address, {
    option: '--goldmane',
    defaultPort: GOLDMANE_PORT,
    example: 'goldmane.calico-system:7443',
  }).target;
}

/** Channel credentials (plaintext, TLS or mTLS) and the channel options that go with them. */
export const goldmaneCredentials = channelCredentials;

/** Exponential backoff with jitter, as for Hubble Relay. */
export const goldmaneBackoff = backoffDelay;

type Obj = Record<string, unknown>;

/** A checkpoint position: the last second whose flows were all handed over. */
function parsePosition(position: string): number {
  const n = Number(position);
  if (!Number.isInteger(n) || n < 0)
    throw usageError(`goldmane checkpoint '${position}' is not a Unix time in seconds`);
  return n;
}

/**
 * Streams flows from a Goldmane server as FlowBatches (counted in `stats`). Ends when `signal` aborts,
 * when the consumer stops iterating, or (follow: false) when the server's flows have been listed; throws
 * FlowwrightError('unreachable') after `maxAttempts` failed attempts in a row. Checkpoints are
 * `{ source: 'goldmane:<address>', position: '<unix seconds>' }`.
 */
export async function* streamGoldmaneFlows(opts: GoldmaneOptions, stats: CollectStats): AsyncGenerator<FlowBatch> {
  const target = parseGoldmaneAddress(opts.address);
  const { credentials, options: tlsOptions } = goldmaneCredentials(opts.tls);
  const proto = loadGoldmaneProto();
  const follow = opts.follow ?? true;
  const source = `goldmane:${opts.address}`;
  const batchSize = opts.batchSize ?? 1000;
  const settleMs = opts.settleMs ?? DEFAULT_SETTLE_MS;
  const maxAttempts = opts.maxAttempts ?? (follow ? undefined : DEFAULT_ATTEMPTS_NO_FOLLOW);
  const namespaces = opts.namespaces && opts.namespaces.length > 0 ? new Set(opts.namespaces) : undefined;
  const emit = (e: GoldmaneEvent) => opts.onEvent?.(e);

  /** Every flow that started at or before this second has been handed over (-1: nothing yet). */
  let through = opts.resumeAfter !== undefined ? parsePosition(opts.resumeAfter) : -1;
  const since = opts.since ?? 0;
  /** The newest interval start seen. */
  let newest = through;
  /** Flows of intervals after `through`, by start second, waiting for their interval to be complete. */
  const held = new Map<number, Flow[]>();
  /** Flow keys seen per interval start: a repeat after a reconnect is recognized and skipped. */
  const seen = new Map<number, Set<string>>();
  let ready: Flow[] = [];
  let duplicates = 0;

  const takeBatch = (): FlowBatch => {
    const batch: FlowBatch = { flows: ready };
    if (through >= 0) batch.checkpoint = { source, position: String(through), label: opts.address };
    ready = [];
    return batch;
  };

  /** Hands over every held interval that started before `before`; `through` moves up to `upTo`. */
  const release = (before: number, upTo: number) => {
    for (const start of [...held.keys()].sort((a, b) => a - b)) {
      if (start >= before) continue;
      for (const f of held.get(start)!) ready.push(f);
      held.delete(start);
    }
    if (upTo > through) through = upTo;
    for (const start of seen.keys()) if (start < through - SEEN_WINDOW_S) seen.delete(start);
  };

  const handleResult = (result: Obj, position: string) => {
    stats.records++;
    const flow = result.flow as Obj | undefined;
    if (!flow || typeof flow !== 'object') {
      addIssue(stats, { file: source, message: `${position}: a FlowResult without a flow` });
      return;
    }
    const start = Number(flow.start_time ?? 0);
    const key = `${start}|${JSON.stringify(flow.Key ?? null)}`;
    let keys = seen.get(start);
    if (keys?.has(key)) {
      duplicates++;
      return;
    }
    if (keys === undefined) {
      keys = new Set();
      seen.set(start, keys);
    }
    keys.add(key);
    let normalized: Flow;
    try {
      normalized = normalizeGoldmaneFlow(flow, { source, position: String(start) });
    } catch (err) {
      addIssue(stats, issueOf(err, { file: source }, `${position}: `));
      return;
    }
    stats.flows++;
    if (
      namespaces &&
      !namespaces.has(normalized.source.namespace ?? '') &&
      !namespaces.has(normalized.destination.namespace ?? '')
    )
      return;
    if (start <= through) {
      // Late for an interval already handed over: counted now (and not again after a restart).
      ready.push(normalized);
      return;
    }
    const list = held.get(start);
    if (list) list.push(normalized);
    else held.set(start, [normalized]);
    if (start > newest) {
      // A new interval started: the earlier ones are complete.
      if (newest > through) release(start, start - 1);
      newest = start;
    }
  };

  let attempt = 0;
  let client: grpc.Client | undefined;
  let call: grpc.ClientReadableStream<Obj> | undefined;
  const onAbort = () => {
    call?.cancel();
    client?.close();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    for (;;) {
      if (opts.signal?.aborted) break;
      client = new grpc.Client(target, credentials, {
        ...tlsOptions,
        'grpc.keepalive_time_ms': 30_000,
        'grpc.keepalive_timeout_ms': 10_000,
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
      });
      // Ask again from the first second not yet handed over; flows already held are recognized.
      const from = through >= 0 ? through + 1 : since;
      let failure: unknown;
      let ended = false;
      try {
        await channelReady(client, CONNECT_TIMEOUT_MS);
        if (!follow) {
          emit({ type: 'connected', address: opts.address, from });
          yield* listAll(client, proto, from, opts.pageSize ?? 1000, handleResult, () => {
            if (ready.length >= batchSize) return takeBatch();
            return undefined;
          });
          release(Number.POSITIVE_INFINITY, newest);
          while (ready.length > 0) yield takeBatch();
          break;
        }
        const request = proto.FlowStreamRequest.encode(
          proto.FlowStreamRequest.fromObject({ start_time_gte: from, aggregation_interval: 15 }),
        ).finish();
        const stream = client.makeServerStreamRequest(
          STREAM_PATH,
          (r: Uint8Array) => Buffer.from(r),
          (b: Buffer) => proto.FlowResult.toObject(proto.FlowResult.decode(b), TO_OBJECT),
          request,
          new grpc.Metadata(),
          {},
        );
        call = stream;
        emit({ type: 'connected', address: opts.address, from });

        let queue: Obj[] = [];
        let wakeUp: (() => void) | undefined;
        const notify = () => {
          wakeUp?.();
          wakeUp = undefined;
        };
        stream.on('data', (res: Obj) => {
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

        let received = 0;
        for (;;) {
          if (queue.length > 0) {
            const items = queue;
            queue = [];
            if (stream.isPaused()) stream.resume();
            if (received === 0) attempt = 0; // the connection works: the next failure starts the backoff afresh
            for (const res of items) {
              received++;
              handleResult(res, `stream message ${received}`);
              if (ready.length >= batchSize) yield takeBatch();
            }
            if (duplicates > 0) {
              emit({ type: 'duplicates', n: duplicates });
              duplicates = 0;
            }
            continue;
          }
          if (ready.length > 0) yield takeBatch();
          if (failure !== undefined || ended) break;
          // Quiet for settleMs: the newest interval is complete too.
          const woke = await new Promise<boolean>((resolve) => {
            wakeUp = () => resolve(true);
            if (held.size > 0) setTimeout(() => resolve(false), settleMs);
          });
          if (!woke && queue.length === 0 && held.size > 0) release(Number.POSITIVE_INFINITY, newest);
        }
      } catch (err) {
        failure = err;
      } finally {
        call?.cancel();
        call = undefined;
        client.close();
      }

      if (ready.length > 0) yield takeBatch();
      if (duplicates > 0) {
        emit({ type: 'duplicates', n: duplicates });
        duplicates = 0;
      }
      if (opts.signal?.aborted) break;
      if (failure === undefined) failure = new Error('the server ended the stream');
      if (failure instanceof FlowwrightError) throw failure;
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
      const retryInMs = goldmaneBackoff(attempt, opts.backoff);
      emit({ type: 'disconnected', address: opts.address, error: describeGrpcError(failure), attempt, retryInMs });
      await sleep(retryInMs, opts.signal);
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    call?.cancel();
    client?.close();
  }
}

/** How long one attempt waits for the connection before it counts as failed. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Lists every page from `from` on, feeding each FlowResult to `handle`; yields batches as they fill. */
async function* listAll(
  client: grpc.Client,
  proto: ReturnType<typeof loadGoldmaneProto>,
  from: number,
  pageSize: number,
  handle: (result: Obj, position: string) => void,
  takeIfFull: () => FlowBatch | undefined,
): AsyncGenerator<FlowBatch> {
  for (let page = 0; ; page++) {
    const result = await listPage(client, proto, { start_time_gte: from, page, page_size: pageSize });
    const flows = (result.flows as Obj[] | undefined) ?? [];
    flows.forEach((f, i) => {
      handle(f, `list page ${page} item ${i}`);
    });
    const batch = takeIfFull();
    if (batch) yield batch;
    const meta = (result.meta as Obj | undefined) ?? {};
    const totalPages = Number(meta.totalPages ?? 0);
    if (flows.length === 0 || page + 1 >= totalPages) return;
  }
}

function listPage(client: grpc.Client, proto: ReturnType<typeof loadGoldmaneProto>, request: Obj): Promise<Obj> {
  const type: protobuf.Type = proto.FlowListRequest;
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      LIST_PATH,
      (r: Uint8Array) => Buffer.from(r),
      (b: Buffer) => proto.FlowListResult.toObject(proto.FlowListResult.decode(b), TO_OBJECT),
      type.encode(type.fromObject(request)).finish(),
      new grpc.Metadata(),
      { deadline: Date.now() + 30_000 },
      (err, res) => (err || !res ? reject(err) : resolve(res as Obj)),
    );
  });
}
