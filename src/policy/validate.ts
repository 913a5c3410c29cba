// Turns one raw manifest object into a typed, validated policy, applying the API defaults. A manifest
// that the API server would reject is not loaded: each problem is reported with its field path
// (`spec.ingress[0].from[1].ipBlock.cidr`) so the user can find it.
import { cidrStrictlyInside, parseCidr, parseIp } from './cidr.js';
import type {
  AuthorizationAction,
  AuthorizationCondition,
  AuthorizationOperation,
  AuthorizationPolicy,
  AuthorizationRule,
  AuthorizationSource,
  IpBlock,
  L4Protocol,
  LabelSelector,
  LabelSelectorRequirement,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  NetworkPolicyRule,
  PolicySource,
  PolicyTargetRef,
  PolicyType,
  SelectorOperator,
} from './types.js';

export type FieldPath = Array<string | number>;

export interface Problem {
  path: FieldPath;
  message: string;
}

/** `spec.ingress[0].from[1].ipBlock.cidr` */
export function formatPath(path: FieldPath): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else s += s ? `.${p}` : p;
  }
  return s;
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects problems while the validators walk a manifest. */
class Checker {
  readonly problems: Problem[] = [];
  report(path: FieldPath, message: string): void {
    this.problems.push({ path, message });
  }
  /** An optional object field; reports and returns undefined when present but not an object. */
  object(parent: Obj, key: string, path: FieldPath): Obj | undefined {
    const v = parent[key];
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) {
      this.report([...path, key], 'must be an object');
      return undefined;
    }
    return v;
  }
  /** An optional list field; null and absent both read as undefined. */
  list(parent: Obj, key: string, path: FieldPath): unknown[] | undefined {
    const v = parent[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) {
      this.report([...path, key], 'must be a list');
      return undefined;
    }
    return v;
  }
  strings(parent: Obj, key: string, path: FieldPath): string[] | undefined {
    const v = this.list(parent, key, path);
    if (!v) return undefined;
    const out: string[] = [];
    v.forEach((s, i) => {
      if (typeof s === 'string') out.push(s);
      else this.report([...path, key, i], 'must be a string');
    });
    return out;
  }
}

// --- metadata ---

function readMetadata(c: Checker, obj: Obj): { name: string; namespace: string } {
  const meta = c.object(obj, 'metadata', []) ?? {};
  const name = meta.name;
  if (typeof name !== 'string' || name === '') c.report(['metadata', 'name'], 'is required');
  const ns = meta.namespace;
  if (ns !== undefined && typeof ns !== 'string') c.report(['metadata', 'namespace'], 'must be a string');
  // kubectl would put a namespace-less manifest into the context's namespace; `default` is the usual one.
  return { name: typeof name === 'string' ? name : '', namespace: typeof ns === 'string' && ns ? ns : 'default' };
}

// --- Kubernetes NetworkPolicy ---

const OPERATORS: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];
const PROTOCOLS: readonly L4Protocol[] = ['TCP', 'UDP', 'SCTP'];

function readSelector(c: Checker, raw: unknown, path: FieldPath): LabelSelector {
  const selector: LabelSelector = { matchLabels: {}, matchExpressions: [] };
  if (raw === null || raw === undefined) return selector;
  if (!isObject(raw)) {
    c.report(path, 'must be a label selector (an object)');
    return selector;
  }
  const labels = c.object(raw, 'matchLabels', path);
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (typeof v !== 'string') c.report([...path, 'matchLabels', k], 'label values must be strings (quote them)');
    else selector.matchLabels[k] = v;
  }
  const exprs = c.list(raw, 'matchExpressions', path) ?? [];
  exprs.forEach((e, i) => {
    const at = [...path, 'matchExpressions', i];
    if (!isObject(e)) {
      c.report(at, 'must be an object');
      return;
    }
    const key = e.key;
    if (typeof key !== 'string' || key === '') c.report([...at, 'key'], 'is required');
    const op = e.operator;
    if (!OPERATORS.includes(op as SelectorOperator)) {
      c.report(
        [...at, 'operator'],
        `unknown operator ${JSON.stringify(op)} (expected In, NotIn, Exists or DoesNotExist)`,
      );
      return;
    }
    const values = c.strings(e, 'values', at) ?? [];
    if ((op === 'In' || op === 'NotIn') && values.length === 0) {
      c.report([...at, 'values'], `must not be empty for ${op}`);
    }
    if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) {
      c.report([...at, 'values'], `must be empty for ${op}`);
    }
    if (typeof key === 'string') {
      const req: LabelSelectorRequirement = { key, operator: op as SelectorOperator, values };
      selector.matchExpressions.push(req);
    }
  });
  return selector;
}

