// Hubble's FlowFilter, field by field, with the semantics of the Hubble server (cilium/cilium
// pkg/hubble/filters), so that `hubble observe` against `flowwright replay` returns what a real Relay
// would return for the same flows.
//
// A FlowFilter matches a flow when every field it sets matches; a whitelist matches when any of its
// filters does (or when it is empty), a blacklist when none does. Each field below is honoured; a value
// the server cannot use (a bad port, an invalid regular expression, an unknown protocol, a CEL
// expression that is not boolean) is refused with the field named, as Hubble refuses it, and a field
// this version does not know (from a newer client) is refused too rather than ignored.
//
// Flows are the protobufjs messages decoded from the bytes the server sends: fields left out read as
// their defaults, sub-messages left out are null, enums are numbers.
import { RE2JS } from '@bufbuild/re2';
import { cidrContains, parseCidr, parseIp } from '../policy/index.js';
import { compileCelExpressions } from './cel.js';
import { type LabelSelector, parseLabelSelector } from './labels.js';

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf messages are read field by field
export type FlowMessage = Record<string, any>;

/** What a filter needs of one flow: the decoded message, and the encoded response for CEL. */
export interface FilterInput {
  flow: FlowMessage;
  /** The encoded GetFlowsResponse holding the flow, for evaluators that decode it themselves (CEL). */
  response: Uint8Array;
}

export type FlowPredicate = (input: FilterInput) => boolean;

/** A filter value the server cannot use. The message names the field; the server answers InvalidArgument. */
export class FilterError extends Error {}

/** A FlowFilter as protobufjs's toObject gives it (enums as numbers, 64-bit integers as strings). */
// biome-ignore lint/suspicious/noExplicitAny: the fields are checked one by one below
export type FlowFilterObject = Record<string, any>;

const VERDICT_DROPPED = 2;
/** Cilium's monitor message type of L7 (access log) events. */
const MESSAGE_TYPE_ACCESS_LOG = 129;
/** The cluster name Hubble assumes for a node name without one. */
const DEFAULT_CLUSTER = 'default';

