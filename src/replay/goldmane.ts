// `flowwright replay --goldmane`: serves a flow file over Calico's Goldmane Flows API (Stream and List),
// so the Goldmane collector (or Calico Whisker, or grpcurl) can read a file as if it were a live cluster.
//
// Input files may hold Calico Enterprise flow logs in any form the file collector reads (flows.log lines,
// Elasticsearch hits, `_bulk` bodies, arrays), or Goldmane's own JSON (`{"id", "flow": {"Key": ...}}`
// or a bare Flow, with proto or lowerCamelCase field names). Flows are served in start-time order.
//
// Time: the server's "now" is the end of the newest flow released so far. Without a rate every flow is
// released at once; with a rate, that many per second from the moment the server starts, so that
// following clients see them arrive like live traffic.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { classifyCalicoRecord, normalizeCalicoFlowLog } from '../collect/calico/flowlog.js';
import { flowLogToGoldmane, LIST_PATH, loadGoldmaneProto, STREAM_PATH } from '../collect/calico/proto.js';
import { expandInputs, readLines } from '../collect/index.js';
import { addIssue, type CollectStats, emptyStats, FlowwrightError } from '../model/index.js';
import { type Listening, listen, passBytes, type ReplayTls, releaseEntries } from './serving.js';

export interface GoldmaneReplayOptions {
  /** `host:port` to listen on; port 0 picks a free one. Host 127.0.0.1 when only `:port` or a port is given. */
  listen: string;
  /** Flow files, directories or `-`, as `flowwright ingest` takes them. */
  files: string[];
  /** Flows released per second; undefined = all available at once. */
  rate?: number;
  /** With a client CA the server requires client certificates signed by it (mTLS, as Goldmane does). */
  tls?: ReplayTls;
  /** Counters for the records read (malformed ones with file and line); a fresh set when left out. */
  stats?: CollectStats;
}

export interface GoldmaneReplay extends Listening {
  /** Flows served: those loaded from the files, reports of one flow key and interval merged into one. */
  flows: number;
  stats: CollectStats;
  /** Flows released so far. */
  released(): number;
  /** Stream and List calls received so far. */
  calls(): number;
}

type Obj = Record<string, unknown>;

