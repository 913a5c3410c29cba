// The Istio AuthorizationPolicy evaluator, for requests arriving at a destination pod's proxy.
// Order, as Istio documents it: CUSTOM (ignored here, with a warning), then DENY, then ALLOW; AUDIT never
// changes the decision. Matching is three-valued: besides yes and no, a condition can be `unknown`
// when it depends on something flows do not show (JWT claims, headers); the decision then says so
// instead of guessing.
import { type Cidr, cidrContains, type IpAddress, parseCidr, parseIp } from './cidr.js';
import type { PodInfo } from './inventory.js';
import { istioRejects, normalizeIstioPath } from './istio-request.js';
import type { Connection } from './networkpolicy.js';
import {
  type AuthorizationAction,
  type AuthorizationCondition,
  type AuthorizationOperation,
  type AuthorizationPolicy,
  type AuthorizationRule,
  type AuthorizationSource,
  type PolicySource,
  policyRef,
} from './types.js';

/** One request (or connection) to a destination pod, with what flows tell about it. */
export interface Request {
  conn: Connection;
  /** The client's mTLS identity (`cluster.local/ns/shop/sa/web`); derived from the source pod when absent. */
  principal?: string;
  /** The client's namespace; derived from the principal or the source pod when absent. */
  namespace?: string;
  method?: string;
  path?: string;
  host?: string;
  /** Request headers, when known (flows rarely carry them). */
  headers?: Record<string, string>;
  /** The JWT identity (`iss/sub`), when known. */
  requestPrincipal?: string;
  /** The original client address (X-Forwarded-For) when it differs from the connection's source. */
  remoteIp?: string;
  /**
   * true: an HTTP request; false: plain TCP, so HTTP attributes do not exist (Istio then ignores
   * HTTP-only fields: an ALLOW rule using them never matches, a DENY rule treats them as matching);
   * undefined: not known, so HTTP attributes that are not given are unknown.
   */
  http?: boolean;
  /** The Service the request was sent to (`namespace/name`), for policies attached with targetRefs. */
  service?: string;
}

export type Tri = 'yes' | 'no' | 'unknown';

export interface AuthorizationRuleCheck {
  /** 0-based index in spec.rules. */
  rule: number;
  result: Tri;
  /** One line per part of the rule that decided the result. */
  why: string[];
}

export interface AuthorizationPolicyCheck {
  policy: string;
  action: AuthorizationAction;
  source: PolicySource;
  /** Why this policy applies to the destination pod. */
  scope: string;
  /** Best result over the rules: yes when a rule matches. */
  result: Tri;
  rules: AuthorizationRuleCheck[];
}

export type AuthorizationVerdict = 'allow' | 'deny' | 'unknown';

export interface RequestDecision {
  verdict: AuthorizationVerdict;
  /** True only when the verdict is a definite allow. */
  allowed: boolean;
  /** One sentence: why the verdict is what it is. */
  reason: string;
  decidedBy?: { policy: string; rule: number };
  /** Policies that apply to the destination pod, in order: DENY, ALLOW, AUDIT (CUSTOM is left out). */
  policies: AuthorizationPolicyCheck[];
  /** True when a matching AUDIT policy marks the request for auditing. */
  audited: boolean;
  warnings: string[];
  destination: string;
}

/** Same name as `AuthorizationDecision` for readers coming from the NetworkPolicy side. */
export type AuthorizationDecision = RequestDecision;

interface CompiledAuthorizationPolicy {
  policy: AuthorizationPolicy;
  ref: string;
  /** Parsed ipBlocks, keyed by their text, so requests never re-parse CIDRs. */
  blocks: Map<string, Cidr>;
  /** Position in the input. */
  order: number;
}

interface NamespaceIndex {
  /** `key=value` of the first (sorted) selector label → policies whose selector needs it. */
  byLabel: Map<string, CompiledAuthorizationPolicy[]>;
  /** Policies without a selector (namespace-wide, or attached with targetRefs). */
  rest: CompiledAuthorizationPolicy[];
}