/** Every FlowFilter field this version honours. A field missing here would be refused, never ignored. */
// biome-ignore lint/suspicious/noExplicitAny: each entry takes the type its field has
const FIELDS: Record<string, (values: any, filter: FlowFilterObject) => FlowPredicate> = {
  uuid:
    (ids: string[]) =>
    ({ flow }) =>
      ids.includes(flow.uuid),
  source_ip: (ips: string[]) => ipFilter(ips, (f) => f.IP?.source ?? ''),
  destination_ip: (ips: string[]) => ipFilter(ips, (f) => f.IP?.destination ?? ''),
  source_ip_xlated: (ips: string[]) => ipFilter(ips, (f) => f.IP?.source_xlated ?? ''),
  source_pod: (names: string[]) => nameFilter(names, (f) => [f.source?.namespace ?? '', f.source?.pod_name ?? '']),
  destination_pod: (names: string[]) =>
    nameFilter(names, (f) => [f.destination?.namespace ?? '', f.destination?.pod_name ?? '']),
  source_service: (names: string[]) =>
    nameFilter(names, (f) => [f.source_service?.namespace ?? '', f.source_service?.name ?? ''], 'source service'),
  destination_service: (names: string[]) =>
    nameFilter(
      names,
      (f) => [f.destination_service?.namespace ?? '', f.destination_service?.name ?? ''],
      'destination service',
    ),
  source_fqdn: (patterns: string[]) => fqdnFilter(patterns, (f) => f.source_names ?? []),
  destination_fqdn: (patterns: string[]) => fqdnFilter(patterns, (f) => f.destination_names ?? []),
  source_label: (selectors: string[]) => labelFilter(selectors, (f) => f.source?.labels ?? [], 'source label'),
  destination_label: (selectors: string[]) =>
    labelFilter(selectors, (f) => f.destination?.labels ?? [], 'destination label'),
  node_labels: (selectors: string[]) => labelFilter(selectors, (f) => f.node_labels ?? [], 'node label'),
  source_workload: (workloads: FlowFilterObject[]) => workloadFilter(workloads, (f) => f.source),
  destination_workload: (workloads: FlowFilterObject[]) => workloadFilter(workloads, (f) => f.destination),
  source_cluster_name: (names: string[]) => clusterFilter(names, (f) => f.source?.cluster_name ?? ''),
  destination_cluster_name: (names: string[]) => clusterFilter(names, (f) => f.destination?.cluster_name ?? ''),
  traffic_direction:
    (directions: number[]) =>
    ({ flow }) =>
      directions.includes(flow.traffic_direction),
  verdict:
    (verdicts: number[]) =>
    ({ flow }) =>
      verdicts.includes(flow.verdict),
  drop_reason_desc:
    (reasons: number[]) =>
    ({ flow }) =>
      flow.verdict === VERDICT_DROPPED && reasons.includes(flow.drop_reason_desc),
  interface: (ifaces: FlowFilterObject[]) => interfaceFilter(ifaces),
  event_type: (types: FlowFilterObject[]) => eventTypeFilter(types),
  http_status_code: (codes: string[], filter) => {
    requireL7(filter, 'http status code');
    return httpStatusFilter(codes);
  },
  http_method: (methods: string[], filter) => {
    requireL7(filter, 'http method');
    const wanted = methods.map((m) => m.toLowerCase());
    return ({ flow }) => {
      const method: string = flow.l7?.http?.method ?? '';
      return method !== '' && wanted.includes(method.toLowerCase());
    };
  },
  http_path: (patterns: string[], filter) => {
    requireL7(filter, 'http path');
    const regexps = compileRegexps(patterns, 'http path');
    return ({ flow }) => {
      const url: string = flow.l7?.http?.url ?? '';
      if (url === '') return false;
      const path = requestPath(url);
      return path !== undefined && regexps.some((r) => r.test(path));
    };
  },
  http_url: (patterns: string[], filter) => {
    requireL7(filter, 'http url');
    const regexps = compileRegexps(patterns, 'http url');
    return ({ flow }) => {
      const url: string = flow.l7?.http?.url ?? '';
      return url !== '' && regexps.some((r) => r.test(url));
    };
  },
  http_header: (headers: FlowFilterObject[], filter) => {
    requireL7(filter, 'http headers');
    const wanted = headers.map((h) => [h.key ?? '', h.value ?? ''] as const);
    return ({ flow }) => {
      const have: FlowMessage[] = flow.l7?.http?.headers ?? [];
      return have.some((h) => wanted.some(([k, v]) => k === h.key && v === h.value));
    };
  },
  protocol: (protocols: string[]) => protocolFilter(protocols),
  source_port: (ports: string[]) => portFilter(ports, 'source_port', 'source port'),
  destination_port: (ports: string[]) => portFilter(ports, 'destination_port', 'destination port'),
  reply:
    (values: boolean[]) =>
    ({ flow }) => {
      // As in Hubble: a dropped flow that does not say counts as not a reply (older clients filter on the
      // deprecated `reply` field, which is false on drops); any other flow that does not say matches nothing.
      if (flow.is_reply == null && flow.verdict !== VERDICT_DROPPED) return false;
      return values.includes(flow.is_reply?.value === true);
    },
  dns_query: (patterns: string[]) => {
    const regexps = compileRegexps(patterns, 'DNS query');
    return ({ flow }) => {
      const dns = flow.l7?.dns;
      return dns != null && regexps.some((r) => r.test(dns.query ?? ''));
    };
  },
  source_identity:
    (ids: number[]) =>
    ({ flow }) =>
      flow.source != null && ids.includes(flow.source.identity),
  destination_identity:
    (ids: number[]) =>
    ({ flow }) =>
      flow.destination != null && ids.includes(flow.destination.identity),
  tcp_flags: (sets: FlowFilterObject[]) => tcpFlagsFilter(sets),
  node_name: (patterns: string[]) => nodeNameFilter(patterns),
  ip_version:
    (versions: number[]) =>
    ({ flow }) =>
      versions.includes(flow.IP?.ipVersion ?? 0),
  trace_id:
    (ids: string[]) =>
    ({ flow }) =>
      ids.includes(flow.trace_context?.parent?.trace_id ?? ''),
  ip_trace_id:
    (ids: string[]) =>
    ({ flow }) =>
      ids.includes(String(flow.ip_trace_id?.trace_id ?? '0')),
  encrypted:
    (values: boolean[]) =>
    ({ flow }) =>
      values.includes(flow.IP?.encrypted === true),
  experimental: (experimental: FlowFilterObject) => {
    const expressions: string[] = experimental.cel_expression ?? [];
    // An Experimental message without expressions filters nothing, as in Hubble.
    if (expressions.length === 0) return () => true;
    try {
      return compileCelExpressions(expressions);
    } catch (err) {
      throw new FilterError(`error compiling CEL expression: ${(err as Error).message}`);
    }
  },
};

