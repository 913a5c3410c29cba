// What Calico's flow records mean, shared by the file collector (Calico Enterprise / Cloud flow logs and
// their Elasticsearch exports) and the Goldmane collector (Calico Open Source 3.30+):
//   - endpoint types: `wep` workload endpoint (pods), `hep` host endpoint, `ns` network set, `net` a
//     network Calico knows nothing else about, named `pub` (public) or `pvt` (private range);
//   - names: a pod's own name, or `*_name_aggr`, the pods sharing a generateName (`frontend-6d9f8c7b5-*`);
//     `-` stands for "aggregated away" or "not applicable";
//   - labels as `key=value` strings, the intersection over the pods a record aggregates;
//   - protocol as a name (`tcp`, `TCP`) or an IANA number, action `allow`/`deny`, reporter `src`/`dst`.
import type { Endpoint, Protocol, Verdict } from '../../model/index.js';
import { FlowwrightError } from '../../model/index.js';

export type CalicoEndpointType = 'wep' | 'hep' | 'ns' | 'net';

/** One end of a Calico record, as read from either source (undefined = absent or `-`). */
export interface CalicoEndpointFields {
  type: CalicoEndpointType;
  /** The endpoint's own name: a pod name (not aggregated), a host endpoint, a network set. */
  name?: string;
  /** The aggregated name: `<generateName>*` for pods, `pub`/`pvt` for networks. */
  nameAggr?: string;
  namespace?: string;
  ip?: string;
  port?: number;
  labels?: string[];
}

/** Calico's label carrying the pod's service account (Calico adds it to every workload endpoint). */
const SERVICE_ACCOUNT_LABEL = 'projectcalico.org/serviceaccount';
/** Labels Calico adds itself (`projectcalico.org/namespace`, `.../orchestrator`...): not the pod's own. */
const CALICO_LABEL_PREFIX = 'projectcalico.org/';

/** `-` and the empty string both mean "no value" in Calico records. */
export function present(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && value !== '-' ? value : undefined;
}

const TYPES: Record<string, CalicoEndpointType> = {
  wep: 'wep',
  hep: 'hep',
  ns: 'ns',
  net: 'net',
  // Goldmane's EndpointType enum names.
  WorkloadEndpoint: 'wep',
  HostEndpoint: 'hep',
  NetworkSet: 'ns',
  Network: 'net',
};
const TYPE_NUMBERS: readonly (CalicoEndpointType | undefined)[] = [undefined, 'wep', 'hep', 'ns', 'net'];

/** `wep`/`hep`/`ns`/`net`, Goldmane's enum name or number; throws naming `field` otherwise. */
export function endpointType(value: unknown, field: string): CalicoEndpointType {
  const t =
    typeof value === 'string'
      ? Object.hasOwn(TYPES, value)
        ? TYPES[value]
        : undefined
      : typeof value === 'number'
        ? TYPE_NUMBERS[value]
        : undefined;
  if (t === undefined)
    throw new FlowwrightError(
      'input',
      `unknown endpoint type ${JSON.stringify(value)} (expected wep, hep, ns or net)`,
      {
        field,
      },
    );
  return t;
}

/**
 * The model's Endpoint for one end of a Calico record:
 *   wep  a pod: `pod` is its own name when the record has it, else the aggregated name (`<prefix>-*`),
 *        which identity folds into the owning workload; labels and service account from its labels
 *   hep  reserved `host`, with its address when known
 *   ns   a network set (`networkSet`), namespaced when the record names a namespace
 *   net  with an address: `world` at that address (identity makes it an external `/32` peer, public or
 *        private alike); without one (aggregated away, or Goldmane): the network set `pub` or `pvt`
 */
export function calicoEndpoint(f: CalicoEndpointFields): Endpoint {
  const ep: Endpoint = { labels: {} };
  if (f.ip !== undefined) ep.ip = f.ip;
  if (f.port !== undefined) ep.port = f.port;
  switch (f.type) {
    case 'wep': {
      if (f.namespace !== undefined) ep.namespace = f.namespace;
      const pod = f.name ?? f.nameAggr;
      if (pod !== undefined) ep.pod = pod;
      if (f.labels) readLabels(ep, f.labels);
      return ep;
    }
    case 'hep':
      ep.reserved = 'host';
      return ep;
    case 'ns': {
      if (f.namespace !== undefined) ep.namespace = f.namespace;
      const name = f.nameAggr ?? f.name;
      if (name !== undefined) ep.networkSet = name;
      else ep.reserved = 'unknown';
      return ep;
    }
    case 'net':
      if (f.ip !== undefined) ep.reserved = 'world';
      else ep.networkSet = f.nameAggr ?? f.name ?? 'pub';
      return ep;
  }
}