function readIpBlock(c: Checker, raw: Obj, path: FieldPath): IpBlock {
  const cidrText = raw.cidr;
  const cidr = typeof cidrText === 'string' ? parseCidr(cidrText) : undefined;
  if (!cidr) c.report([...path, 'cidr'], `not a valid CIDR: ${JSON.stringify(cidrText ?? null)}`);
  const except = c.strings(raw, 'except', path) ?? [];
  except.forEach((text, i) => {
    const block = parseCidr(text);
    if (!block) c.report([...path, 'except', i], `not a valid CIDR: ${JSON.stringify(text)}`);
    else if (cidr && !cidrStrictlyInside(block, cidr)) {
      c.report([...path, 'except', i], `${text} must be a strict subset of ${cidr.text}`);
    }
  });
  return { cidr: typeof cidrText === 'string' ? cidrText : '', except };
}

function readPeer(c: Checker, raw: unknown, path: FieldPath): NetworkPolicyPeer {
  const peer: NetworkPolicyPeer = {};
  if (!isObject(raw)) {
    c.report(path, 'must be an object');
    return peer;
  }
  const hasPod = raw.podSelector !== undefined && raw.podSelector !== null;
  const hasNs = raw.namespaceSelector !== undefined && raw.namespaceSelector !== null;
  const ipBlock = c.object(raw, 'ipBlock', path);
  if (hasPod) peer.podSelector = readSelector(c, raw.podSelector, [...path, 'podSelector']);
  if (hasNs) peer.namespaceSelector = readSelector(c, raw.namespaceSelector, [...path, 'namespaceSelector']);
  if (ipBlock) {
    peer.ipBlock = readIpBlock(c, ipBlock, [...path, 'ipBlock']);
    if (hasPod || hasNs) c.report(path, 'ipBlock cannot be combined with podSelector or namespaceSelector in one peer');
  }
  if (!hasPod && !hasNs && !ipBlock) c.report(path, 'must specify podSelector, namespaceSelector or ipBlock');
  return peer;
}

/** IANA service name rules, which container port names follow. */
export function isPortName(s: string): boolean {
  return (
    s.length >= 1 && s.length <= 15 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(s) && /[a-z]/.test(s) && !s.includes('--')
  );
}

function readPort(c: Checker, raw: unknown, path: FieldPath): NetworkPolicyPort {
  const out: NetworkPolicyPort = { protocol: 'TCP' };
  if (!isObject(raw)) {
    c.report(path, 'must be an object');
    return out;
  }
  if (raw.protocol !== undefined && raw.protocol !== null) {
    if (PROTOCOLS.includes(raw.protocol as L4Protocol)) out.protocol = raw.protocol as L4Protocol;
    else c.report([...path, 'protocol'], `must be TCP, UDP or SCTP, not ${JSON.stringify(raw.protocol)}`);
  }
  const port = raw.port;
  if (typeof port === 'number') {
    if (!Number.isInteger(port) || port < 1 || port > 65535) c.report([...path, 'port'], 'must be between 1 and 65535');
    out.port = port;
  } else if (typeof port === 'string') {
    if (!isPortName(port)) c.report([...path, 'port'], `not a valid port name: ${JSON.stringify(port)}`);
    out.port = port;
  } else if (port !== undefined && port !== null) {
    c.report([...path, 'port'], 'must be a number or a port name');
  }
  const endPort = raw.endPort;
  if (endPort !== undefined && endPort !== null) {
    if (typeof endPort !== 'number' || !Number.isInteger(endPort) || endPort > 65535) {
      c.report([...path, 'endPort'], 'must be a whole number up to 65535');
    } else if (typeof out.port !== 'number') {
      c.report([...path, 'endPort'], 'may only be set together with a numeric port');
    } else if (endPort < out.port) {
      c.report([...path, 'endPort'], `must not be less than port (${out.port})`);
    } else out.endPort = endPort;
  }
  return out;
}

