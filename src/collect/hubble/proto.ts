// Loads flowwright's copy of the Hubble protocol (proto/flow, proto/observer, proto/relay, and the
// standard gRPC health service in proto/grpc) with protobufjs, and converts between protobuf messages and the JSON that `hubble observe -o json` prints.
//
// Both directions exist so that one normalizer serves every Hubble source: the relay collector turns a
// decoded GetFlowsResponse into exactly the object a JSON line parses to, and the replay server turns
// exported JSON lines into the messages a real Hubble Relay would send.
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

export interface HubbleProto {
  root: protobuf.Root;
  Flow: protobuf.Type;
  FlowFilter: protobuf.Type;
  GetFlowsRequest: protobuf.Type;
  GetFlowsResponse: protobuf.Type;
  ServerStatusRequest: protobuf.Type;
  ServerStatusResponse: protobuf.Type;
  GetNodesResponse: protobuf.Type;
  GetNamespacesResponse: protobuf.Type;
  GetAgentEventsRequest: protobuf.Type;
  GetDebugEventsRequest: protobuf.Type;
  HealthCheckRequest: protobuf.Type;
  HealthCheckResponse: protobuf.Type;
  HealthListResponse: protobuf.Type;
}

/** gRPC method paths of the Observer service, as Hubble serves them. */
export const GET_FLOWS_PATH = '/observer.Observer/GetFlows';
export const SERVER_STATUS_PATH = '/observer.Observer/ServerStatus';
export const GET_NODES_PATH = '/observer.Observer/GetNodes';
export const GET_NAMESPACES_PATH = '/observer.Observer/GetNamespaces';
export const GET_AGENT_EVENTS_PATH = '/observer.Observer/GetAgentEvents';
export const GET_DEBUG_EVENTS_PATH = '/observer.Observer/GetDebugEvents';
/** The standard gRPC health service (grpc.health.v1), which `hubble status` asks first. */
export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
export const HEALTH_WATCH_PATH = '/grpc.health.v1.Health/Watch';
export const HEALTH_LIST_PATH = '/grpc.health.v1.Health/List';

/** A protobuf Timestamp as protobufjs hands it over (seconds may be a number, a string or a Long). */
export interface TimestampLike {
  seconds?: number | string | { toString(): string };
  nanos?: number;
}

let cached: HubbleProto | undefined;

/** Finds `proto/` by walking up from this file: it sits in src/ when run with tsx and in dist/src/ when built. */
export function findProtoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'observer', 'observer.proto'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the proto/ folder of flowwright');
    dir = parent;
  }
}

/** Parses the .proto files once per process. Field names are kept as written (`pod_name`, `IP`), like Hubble's JSON. */
export function loadHubbleProto(): HubbleProto {
  if (cached) return cached;
  const protoDir = findProtoDir();
  const root = new protobuf.Root();
  // Imports such as "flow/flow.proto" are relative to proto/, not to the importing file.
  // google/protobuf/* never reaches here: protobufjs serves its bundled copies first.
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(protoDir, target));
  root.loadSync(['observer/observer.proto', 'flow/flow.proto', 'relay/relay.proto', 'grpc/health/v1/health.proto'], {
    keepCase: true,
  });
  root.resolveAll();
  cached = {
    root,
    Flow: root.lookupType('flow.Flow'),
    FlowFilter: root.lookupType('flow.FlowFilter'),
    GetFlowsRequest: root.lookupType('observer.GetFlowsRequest'),
    GetFlowsResponse: root.lookupType('observer.GetFlowsResponse'),
    ServerStatusRequest: root.lookupType('observer.ServerStatusRequest'),
    ServerStatusResponse: root.lookupType('observer.ServerStatusResponse'),
    GetNodesResponse: root.lookupType('observer.GetNodesResponse'),
    GetNamespacesResponse: root.lookupType('observer.GetNamespacesResponse'),
    GetAgentEventsRequest: root.lookupType('observer.GetAgentEventsRequest'),
    GetDebugEventsRequest: root.lookupType('observer.GetDebugEventsRequest'),
    HealthCheckRequest: root.lookupType('grpc.health.v1.HealthCheckRequest'),
    HealthCheckResponse: root.lookupType('grpc.health.v1.HealthCheckResponse'),
    HealthListResponse: root.lookupType('grpc.health.v1.HealthListResponse'),
  };
  return cached;
}

// ---------------------------------------------------------------------------------------------------
// Unknown fields: what a newer Hubble sends that this version's protocol does not have