/** `key=value` strings into labels; Calico's own labels are left out, its service-account label kept aside. */
function readLabels(ep: Endpoint, labels: string[]): void {
  for (const label of labels) {
    if (typeof label !== 'string') continue;
    const eq = label.indexOf('=');
    const key = eq < 0 ? label : label.slice(0, eq);
    const value = eq < 0 ? '' : label.slice(eq + 1);
    if (key === '') continue;
    if (key.startsWith(CALICO_LABEL_PREFIX)) {
      if (key === SERVICE_ACCOUNT_LABEL && value !== '') ep.serviceAccount = value;
      continue;
    }
    ep.labels[key] = value;
  }
}

const PROTOCOL_NAMES: Record<string, Protocol> = {
  tcp: 'TCP',
  udp: 'UDP',
  sctp: 'SCTP',
  icmp: 'ICMPv4',
  icmp6: 'ICMPv6',
  icmpv6: 'ICMPv6',
  'ipv6-icmp': 'ICMPv6',
};
const PROTOCOL_NUMBERS: Record<number, Protocol> = { 1: 'ICMPv4', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };

/** `tcp`, `TCP`, `6`, 6 → TCP; anything unknown → UNKNOWN (a valid record about another protocol). */
export function calicoProtocol(value: unknown): Protocol {
  if (typeof value === 'number') return PROTOCOL_NUMBERS[value] ?? 'UNKNOWN';
  if (typeof value !== 'string') return 'UNKNOWN';
  const named = PROTOCOL_NAMES[value.toLowerCase()];
  if (named !== undefined) return named;
  const n = Number(value);
  return Number.isInteger(n) ? (PROTOCOL_NUMBERS[n] ?? 'UNKNOWN') : 'UNKNOWN';
}

/** allow → forwarded, deny → dropped (Goldmane: enum names or numbers). `pass` is never final: unknown. */
export function calicoVerdict(value: unknown): Verdict {
  if (value === 'allow' || value === 'Allow' || value === 1) return 'forwarded';
  if (value === 'deny' || value === 'Deny' || value === 2) return 'dropped';
  return 'unknown';
}

/** src / dst (Goldmane: Src / Dst, 1 / 2); undefined when the record does not say. */
export function calicoReporter(value: unknown, field: string): 'src' | 'dst' | undefined {
  if (value === 'src' || value === 'Src' || value === 1) return 'src';
  if (value === 'dst' || value === 'Dst' || value === 2) return 'dst';
  if (value === undefined || value === null || value === '' || value === 0 || value === 'ReporterUnspecified')
    return undefined;
  throw new FlowwrightError('input', `unknown reporter ${JSON.stringify(value)} (expected src or dst)`, { field });
}

/**
 * The Service a destination was reached through, `namespace/name[:port]` (port: its name, else its
 * number), or undefined when the record names none.
 */
export function calicoService(
  namespace: unknown,
  name: unknown,
  portName: unknown,
  portNum: unknown,
): string | undefined {
  const svc = present(name);
  if (svc === undefined) return undefined;
  const ns = present(namespace);
  let s = ns === undefined ? svc : `${ns}/${svc}`;
  const port = present(portName) ?? (typeof portNum === 'number' && portNum > 0 ? String(portNum) : undefined);
  if (port !== undefined) s += `:${port}`;
  return s;
}

/**
 * The API server is not a pod: Calico sees it as a network (`net`, or `hep` on a protected control-plane
 * node) reached through the Service `default/kubernetes`. Such a destination is the kube-apiserver entity.
 */
export function isApiServerService(service: string | undefined): boolean {
  return service !== undefined && (service === 'default/kubernetes' || service.startsWith('default/kubernetes:'));
}