function readRules(c: Checker, spec: Obj, key: 'ingress' | 'egress'): NetworkPolicyRule[] {
  const peerKey = key === 'ingress' ? 'from' : 'to';
  const raw = c.list(spec, key, ['spec']) ?? [];
  return raw.map((r, i) => {
    const at: FieldPath = ['spec', key, i];
    if (r === null) return { peers: [], ports: [] }; // `- {}` written as `-` in YAML
    if (!isObject(r)) {
      c.report(at, 'must be an object');
      return { peers: [], ports: [] };
    }
    const peers = (c.list(r, peerKey, at) ?? []).map((p, j) => readPeer(c, p, [...at, peerKey, j]));
    const ports = (c.list(r, 'ports', at) ?? []).map((p, j) => readPort(c, p, [...at, 'ports', j]));
    return { peers, ports };
  });
}

export function validateNetworkPolicy(obj: Obj, source: PolicySource): { policy?: NetworkPolicy; problems: Problem[] } {
  const c = new Checker();
  const { name, namespace } = readMetadata(c, obj);
  const spec = c.object(obj, 'spec', []) ?? {};
  // podSelector is a required struct in the API; absent and `{}` both select every pod.
  const podSelector = readSelector(c, spec.podSelector, ['spec', 'podSelector']);
  const ingress = readRules(c, spec, 'ingress');
  const egress = readRules(c, spec, 'egress');
  let policyTypes: PolicyType[];
  const rawTypes = c.strings(spec, 'policyTypes', ['spec']);
  const defaulted = rawTypes === undefined || rawTypes.length === 0;
  if (defaulted) {
    // API default: Ingress always; Egress only when the policy has egress rules.
    policyTypes = egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  } else {
    policyTypes = [];
    rawTypes.forEach((t, i) => {
      if (t !== 'Ingress' && t !== 'Egress')
        c.report(['spec', 'policyTypes', i], `must be Ingress or Egress, not ${t}`);
      else if (!policyTypes.includes(t)) policyTypes.push(t);
    });
  }
  if (c.problems.length > 0) return { problems: c.problems };
  return {
    policy: {
      kind: 'NetworkPolicy',
      name,
      namespace,
      podSelector,
      policyTypes,
      policyTypesDefaulted: defaulted,
      ingress,
      egress,
      source,
    },
    problems: [],
  };
}

// --- Istio AuthorizationPolicy ---

const ACTIONS: readonly AuthorizationAction[] = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'];
const SOURCE_FIELDS = [
  'principals',
  'notPrincipals',
  'requestPrincipals',
  'notRequestPrincipals',
  'namespaces',
  'notNamespaces',
  'ipBlocks',
  'notIpBlocks',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
] as const;
const OPERATION_FIELDS = [
  'hosts',
  'notHosts',
  'ports',
  'notPorts',
  'methods',
  'notMethods',
  'paths',
  'notPaths',
] as const;

function checkIpOrCidr(c: Checker, values: string[], path: FieldPath): void {
  values.forEach((v, i) => {
    if (!(v.includes('/') ? parseCidr(v) : parseIp(v))) c.report([...path, i], `not an IP address or CIDR: ${v}`);
  });
}

function readSource(c: Checker, raw: unknown, path: FieldPath): AuthorizationSource {
  const out: AuthorizationSource = {};
  if (!isObject(raw)) {
    c.report(path, 'must be an object');
    return out;
  }
  const src = c.object(raw, 'source', path);
  if (!src || Object.keys(src).length === 0) {
    c.report([...path, 'source'], 'must not be empty');
    return out;
  }
  const at = [...path, 'source'];
  for (const f of SOURCE_FIELDS) {
    const v = c.strings(src, f, at);
    if (v === undefined) continue;
    if (f.endsWith('Blocks')) checkIpOrCidr(c, v, [...at, f]);
    out[f] = v;
  }
  return out;
}

function readOperation(c: Checker, raw: unknown, path: FieldPath): AuthorizationOperation {
  const out: AuthorizationOperation = {};
  if (!isObject(raw)) {
    c.report(path, 'must be an object');
    return out;
  }
  const op = c.object(raw, 'operation', path);
  if (!op || Object.keys(op).length === 0) {
    c.report([...path, 'operation'], 'must not be empty');
    return out;
  }
  const at = [...path, 'operation'];
  for (const f of OPERATION_FIELDS) {
    const v = c.strings(op, f, at);
    if (v === undefined) continue;
    if (f === 'paths' || f === 'notPaths') {
      v.forEach((p, i) => {
        // Envoy URI templates allow `{**}` only as the last operator.
        const last = p.lastIndexOf('{**}');
        if (last >= 0 && p.indexOf('{*', last + 4) >= 0)
          c.report([...at, f, i], `{**} must be the last operator: ${p}`);
      });
    }
    if (f === 'ports' || f === 'notPorts') {
      v.forEach((p, i) => {
        const n = Number(p);
        if (!/^\d+$/.test(p) || n < 0 || n > 65535) c.report([...at, f, i], `not a port number: ${p}`);
      });
    }
    out[f] = v;
  }
  return out;
}