/** The FlowFilter field names this server honours (all of upstream's). */
export const HONOURED_FILTER_FIELDS: readonly string[] = Object.keys(FIELDS);

/** One FlowFilter: every field it sets must match. */
export function compileFlowFilter(filter: FlowFilterObject): FlowPredicate {
  const checks: FlowPredicate[] = [];
  for (const [field, values] of Object.entries(filter)) {
    if (values === undefined || values === null) continue;
    if (Array.isArray(values) && values.length === 0) continue;
    const build = FIELDS[field];
    if (!build) throw new FilterError(`the FlowFilter field '${field}' is not supported by this server`);
    checks.push(build(values, filter));
  }
  return (input) => {
    for (const check of checks) if (!check(input)) return false;
    return true;
  };
}

/** Whitelist: any filter matches (or none given); blacklist: no filter matches. */
export function compileFlowFilters(
  whitelist: FlowFilterObject[] | undefined,
  blacklist: FlowFilterObject[] | undefined,
): FlowPredicate | undefined {
  const white = (whitelist ?? []).map(compileFlowFilter);
  const black = (blacklist ?? []).map(compileFlowFilter);
  if (white.length === 0 && black.length === 0) return undefined;
  return (input) => (white.length === 0 || white.some((p) => p(input))) && !black.some((p) => p(input));
}

// ---------------------------------------------------------------------------------------------------
// Addresses

function ipFilter(texts: string[], get: (f: FlowMessage) => string): FlowPredicate {
  const addresses: string[] = [];
  const prefixes: NonNullable<ReturnType<typeof parseCidr>>[] = [];
  for (const text of texts) {
    if (text.includes('/')) {
      const prefix = parseCidr(text);
      if (!prefix) throw new FilterError(`invalid IP prefix "${text}" in filter`);
      prefixes.push(prefix);
    } else {
      if (!parseIp(text)) throw new FilterError(`invalid IP address "${text}" in filter`);
      addresses.push(text);
    }
  }
  return ({ flow }) => {
    const ip = get(flow);
    if (ip === '') return false;
    // Addresses are compared as written, like Hubble does; prefixes by containment.
    if (addresses.includes(ip)) return true;
    if (prefixes.length === 0) return false;
    const parsed = parseIp(ip);
    return parsed !== undefined && prefixes.some((p) => cidrContains(p, parsed));
  };
}

// ---------------------------------------------------------------------------------------------------
// Names: pods and services

/** `ns/prefix`, `ns/` (the whole namespace), or a bare `prefix`, which means namespace `default`. */
function splitNamespacedName(text: string): [string, string] {
  const parts = text.split('/');
  if (parts.length > 1) return [parts[0], parts[1]];
  if (parts[0] === '') return ['', ''];
  return ['default', parts[0]];
}

function nameFilter(names: string[], get: (f: FlowMessage) => [string, string], what?: string): FlowPredicate {
  const wanted = names.map((name) => {
    if (name === '') {
      const why = 'invalid filter, name must not be empty';
      throw new FilterError(what ? `invalid ${what} filter: ${why}` : why);
    }
    return splitNamespacedName(name);
  });
  return ({ flow }) => {
    const [ns, name] = get(flow);
    if (ns === '' && name === '') return false;
    return wanted.some(
      ([wantNs, prefix]) => (prefix === '' || name.startsWith(prefix)) && (wantNs === '' || wantNs === ns),
    );
  };
}

function clusterFilter(names: string[], get: (f: FlowMessage) => string): FlowPredicate {
  if (names.includes('')) throw new FilterError('invalid filter, name must not be empty');
  return ({ flow }) => names.includes(get(flow));
}

