// The one place that says which names flowwright accepts from its inputs. Names become selectors,
// file paths, YAML and terminal text, and a policy the API server refuses protects nothing, so a record
// that names a namespace, pod, label, service account, workload or DNS name Kubernetes (or DNS) would
// refuse is not learned: every source (files, stdin, Hubble Relay, Goldmane, Kafka, the inventory and
// the cluster watch) checks its names here and counts the record as malformed, naming the field.
//
// The rules are Kubernetes' own (apimachinery's validation):
//   DNS-1123 label      [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63: namespaces, cluster names
//   DNS-1123 subdomain  labels joined by '.', at most 253: pods, workloads, service accounts, network sets
//   label key           [prefix/]name: prefix a DNS-1123 subdomain, name at most 63 of [A-Za-z0-9_.-]
//                       starting and ending with a letter or digit
//   label value         empty, or at most 63 of [A-Za-z0-9_.-] starting and ending with a letter or digit
// DNS names seen in traffic (toFQDNs, FQDN notes) are what Cilium's matchName accepts: labels of 1 to 63
// letters, digits, '-' and '_' joined by '.', at most 253 without the root dot, and no '*'.
// An HTTP method is an RFC 9110 token: 1 or more of letters, digits and !#$%&'*+-.^_`|~. It is data, never a
// pattern: `*` is a valid token, so the policy writers match it literally (see synthesize/).

import { FlowwrightError } from './errors.js';
import type { Endpoint, Flow } from './flow.js';
import type { Peer } from './graph.js';

export type NameKind =
  | 'namespace'
  | 'pod'
  | 'workload'
  | 'service account'
  | 'label key'
  | 'label value'
  | 'cluster'
  | 'network set'
  | 'service'
  | 'DNS'
  | 'HTTP method';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_NAME_LABEL = /^[A-Za-z0-9_-]{1,63}$/;
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Calico's aggregated pod name: the generateName prefix and `*` (`frontend-6d9f8c7b5-*`). */
const AGGREGATED_POD = /^[a-z0-9][-a-z0-9.]*\*$/;
/** A Service port name (IANA_SVC_NAME) or number, as in `namespace/name:port`. */
const SERVICE_PORT = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?|[0-9]{1,5})$/;

const LABEL_MAX = 63;
const SUBDOMAIN_MAX = 253;

const LABEL_RULE = 'a DNS-1123 label (a-z, 0-9 and "-", at most 63 characters)';
const SUBDOMAIN_RULE = 'a DNS-1123 subdomain (a-z, 0-9, "-" and ".", at most 253 characters)';
const RULES: Record<NameKind, string> = {
  namespace: LABEL_RULE,
  pod: SUBDOMAIN_RULE,
  workload: SUBDOMAIN_RULE,
  'service account': SUBDOMAIN_RULE,
  'label key': '[DNS-1123 subdomain/]name, the name at most 63 of A-Z, a-z, 0-9, "-", "_" and "."',
  'label value': 'empty or at most 63 of A-Z, a-z, 0-9, "-", "_" and ".", alphanumeric at both ends',
  cluster: LABEL_RULE,
  'network set': SUBDOMAIN_RULE,
  service: '[namespace/]name[:port], namespace and name DNS-1123 labels',
  DNS: 'a DNS name (labels of 1-63 of A-Z, a-z, 0-9, "-" and "_", at most 253 characters, no "*")',
  'HTTP method': "an HTTP token (RFC 9110: A-Z, a-z, 0-9 and !#$%&'*+-.^_`|~)",
};

function isLabel(s: string): boolean {
  return s.length <= LABEL_MAX && DNS1123_LABEL.test(s);
}

function isSubdomain(s: string): boolean {
  return s.length <= SUBDOMAIN_MAX && DNS1123_SUBDOMAIN.test(s);
}

function isLabelKey(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return s.length <= LABEL_MAX && QUALIFIED_NAME.test(s);
  const prefix = s.slice(0, slash);
  const name = s.slice(slash + 1);
  return isSubdomain(prefix) && name.length <= LABEL_MAX && QUALIFIED_NAME.test(name);
}

function isLabelValue(s: string): boolean {
  return s === '' || (s.length <= LABEL_MAX && QUALIFIED_NAME.test(s));
}

function isDnsName(s: string): boolean {
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  if (name.length === 0 || name.length > SUBDOMAIN_MAX) return false;
  for (const label of name.split('.')) if (!DNS_NAME_LABEL.test(label)) return false;
  return true;
}

function isService(s: string): boolean {
  let rest = s;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    if (!SERVICE_PORT.test(rest.slice(colon + 1))) return false;
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  if (slash < 0) return isLabel(rest);
  return isLabel(rest.slice(0, slash)) && isLabel(rest.slice(slash + 1));
}