function readCondition(c: Checker, raw: unknown, path: FieldPath): AuthorizationCondition {
  if (!isObject(raw) || typeof raw.key !== 'string' || raw.key === '') {
    c.report([...path, 'key'], 'is required');
    return { key: '' };
  }
  const values = c.strings(raw, 'values', path);
  const notValues = c.strings(raw, 'notValues', path);
  if (!values?.length && !notValues?.length) c.report(path, 'needs values or notValues');
  return { key: raw.key, values, notValues };
}

function readTargetRef(c: Checker, raw: unknown, path: FieldPath): PolicyTargetRef | undefined {
  if (!isObject(raw) || typeof raw.kind !== 'string' || typeof raw.name !== 'string') {
    c.report(path, 'needs kind and name');
    return undefined;
  }
  const ref: PolicyTargetRef = { kind: raw.kind, name: raw.name };
  if (typeof raw.group === 'string') ref.group = raw.group;
  if (typeof raw.namespace === 'string') ref.namespace = raw.namespace;
  return ref;
}

export function validateAuthorizationPolicy(
  obj: Obj,
  source: PolicySource,
): { policy?: AuthorizationPolicy; problems: Problem[] } {
  const c = new Checker();
  const { name, namespace } = readMetadata(c, obj);
  const spec = c.object(obj, 'spec', []) ?? {};
  let action: AuthorizationAction = 'ALLOW';
  if (spec.action !== undefined && spec.action !== null) {
    if (ACTIONS.includes(spec.action as AuthorizationAction)) action = spec.action as AuthorizationAction;
    else c.report(['spec', 'action'], `must be ALLOW, DENY, AUDIT or CUSTOM, not ${JSON.stringify(spec.action)}`);
  }
  let selector: Record<string, string> | undefined;
  const sel = c.object(spec, 'selector', ['spec']);
  if (sel) {
    selector = {};
    for (const [k, v] of Object.entries(c.object(sel, 'matchLabels', ['spec', 'selector']) ?? {})) {
      if (typeof v !== 'string') c.report(['spec', 'selector', 'matchLabels', k], 'must be a string');
      else selector[k] = v;
    }
  }
  const targetRefs: PolicyTargetRef[] = [];
  const single = c.object(spec, 'targetRef', ['spec']);
  if (single) {
    const ref = readTargetRef(c, single, ['spec', 'targetRef']);
    if (ref) targetRefs.push(ref);
  }
  (c.list(spec, 'targetRefs', ['spec']) ?? []).forEach((r, i) => {
    const ref = readTargetRef(c, r, ['spec', 'targetRefs', i]);
    if (ref) targetRefs.push(ref);
  });
  if (selector && targetRefs.length > 0) c.report(['spec'], 'selector and targetRef(s) cannot both be set');
  let provider: string | undefined;
  if (action === 'CUSTOM') {
    const p = c.object(spec, 'provider', ['spec']);
    if (typeof p?.name === 'string') provider = p.name;
    else c.report(['spec', 'provider', 'name'], 'is required for action CUSTOM');
  }
  const rules: AuthorizationRule[] = (c.list(spec, 'rules', ['spec']) ?? []).map((r, i) => {
    const at: FieldPath = ['spec', 'rules', i];
    if (r === null) return { from: [], to: [], when: [] };
    if (!isObject(r)) {
      c.report(at, 'must be an object');
      return { from: [], to: [], when: [] };
    }
    return {
      from: (c.list(r, 'from', at) ?? []).map((f, j) => readSource(c, f, [...at, 'from', j])),
      to: (c.list(r, 'to', at) ?? []).map((t, j) => readOperation(c, t, [...at, 'to', j])),
      when: (c.list(r, 'when', at) ?? []).map((w, j) => readCondition(c, w, [...at, 'when', j])),
    };
  });
  if (c.problems.length > 0) return { problems: c.problems };
  const policy: AuthorizationPolicy = {
    kind: 'AuthorizationPolicy',
    name,
    namespace,
    targetRefs,
    action,
    rules,
    source,
  };
  if (selector) policy.selector = selector;
  if (provider) policy.provider = provider;
  return { policy, problems: [] };
}
