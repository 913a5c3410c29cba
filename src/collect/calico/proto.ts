// Loads flowwright's subset of Calico's Goldmane API (proto/goldmane/api.proto) with protobufjs, and
// converts Goldmane flows both ways: protobuf → Flow for the collector, Calico Enterprise flow log
// documents → Goldmane flows for the replay server (so one flow file can be served over the API).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { Flow, Origin } from '../../model/index.js';
import { checkFlowNames, FlowwrightError } from '../../model/index.js';
import {
  calicoEndpoint,
  calicoProtocol,
  calicoReporter,
  calicoService,
  calicoVerdict,
  endpointType,
  isApiServerService,
  present,
} from './endpoint.js';

export interface GoldmaneProto {
  root: protobuf.Root;
  FlowStreamRequest: protobuf.Type;
  FlowListRequest: protobuf.Type;
  FlowListResult: protobuf.Type;
  FlowResult: protobuf.Type;
  Flow: protobuf.Type;
}

/** gRPC method paths of the Flows service, as Goldmane serves them. */
export const STREAM_PATH = '/goldmane.Flows/Stream';
export const LIST_PATH = '/goldmane.Flows/List';

let cached: GoldmaneProto | undefined;

/** Finds `proto/` by walking up from this file: it sits in src/ when run with tsx and in dist/src/ when built. */
function findProtoFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'proto', 'goldmane', 'api.proto');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find proto/goldmane/api.proto of flowwright');
    dir = parent;
  }
}

/** Parses the .proto once per process; field names stay as written (`start_time`, `Key`). */
export function loadGoldmaneProto(): GoldmaneProto {
  if (cached) return cached;
  const root = new protobuf.Root();
  root.loadSync(findProtoFile(), { keepCase: true });
  root.resolveAll();
  cached = {
    root,
    FlowStreamRequest: root.lookupType('goldmane.FlowStreamRequest'),
    FlowListRequest: root.lookupType('goldmane.FlowListRequest'),
    FlowListResult: root.lookupType('goldmane.FlowListResult'),
    FlowResult: root.lookupType('goldmane.FlowResult'),
    Flow: root.lookupType('goldmane.Flow'),
  };
  return cached;
}

/** How the collector decodes messages: enum names, 64-bit integers as numbers, no defaults filled in. */
export const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: Number, defaults: false };

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) || 0 : 0);

/**
 * A policy hit as the same string Calico Enterprise flow logs use:
 * `<policy index>|<tier>|<namespace>/<name>|<action>|<rule index>` (no `<namespace>/` for global ones).
 */
export function formatPolicyHit(hit: Obj): string {
  const ns = present(hit.namespace);
  const name = present(hit.name) ?? (hit.kind === 'EndOfTier' ? 'end-of-tier' : '');
  const action = typeof hit.action === 'string' ? hit.action.toLowerCase() : 'unspecified';
  return `${num(hit.policy_index)}|${present(hit.tier) ?? ''}|${ns ? `${ns}/` : ''}${name}|${action}|${num(hit.rule_index)}`;
}

/**
 * One Goldmane Flow (decoded with TO_OBJECT, or its JSON with the same field names) as a Flow. Goldmane
 * reports no addresses, so networks stay the network sets `pub` / `pvt`. The count is the connections
 * started in the interval; a record of a connection that only continued counts 1. Throws a
 * FlowwrightError('input') naming the field when the flow is not usable.
 */
export function normalizeGoldmaneFlow(flow: Obj, origin: Origin): Flow {
  const key = flow.Key ?? flow.key;
  if (!isObj(key)) throw new FlowwrightError('input', 'missing flow key', { field: 'Key' });
  const start = num(flow.start_time ?? flow.startTime);
  const end = num(flow.end_time ?? flow.endTime);
  if (!(start > 0) && !(end > 0))
    throw new FlowwrightError('input', 'missing start_time and end_time', { field: 'start_time' });

  const protocol = calicoProtocol(key.proto);
  const destType = endpointType(key.dest_type, 'Key.dest_type');
  const source = calicoEndpoint({
    type: endpointType(key.source_type, 'Key.source_type'),
    nameAggr: present(key.source_name),
    namespace: present(key.source_namespace),
    labels: stringArray(flow.source_labels),
  });
  const destination = calicoEndpoint({
    type: destType,
    nameAggr: present(key.dest_name),
    namespace: present(key.dest_namespace),
    labels: stringArray(flow.dest_labels),
  });
  const service = calicoService(
    key.dest_service_namespace,
    key.dest_service_name,
    key.dest_service_port_name,
    num(key.dest_service_port),
  );
  if ((destType === 'net' || destType === 'hep') && isApiServerService(service)) {
    destination.reserved = 'kube-apiserver';
    delete destination.networkSet;
  }

  const verdict = calicoVerdict(key.action);
  const reporter = calicoReporter(key.reporter, 'Key.reporter');
  const started = num(flow.num_connections_started);
  const result: Flow = {
    time: (start > 0 ? start : end) * 1000,
    source,
    destination,
    protocol,
    verdict,
    reply: false,
    direction: reporter === 'src' ? 'egress' : reporter === 'dst' ? 'ingress' : 'unknown',
    count: started > 0 ? started : 1,
    origin,
  };
  const port = num(key.dest_port);
  if (port > 0 && port <= 65535 && protocol !== 'ICMPv4' && protocol !== 'ICMPv6') {
    result.port = port;
    destination.port = port;
  }
  if (reporter !== undefined) result.reporter = reporter;
  if (verdict === 'dropped') result.dropReason = 'POLICY_DENIED';
  const trace = key.policies;
  if (isObj(trace) && Array.isArray(trace.enforced_policies) && trace.enforced_policies.length > 0)
    result.policies = trace.enforced_policies.filter(isObj).map(formatPolicyHit);
  if (service !== undefined) result.service = service;
  checkFlowNames(result);
  return result;
}

