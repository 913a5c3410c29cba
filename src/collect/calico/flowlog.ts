// Calico Enterprise / Calico Cloud flow logs: the JSON documents Felix writes to
// /var/log/calico/flowlogs/flows.log (one per line), and the same documents as Elasticsearch hands them
// out: search hits and exports (`{"_index", "_id", "_source": {...}}`), `_bulk` bodies (an action line
// such as `{"index": {...}}` before each document), whole search responses (`{"hits": {"hits": [...]}}`)
// and JSON arrays of any of these.
//
// One document aggregates the connections of an interval (5 minutes by default) that share its fields:
// `num_flows` says how many. A connection between two Calico endpoints is reported by both ends
// (`reporter: src` and `reporter: dst`), often by one of them only; the aggregator counts it once
// whichever reported it (see model/reports.ts).
import type { CollectStats, Flow, Origin } from '../../model/index.js';
import { addIssue, checkFlowNames, FlowwrightError, issueOf } from '../../model/index.js';
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

type Obj = Record<string, unknown>;

export type CalicoRecordKind = 'flow' | 'l7-log' | 'wrapped' | 'bulk-action' | 'hits' | 'array' | 'unknown';

/** Keys only a Calico flow log document has (Hubble records have none of them). */
const FLOW_LOG_KEYS = ['source_type', 'dest_type', 'source_name_aggr', 'dest_name_aggr'];
const BULK_ACTIONS = ['index', 'create', 'update', 'delete'];
/** Keys of Calico's L7 logs (HTTP requests seen by Envoy or eBPF), whose source fields are `src_*`, not `source_*`. */
const L7_LOG_KEYS = ['src_type', 'src_name_aggr'];
/** What a user given an L7 log is told: flowwright learns from flow logs. */
const L7_LOG_MESSAGE =
  'a Calico L7 log (HTTP requests: src_*, method, url, response_code), not a flow log: give flowwright the flow logs (flows.log, or the tigera_secure_ee_flows.* indices)';

/**
 * What one parsed line (or array element) of a Calico flow log or Elasticsearch export is:
 *   'flow'         a flow log document: it has `source_type`, `dest_type`, `source_name_aggr` or `dest_name_aggr`
 *   'l7-log'       a Calico L7 log document (`src_type` or `src_name_aggr`, and no `source_type`): given by mistake
 *   'wrapped'      a document inside `_source` (search hit, export) or `doc` (a `_bulk` update body)
 *   'bulk-action'  a `_bulk` action line: exactly one key, index / create / update / delete, holding an object
 *   'hits'         a search response: `hits.hits` is a list of search hits
 *   'array'        a JSON array of any of the above
 *   'unknown'      anything else
 */
export function classifyCalicoRecord(record: unknown): CalicoRecordKind {
  if (Array.isArray(record)) return 'array';
  if (!isObj(record)) return 'unknown';
  if (isObj(record._source) || isObj(record.doc)) return 'wrapped';
  if (isObj(record.hits) && Array.isArray(record.hits.hits)) return 'hits';
  if (record.source_type === undefined && L7_LOG_KEYS.some((key) => record[key] !== undefined)) return 'l7-log';
  for (const key of FLOW_LOG_KEYS) if (record[key] !== undefined) return 'flow';
  const keys = Object.keys(record);
  if (keys.length === 1 && BULK_ACTIONS.includes(keys[0]!) && isObj(record[keys[0]!])) return 'bulk-action';
  return 'unknown';
}

/**
 * Whether a file whose first record is `record` holds Calico flow logs: a flow log document, a wrapped
 * one, a `_bulk` action, a search response, or a non-empty array whose first element is one of those.
 */
export function isCalicoRecord(record: unknown): boolean {
  const kind = classifyCalicoRecord(record);
  if (kind === 'array') {
    const list = record as unknown[];
    return list.length > 0 && classifyCalicoRecord(list[0]) !== 'array' && isCalicoRecord(list[0]);
  }
  if (kind === 'hits') return true;
  return kind !== 'unknown';
}

/**
 * Handles one Calico record (a parsed line): appends its flows to `out`, or counts a `_bulk` action line
 * as a non-flow record. A single document that is not usable throws a FlowwrightError('input') naming the
 * field; the caller counts it. Inside a list (a JSON array, a search response) each bad element is counted
 * here with its index as `document`, and the rest are still read.
 */
