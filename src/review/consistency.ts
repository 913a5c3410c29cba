// Do a NetworkPolicy set and an Istio AuthorizationPolicy set agree? Layer 3/4 policy and layer 7
// authorization are often owned by different teams and drift apart; this check lists where they do.
//
// Agreement is judged at the identity level: for every workload (one representative pod each) calling
// every destination that BOTH sets cover, on every TCP port either set names for that destination,
// "the AuthorizationPolicies let some request through" must equal "the NetworkPolicies allow the
// connection". Request details (methods, paths, hosts, JWTs, request headers) are left out on the Istio
// side: a rule that allows GET /a allows the connection. DENY rules that depend on request details deny
// only some requests, so they do not deny the connection. Istio authorizes TCP only, so only TCP is
// compared. Destinations covered by one set only are listed, not judged: there the other layer is open.
import {
  type AuthorizationOperation,
  type AuthorizationPolicy,
  type AuthorizationRule,
  type CompiledNetworkPolicies,
  compileAuthorizationPolicies,
  compileNetworkPolicies,
  evaluateConnection,
  evaluateRequest,
  type Inventory,
  type NetworkPolicy,
  type PodInfo,
  policiesSelecting,
} from '../policy/index.js';

export interface ConsistencySide {
  allowed: boolean;
  /** One sentence from the evaluator: which policy and rule decided, or why nothing matched. */
  why: string;
}

export interface ConsistencyFinding {
  /** The calling workload (peer key) or pod (`ns/name`) when it belongs to no known workload. */
  source: string;
  destination: string;
  protocol: 'TCP';
  port: number;
  networkPolicy: ConsistencySide;
  authorizationPolicy: ConsistencySide;
}

export interface ConsistencyReport {
  /** Connections compared (source × destination × port). */
  checked: number;
  /** Destinations that both sets cover, where connections were compared. */
  destinations: string[];
  /** Destinations covered by NetworkPolicy ingress only, or by AuthorizationPolicy only: not judged. */
  onlyNetworkPolicy: string[];
  onlyAuthorizationPolicy: string[];
  findings: ConsistencyFinding[];
}

export interface ConsistencyOptions {
  /** Istio's root namespace, whose policies apply mesh-wide (`istio-system`). */
  rootNamespace?: string;
  trustDomain?: string;
}

const HTTP_FIELDS: Array<keyof AuthorizationOperation> = [
  'hosts',
  'notHosts',
  'methods',
  'notMethods',
  'paths',
  'notPaths',
];

function hasRequestDetail(rule: AuthorizationRule): boolean {
  return (
    rule.to.some((t) => HTTP_FIELDS.some((f) => t[f] !== undefined)) ||
    rule.from.some((s) => s.requestPrincipals !== undefined || s.notRequestPrincipals !== undefined) ||
    rule.when.some((w) => w.key.startsWith('request.'))
  );
}

/** The AuthorizationPolicies as the connection sees them: request details removed (see the header). */
export function connectionLevel(policies: readonly AuthorizationPolicy[]): AuthorizationPolicy[] {
  return policies.map((p) => {
    if (p.action === 'ALLOW') {
      const rules = p.rules.map((r) => ({
        from: r.from.map(({ requestPrincipals: _r, notRequestPrincipals: _n, ...rest }) => rest),
        to: r.to.map((t) => {
          const out: AuthorizationOperation = { ...t };
          for (const f of HTTP_FIELDS) delete out[f];
          return out;
        }),
        when: r.when.filter((w) => !w.key.startsWith('request.')),
      }));
      return { ...p, rules };
    }
    // DENY/AUDIT/CUSTOM: a rule about request details never blocks the whole connection.
    return { ...p, rules: p.rules.filter((r) => !hasRequestDetail(r)) };
  });
}

/**
 * The sets with every port condition removed from what allows, and every port-specific deny removed: an
 * upper bound of what each allows. A pair that neither allows here is denied on every port by both.
 */
function anyPortNetworkPolicies(policies: readonly NetworkPolicy[]): NetworkPolicy[] {
  const open = (rules: NetworkPolicy['ingress']) => rules.map((r) => ({ ...r, ports: [] }));
  return policies.map((p) => ({ ...p, ingress: open(p.ingress), egress: open(p.egress) }));
}

function anyPortAuthorizationPolicies(policies: readonly AuthorizationPolicy[]): AuthorizationPolicy[] {
  const portBound = (r: AuthorizationRule) =>
    r.to.some((t) => t.ports !== undefined || t.notPorts !== undefined) ||
    r.when.some((w) => w.key === 'destination.port');
  return policies.map((p) => {
    if (p.action !== 'ALLOW') return { ...p, rules: p.rules.filter((r) => !portBound(r)) };
    const rules = p.rules.map((r) => ({
      ...r,
      to: r.to.map(({ ports: _p, notPorts: _n, ...rest }) => rest),
      when: r.when.filter((w) => w.key !== 'destination.port'),
    }));
    return { ...p, rules };
  });
}

/** One pod per workload (the first by name); pods without a workload stand for themselves. */
function representatives(inv: Inventory): Array<{ key: string; pod: PodInfo }> {
  const seen = new Map<string, PodInfo>();
  for (const pod of inv.pods) {
    if (pod.hostNetwork) continue;
    const key = pod.workload ?? `${pod.namespace}/${pod.name}`;
    if (!seen.has(key)) seen.set(key, pod);
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, pod]) => ({ key, pod }));
}