/**
 * Decodes keeping the fields this version does not know: protobufjs then holds their bytes on each
 * message (and writes them back when the message is encoded again) instead of dropping them.
 */
export function decodeKeepingUnknown(type: protobuf.Type, bytes: Uint8Array): protobuf.Message {
  const reader = protobuf.Reader.create(bytes);
  reader.discardUnknown = false;
  return type.decode(reader);
}

/** Where a decoded message (or one of its sub-messages) holds unknown fields: `flow.source field 12`. */
export function unknownFields(message: protobuf.Message, type: protobuf.Type, path = ''): string[] {
  const out: string[] = [];
  collectUnknown(message, type, path, out);
  return out;
}

function collectUnknown(message: protobuf.Message, type: protobuf.Type, path: string, out: string[]): void {
  for (const bytes of (message as unknown as { $unknowns?: Uint8Array[] }).$unknowns ?? []) {
    // An unknown field starts with its tag, a varint: number << 3 | wire type.
    let tag = 0;
    let scale = 1;
    for (const b of bytes) {
      tag += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) break;
    }
    out.push(`${path || type.name} field ${Math.floor(tag / 8)}`);
  }
  // Only the fields the message has (a decoded message's own properties), so a flow costs little.
  for (const key of Object.keys(message)) {
    const sub = type.fields[key]?.resolvedType;
    if (!(sub instanceof protobuf.Type)) continue;
    const value = (message as unknown as Record<string, unknown>)[key];
    if (!value || typeof value !== 'object') continue;
    const where = path ? `${path}.${key}` : key;
    if (Array.isArray(value)) for (const item of value) collectUnknown(item, sub, where, out);
    else collectUnknown(value as protobuf.Message, sub, where, out);
  }
}

// ---------------------------------------------------------------------------------------------------
// Timestamps

/**
 * RFC 3339 in UTC with all nine fraction digits, e.g. `2024-06-03T00:00:00.000040000Z`. Always nine
 * digits, so that a checkpoint position keeps the exact nanosecond to resume from.
 */
export function formatTimestamp(ts: TimestampLike): string {
  const seconds = Number(ts.seconds ?? 0);
  const nanos = ts.nanos ?? 0;
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  return `${base}.${String(nanos).padStart(9, '0')}Z`;
}

/** Parses an RFC 3339 time with up to nine fraction digits and any UTC offset; undefined when it is not one. */
export function parseTimestamp(text: string): { seconds: number; nanos: number } | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1].replace(/[t ]/, 'T')}${m[3] === 'z' ? 'Z' : m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return { seconds: ms / 1000, nanos: m[2] ? Number(m[2].padEnd(9, '0')) : 0 };
}

/** Compares two timestamps; both must be normalized (0 <= nanos < 1e9). */
export function compareTimestamps(
  a: { seconds: number; nanos: number },
  b: { seconds: number; nanos: number },
): number {
  return a.seconds !== b.seconds ? a.seconds - b.seconds : a.nanos - b.nanos;
}

// ---------------------------------------------------------------------------------------------------
// protobuf → Hubble JSON (the collector's direction; runs once per flow, so it stays lean)

const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: String, defaults: false };

/**
 * A decoded GetFlowsResponse as `hubble observe -o json` prints it: proto field names, enum names,
 * 64-bit integers as strings, timestamps as RFC 3339 strings and wrapper types as plain values.
 */
export function responseToJson(proto: HubbleProto, message: protobuf.Message): Record<string, unknown> {
  const obj = proto.GetFlowsResponse.toObject(message, TO_OBJECT);
  if (obj.time) obj.time = formatTimestamp(obj.time as TimestampLike);
  const flow = obj.flow as Record<string, unknown> | undefined;
  if (flow) {
    if (flow.time) flow.time = formatTimestamp(flow.time as TimestampLike);
    // BoolValue{false} is encoded as an empty message, which protobufjs turns into {}.
    if (flow.is_reply) flow.is_reply = (flow.is_reply as { value?: boolean }).value === true;
  }
  const lost = obj.lost_events as Record<string, unknown> | undefined;
  if (lost?.cpu) lost.cpu = (lost.cpu as { value?: number }).value ?? 0;
  if (lost?.first) lost.first = formatTimestamp(lost.first as TimestampLike);
  if (lost?.last) lost.last = formatTimestamp(lost.last as TimestampLike);
  return obj;
}

// ---------------------------------------------------------------------------------------------------
// Hubble JSON → protobuf (the replay server's direction; runs once per line when a file is loaded)