export function handleCalicoRecord(record: unknown, origin: Origin, out: Flow[], stats: CollectStats): void {
  const kind = classifyCalicoRecord(record);
  switch (kind) {
    case 'flow':
      out.push(normalizeCalicoFlowLog(record as Obj, origin));
      stats.flows++;
      return;
    case 'l7-log':
      throw calicoL7Log();
    case 'wrapped': {
      const r = record as Obj;
      const inner = isObj(r._source) ? r._source : r.doc;
      if (classifyCalicoRecord(inner) === 'l7-log') throw calicoL7Log();
      if (classifyCalicoRecord(inner) !== 'flow')
        throw new FlowwrightError('input', 'the wrapped document is not a Calico flow log', {
          field: isObj(r._source) ? '_source' : 'doc',
        });
      out.push(normalizeCalicoFlowLog(inner as Obj, origin));
      stats.flows++;
      return;
    }
    case 'bulk-action':
      stats.nonFlow++;
      return;
    case 'hits':
      handleList(((record as Obj).hits as Obj).hits as unknown[], origin, out, stats);
      return;
    case 'array':
      handleList(record as unknown[], origin, out, stats);
      return;
    default:
      throw new FlowwrightError('input', 'not a Calico flow log document, search hit or _bulk line');
  }
}

function calicoL7Log(): FlowwrightError {
  return new FlowwrightError('input', L7_LOG_MESSAGE, undefined, { kind: 'Calico L7 log, not a flow log' });
}

/** Each element on its own: one bad document does not cost the others. */
function handleList(list: unknown[], origin: Origin, out: Flow[], stats: CollectStats): void {
  for (let i = 0; i < list.length; i++) {
    const element = list[i];
    const kind = classifyCalicoRecord(element);
    try {
      if (kind === 'array' || kind === 'hits' || kind === 'unknown')
        throw new FlowwrightError('input', 'not a Calico flow log document or search hit');
      handleCalicoRecord(element, origin, out, stats);
    } catch (err) {
      addIssue(stats, issueOf(err, { file: origin.source, line: origin.line, document: i }));
    }
  }
}

/**
 * One flow log document as a Flow. The flow's time is `start_time` (Unix seconds; `end_time` when the
 * start is missing), its count `num_flows`. Throws a FlowwrightError('input', message, {field}) when
 * the document is not usable.
 */
export function normalizeCalicoFlowLog(doc: Obj, origin: Origin): Flow {
  const time = readTime(doc.start_time, 'start_time') ?? readTime(doc.end_time, 'end_time');
  if (time === undefined)
    throw new FlowwrightError('input', 'missing start_time and end_time', { field: 'start_time' });

  const protocol = calicoProtocol(doc.proto);
  const destPort = readPort(doc.dest_port, 'dest_port');
  const destType = endpointType(doc.dest_type, 'dest_type');
  const source = calicoEndpoint({
    type: endpointType(doc.source_type, 'source_type'),
    name: present(doc.source_name),
    nameAggr: present(doc.source_name_aggr),
    namespace: present(doc.source_namespace),
    ip: present(doc.source_ip),
    port: readPort(doc.source_port, 'source_port'),
    labels: labelList(doc.source_labels, 'source_labels'),
  });
  const destination = calicoEndpoint({
    type: destType,
    name: present(doc.dest_name),
    nameAggr: present(doc.dest_name_aggr),
    namespace: present(doc.dest_namespace),
    ip: present(doc.dest_ip),
    port: destPort,
    labels: labelList(doc.dest_labels, 'dest_labels'),
  });
  const domains = stringList(doc.dest_domains, 'dest_domains');
  if (domains) destination.names = domains;

  const service = calicoService(
    doc.dest_service_namespace,
    doc.dest_service_name,
    doc.dest_service_port,
    doc.dest_service_port_num,
  );
  if ((destType === 'net' || destType === 'hep') && isApiServerService(service)) {
    destination.reserved = 'kube-apiserver';
    delete destination.networkSet;
  }

  const verdict = calicoVerdict(doc.action);
  const reporter = calicoReporter(doc.reporter, 'reporter');
  const flow: Flow = {
    time,
    source,
    destination,
    protocol,
    verdict,
    // Calico records describe connections from their initiator: never reply traffic.
    reply: false,
    direction: reporter === 'src' ? 'egress' : reporter === 'dst' ? 'ingress' : 'unknown',
    count: readCount(doc),
    origin,
  };
  if (destPort !== undefined && protocol !== 'ICMPv4' && protocol !== 'ICMPv6') flow.port = destPort;
  if (reporter !== undefined) flow.reporter = reporter;
  if (verdict === 'dropped') flow.dropReason = 'POLICY_DENIED';
  const policies = readPolicies(doc.policies);
  if (policies) flow.policies = policies;
  if (service !== undefined) flow.service = service;
  const host = present(doc.host);
  if (host !== undefined) flow.node = host;
  checkFlowNames(flow);
  return flow;
}

