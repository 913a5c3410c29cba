// The Kubernetes NetworkPolicy evaluator. A connection needs egress allowed at a pod source AND ingress
// allowed at a pod destination. On each side: a pod that no policy selects (for that direction) is
// not isolated and allows everything; an isolated pod allows exactly the union of the rules of the
// policies that select it. Policies are compiled once (selectors, CIDRs, an index by namespace and
// label) and then evaluated many times; named ports are resolved on the destination pod.
import { type Cidr, cidrContains, type IpAddress, parseCidr, parseIp } from './cidr.js';
import { type Inventory, namedPort, namespaceLabels, type PodInfo } from './inventory.js';
import {
  type CompiledSelector,
  compileSelector,
  describeSelector,
  selectorMatches,
  selectorMismatch,
} from './selector.js';
import {
  type L4Protocol,
  type NetworkPolicy,
  type NetworkPolicyPeer,
  type NetworkPolicyPort,
  type PolicySource,
  policyRef,
} from './types.js';

/** One end of a connection. `host` is the node the pod at the other end runs on (always allowed). */
export type EvalEndpoint = { kind: 'pod'; pod: PodInfo } | { kind: 'ip'; ip: string } | { kind: 'host'; ip?: string };

export interface Connection {
  src: EvalEndpoint;
  dst: EvalEndpoint;
  protocol: L4Protocol;
  port: number;
}

interface CompiledPeer {
  peer: NetworkPolicyPeer;
  pods?: CompiledSelector;
  namespaces?: CompiledSelector;
  block?: Cidr;
  except: Cidr[];
}

interface CompiledRule {
  peers: CompiledPeer[];
  ports: NetworkPolicyPort[];
}

export interface CompiledNetworkPolicy {
  policy: NetworkPolicy;
  ref: string;
  selector: CompiledSelector;
  /** Undefined when the policy does not isolate for that direction. */
  ingress?: CompiledRule[];
  egress?: CompiledRule[];
  /** Position in the input, to keep every listing in input order. */
  order: number;
}

interface NamespaceIndex {
  /** `key=value` of the first matchLabels term → policies whose podSelector needs it. */
  byLabel: Map<string, CompiledNetworkPolicy[]>;
  /** Policies whose podSelector has no matchLabels (empty, or expressions only). */
  rest: CompiledNetworkPolicy[];
}

export interface CompiledNetworkPolicies {
  policies: CompiledNetworkPolicy[];
  inventory: Inventory;
  byNamespace: Map<string, NamespaceIndex>;
  /** Policies selecting each pod, computed on first use. */
  selecting: WeakMap<PodInfo, CompiledNetworkPolicy[]>;
  /** Work counters, so that tests can check that the work grows linearly, not by wall-clock time. */
  stats: { podSelectorChecks: number; ruleChecks: number };
}

function compilePeer(peer: NetworkPolicyPeer): CompiledPeer {
  const out: CompiledPeer = { peer, except: [] };
  if (peer.podSelector) out.pods = compileSelector(peer.podSelector);
  if (peer.namespaceSelector) out.namespaces = compileSelector(peer.namespaceSelector);
  if (peer.ipBlock) {
    out.block = parseCidr(peer.ipBlock.cidr);
    for (const e of peer.ipBlock.except) {
      const c = parseCidr(e);
      if (c) out.except.push(c);
    }
  }
  return out;
}

const labelKey = (k: string, v: string): string => `${k}\u0000${v}`;

export function compileNetworkPolicies(policies: NetworkPolicy[], inventory: Inventory): CompiledNetworkPolicies {
  const compiled: CompiledNetworkPolicies = {
    policies: [],
    inventory,
    byNamespace: new Map(),
    selecting: new WeakMap(),
    stats: { podSelectorChecks: 0, ruleChecks: 0 },
  };
  policies.forEach((policy, order) => {
    const compileRules = (rules: NetworkPolicy['ingress']): CompiledRule[] =>
      rules.map((r) => ({ peers: r.peers.map(compilePeer), ports: r.ports }));
    const cp: CompiledNetworkPolicy = {
      policy,
      ref: policyRef(policy),
      selector: compileSelector(policy.podSelector),
      order,
    };
    if (policy.policyTypes.includes('Ingress')) cp.ingress = compileRules(policy.ingress);
    if (policy.policyTypes.includes('Egress')) cp.egress = compileRules(policy.egress);
    compiled.policies.push(cp);
    let index = compiled.byNamespace.get(policy.namespace);
    if (!index) {
      index = { byLabel: new Map(), rest: [] };
      compiled.byNamespace.set(policy.namespace, index);
    }
    if (cp.selector.labelKeys.length === 0) index.rest.push(cp);
    else {
      const key = labelKey(cp.selector.labelKeys[0], cp.selector.labelValues[0]);
      const list = index.byLabel.get(key);
      if (list) list.push(cp);
      else index.byLabel.set(key, [cp]);
    }
  });
  return compiled;
}

