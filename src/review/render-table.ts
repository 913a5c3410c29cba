// Terminal output of verify and diff: a summary line, then one aligned table per finding kind. Plain
// text without colour, so that it reads the same in a terminal, a CI log and a golden file.
import type { ConnectionChange, DiffReport, RuleUsage } from './diff.js';
import { iso, newlyDeniedObserved, plural, portText, textTable, windowText } from './render-common.js';
import type { SkippedEdge, VerifiedEdge, VerifyReport } from './verify.js';

/** How a connection was observed, in a few words. */
export function observedText(c: ConnectionChange): string {
  const o = c.observed;
  if (!o) return 'never observed';
  if (o.allowedFlows > 0) return `${plural(o.allowedFlows, 'flow')}, last ${iso(o.lastSeen)}`;
  return `only dropped (${plural(o.droppedFlows, 'flow')}), last ${iso(o.lastSeen)}`;
}

export function ruleText(u: RuleUsage): string {
  return `${u.policy} spec.${u.direction}[${u.rule}]`;
}

export function lastSeenText(u: RuleUsage): string {
  return u.lastSeen === null ? 'not in window' : iso(u.lastSeen);
}

function what(e: VerifiedEdge): string {
  return e.request ? `${portText(e)} ${e.request.method} ${e.request.path}` : portText(e);
}

function verifiedTable(edges: VerifiedEdge[], flows: 'allowed' | 'dropped'): string {
  return textTable(
    ['SOURCE', 'DESTINATION', 'PORT', 'LAYER', 'FLOWS', 'LAST SEEN', 'WHY'],
    edges.map((e) => [
      e.srcName,
      e.dstName,
      what(e),
      e.layer,
      String(flows === 'allowed' ? (e.request?.count ?? e.allowedFlows) : e.droppedFlows),
      iso(e.lastSeen),
      e.summary,
    ]),
    [4],
  );
}

function skippedTable(edges: SkippedEdge[]): string {
  return textTable(
    ['SOURCE', 'DESTINATION', 'PORT', 'WHY'],
    edges.map((e) => [e.srcName, e.dstName, portText(e), e.why]),
  );
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => (l ? `    ${l}` : ''))
    .join('\n');
}

export function renderVerifyTable(r: VerifyReport): string {
  const t = r.totals;
  const out = [
    `Replayed ${plural(t.edges, 'edge')} (${windowText(r.window)}) through ${plural(r.policies.networkPolicies, 'NetworkPolicy', 'NetworkPolicies')} and ${plural(r.policies.authorizationPolicies, 'AuthorizationPolicy', 'AuthorizationPolicies')}.`,
    `Coverage: ${r.coverage.toFixed(1)}% of observed connections allowed (${t.allowed} of ${t.observed}); ${r.flowCoverage.toFixed(1)}% of their flows.`,
    t.broken === 0 ? 'Nothing observed would break.' : `${plural(t.broken, 'observed connection')} would be DENIED.`,
    `Dropped in reality: ${t.dropped}, of which ${t.droppedNowAllowed} would now be allowed. Not evaluated: ${t.skipped}.`,
  ];
  if (t.requests > 0) out.push(`HTTP requests replayed through AuthorizationPolicies: ${t.requests}.`);
  if (r.broken.length > 0)
    out.push('', 'Observed connections that would be denied:', verifiedTable(r.broken, 'allowed'));
  if (r.droppedNowAllowed.length > 0)
    out.push('', 'Dropped in reality, allowed by these policies:', verifiedTable(r.droppedNowAllowed, 'dropped'));
  if (r.undetermined.length > 0)
    out.push('', 'HTTP requests whose decision flows cannot settle:', verifiedTable(r.undetermined, 'allowed'));
  if (r.skipped.length > 0) out.push('', 'Not evaluated:', skippedTable(r.skipped));
  if (r.warnings.length > 0) out.push('', 'Warnings:', ...r.warnings.map((w) => `  - ${w}`));
  if (r.broken.length > 0) {
    out.push('', 'Why each would be denied:');
    for (const e of r.broken) out.push('', `  ${e.srcName} -> ${e.dstName} ${what(e)}:`, indent(e.explanation));
  }
  return `${out.join('\n')}\n`;
}

function changeTable(changes: ConnectionChange[]): string {
  return textTable(
    ['SOURCE', 'DESTINATION', 'PORT', 'OBSERVED'],
    changes.map((c) => [c.srcName, c.dstName, portText(c), observedText(c)]),
  );
}

export function renderDiffTable(r: DiffReport): string {
  const out = [
    `Mode ${r.mode}: ${plural(r.existing.networkPolicies, 'existing NetworkPolicy', 'existing NetworkPolicies')} against ${plural(r.proposed.networkPolicies, 'proposed NetworkPolicy', 'proposed NetworkPolicies')} (${windowText(r.window)}).`,
    `Universe: ${plural(r.universe.connections, 'connection')} between ${plural(r.universe.sources, 'source')} and ${plural(r.universe.destinations, 'destination')}; ${r.universe.unchanged} never observed with the same policies at both ends in both sets (not evaluated).`,
    `Newly allowed: ${r.newlyAllowed.length}. Newly denied: ${r.newlyDenied.length} (${newlyDeniedObserved(r)} observed). Allowed by both: ${r.allowedByBoth.length}. Unused existing rules: ${r.unusedRules.length}. Files changed: ${r.files.length}.`,
  ];
  if (r.newlyAllowed.length > 0) out.push('', 'Newly allowed:', changeTable(r.newlyAllowed));
  if (r.newlyDenied.length > 0) out.push('', 'Newly denied:', changeTable(r.newlyDenied));
  if (r.unusedRules.length > 0) {
    const since = r.unusedSince === null ? 'in the window' : `since ${iso(r.unusedSince)}`;
    out.push(
      '',
      `Existing rules that matched no observed traffic ${since}:`,
      textTable(
        ['RULE', 'MATCHES', 'LAST SEEN', 'ACTION', 'FILE'],
        r.unusedRules.map((u) => [
          `${ruleText(u)}: ${u.description}`,
          String(u.matchedConnections),
          lastSeenText(u),
          u.removed ? 'removed' : 'kept',
          `${u.source.file}#${u.source.document}${u.source.item !== undefined ? ` item ${u.source.item}` : ''}`,
        ]),
        [1],
      ),
    );
  }
  if (r.files.length > 0) out.push('', 'Files:', ...r.files.map((f) => `  ${f.status.padEnd(8)} ${f.path}`));
  if (r.notes.length > 0) out.push('', 'Notes:', ...r.notes.map((n) => `  - ${n}`));
  return `${out.join('\n')}\n`;
}