/** Above this a number is taken as milliseconds: as seconds it would be after the year 5000. */
const MAX_SECONDS = 1e11;

/**
 * Unix seconds (a number or a digit string, as Elasticsearch may render dates; milliseconds are
 * recognized by their size) or RFC 3339, in ms.
 */
function readTime(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && value !== '' ? Number(value) : Number.NaN;
  if (Number.isFinite(n) && n >= 0) return n > MAX_SECONDS ? Math.round(n) : Math.round(n * 1000);
  if (typeof value === 'string') {
    // Only full timestamps with a zone: Date.parse also takes forms like "June 3".
    if (value.length >= 20 && value.charCodeAt(4) === 45 && value.charCodeAt(10) === 84) {
      const ms = Date.parse(value);
      if (!Number.isNaN(ms)) return ms;
    }
  }
  throw new FlowwrightError('input', `not a time in Unix seconds: ${JSON.stringify(value).slice(0, 40)}`, { field });
}

/** A port: absent, null or 0 is unknown (aggregated away); anything else must be 1-65535. */
function readPort(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null || value === 0 || value === '' || value === '-') return undefined;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 65535) return n;
  throw new FlowwrightError('input', `not a port: ${JSON.stringify(value).slice(0, 40)}`, { field });
}

/** `num_flows` (connections in the interval); `num_flows_started` when it is missing or 0; at least 1. */
function readCount(doc: Obj): number {
  for (const key of ['num_flows', 'num_flows_started']) {
    const v = doc[key];
    if (v === undefined || v === null) continue;
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
      throw new FlowwrightError('input', `not a count: ${JSON.stringify(v).slice(0, 40)}`, { field: key });
    if (n > 0) return n;
  }
  return 1;
}

/** Labels as `{"labels": ["k=v", ...]}` (flows.log), a bare list, or a `{k: v}` object (some exports). */
function labelList(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null || value === '-') return undefined;
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (isObj(value)) {
    if (value.labels !== undefined) return labelList(value.labels, field);
    const out: string[] = [];
    for (const key of Object.keys(value)) if (typeof value[key] === 'string') out.push(`${key}=${value[key]}`);
    return out;
  }
  throw new FlowwrightError('input', 'labels must be a list of key=value strings', { field });
}

function stringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null || value === '' || value === '-') return undefined;
  if (typeof value === 'string') return value.split(',').filter((s) => s !== '' && s !== '-');
  if (!Array.isArray(value)) throw new FlowwrightError('input', 'list of strings expected', { field });
  const out = value.filter((v): v is string => typeof v === 'string' && v !== '' && v !== '-');
  return out.length > 0 ? out : undefined;
}

/**
 * The policy hits, each `<index>|<tier>|<namespace>/<tier>.<name>|<action>|<rule>` as Calico writes it.
 * Newer versions split them into enforced and pending (staged) policies: only enforced ones decided the
 * flow, so those are kept when present.
 */
function readPolicies(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  let list: unknown;
  if (Array.isArray(value)) list = value;
  else if (isObj(value)) list = value.enforced_policies ?? value.all_policies;
  if (!Array.isArray(list)) return undefined;
  const out = list.filter((p): p is string => typeof p === 'string' && p !== '');
  return out.length > 0 ? out : undefined;
}

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