function workloadFilter(workloads: FlowFilterObject[], get: (f: FlowMessage) => FlowMessage | null): FlowPredicate {
  return ({ flow }) => {
    const have: FlowMessage[] = get(flow)?.workloads ?? [];
    return have.some((w) => workloads.some((f) => (!f.name || f.name === w.name) && (!f.kind || f.kind === w.kind)));
  };
}

// ---------------------------------------------------------------------------------------------------
// DNS names and node names

/** A DNS name pattern as a regular expression source: `*` is any run of name characters. */
function fqdnPatternSource(pattern: string): string {
  let p = pattern.trim();
  if (p.endsWith('.')) p = p.slice(0, -1);
  p = p.toLowerCase();
  if (p === '') throw new FilterError('empty pattern');
  if (p.endsWith('.')) throw new FilterError('multiple trailing dots in pattern');
  let out = '';
  for (const c of p) {
    if (c === '.') out += '\\.';
    else if (c === '*') out += '[-.0-9a-z]*';
    else if (/[-0-9_a-z]/.test(c)) out += c;
    else throw new FilterError(`'${c}': invalid rune in pattern`);
  }
  return out;
}

function fqdnFilter(patterns: string[], get: (f: FlowMessage) => string[]): FlowPredicate {
  const re = new RegExp(`^(?:${patterns.map(fqdnPatternSource).join('|')})$`);
  return ({ flow }) => get(flow).some((name) => re.test(name));
}

const ANY_NAME = '(?:[-0-9_a-z]+(?:\\.[-0-9_a-z]+)*)';

/** `node`, `cluster/node`, `cluster/` or `/node`; each part a DNS name pattern, an empty part matching all. */
function nodeNameFilter(patterns: string[]): FlowPredicate {
  const sources = patterns.map((pattern) => {
    if (pattern === '') throw new FilterError('empty pattern');
    const parts = pattern.split('/');
    if (parts.length > 2) throw new FilterError('too many slashes in pattern');
    const [cluster, node] = parts.length === 2 ? parts : ['', parts[0]];
    return `${cluster === '' ? ANY_NAME : fqdnPatternSource(cluster)}/${node === '' ? ANY_NAME : fqdnPatternSource(node)}`;
  });
  const re = new RegExp(`^(?:${sources.join('|')})$`);
  return ({ flow }) => {
    const name: string = flow.node_name ?? '';
    if (name === '') return false;
    return re.test(name.includes('/') ? name : `${DEFAULT_CLUSTER}/${name}`);
  };
}

// ---------------------------------------------------------------------------------------------------
// Labels

function labelFilter(selectors: string[], get: (f: FlowMessage) => string[], what: string): FlowPredicate {
  const parsed: LabelSelector[] = selectors.map((s) => {
    try {
      return parseLabelSelector(s);
    } catch (err) {
      throw new FilterError(`invalid ${what} filter: ${(err as Error).message}`);
    }
  });
  return ({ flow }) => {
    const labels = get(flow);
    return parsed.some((s) => s(labels));
  };
}

// ---------------------------------------------------------------------------------------------------
// Layer 4

const L4_PROTOCOLS: Record<string, string[]> = {
  icmp: ['ICMPv4', 'ICMPv6'],
  icmpv4: ['ICMPv4'],
  icmpv6: ['ICMPv6'],
  tcp: ['TCP'],
  udp: ['UDP'],
  sctp: ['SCTP'],
  vrrp: ['VRRP'],
  igmp: ['IGMP'],
};
const L7_PROTOCOLS = new Set(['dns', 'http', 'kafka']);

function protocolFilter(protocols: string[]): FlowPredicate {
  const l4: string[] = [];
  const l7: string[] = [];
  for (const p of protocols) {
    const name = p.toLowerCase();
    if (L4_PROTOCOLS[name]) l4.push(...L4_PROTOCOLS[name]);
    else if (L7_PROTOCOLS.has(name)) l7.push(name);
    else throw new FilterError(`invalid protocol filter: unknown protocol: "${p}"`);
  }
  return ({ flow }) => l4.some((k) => flow.l4?.[k] != null) || l7.some((k) => flow.l7?.[k] != null);
}