const WRAPPER_TYPES = new Set([
  '.google.protobuf.BoolValue',
  '.google.protobuf.Int32Value',
  '.google.protobuf.UInt32Value',
  '.google.protobuf.Int64Value',
  '.google.protobuf.UInt64Value',
  '.google.protobuf.StringValue',
  '.google.protobuf.DoubleValue',
  '.google.protobuf.FloatValue',
]);

const jsonNames = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

/** Fields by proto name and by lowerCamelCase JSON name (`pod_name` and `podName`), as protobuf's JSON mapping allows. */
function fieldsByName(type: protobuf.Type): Map<string, protobuf.Field> {
  let map = jsonNames.get(type);
  if (!map) {
    map = new Map();
    for (const field of type.fieldsArray) {
      map.set(field.name, field);
      map.set(
        field.name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()),
        field,
      );
    }
    jsonNames.set(type, map);
  }
  return map;
}

/** Called with the path of each JSON key that no field of the protocol has (`flow.some_new_field`). */
export type OnUnknownField = (path: string) => void;

function jsonValue(
  field: protobuf.Field,
  value: unknown,
  path: string,
  onUnknown: OnUnknownField | undefined,
): unknown {
  const type = field.resolvedType;
  if (!(type instanceof protobuf.Type)) return value; // scalars and enums: fromObject takes names, numbers, strings
  if (type.fullName === '.google.protobuf.Timestamp' && typeof value === 'string') {
    const ts = parseTimestamp(value);
    if (!ts) throw new TypeError(`${path}: not an RFC 3339 time: ${value}`);
    return ts;
  }
  if (WRAPPER_TYPES.has(type.fullName) && (typeof value !== 'object' || value === null)) return { value };
  if (typeof value !== 'object' || value === null) throw new TypeError(`${path}: object expected`);
  if (type.fullName === '.google.protobuf.Any') return jsonAny(type, value as Record<string, unknown>, path, onUnknown);
  return jsonToPlain(type, value as Record<string, unknown>, path, onUnknown);
}

/**
 * An Any in ProtoJSON form (`{"@type": "type.googleapis.com/pkg.Msg", ...fields}`) as {type_url, value}.
 * Only messages of this protocol can be encoded; any other type is reported as an unknown field.
 */
function jsonAny(
  anyType: protobuf.Type,
  obj: Record<string, unknown>,
  path: string,
  onUnknown: OnUnknownField | undefined,
): Record<string, unknown> | undefined {
  const url = typeof obj['@type'] === 'string' ? (obj['@type'] as string) : '';
  const name = url.slice(url.lastIndexOf('/') + 1);
  let inner: protobuf.Type | undefined;
  try {
    inner = name ? anyType.root.lookupType(name) : undefined;
  } catch {
    inner = undefined;
  }
  if (!inner) {
    onUnknown?.(`${path}[${url || 'no @type'}]`);
    return undefined;
  }
  const { '@type': _, ...fields } = obj;
  const message = inner.fromObject(jsonToPlain(inner, fields, path, onUnknown));
  return { type_url: url, value: inner.encode(message).finish() };
}

/** Renames JSON keys to proto field names and unwraps JSON-only forms; keys the protocol lacks are reported. */
function jsonToPlain(
  type: protobuf.Type,
  obj: Record<string, unknown>,
  path: string,
  onUnknown: OnUnknownField | undefined,
): Record<string, unknown> {
  const fields = fieldsByName(type);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) {
    const field = fields.get(key);
    const value = obj[key];
    if (value === null || value === undefined) continue;
    if (!field) {
      onUnknown?.(path ? `${path}.${key}` : key);
      continue;
    }
    const where = path ? `${path}.${field.name}` : field.name;
    if (field.repeated) {
      if (!Array.isArray(value)) throw new TypeError(`${where}: array expected`);
      out[field.name] = value.map((v, i) => jsonValue(field, v, `${where}[${i}]`, onUnknown));
    } else {
      const converted = jsonValue(field, value, where, onUnknown);
      if (converted !== undefined) out[field.name] = converted;
    }
  }
  return out;
}

/**
 * Builds a GetFlowsResponse from one parsed line of Hubble JSON (`{"flow": {...}, "node_name", "time"}`).
 * Throws a TypeError naming the field when the line does not fit the protocol; keys the protocol does not
 * have go to `onUnknown`.
 */
export function jsonToResponse(
  proto: HubbleProto,
  obj: Record<string, unknown>,
  onUnknown?: OnUnknownField,
): protobuf.Message {
  return proto.GetFlowsResponse.fromObject(jsonToPlain(proto.GetFlowsResponse, obj, '', onUnknown));
}