/** Whether `value` is an acceptable name of this kind (see the rules above). */
export function isValidName(kind: NameKind, value: string): boolean {
  if (typeof value !== 'string') return false;
  switch (kind) {
    case 'namespace':
    case 'cluster':
      return isLabel(value);
    case 'pod':
      return isSubdomain(value) || (value.length <= SUBDOMAIN_MAX && AGGREGATED_POD.test(value));
    case 'workload':
    case 'service account':
    case 'network set':
      return isSubdomain(value);
    case 'label key':
      return isLabelKey(value);
    case 'label value':
      return isLabelValue(value);
    case 'service':
      return isService(value);
    case 'DNS':
      return isDnsName(value);
    case 'HTTP method':
      return HTTP_TOKEN.test(value);
  }
}

/** What the rule for a kind of name is, for messages. */
export function nameRule(kind: NameKind): string {
  return RULES[kind];
}

/** The malformed-record kind a bad name of this kind is counted as: `invalid namespace name`, `invalid label key`. */
export function invalidNameKind(kind: NameKind): string {
  return kind === 'label key' || kind === 'label value' || kind === 'HTTP method'
    ? `invalid ${kind}`
    : `invalid ${kind} name`;
}

/**
 * A value as it may be shown in a message: JSON-quoted (so control characters, quotes and escape
 * sequences appear escaped, never raw) and cut to 60 characters.
 */
export function showValue(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  const cut = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return JSON.stringify(cut);
}

/** The error for a bad name: a FlowwrightError('input') whose `kind` is `invalid <kind> name`, naming the field. */
export function invalidName(kind: NameKind, value: unknown, field: string): FlowwrightError {
  return new FlowwrightError(
    'input',
    `${invalidNameKind(kind)} ${showValue(value)}: must be ${RULES[kind]}`,
    { field },
    { kind: invalidNameKind(kind) },
  );
}

/** Throws invalidName(kind, value, field) unless `value` is a valid name of that kind. */
export function checkName(kind: NameKind, value: unknown, field: string): void {
  if (typeof value !== 'string' || !isValidName(kind, value)) throw invalidName(kind, value, field);
}

// Label maps repeat flow after flow (collectors share them between flows), so a map found valid is
// remembered; maps are never changed once a flow holds them.
const validLabels = new WeakSet<object>();

/** Checks every key and value of a label map (field `<field>.<key>` on failure). */
export function checkLabels(labels: Readonly<Record<string, string>>, field: string): void {
  if (validLabels.has(labels)) return;
  for (const key of Object.keys(labels)) {
    if (!isLabelKey(key)) throw invalidName('label key', key, field);
    const value = labels[key];
    if (typeof value !== 'string' || !isLabelValue(value)) throw invalidName('label value', value, `${field}.${key}`);
  }
  validLabels.add(labels);
}

/** Checks the names one end of a flow carries; `field` is `source` or `destination`. */
export function checkEndpointNames(ep: Endpoint, field: string): void {
  if (ep.namespace !== undefined) checkName('namespace', ep.namespace, `${field}.namespace`);
  if (ep.pod !== undefined) checkName('pod', ep.pod, `${field}.pod`);
  if (ep.workload !== undefined) checkName('workload', ep.workload.name, `${field}.workload`);
  if (ep.serviceAccount !== undefined) checkName('service account', ep.serviceAccount, `${field}.serviceAccount`);
  if (ep.cluster !== undefined) checkName('cluster', ep.cluster, `${field}.cluster`);
  if (ep.networkSet !== undefined) checkName('network set', ep.networkSet, `${field}.networkSet`);
  checkLabels(ep.labels, `${field}.labels`);
  if (ep.namespaceLabels !== undefined) checkLabels(ep.namespaceLabels, `${field}.namespaceLabels`);
  if (ep.names !== undefined) for (const n of ep.names) checkName('DNS', n, `${field}.names`);
}

/**
 * The validation point every collector calls on each flow it makes, before the flow goes anywhere:
 * both ends' names, the Service, and the DNS query and HTTP method learned from an L7 record. Throws invalidName(...)
 * for the first bad name; the collector counts the record as malformed of that kind, with its position.
 */
export function checkFlowNames(flow: Flow): void {
  checkEndpointNames(flow.source, 'source');
  checkEndpointNames(flow.destination, 'destination');
  if (flow.service !== undefined) checkName('service', flow.service, 'service');
  const query = flow.l7?.dns?.query;
  if (query) checkName('DNS', query, 'l7.dns.query');
  // An empty method is one the source did not report; any other must be a token.
  const method = flow.l7?.http?.method;
  if (method) checkName('HTTP method', method, 'l7.http.method');
}

/** Checks the names a graph peer carries (a shipped Kafka delta, an inventory entry); `field` locates it. */
export function checkPeerNames(peer: Peer, field: string): void {
  if (peer.type === 'workload') {
    if (peer.cluster !== undefined) checkName('cluster', peer.cluster, `${field}.cluster`);
    checkName('namespace', peer.namespace, `${field}.namespace`);
    checkName('workload', peer.name, `${field}.name`);
  } else if (peer.type === 'networkset') {
    if (peer.namespace !== undefined) checkName('namespace', peer.namespace, `${field}.namespace`);
    checkName('network set', peer.name, `${field}.name`);
  }
}