function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Calico Enterprise flow log document → Goldmane Flow (for the replay server)

const TYPE_NAMES = { wep: 'WorkloadEndpoint', hep: 'HostEndpoint', ns: 'NetworkSet', net: 'Network' } as const;
const PROTO_NAMES: Record<string, string> = {
  TCP: 'TCP',
  UDP: 'UDP',
  SCTP: 'SCTP',
  ICMPv4: 'ICMP',
  ICMPv6: 'ICMPv6',
};

/** `<index>|<tier>|<namespace>/<name>|<action>|<rule>` back into a PolicyHit; undefined when it is not one. */
export function parsePolicyString(text: string): Obj | undefined {
  const parts = text.split('|');
  if (parts.length !== 5) return undefined;
  const [index, tier, qualified, action, rule] = parts as [string, string, string, string, string];
  const slash = qualified.indexOf('/');
  const namespace = slash < 0 ? '' : qualified.slice(0, slash);
  const name = slash < 0 ? qualified : qualified.slice(slash + 1);
  const kind = name.startsWith('knp.')
    ? 'NetworkPolicy'
    : name.startsWith('staged:')
      ? 'StagedNetworkPolicy'
      : namespace
        ? 'CalicoNetworkPolicy'
        : 'GlobalNetworkPolicy';
  const actionName =
    action === 'allow' ? 'Allow' : action === 'deny' ? 'Deny' : action === 'pass' ? 'Pass' : 'ActionUnspecified';
  return {
    kind,
    namespace,
    name,
    tier,
    action: actionName,
    policy_index: Number(index) || 0,
    rule_index: Number(rule) || 0,
  };
}

/**
 * The Goldmane Flow (a plain object for protobufjs's fromObject) that a Calico Enterprise flow log
 * document stands for. Goldmane has no addresses and names pods only by their aggregate, so those are
 * left out. Throws a FlowwrightError('input') naming the field when the document is not usable.
 */
export function flowLogToGoldmane(doc: Obj, flow: Flow): Obj {
  const sourceType = endpointType(doc.source_type, 'source_type');
  const destType = endpointType(doc.dest_type, 'dest_type');
  const aggr = (nameAggr: unknown, name: unknown) => present(nameAggr) ?? present(name) ?? '';
  const labels = (ep: Flow['source']) => Object.entries(ep.labels).map(([k, v]) => `${k}=${v}`);
  const policies = (flow.policies ?? []).map(parsePolicyString).filter((p): p is Obj => p !== undefined);
  const key: Obj = {
    source_name: aggr(doc.source_name_aggr, doc.source_name),
    source_namespace: present(doc.source_namespace) ?? '',
    source_type: TYPE_NAMES[sourceType],
    dest_name: aggr(doc.dest_name_aggr, doc.dest_name),
    dest_namespace: present(doc.dest_namespace) ?? '',
    dest_type: TYPE_NAMES[destType],
    dest_port: flow.destination.port ?? 0,
    dest_service_name: present(doc.dest_service_name) ?? '',
    dest_service_namespace: present(doc.dest_service_namespace) ?? '',
    dest_service_port_name: present(doc.dest_service_port) ?? '',
    dest_service_port: typeof doc.dest_service_port_num === 'number' ? doc.dest_service_port_num : 0,
    proto: PROTO_NAMES[flow.protocol] ?? (typeof doc.proto === 'string' ? doc.proto.toUpperCase() : ''),
    reporter: flow.reporter === 'src' ? 'Src' : flow.reporter === 'dst' ? 'Dst' : 'ReporterUnspecified',
    action: flow.verdict === 'forwarded' ? 'Allow' : flow.verdict === 'dropped' ? 'Deny' : 'ActionUnspecified',
    policies: { enforced_policies: policies },
  };
  const seconds = Math.floor(flow.time / 1000);
  const end = typeof doc.end_time === 'number' && doc.end_time > seconds ? doc.end_time : seconds + 15;
  // Pods' labels, with the service account back in Calico's label, as Goldmane reports them.
  const withAccount = (ep: Flow['source']) =>
    ep.serviceAccount ? [...labels(ep), `projectcalico.org/serviceaccount=${ep.serviceAccount}`] : labels(ep);
  return {
    Key: key,
    start_time: seconds,
    end_time: end,
    source_labels: withAccount(flow.source),
    dest_labels: withAccount(flow.destination),
    packets_in: num(doc.packets_in),
    packets_out: num(doc.packets_out),
    bytes_in: num(doc.bytes_in),
    bytes_out: num(doc.bytes_out),
    num_connections_started: flow.count,
    num_connections_completed: num(doc.num_flows_completed),
  };
}