function portFilter(texts: string[], field: 'source_port' | 'destination_port', what: string): FlowPredicate {
  const ports = texts.map((t) => {
    if (!/^\d+$/.test(t) || Number(t) > 65535) throw new FilterError(`invalid ${what} filter: invalid port "${t}"`);
    return Number(t);
  });
  return ({ flow }) => {
    const l4 = flow.l4;
    const carrier = l4?.TCP ?? l4?.UDP ?? l4?.SCTP;
    // ICMP and the rest have no ports: they match no port filter.
    return carrier != null && ports.includes(carrier[field] & 0xffff);
  };
}

const TCP_FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR', 'NS'];

/** A flow matches when, for one of the sets, it has every flag that set names. */
function tcpFlagsFilter(sets: FlowFilterObject[]): FlowPredicate {
  return ({ flow }) => {
    const flags = flow.l4?.TCP?.flags;
    if (flags == null) return false;
    return sets.some((set) => TCP_FLAGS.every((f) => !set[f] || flags[f] === true));
  };
}

function interfaceFilter(ifaces: FlowFilterObject[]): FlowPredicate {
  return ({ flow }) => {
    const iface = flow.interface;
    if (iface == null) return false;
    return ifaces.some((f) => (!f.index || f.index === iface.index) && (!f.name || f.name === iface.name));
  };
}

function eventTypeFilter(types: FlowFilterObject[]): FlowPredicate {
  return ({ flow }) => {
    const event = flow.event_type;
    if (event == null) return false;
    return types.some(
      (t) => (!t.type || t.type === event.type) && (!t.match_sub_type || (t.sub_type ?? 0) === event.sub_type),
    );
  };
}

// ---------------------------------------------------------------------------------------------------
// Layer 7

/** HTTP filters need the event type filter, when there is one, to allow L7 events. */
function requireL7(filter: FlowFilterObject, what: string): void {
  const types: FlowFilterObject[] = filter.event_type ?? [];
  if (types.length > 0 && !types.some((t) => t.type === MESSAGE_TYPE_ACCESS_LOG))
    throw new FilterError(`filtering by ${what} requires the event type filter to only match 'l7' events`);
}

function httpStatusFilter(codes: string[]): FlowPredicate {
  const full: string[] = [];
  const prefixes: string[] = [];
  for (const code of codes) {
    if (/^[1-5][0-9]{2}$/.test(code)) full.push(code);
    else if (/^[1-5][0-9]?\+$/.test(code)) prefixes.push(code.slice(0, -1));
    else throw new FilterError(`invalid http status code filter: invalid status code prefix: "${code}"`);
  }
  return ({ flow }) => {
    const code: number = flow.l7?.http?.code ?? 0;
    // Requests carry no status: they match no status filter.
    if (code === 0) return false;
    const text = String(code).padStart(3, '0');
    return full.includes(text) || prefixes.some((p) => text.startsWith(p));
  };
}

interface Regexp {
  test(text: string): boolean;
}

/** Hubble's patterns are Go (RE2) regular expressions, searched anywhere in the text; RE2JS reads the same syntax. */
function compileRegexps(patterns: string[], what: string): Regexp[] {
  return patterns.map((pattern) => {
    try {
      return RE2JS.compile(pattern);
    } catch (err) {
      throw new FilterError(`invalid ${what} filter: ${pattern}: ${(err as Error).message}`);
    }
  });
}

/**
 * The path of a request URI as Go's url.ParseRequestURI reads it: an absolute path (`/p?q`), or an
 * absolute URL (`http://host/p?q`, whose path may be empty); percent escapes decoded. Undefined when the
 * URI is neither, or its escapes are invalid (such flows match no path filter, as in Hubble).
 */
export function requestPath(uri: string): string | undefined {
  let rest: string;
  if (uri.startsWith('/')) rest = uri;
  else {
    const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(uri);
    if (!scheme) return undefined;
    rest = uri.slice(scheme[0].length);
    if (rest.startsWith('//')) {
      rest = rest.slice(2);
      const end = rest.search(/[/?]/);
      rest = end < 0 ? '' : rest.slice(end);
    } else if (!rest.startsWith('/')) return ''; // opaque, e.g. mailto:x
  }
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  try {
    return decodeURIComponent(path);
  } catch {
    return undefined;
  }
}