/** Every policy in the pod's namespace whose podSelector selects it, in input order. */
export function policiesSelecting(c: CompiledNetworkPolicies, pod: PodInfo): CompiledNetworkPolicy[] {
  const cached = c.selecting.get(pod);
  if (cached) return cached;
  const index = c.byNamespace.get(pod.namespace);
  const out: CompiledNetworkPolicy[] = [];
  if (index) {
    const candidates: CompiledNetworkPolicy[] = [...index.rest];
    for (const k in pod.labels) {
      const list = index.byLabel.get(labelKey(k, pod.labels[k]));
      if (list) for (const p of list) candidates.push(p);
    }
    for (const p of candidates) {
      c.stats.podSelectorChecks++;
      if (selectorMatches(p.selector, pod.labels)) out.push(p);
    }
    out.sort((a, b) => a.order - b.order);
  }
  c.selecting.set(pod, out);
  return out;
}

// --- decisions ---

export type Direction = 'ingress' | 'egress';

export type SideReason =
  | 'not-a-pod' // an IP or node end: NetworkPolicy does not apply there
  | 'host-network' // a host-network pod: NetworkPolicy does not apply to it
  | 'same-pod' // a pod cannot block traffic to itself
  | 'own-node' // traffic between a pod and its own node is always allowed
  | 'not-isolated' // no policy selects the pod for this direction
  | 'allowed-by-rule'
  | 'no-rule-matched';

export interface RuleCheck {
  /** 0-based index in spec.ingress / spec.egress. */
  rule: number;
  matched: boolean;
  /** Why the peer part did or did not match, one line per peer (or "any peer"). */
  peers: string[];
  peerMatched: boolean;
  /** Why the port part did or did not match. */
  ports: string;
  portMatched: boolean;
}

export interface PolicyCheck {
  policy: string;
  source: PolicySource;
  policyTypes: string[];
  policyTypesDefaulted: boolean;
  /** Per rule, only when evaluated with detail. */
  rules: RuleCheck[];
  ruleCount: number;
  allowed: boolean;
}

export interface SideDecision {
  direction: Direction;
  /** What this end is: a pod (`ns/name`), an IP address or the node. */
  endpoint: string;
  /** True when NetworkPolicy applies at this end (a pod that is not host-networked). */
  subject: boolean;
  isolated: boolean;
  allowed: boolean;
  reason: SideReason;
  /** Policies that select this pod for this direction. */
  selecting: PolicyCheck[];
  /** Policies that select this pod, but only for the other direction (they do not matter here). */
  otherDirection: string[];
  allowedBy?: { policy: string; rule: number };
}

export interface ConnectionDecision {
  allowed: boolean;
  egress: SideDecision;
  ingress: SideDecision;
}

export function describeEndpoint(e: EvalEndpoint): string {
  if (e.kind === 'pod') return `${e.pod.namespace}/${e.pod.name}`;
  if (e.kind === 'ip') return e.ip;
  return e.ip ? `node ${e.ip}` : 'node';
}

function samePod(a: EvalEndpoint, b: EvalEndpoint): boolean {
  return a.kind === 'pod' && b.kind === 'pod' && a.pod.namespace === b.pod.namespace && a.pod.name === b.pod.name;
}

/** Parsed pod addresses, kept per pod object so bulk evaluation parses each address once. */
const podIps = new WeakMap<PodInfo, IpAddress[]>();

function parseAll(texts: string[]): IpAddress[] {
  const out: IpAddress[] = [];
  for (const t of texts) {
    const ip = parseIp(t);
    if (ip) out.push(ip);
  }
  return out;
}

function endpointIps(e: EvalEndpoint): IpAddress[] {
  if (e.kind !== 'pod') return e.ip ? parseAll([e.ip]) : [];
  let ips = podIps.get(e.pod);
  if (!ips) {
    ips = parseAll(e.pod.ips);
    podIps.set(e.pod, ips);
  }
  return ips;
}

