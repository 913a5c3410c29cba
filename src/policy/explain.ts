// Explanations for people who do not know the evaluation rules by heart: for one connection (or one
// request), what was decided at each end, which policies were involved and why each rule did or did
// not match. Plain text, deterministic, no colour: the CLI may decorate it.

import type { Request, RequestDecision } from './authorizationpolicy.js';
import {
  type Connection,
  type ConnectionDecision,
  describeEndpoint,
  type PolicyCheck,
  type SideDecision,
} from './networkpolicy.js';
import type { PolicySource } from './types.js';

export function describeSource(s: PolicySource): string {
  return `${s.file}, document ${s.document}${s.item !== undefined ? `, item ${s.item}` : ''}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function countPolicies(n: number): string {
  return n === 1 ? '1 policy' : `${n} policies`;
}

function sideSummary(side: SideDecision): string {
  const verb = side.direction === 'egress' ? 'egress at' : 'ingress at';
  return `${verb} ${side.endpoint} ${side.allowed ? 'allowed' : 'denied'}`;
}

function sideReason(side: SideDecision, conn: Connection): string {
  const dir = side.direction;
  const other = describeEndpoint(dir === 'egress' ? conn.dst : conn.src);
  switch (side.reason) {
    case 'not-a-pod':
      return `${side.endpoint} is not a pod, so NetworkPolicy does not apply at this end.`;
    case 'host-network':
      return `${side.endpoint} uses the host network; NetworkPolicy does not apply to host-network pods.`;
    case 'same-pod':
      return 'Source and destination are the same pod; a pod cannot block traffic to itself.';
    case 'own-node':
      return `${other} is the node this pod runs on; traffic between a pod and its own node is always allowed.`;
    case 'not-isolated':
      return `No NetworkPolicy selects ${side.endpoint} for ${dir}, so it is not isolated for ${dir}: everything is allowed.`;
    case 'allowed-by-rule':
      return `Isolated for ${dir} by ${countPolicies(side.selecting.length)}; allowed by ${side.allowedBy!.policy} spec.${dir}[${side.allowedBy!.rule}].`;
    case 'no-rule-matched':
      return `Isolated for ${dir} by ${countPolicies(side.selecting.length)}; a connection is allowed only if a rule of one of them matches, and none does.`;
  }
}

function policyLines(check: PolicyCheck, dir: string): string[] {
  const types = `policyTypes ${check.policyTypes.join(', ')}${check.policyTypesDefaulted ? ' (defaulted: not written in the manifest)' : ''}`;
  const lines = [`  Policy ${check.policy} (${describeSource(check.source)}), ${types}:`];
  if (check.ruleCount === 0) {
    lines.push(`    no ${dir} rules: this policy isolates the pod for ${dir} but allows nothing by itself.`);
    return lines;
  }
  if (check.rules.length === 0) {
    lines.push(
      `    ${plural(check.ruleCount, `${dir} rule`)}; ${check.allowed ? 'one matches' : 'none matches'} (evaluated without detail).`,
    );
    return lines;
  }
  for (const r of check.rules) {
    lines.push(`    spec.${dir}[${r.rule}]: ${r.matched ? 'MATCHES' : 'no match'}`);
    for (const p of r.peers) lines.push(`      ${p}`);
    lines.push(`      ${r.ports}`);
  }
  return lines;
}

function sideLines(side: SideDecision, conn: Connection): string[] {
  const title = side.direction === 'egress' ? `Egress from ${side.endpoint}` : `Ingress to ${side.endpoint}`;
  const lines = [`${title}: ${side.allowed ? 'allowed' : 'DENIED'}`, `  ${sideReason(side, conn)}`];
  for (const check of side.selecting) lines.push(...policyLines(check, side.direction));
  if (side.otherDirection.length > 0) {
    const other = side.direction === 'egress' ? 'ingress' : 'egress';
    lines.push(`  Also selecting this pod, for ${other} only (no effect here): ${side.otherDirection.join(', ')}`);
  }
  return lines;
}

/** A multi-line explanation of a NetworkPolicy decision. */
export function explainConnection(d: ConnectionDecision, conn: Connection): string {
  const head = `Connection: ${describeEndpoint(conn.src)} -> ${describeEndpoint(conn.dst)} ${conn.protocol}/${conn.port}`;
  const result = `Result: ${d.allowed ? 'ALLOWED' : 'DENIED'} (${sideSummary(d.egress)}; ${sideSummary(d.ingress)})`;
  const rule = 'A connection needs egress allowed at the source and ingress allowed at the destination.';
  return [head, result, rule, '', ...sideLines(d.egress, conn), '', ...sideLines(d.ingress, conn), ''].join('\n');
}

function describeRequest(req: Request): string {
  const http = [req.method, req.path].filter((x) => x !== undefined).join(' ');
  const host = req.host ? ` host ${req.host}` : '';
  const what = http
    ? `${http}${host} over ${req.conn.protocol}/${req.conn.port}`
    : `${req.conn.protocol}/${req.conn.port}`;
  return `${what} from ${describeEndpoint(req.conn.src)} to ${describeEndpoint(req.conn.dst)}`;
}

const VERDICT_WORD = { allow: 'ALLOWED', deny: 'DENIED', unknown: 'UNKNOWN' } as const;
const RESULT_WORD = { yes: 'MATCHES', no: 'no match', unknown: 'cannot tell' } as const;

/** A multi-line explanation of an Istio AuthorizationPolicy decision. */
export function explainRequest(d: RequestDecision, req: Request): string {
  const lines = [
    `Request: ${describeRequest(req)}`,
    `Result: ${VERDICT_WORD[d.verdict]}: ${d.reason}.`,
    'Istio checks DENY policies first (one match denies), then ALLOW policies (with none, everything is allowed; with some, one must match). AUDIT policies only mark requests for logging.',
    '',
  ];
  if (d.policies.length === 0) lines.push(`No AuthorizationPolicy applies to ${d.destination}.`);
  else lines.push(`Policies that apply to ${d.destination}:`);
  for (const p of d.policies) {
    lines.push(`  ${p.action} ${p.policy} (${describeSource(p.source)}): ${p.scope}`);
    if (p.rules.length === 0) {
      lines.push(
        p.action === 'ALLOW'
          ? '    no rules: this policy allows nothing (allow-nothing)'
          : `    no rules: this ${p.action} policy never matches`,
      );
    }
    for (const r of p.rules) {
      lines.push(`    spec.rules[${r.rule}]: ${RESULT_WORD[r.result]}`);
      for (const w of r.why) lines.push(`      ${w}`);
    }
  }
  if (d.audited) lines.push('', 'A matching AUDIT policy marks this request for auditing (no effect on the decision).');
  if (d.warnings.length > 0) {
    lines.push('', 'Warnings:');
    for (const w of d.warnings) lines.push(`  - ${w}`);
  }
  lines.push('');
  return lines.join('\n');
}