export interface CompiledAuthorizationPolicies {
  rootNamespace: string;
  trustDomain: string;
  byNamespace: Map<string, NamespaceIndex>;
  /** Policies that may apply to each destination pod, in input order, computed on first use. */
  candidates: WeakMap<PodInfo, CompiledAuthorizationPolicy[]>;
  /** Work counter: policies whose scope was checked against a request (tests use it, not the clock). */
  stats: { scopeChecks: number };
}

const labelKey = (k: string, v: string): string => `${k}\u0000${v}`;

export function compileAuthorizationPolicies(
  policies: AuthorizationPolicy[],
  opts: { rootNamespace: string; trustDomain?: string },
): CompiledAuthorizationPolicies {
  const byNamespace = new Map<string, NamespaceIndex>();
  policies.forEach((policy, order) => {
    const blocks = new Map<string, Cidr>();
    for (const rule of policy.rules) {
      for (const from of rule.from) {
        for (const list of [from.ipBlocks, from.notIpBlocks, from.remoteIpBlocks, from.notRemoteIpBlocks]) {
          for (const text of list ?? []) {
            const block = toCidr(text);
            if (block) blocks.set(text, block);
          }
        }
      }
    }
    let index = byNamespace.get(policy.namespace);
    if (!index) {
      index = { byLabel: new Map(), rest: [] };
      byNamespace.set(policy.namespace, index);
    }
    const cp: CompiledAuthorizationPolicy = { policy, ref: policyRef(policy), blocks, order };
    const keys = Object.keys(policy.selector ?? {}).sort();
    if (keys.length === 0) index.rest.push(cp);
    else {
      const key = labelKey(keys[0], policy.selector![keys[0]]);
      const list = index.byLabel.get(key);
      if (list) list.push(cp);
      else index.byLabel.set(key, [cp]);
    }
  });
  return {
    rootNamespace: opts.rootNamespace,
    trustDomain: opts.trustDomain ?? 'cluster.local',
    byNamespace,
    candidates: new WeakMap(),
    stats: { scopeChecks: 0 },
  };
}

/** Policies of the pod's namespace and the root namespace whose selector could match the pod. */
function candidatesFor(c: CompiledAuthorizationPolicies, pod: PodInfo): CompiledAuthorizationPolicy[] {
  const cached = c.candidates.get(pod);
  if (cached) return cached;
  const out: CompiledAuthorizationPolicy[] = [];
  const namespaces = pod.namespace === c.rootNamespace ? [pod.namespace] : [pod.namespace, c.rootNamespace];
  for (const ns of namespaces) {
    const index = c.byNamespace.get(ns);
    if (!index) continue;
    out.push(...index.rest);
    for (const k in pod.labels) {
      const list = index.byLabel.get(labelKey(k, pod.labels[k]));
      if (list) out.push(...list);
    }
  }
  out.sort((a, b) => a.order - b.order);
  c.candidates.set(pod, out);
  return out;
}

/** `10.0.0.1` is read as `10.0.0.1/32` (or /128), as Istio does. */
function toCidr(text: string): Cidr | undefined {
  if (text.includes('/')) return parseCidr(text);
  const ip = parseIp(text);
  return ip ? parseCidr(`${text}/${ip.v6 ? 128 : 32}`) : undefined;
}

// --- string matching ---

/**
 * Istio's string match: exact `abc`, prefix `abc*`, suffix `*abc`, presence `*` (any non-empty value).
 * Paths containing `{*}` (one segment) or `{**}` (any number of segments) are URI templates.
 */
export function stringMatches(
  pattern: string,
  value: string,
  opts: { path?: boolean; caseless?: boolean } = {},
): boolean {
  if (opts.path && pattern.includes('{*')) return templateMatches(pattern, value);
  const p = opts.caseless ? pattern.toLowerCase() : pattern;
  const v = opts.caseless ? value.toLowerCase() : value;
  if (p === '*') return v.length > 0;
  if (p.endsWith('*')) return v.startsWith(p.slice(0, -1));
  if (p.startsWith('*')) return v.endsWith(p.slice(1));
  return v === p;
}