/** Does `peer` (of a policy in `policyNs`) match the endpoint at the other end? */
function peerMatches(c: CompiledNetworkPolicies, p: CompiledPeer, policyNs: string, other: EvalEndpoint): boolean {
  if (p.peer.ipBlock) {
    if (!p.block) return false;
    for (const ip of endpointIps(other)) {
      if (cidrContains(p.block, ip) && !p.except.some((x) => cidrContains(x, ip))) return true;
    }
    return false;
  }
  if (other.kind !== 'pod' || other.pod.hostNetwork) return false;
  const pod = other.pod;
  if (p.namespaces) {
    if (!selectorMatches(p.namespaces, namespaceLabels(c.inventory, pod.namespace))) return false;
  } else if (pod.namespace !== policyNs) return false;
  return p.pods ? selectorMatches(p.pods, pod.labels) : true;
}

function describePeer(p: CompiledPeer, policyNs: string): string {
  if (p.peer.ipBlock) {
    const ex = p.peer.ipBlock.except;
    return `ipBlock ${p.peer.ipBlock.cidr}${ex.length ? ` except ${ex.join(', ')}` : ''}`;
  }
  const pods = p.pods && !p.pods.matchesAll ? `pods ${describeSelector(p.pods.selector)}` : 'all pods';
  let ns = `namespace ${policyNs}`;
  if (p.namespaces)
    ns = p.namespaces.matchesAll ? 'all namespaces' : `namespaces ${describeSelector(p.namespaces.selector)}`;
  return `${pods} in ${ns}`;
}

/** Why a peer did not match, in words (only called for explanations). */
function peerMiss(c: CompiledNetworkPolicies, p: CompiledPeer, policyNs: string, other: EvalEndpoint): string {
  const name = describeEndpoint(other);
  if (p.peer.ipBlock) {
    const ips = endpointIps(other);
    if (ips.length === 0) return `${name} has no known IP address`;
    if (ips.some((ip) => p.block && cidrContains(p.block, ip))) {
      return `${name} is inside ${p.peer.ipBlock.cidr} but excluded by except`;
    }
    const texts = other.kind === 'pod' ? other.pod.ips.join(', ') : (other.ip ?? '');
    return other.kind === 'pod'
      ? `${name} (${texts}) is outside ${p.peer.ipBlock.cidr}`
      : `${name} is outside ${p.peer.ipBlock.cidr}`;
  }
  if (other.kind !== 'pod') return `${name} is not a pod; only ipBlock peers match it`;
  if (other.pod.hostNetwork) return `${name} uses the host network; pod selectors do not match it`;
  const pod = other.pod;
  if (p.namespaces) {
    const why = selectorMismatch(p.namespaces, namespaceLabels(c.inventory, pod.namespace));
    if (why) return `namespace ${pod.namespace} ${why}`;
  } else if (pod.namespace !== policyNs) {
    return `${name} is in namespace ${pod.namespace}; without a namespaceSelector only pods of ${policyNs} match`;
  }
  const why = p.pods ? selectorMismatch(p.pods, pod.labels) : undefined;
  return why ? `${name} ${why}` : `${name} matches`;
}

function portMatches(port: NetworkPolicyPort, conn: Connection): boolean {
  if (port.protocol !== conn.protocol) return false;
  if (port.port === undefined) return true;
  if (typeof port.port === 'number') {
    return port.endPort === undefined ? conn.port === port.port : conn.port >= port.port && conn.port <= port.endPort;
  }
  // A named port means the destination pod's container port of that name and protocol.
  return conn.dst.kind === 'pod' && namedPort(conn.dst.pod, port.port, port.protocol) === conn.port;
}

function describePort(port: NetworkPolicyPort, conn: Connection): string {
  if (port.port === undefined) return `${port.protocol} (any port)`;
  if (typeof port.port === 'number') {
    return port.endPort === undefined
      ? `${port.protocol}/${port.port}`
      : `${port.protocol}/${port.port}-${port.endPort}`;
  }
  let resolved = 'not resolvable: the destination is not a pod';
  if (conn.dst.kind === 'pod') {
    const n = namedPort(conn.dst.pod, port.port, port.protocol);
    resolved =
      n === undefined ? `no ${port.protocol} container port of that name on ${describeEndpoint(conn.dst)}` : `= ${n}`;
  }
  return `${port.protocol}/${port.port} (${resolved})`;
}