/** One flow the server can send: its FlowResult encoded once, and what filters look at. */
interface Entry {
  start: number;
  end: number;
  bytes: Uint8Array;
  key: Obj;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Splits `host:port` (or `[v6]:port`, `:port`, `port`). */
export function parseListen(listen: string): { host: string; port: number } {
  const text = listen.trim();
  let host = '127.0.0.1';
  let portText = text;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    host = text.slice(1, end);
    portText = text.slice(end + 2);
  } else if (text.includes(':')) {
    const colon = text.lastIndexOf(':');
    if (colon > 0) host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  const port = Number(portText);
  if (host === '' || portText === '' || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new FlowwrightError('usage', `--listen '${listen}': expected host:port (port 0 picks a free one)`);
  return { host, port };
}

// ---------------------------------------------------------------------------------------------------
// Loading

/** Protobuf JSON may use lowerCamelCase names; protobufjs's fromObject (keepCase) wants the proto names. */
function toProtoNames(type: protobuf.Type, obj: Obj): Obj {
  const out: Obj = {};
  for (const [k, value] of Object.entries(obj)) {
    const field =
      type.fields[k] ??
      type.fieldsArray.find((f) => f.name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()) === k);
    if (!field || value === null || value === undefined) continue;
    const inner = field.resolvedType;
    if (inner instanceof protobuf.Type) {
      out[field.name] = field.repeated
        ? (Array.isArray(value) ? value : []).map((v) => (isObj(v) ? toProtoNames(inner, v) : v))
        : isObj(value)
          ? toProtoNames(inner, value)
          : value;
    } else out[field.name] = value;
  }
  return out;
}

/** The Goldmane flows (plain objects) one parsed line stands for; bulk action lines give none. */
function flowsOfRecord(record: unknown, origin: { source: string; line: number }): Obj[] {
  // Goldmane's own JSON: a FlowResult or a bare Flow.
  if (isObj(record) && (isObj(record.flow) || isObj(record.Key) || isObj(record.key))) {
    const flow = isObj(record.flow) ? record.flow : record;
    // Hubble's `{"flow": ...}` lines have the same wrapper; a Goldmane flow always has its key.
    if (!isObj(flow.Key) && !isObj(flow.key))
      throw new FlowwrightError(
        'input',
        isObj(flow.source) || isObj(flow.IP) || flow.verdict !== undefined
          ? 'a Hubble flow, not a Calico one: serve Hubble flows with `flowwright replay` without --goldmane'
          : 'a Goldmane flow without its key',
      );
    return [toProtoNames(loadGoldmaneProto().Flow, flow)];
  }
  const kind = classifyCalicoRecord(record);
  const docs: unknown[] =
    kind === 'flow'
      ? [record]
      : kind === 'wrapped'
        ? [(record as Obj)._source ?? (record as Obj).doc]
        : kind === 'hits'
          ? (((record as Obj).hits as Obj).hits as unknown[])
          : kind === 'array'
            ? (record as unknown[])
            : kind === 'bulk-action'
              ? []
              : [undefined];
  return docs.map((d) => {
    const doc = isObj(d) && isObj(d._source) ? d._source : d;
    if (classifyCalicoRecord(doc) !== 'flow')
      throw new FlowwrightError('input', 'not a Calico flow log document or a Goldmane flow');
    return flowLogToGoldmane(doc as Obj, normalizeCalicoFlowLog(doc as Obj, origin));
  });
}

const COUNTERS = [
  'packets_in',
  'packets_out',
  'bytes_in',
  'bytes_out',
  'num_connections_started',
  'num_connections_completed',
  'num_connections_live',
];

/**
 * Folds a flow into one already held for the same key and interval, as Goldmane aggregates the reports
 * of many nodes: counters add up, labels are those both have, the interval ends at the later end.
 */
function mergeInto(into: Obj, flow: Obj): void {
  for (const c of COUNTERS) into[c] = Number(into[c] ?? 0) + Number(flow[c] ?? 0);
  for (const l of ['source_labels', 'dest_labels']) {
    const other = new Set((flow[l] as string[] | undefined) ?? []);
    into[l] = ((into[l] as string[] | undefined) ?? []).filter((x) => other.has(x));
  }
  into.end_time = Math.max(Number(into.end_time ?? 0), Number(flow.end_time ?? 0));
}

async function loadEntries(files: string[], stats: CollectStats): Promise<Entry[]> {
  const proto = loadGoldmaneProto();
  /** Flows in their canonical plain form, by interval start and key. */
  const byKey = new Map<string, Obj>();
  for (const src of await expandInputs(files)) {
    for await (const chunk of readLines(src)) {
      chunk.lines.forEach((text, i) => {
        const line = chunk.firstLine + i;
        if (text.trim() === '') return;
        stats.records++;
        try {
          const flows = flowsOfRecord(JSON.parse(text), { source: src.display, line });
          if (flows.length === 0) stats.nonFlow++;
          for (const flow of flows) {
            // fromObject throws a TypeError naming the field when a value does not fit the protocol;
            // toObject then gives one spelling whatever form the file used.
            const plain = proto.Flow.toObject(proto.Flow.fromObject(flow), {
              enums: String,
              longs: Number,
              arrays: true,
            }) as Obj;
            const id = `${Number(plain.start_time ?? 0)}|${JSON.stringify(plain.Key ?? {})}`;
            const held = byKey.get(id);
            if (held) mergeInto(held, plain);
            else byKey.set(id, plain);
            stats.flows++;
          }
        } catch (err) {
          const field = err instanceof FlowwrightError ? err.location?.field : undefined;
          const message = err instanceof SyntaxError ? 'not valid JSON' : (err as Error).message;
          addIssue(stats, { file: src.display, line, field, message });
        }
      });
    }
  }
  // Start-time order, stable: what a Goldmane server would stream.
  const flows = [...byKey.values()].sort((a, b) => Number(a.start_time ?? 0) - Number(b.start_time ?? 0));
  // Like Goldmane, one id per flow key while the server runs.
  const ids = new Map<string, number>();
  return flows.map((flow) => {
    const key = (flow.Key as Obj | undefined) ?? {};
    const keyText = JSON.stringify(key);
    let id = ids.get(keyText);
    if (id === undefined) {
      id = ids.size + 1;
      ids.set(keyText, id);
    }
    const start = Number(flow.start_time ?? 0);
    const bytes = proto.FlowResult.encode(proto.FlowResult.fromObject({ id, flow })).finish();
    return { start, end: Math.max(Number(flow.end_time ?? 0), start), bytes, key };
  });
}

// ---------------------------------------------------------------------------------------------------
// Filters (Goldmane's Filter: values within a field are alternatives, fields must all match)

type Predicate = (key: Obj) => boolean;

function stringMatches(matches: unknown, value: string): boolean {
  return (matches as Obj[]).some((m) =>
    m.type === 'Fuzzy' || m.type === 1 ? value.includes(str(m.value)) : value === str(m.value),
  );
}

function compileFilter(filter: Obj | undefined): Predicate {
  if (!filter) return () => true;
  if (Array.isArray(filter.policies) && filter.policies.length > 0)
    throw new FlowwrightError('usage', 'the replay server does not filter on policies');
  const checks: Predicate[] = [];
  const strings: [string, string][] = [
    ['source_names', 'source_name'],
    ['source_namespaces', 'source_namespace'],
    ['dest_names', 'dest_name'],
    ['dest_namespaces', 'dest_namespace'],
    ['protocols', 'proto'],
  ];
  for (const [field, keyField] of strings) {
    const list = filter[field];
    if (Array.isArray(list) && list.length > 0) checks.push((k) => stringMatches(list, str(k[keyField])));
  }
  const ports = filter.dest_ports;
  if (Array.isArray(ports) && ports.length > 0) {
    const set = new Set(ports.map((p) => Number((p as Obj).port)));
    checks.push((k) => set.has(Number(k.dest_port ?? 0)));
  }
  const actions = filter.actions;
  if (Array.isArray(actions) && actions.length > 0) {
    const set = new Set(actions.map(String));
    checks.push((k) => set.has(str(k.action)));
  }
  return (k) => checks.every((c) => c(k));
}

// ---------------------------------------------------------------------------------------------------
// The server

/**
 * Loads the files and serves them. Malformed records are counted in `stats` (file, line, field) and
 * skipped; a path that does not exist or a port that cannot be bound rejects with a FlowwrightError.
 */
export async function startGoldmaneReplay(opts: GoldmaneReplayOptions): Promise<GoldmaneReplay> {
  const { host, port } = parseListen(opts.listen);
  const stats = opts.stats ?? emptyStats();
  const entries = await loadEntries(opts.files, stats);
  const proto = loadGoldmaneProto();
  const release = releaseEntries(entries.length, opts.rate);
  let calls = 0;

  /** The server's "now": the end of the newest flow released (0 before any). */
  const now = () => {
    const released = release.released();
    return released > 0 ? entries[released - 1]!.end : 0;
  };
  /** Goldmane's time arguments: >0 absolute, <0 relative to now, 0 = `zero`. */
  const resolveTime = (t: number, zero: number) => (t > 0 ? t : t < 0 ? now() + t : zero);

  const decode = (type: protobuf.Type) => (b: Buffer) =>
    type.toObject(type.decode(b), { enums: String, longs: Number, defaults: false }) as Obj;

  const serveStream = async (call: grpc.ServerWritableStream<Obj, Uint8Array>) => {
    calls++;
    let cancelled = false;
    call.on('cancelled', () => {
      cancelled = true;
      release.wake();
    });
    call.on('error', () => {
      cancelled = true;
    });
    try {
      const req = call.request;
      let matches: Predicate;
      try {
        matches = compileFilter(req.filter as Obj | undefined);
      } catch (err) {
        call.destroy(Object.assign(new Error((err as Error).message), { code: grpc.status.INVALID_ARGUMENT }));
        return;
      }
      const requested = Number(req.start_time_gte ?? 0);
      // 0 means "from now on": only flows released after this call.
      let cursor = requested === 0 ? release.released() : 0;
      const from = resolveTime(requested, Number.POSITIVE_INFINITY);
      for (;;) {
        while (cursor < release.released() && !cancelled && !release.closing()) {
          const e = entries[cursor++]!;
          if (requested !== 0 && e.start < from) continue;
          if (!matches(e.key)) continue;
          await release.write(call, e.bytes);
        }
        if (cancelled || release.closing()) return;
        // A live Goldmane keeps the stream open waiting for new intervals; so does the replay.
        if (cursor >= release.released()) await release.next();
      }
    } finally {
      if (!cancelled) call.end();
    }
  };

  const list = (call: grpc.ServerUnaryCall<Obj, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
    calls++;
    const req = call.request;
    let matches: Predicate;
    try {
      matches = compileFilter(req.filter as Obj | undefined);
    } catch (err) {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
      return;
    }
    const from = resolveTime(Number(req.start_time_gte ?? 0), Number.NEGATIVE_INFINITY);
    const until = resolveTime(Number(req.start_time_lt ?? 0), Number.POSITIVE_INFINITY);
    const selected: Entry[] = [];
    const released = release.released();
    for (let i = 0; i < released; i++) {
      const e = entries[i]!;
      if (e.start >= from && e.start < until && matches(e.key)) selected.push(e);
    }
    const pageSize = Number(req.page_size ?? 0);
    const page = Number(req.page ?? 0);
    const slice = pageSize > 0 ? selected.slice(page * pageSize, (page + 1) * pageSize) : selected;
    const result = proto.FlowListResult.fromObject({
      meta: { totalPages: pageSize > 0 ? Math.ceil(selected.length / pageSize) : 1, totalResults: selected.length },
      flows: slice.map((e) => proto.FlowResult.decode(e.bytes)),
    });
    callback(null, proto.FlowListResult.encode(result).finish());
  };

  const service: grpc.ServiceDefinition = {
    Stream: {
      path: STREAM_PATH,
      requestStream: false,
      responseStream: true,
      requestSerialize: (r: Buffer) => r,
      requestDeserialize: decode(proto.FlowStreamRequest),
      responseSerialize: passBytes,
      responseDeserialize: (b: Buffer) => b,
    },
    List: {
      path: LIST_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: (r: Buffer) => r,
      requestDeserialize: decode(proto.FlowListRequest),
      responseSerialize: passBytes,
      responseDeserialize: (b: Buffer) => b,
    },
  };

  const server = new grpc.Server();
  server.addService(service, {
    Stream: (call: grpc.ServerWritableStream<Obj, Uint8Array>) => {
      serveStream(call).catch((err) => call.destroy(err));
    },
    List: list,
  });

  const listening = await listen(server, host, port, opts.tls, release);
  return { ...listening, flows: entries.length, stats, released: release.released, calls: () => calls };
}