const templates = new Map<string, RegExp>();

function templateMatches(template: string, path: string): boolean {
  let re = templates.get(template);
  if (!re) {
    const parts = template.split(/(\{\*\*\}|\{\*\})/);
    const body = parts
      .map((part) => {
        if (part === '{**}') return '.*';
        if (part === '{*}') return '[^/]+';
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('');
    re = new RegExp(`^${body}$`);
    templates.set(template, re);
  }
  return re.test(path);
}

// --- the request as Istio sees it ---

interface Attributes {
  /** undefined = unknown; '' = known to be absent (no mTLS identity). */
  principal?: string;
  namespace?: string;
  sourceIps: IpAddress[];
  remoteIps: IpAddress[];
  port: string;
  destinationIps: IpAddress[];
  http?: boolean;
  method?: string;
  path?: string;
  host?: string;
  requestPrincipal?: string;
  headers?: Record<string, string>;
}

function ips(texts: string[]): IpAddress[] {
  const out: IpAddress[] = [];
  for (const t of texts) {
    const ip = parseIp(t);
    if (ip) out.push(ip);
  }
  return out;
}

function attributes(c: CompiledAuthorizationPolicies, dst: PodInfo, req: Request): Attributes {
  const src = req.conn.src;
  let principal = req.principal;
  if (principal === undefined) {
    if (src.kind === 'pod' && src.pod.serviceAccount) {
      principal = `${c.trustDomain}/ns/${src.pod.namespace}/sa/${src.pod.serviceAccount}`;
    } else if (src.kind !== 'pod') principal = ''; // not a mesh workload: no peer certificate
  }
  let namespace = req.namespace;
  if (namespace === undefined && principal) {
    const at = principal.indexOf('/ns/');
    if (at >= 0) namespace = principal.slice(at + 4).split('/')[0];
  }
  if (namespace === undefined) namespace = src.kind === 'pod' ? src.pod.namespace : '';
  const sourceTexts = src.kind === 'pod' ? src.pod.ips : src.ip ? [src.ip] : [];
  const sourceIps = ips(sourceTexts);
  return {
    principal,
    namespace,
    sourceIps,
    remoteIps: req.remoteIp ? ips([req.remoteIp]) : sourceIps,
    port: String(req.conn.port),
    destinationIps: ips(dst.ips),
    http: req.http ?? (req.method !== undefined || req.path !== undefined ? true : undefined),
    method: req.method,
    path: req.path ? matchedPath(req.path) : req.path,
    host: req.host,
    requestPrincipal: req.requestPrincipal,
    headers: req.headers,
  };
}

/** The path as Istio matches it: normalized (no query, dot segments resolved; see istio-request.ts). */
function matchedPath(path: string): string {
  const normalized = normalizeIstioPath(path);
  return 'path' in normalized ? normalized.path : path;
}

// --- three-valued logic ---

function and(values: Tri[]): Tri {
  if (values.includes('no')) return 'no';
  return values.includes('unknown') ? 'unknown' : 'yes';
}

function or(values: Tri[]): Tri {
  if (values.includes('yes')) return 'yes';
  return values.includes('unknown') ? 'unknown' : 'no';
}

interface FieldResult {
  result: Tri;
  why: string;
}

/**
 * A value Istio cannot have for this request: over plain TCP an HTTP attribute does not exist, and Istio
 * ignores HTTP-only fields: ALLOW rules using them never match, DENY (and AUDIT) rules match as if they did.
 */
function missing(action: AuthorizationAction, field: string): FieldResult {
  return action === 'ALLOW'
    ? { result: 'no', why: `${field}: HTTP-only, and this is plain TCP: an ALLOW rule using it never matches` }
    : { result: 'yes', why: `${field}: HTTP-only, and this is plain TCP: a ${action} rule treats it as matching` };
}

function listField(
  field: string,
  patterns: string[] | undefined,
  negative: boolean,
  value: string | undefined,
  shown: string,
  opts: { path?: boolean; caseless?: boolean } = {},
): FieldResult | undefined {
  if (patterns === undefined) return undefined;
  const list = `[${patterns.join(', ')}]`;
  if (value === undefined) return { result: 'unknown', why: `${field} ${list}: ${shown} is not known` };
  const hit = patterns.some((p) => stringMatches(p, value, opts));
  const result: Tri = hit !== negative ? 'yes' : 'no';
  const verb = hit ? 'matches' : 'does not match';
  return { result, why: `${field} ${list}: ${shown} ${JSON.stringify(value)} ${verb}` };
}

function ipField(
  field: string,
  patterns: string[] | undefined,
  negative: boolean,
  values: IpAddress[],
  blocks: Map<string, Cidr>,
  shown: string,
): FieldResult | undefined {
  if (patterns === undefined) return undefined;
  const list = `[${patterns.join(', ')}]`;
  if (values.length === 0) return { result: 'unknown', why: `${field} ${list}: ${shown} is not known` };
  const hit = patterns.some((p) => {
    const block = blocks.get(p) ?? toCidr(p);
    return block !== undefined && values.some((ip) => cidrContains(block, ip));
  });
  return {
    result: hit !== negative ? 'yes' : 'no',
    why: `${field} ${list}: ${shown} ${hit ? 'is inside' : 'is outside'}`,
  };
}

function checkSource(
  s: AuthorizationSource,
  a: Attributes,
  action: AuthorizationAction,
  blocks: Map<string, Cidr>,
  at: string,
): FieldResult[] {
  const principal = a.principal === '' ? undefined : a.principal;
  const noIdentity = a.principal === '';
  const out: Array<FieldResult | undefined> = [];
  const identity = (
    field: string,
    list: string[] | undefined,
    negative: boolean,
    value: string | undefined,
    shown: string,
  ) => {
    if (list === undefined) return undefined;
    // A client without a peer certificate has no principal: positive lists cannot match it.
    if (noIdentity && value === undefined) {
      return {
        result: (negative ? 'yes' : 'no') as Tri,
        why: `${field} [${list.join(', ')}]: the client has no mTLS identity (not a mesh workload)`,
      };
    }
    return listField(field, list, negative, value, shown);
  };
  out.push(identity(`${at}.principals`, s.principals, false, principal, 'source principal'));
  out.push(identity(`${at}.notPrincipals`, s.notPrincipals, true, principal, 'source principal'));
  out.push(identity(`${at}.namespaces`, s.namespaces, false, noIdentity ? undefined : a.namespace, 'source namespace'));
  out.push(
    identity(`${at}.notNamespaces`, s.notNamespaces, true, noIdentity ? undefined : a.namespace, 'source namespace'),
  );
  for (const [field, list, negative] of [
    ['requestPrincipals', s.requestPrincipals, false],
    ['notRequestPrincipals', s.notRequestPrincipals, true],
  ] as const) {
    if (list === undefined) continue;
    if (a.http === false) out.push(missing(action, `${at}.${field}`));
    else out.push(listField(`${at}.${field}`, list, negative, a.requestPrincipal, 'request principal (JWT)'));
  }
  out.push(ipField(`${at}.ipBlocks`, s.ipBlocks, false, a.sourceIps, blocks, 'source IP'));
  out.push(ipField(`${at}.notIpBlocks`, s.notIpBlocks, true, a.sourceIps, blocks, 'source IP'));
  out.push(ipField(`${at}.remoteIpBlocks`, s.remoteIpBlocks, false, a.remoteIps, blocks, 'remote IP'));
  out.push(ipField(`${at}.notRemoteIpBlocks`, s.notRemoteIpBlocks, true, a.remoteIps, blocks, 'remote IP'));
  return out.filter((x): x is FieldResult => x !== undefined);
}

function checkOperation(
  o: AuthorizationOperation,
  a: Attributes,
  action: AuthorizationAction,
  at: string,
): FieldResult[] {
  const out: Array<FieldResult | undefined> = [];
  out.push(listField(`${at}.ports`, o.ports, false, a.port, 'port'));
  out.push(listField(`${at}.notPorts`, o.notPorts, true, a.port, 'port'));
  const http = [
    ['hosts', o.hosts, false, a.host, 'host', { caseless: true }],
    ['notHosts', o.notHosts, true, a.host, 'host', { caseless: true }],
    ['methods', o.methods, false, a.method, 'method', {}],
    ['notMethods', o.notMethods, true, a.method, 'method', {}],
    ['paths', o.paths, false, a.path, 'path', { path: true }],
    ['notPaths', o.notPaths, true, a.path, 'path', { path: true }],
  ] as const;
  for (const [field, list, negative, value, shown, opts] of http) {
    if (list === undefined) continue;
    if (a.http === false) out.push(missing(action, `${at}.${field}`));
    else out.push(listField(`${at}.${field}`, list, negative, value, shown, opts));
  }
  return out.filter((x): x is FieldResult => x !== undefined);
}

/** The value of a `when` key, `missing` over plain TCP for HTTP keys, or a reason it is out of reach. */
function conditionValue(
  key: string,
  a: Attributes,
): { values?: string[]; ips?: IpAddress[]; missing?: boolean; unknown?: string } {
  switch (key) {
    case 'source.ip':
      return { ips: a.sourceIps };
    case 'remote.ip':
      return { ips: a.remoteIps };
    case 'destination.ip':
      return { ips: a.destinationIps };
    case 'destination.port':
      return { values: [a.port] };
    case 'source.principal':
      return a.principal === undefined ? { unknown: 'the source principal is not known' } : { values: [a.principal] };
    case 'source.namespace':
      return a.namespace === undefined ? { unknown: 'the source namespace is not known' } : { values: [a.namespace] };
  }
  const http = key.startsWith('request.');
  if (http && a.http === false) return { missing: true };
  if (key.startsWith('request.headers[') && key.endsWith(']')) {
    const name = key.slice('request.headers['.length, -1).toLowerCase();
    if (!a.headers) return { unknown: 'request headers are not in the flows flowwright sees' };
    const found = Object.entries(a.headers).find(([k]) => k.toLowerCase() === name);
    return { values: found ? [found[1]] : [] };
  }
  if (key.startsWith('request.auth.')) return { unknown: 'JWT claims are not in the flows flowwright sees' };
  return { unknown: `flowwright cannot know ${key}` };
}

function checkCondition(
  w: AuthorizationCondition,
  a: Attributes,
  action: AuthorizationAction,
  at: string,
): FieldResult {
  const v = conditionValue(w.key, a);
  if (v.missing) return missing(action, `${at} ${w.key}`);
  const shown = `${at} ${w.key}`;
  if (v.unknown) return { result: 'unknown', why: `${shown}: cannot be evaluated: ${v.unknown}` };
  const matchOne = (pattern: string): boolean => {
    if (v.ips) {
      const block = toCidr(pattern);
      return block !== undefined && v.ips.some((ip) => cidrContains(block, ip));
    }
    return (v.values ?? []).some((x) => stringMatches(pattern, x));
  };
  if (v.ips && v.ips.length === 0) return { result: 'unknown', why: `${shown}: the address is not known` };
  const parts: Tri[] = [];
  if (w.values?.length) parts.push(w.values.some(matchOne) ? 'yes' : 'no');
  if (w.notValues?.length) parts.push(w.notValues.some(matchOne) ? 'no' : 'yes');
  const result = and(parts);
  const actual = v.ips ? 'the address' : JSON.stringify((v.values ?? [])[0] ?? '');
  return { result, why: `${shown}: ${actual} ${result === 'yes' ? 'satisfies' : 'does not satisfy'} the condition` };
}

function checkRule(
  rule: AuthorizationRule,
  index: number,
  a: Attributes,
  action: AuthorizationAction,
  blocks: Map<string, Cidr>,
): AuthorizationRuleCheck {
  const why: string[] = [];
  const parts: Tri[] = [];
  if (rule.from.length === 0 && rule.to.length === 0 && rule.when.length === 0) {
    return { rule: index, result: 'yes', why: ['empty rule: matches every request'] };
  }
  // from: OR over sources; each source ANDs its fields.
  if (rule.from.length > 0) {
    const results = rule.from.map((s, j) => {
      const fields = checkSource(s, a, action, blocks, `from[${j}].source`);
      const r = and(fields.map((f) => f.result));
      why.push(...fields.filter((f) => f.result !== 'yes' || r === 'yes').map((f) => f.why));
      return r;
    });
    parts.push(or(results));
  }
  if (rule.to.length > 0) {
    const results = rule.to.map((o, j) => {
      const fields = checkOperation(o, a, action, `to[${j}].operation`);
      const r = and(fields.map((f) => f.result));
      why.push(...fields.filter((f) => f.result !== 'yes' || r === 'yes').map((f) => f.why));
      return r;
    });
    parts.push(or(results));
  }
  rule.when.forEach((w, j) => {
    const f = checkCondition(w, a, action, `when[${j}]`);
    why.push(f.why);
    parts.push(f.result);
  });
  return { rule: index, result: and(parts), why };
}

// --- which policies apply ---

const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

function scopeOf(
  c: CompiledAuthorizationPolicies,
  p: AuthorizationPolicy,
  dst: PodInfo,
  req: Request,
  warnings: string[],
): string | undefined {
  const root = p.namespace === c.rootNamespace;
  if (!root && p.namespace !== dst.namespace) return undefined;
  if (p.targetRefs.length > 0) {
    for (const ref of p.targetRefs) {
      const ns = ref.namespace ?? p.namespace;
      if (ref.kind === 'Gateway' && ns === dst.namespace && dst.labels[GATEWAY_NAME_LABEL] === ref.name) {
        return `attached to Gateway ${ns}/${ref.name}, which this pod runs`;
      }
      if (ref.kind === 'Service' && req.service === `${ns}/${ref.name}`) {
        warnings.push(
          `${policyRef(p)} is attached to Service ${ns}/${ref.name}; Istio enforces it at a waypoint proxy, evaluated here as if at the pod`,
        );
        return `attached to Service ${ns}/${ref.name}, which the request was sent to`;
      }
    }
    return undefined;
  }
  if (p.selector) {
    for (const k of Object.keys(p.selector)) if (dst.labels[k] !== p.selector[k]) return undefined;
    const labels = Object.keys(p.selector)
      .sort()
      .map((k) => `${k}=${p.selector![k]}`)
      .join(', ');
    return root ? `root namespace policy selecting ${labels} in every namespace` : `selects workloads with ${labels}`;
  }
  return root
    ? 'root namespace policy: applies to every workload in the mesh'
    : `applies to every workload in namespace ${p.namespace}`;
}

const ACTION_ORDER: Record<AuthorizationAction, number> = { CUSTOM: 0, DENY: 1, ALLOW: 2, AUDIT: 3 };

function describeDestination(pod: PodInfo): string {
  return `${pod.namespace}/${pod.name}`;
}

export function evaluateRequest(c: CompiledAuthorizationPolicies, dstPod: PodInfo, req: Request): RequestDecision {
  const warnings: string[] = [];
  const rejected = req.http === false ? undefined : istioRejects(req.method, req.path);
  if (rejected !== undefined) {
    return {
      verdict: 'deny',
      allowed: false,
      reason: `Istio's proxy refuses the request before any policy (HTTP 400): ${rejected}`,
      policies: [],
      audited: false,
      warnings,
      destination: describeDestination(dstPod),
    };
  }
  const a = attributes(c, dstPod, req);
  const checks: AuthorizationPolicyCheck[] = [];
  for (const cp of candidatesFor(c, dstPod)) {
    c.stats.scopeChecks++;
    const scope = scopeOf(c, cp.policy, dstPod, req, warnings);
    if (scope === undefined) continue;
    if (cp.policy.action === 'CUSTOM') {
      warnings.push(
        `${cp.ref} is a CUSTOM policy (provider ${cp.policy.provider ?? 'unknown'}); its external decision is not evaluated`,
      );
      continue;
    }
    const rules = cp.policy.rules.map((r, i) => checkRule(r, i, a, cp.policy.action, cp.blocks));
    checks.push({
      policy: cp.ref,
      action: cp.policy.action,
      source: cp.policy.source,
      scope,
      result: or(rules.map((r) => r.result)),
      rules,
    });
  }
  checks.sort((x, y) => ACTION_ORDER[x.action] - ACTION_ORDER[y.action] || x.policy.localeCompare(y.policy));
  const decision = decide(checks);
  for (const check of checks) {
    for (const r of check.rules) {
      if (
        r.result === 'unknown' &&
        !warnings.includes(`${check.policy} spec.rules[${r.rule}] cannot be fully evaluated`)
      ) {
        warnings.push(`${check.policy} spec.rules[${r.rule}] cannot be fully evaluated`);
      }
    }
  }
  return {
    ...decision,
    allowed: decision.verdict === 'allow',
    policies: checks,
    audited: checks.some((x) => x.action === 'AUDIT' && x.result === 'yes'),
    warnings,
    destination: describeDestination(dstPod),
  };
}

function firstRule(checks: AuthorizationPolicyCheck[], result: Tri): { policy: string; rule: number } | undefined {
  for (const check of checks) {
    const r = check.rules.find((x) => x.result === result);
    if (r) return { policy: check.policy, rule: r.rule };
  }
  return undefined;
}

function decide(checks: AuthorizationPolicyCheck[]): Pick<RequestDecision, 'verdict' | 'reason' | 'decidedBy'> {
  const deny = checks.filter((x) => x.action === 'DENY');
  const allow = checks.filter((x) => x.action === 'ALLOW');
  const denied = firstRule(deny, 'yes');
  if (denied) {
    return {
      verdict: 'deny',
      reason: `a DENY policy matches: ${denied.policy} spec.rules[${denied.rule}]`,
      decidedBy: denied,
    };
  }
  const maybeDenied = firstRule(deny, 'unknown');
  if (allow.length === 0) {
    if (maybeDenied) {
      return {
        verdict: 'unknown',
        reason: `no ALLOW policy applies, but DENY rule ${maybeDenied.policy} spec.rules[${maybeDenied.rule}] may match`,
      };
    }
    return { verdict: 'allow', reason: 'no DENY policy matches and no ALLOW policy applies to this workload' };
  }
  const allowed = firstRule(allow, 'yes');
  if (allowed && !maybeDenied) {
    return {
      verdict: 'allow',
      reason: `an ALLOW policy matches: ${allowed.policy} spec.rules[${allowed.rule}]`,
      decidedBy: allowed,
    };
  }
  if (allowed && maybeDenied) {
    return {
      verdict: 'unknown',
      reason: `${allowed.policy} spec.rules[${allowed.rule}] allows it, but DENY rule ${maybeDenied.policy} spec.rules[${maybeDenied.rule}] may match first`,
    };
  }
  const maybeAllowed = firstRule(allow, 'unknown');
  if (maybeAllowed) {
    return {
      verdict: 'unknown',
      reason: `only ${maybeAllowed.policy} spec.rules[${maybeAllowed.rule}] could allow it, and it cannot be fully evaluated`,
    };
  }
  return {
    verdict: 'deny',
    reason:
      allow.length === 1
        ? `ALLOW policy ${allow[0].policy} applies to this workload and none of its rules matches`
        : `${allow.length} ALLOW policies apply to this workload and none of their rules matches`,
  };
}