function evaluateSide(
  c: CompiledNetworkPolicies,
  conn: Connection,
  direction: Direction,
  detail: boolean,
): SideDecision {
  const self = direction === 'egress' ? conn.src : conn.dst;
  const other = direction === 'egress' ? conn.dst : conn.src;
  const side: SideDecision = {
    direction,
    endpoint: describeEndpoint(self),
    subject: false,
    isolated: false,
    allowed: true,
    reason: 'not-a-pod',
    selecting: [],
    otherDirection: [],
  };
  if (self.kind !== 'pod') return side;
  if (self.pod.hostNetwork) {
    side.reason = 'host-network';
    return side;
  }
  side.subject = true;
  const all = policiesSelecting(c, self.pod);
  const applying: CompiledNetworkPolicy[] = [];
  for (const p of all) {
    if (p[direction]) applying.push(p);
    else side.otherDirection.push(p.ref);
  }
  side.isolated = applying.length > 0;
  if (samePod(conn.src, conn.dst)) {
    side.reason = 'same-pod';
    return side;
  }
  if (other.kind === 'host') {
    side.reason = 'own-node';
    return side;
  }
  if (!side.isolated) {
    side.reason = 'not-isolated';
    return side;
  }
  side.allowed = false;
  side.reason = 'no-rule-matched';
  for (const p of applying) {
    const rules = p[direction]!;
    const check: PolicyCheck = {
      policy: p.ref,
      source: p.policy.source,
      policyTypes: p.policy.policyTypes,
      policyTypesDefaulted: p.policy.policyTypesDefaulted,
      rules: [],
      ruleCount: rules.length,
      allowed: false,
    };
    side.selecting.push(check);
    for (let i = 0; i < rules.length; i++) {
      c.stats.ruleChecks++;
      const rule = rules[i];
      let peerMatched = rule.peers.length === 0;
      let matchedPeer = -1;
      for (let j = 0; !peerMatched && j < rule.peers.length; j++) {
        if (peerMatches(c, rule.peers[j], p.policy.namespace, other)) {
          peerMatched = true;
          matchedPeer = j;
        }
      }
      let portMatched = rule.ports.length === 0;
      let matchedPort = -1;
      for (let j = 0; !portMatched && j < rule.ports.length; j++) {
        if (portMatches(rule.ports[j], conn)) {
          portMatched = true;
          matchedPort = j;
        }
      }
      const matched = peerMatched && portMatched;
      if (matched && !check.allowed) {
        check.allowed = true;
        if (!side.allowed) {
          side.allowed = true;
          side.reason = 'allowed-by-rule';
          side.allowedBy = { policy: p.ref, rule: i };
        }
        if (!detail) break;
      }
      if (detail) {
        check.rules.push({
          rule: i,
          matched,
          peerMatched,
          peers: explainPeers(c, rule, p.policy.namespace, other, direction, matchedPeer),
          portMatched,
          ports: explainPorts(rule, conn, matchedPort),
        });
      }
    }
    if (side.allowed && !detail) break;
  }
  return side;
}

function explainPeers(
  c: CompiledNetworkPolicies,
  rule: CompiledRule,
  policyNs: string,
  other: EvalEndpoint,
  direction: Direction,
  matched: number,
): string[] {
  const field = direction === 'ingress' ? 'from' : 'to';
  if (rule.peers.length === 0) return [`${field}: any peer (no ${field} list)`];
  if (matched >= 0) return [`${field}[${matched}] ${describePeer(rule.peers[matched], policyNs)}: matches`];
  return rule.peers.map((p, j) => `${field}[${j}] ${describePeer(p, policyNs)}: ${peerMiss(c, p, policyNs, other)}`);
}

function explainPorts(rule: CompiledRule, conn: Connection, matched: number): string {
  const asked = `${conn.protocol}/${conn.port}`;
  if (rule.ports.length === 0) return 'ports: any port (no ports list)';
  if (matched >= 0) return `ports: ${describePort(rule.ports[matched], conn)} matches ${asked}`;
  return `ports: ${rule.ports.map((p) => describePort(p, conn)).join(', ')}; none matches ${asked}`;
}

/**
 * Evaluates one connection. With `detail` (the default) every rule of every selecting policy is
 * checked and explained; without it evaluation stops at the first allowing rule (for bulk verify).
 */
export function evaluateConnection(
  c: CompiledNetworkPolicies,
  conn: Connection,
  opts: { detail?: boolean } = {},
): ConnectionDecision {
  const detail = opts.detail ?? true;
  const egress = evaluateSide(c, conn, 'egress', detail);
  const ingress = evaluateSide(c, conn, 'ingress', detail);
  return { allowed: egress.allowed && ingress.allowed, egress, ingress };
}