/** TCP ports either set names for a destination, plus the ports it was seen serving. */
function portsFor(dst: PodInfo, np: CompiledNetworkPolicies, ap: readonly AuthorizationPolicy[]): number[] {
  const ports = new Set<number>();
  for (const p of dst.ports) if (p.protocol === 'TCP') ports.add(p.port);
  for (const cp of policiesSelecting(np, dst)) {
    for (const rule of cp.policy.ingress) {
      for (const port of rule.ports) {
        if (port.protocol !== 'TCP' || port.port === undefined) continue;
        if (typeof port.port === 'number') ports.add(port.port);
        else {
          const named = dst.ports.find((x) => x.name === port.port && x.protocol === 'TCP');
          if (named) ports.add(named.port);
        }
      }
    }
  }
  for (const policy of ap) {
    if (policy.namespace !== dst.namespace) continue;
    for (const rule of policy.rules)
      for (const op of rule.to)
        for (const text of op.ports ?? []) {
          const n = Number(text);
          if (Number.isInteger(n) && n > 0 && n < 65536) ports.add(n);
        }
  }
  return [...ports].sort((a, b) => a - b);
}

export function checkConsistency(
  networkPolicies: NetworkPolicy[],
  authorizationPolicies: AuthorizationPolicy[],
  inventory: Inventory,
  opts: ConsistencyOptions = {},
): ConsistencyReport {
  const np = compileNetworkPolicies(networkPolicies, inventory);
  const projected = connectionLevel(authorizationPolicies);
  const mesh = { rootNamespace: opts.rootNamespace ?? 'istio-system', trustDomain: opts.trustDomain };
  const ap = compileAuthorizationPolicies(projected, mesh);
  const npAny = compileNetworkPolicies(anyPortNetworkPolicies(networkPolicies), inventory);
  const apAny = compileAuthorizationPolicies(anyPortAuthorizationPolicies(projected), mesh);
  const pods = representatives(inventory);
  const report: ConsistencyReport = {
    checked: 0,
    destinations: [],
    onlyNetworkPolicy: [],
    onlyAuthorizationPolicy: [],
    findings: [],
  };
  for (const dst of pods) {
    const npCovers = policiesSelecting(np, dst.pod).some((cp) => cp.ingress !== undefined);
    // Any policy in scope shows up in a decision; a request with no detail is enough to ask.
    const probe = evaluateRequest(ap, dst.pod, {
      conn: { src: { kind: 'ip', ip: '192.0.2.1' }, dst: { kind: 'pod', pod: dst.pod }, protocol: 'TCP', port: 1 },
      http: false,
    });
    const apCovers = probe.policies.some((p) => p.action === 'ALLOW' || p.action === 'DENY');
    if (npCovers && !apCovers) report.onlyNetworkPolicy.push(dst.key);
    if (apCovers && !npCovers) report.onlyAuthorizationPolicy.push(dst.key);
    if (!npCovers || !apCovers) continue;
    report.destinations.push(dst.key);
    const ports = portsFor(dst.pod, np, authorizationPolicies);
    for (const src of pods) {
      if (src.key === dst.key) continue;
      // Most pairs are denied by both on every port: one look at the port-less upper bounds settles them.
      const pair = {
        src: { kind: 'pod', pod: src.pod },
        dst: { kind: 'pod', pod: dst.pod },
        protocol: 'TCP',
        port: 1,
      } as const;
      if (
        !evaluateConnection(npAny, pair, { detail: false }).allowed &&
        evaluateRequest(apAny, dst.pod, { conn: pair, http: false }).verdict === 'deny'
      ) {
        report.checked += ports.length;
        continue;
      }
      for (const port of ports) {
        const conn = { ...pair, port };
        report.checked++;
        const l4 = evaluateConnection(np, conn, { detail: false });
        const l7 = evaluateRequest(ap, dst.pod, { conn, http: false });
        const apAllowed = l7.verdict !== 'deny';
        if (l4.allowed === apAllowed) continue;
        const side = l4.egress.allowed ? l4.ingress : l4.egress;
        const npWhy = l4.allowed
          ? `allowed by ${l4.ingress.allowedBy ? `${l4.ingress.allowedBy.policy} ingress[${l4.ingress.allowedBy.rule}]` : l4.ingress.reason}`
          : `denied at ${side.direction} of ${side.endpoint}: ${side.reason}`;
        report.findings.push({
          source: src.key,
          destination: dst.key,
          protocol: 'TCP',
          port,
          networkPolicy: { allowed: l4.allowed, why: npWhy },
          authorizationPolicy: { allowed: apAllowed, why: l7.reason },
        });
      }
    }
  }
  return report;
}

/** The report as terminal text: one block per finding, both sides side by side. */
export function renderConsistency(report: ConsistencyReport): string {
  const lines = [
    `Consistency: ${report.checked} connections to ${report.destinations.length} destinations compared, ` +
      `${report.findings.length} inconsistent.`,
  ];
  for (const f of report.findings) {
    lines.push(
      `  ${f.source} -> ${f.destination} TCP/${f.port}:`,
      `    NetworkPolicy:       ${f.networkPolicy.allowed ? 'allows' : 'denies'} (${f.networkPolicy.why})`,
      `    AuthorizationPolicy: ${f.authorizationPolicy.allowed ? 'allows' : 'denies'} (${f.authorizationPolicy.why})`,
    );
  }
  if (report.onlyNetworkPolicy.length > 0)
    lines.push(`  Covered by NetworkPolicy only (not compared): ${report.onlyNetworkPolicy.join(', ')}`);
  if (report.onlyAuthorizationPolicy.length > 0)
    lines.push(`  Covered by AuthorizationPolicy only (not compared): ${report.onlyAuthorizationPolicy.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
