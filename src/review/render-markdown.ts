// Markdown for pull requests (the PR bot embeds it as is): a heading, a summary table, then one table
// per finding kind, with long parts (explanations, file diffs) folded in <details>.
import type { ConnectionChange, DiffReport } from './diff.js';
import { code, iso, markdownTable, newlyDeniedObserved, portText, windowText } from './render-common.js';
import { lastSeenText, observedText, ruleText } from './render-table.js';
import { renderDiffYaml } from './render-yaml-diff.js';
import type { VerifiedEdge, VerifyReport } from './verify.js';

function fence(text: string, lang = ''): string {
  // A fence longer than any backtick run inside, so diff content cannot close it.
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  const f = '`'.repeat(longest + 1);
  return `${f}${lang}\n${text.trimEnd()}\n${f}`;
}

function details(summary: string, body: string): string {
  return `<details><summary>${summary}</summary>\n\n${body}\n\n</details>`;
}

function verifiedTable(edges: VerifiedEdge[]): string {
  const rows = edges.map((e) => [
    code(e.srcName),
    code(e.dstName),
    e.request ? `${portText(e)} ${code(`${e.request.method} ${e.request.path}`)}` : portText(e),
    e.layer,
    String(e.request?.count ?? (e.allowedFlows || e.droppedFlows)),
    iso(e.lastSeen),
    e.summary,
  ]);
  return markdownTable(['source', 'destination', 'port', 'layer', 'flows', 'last seen', 'why'], rows, [4]);
}

export function renderVerifyMarkdown(r: VerifyReport): string {
  const t = r.totals;
  const status =
    t.broken === 0 ? 'nothing observed would break' : `**${t.broken} observed connection(s) would be denied**`;
  const out = [
    '### flowwright verify',
    '',
    `Replay of the learned traffic (${windowText(r.window)}) through ${r.policies.networkPolicies} NetworkPolicies and ${r.policies.authorizationPolicies} AuthorizationPolicies: ${status}.`,
    '',
    markdownTable(
      ['', 'value'],
      [
        ['coverage (observed connections allowed)', `${r.coverage.toFixed(1)}% (${t.allowed} of ${t.observed})`],
        ['coverage by flows', `${r.flowCoverage.toFixed(1)}%`],
        ['observed connections denied', String(t.broken)],
        ['dropped in reality, now allowed', `${t.droppedNowAllowed} of ${t.dropped}`],
        ['not evaluated', String(t.skipped)],
      ],
    ),
  ];
  if (r.broken.length > 0) {
    out.push('', '#### Observed connections that would be denied', '', verifiedTable(r.broken));
    const text = r.broken.map((e) => e.explanation.trimEnd()).join('\n\n');
    out.push('', details('Explanations', fence(text)));
  }
  if (r.droppedNowAllowed.length > 0)
    out.push('', '#### Dropped in reality, now allowed', '', verifiedTable(r.droppedNowAllowed));
  if (r.undetermined.length > 0)
    out.push('', '#### HTTP requests flows cannot settle', '', verifiedTable(r.undetermined));
  if (r.skipped.length > 0) {
    const rows = r.skipped.map((e) => [code(e.srcName), code(e.dstName), portText(e), e.why]);
    out.push(
      '',
      details(`Not evaluated (${r.skipped.length})`, markdownTable(['source', 'destination', 'port', 'why'], rows)),
    );
  }
  if (r.warnings.length > 0) out.push('', '#### Warnings', '', ...r.warnings.map((w) => `- ${w}`));
  return `${out.join('\n')}\n`;
}

function changeRows(changes: ConnectionChange[]): string[][] {
  return changes.map((c) => [code(c.srcName), code(c.dstName), portText(c), observedText(c)]);
}

export function renderDiffMarkdown(r: DiffReport): string {
  const out = [
    `### flowwright policy diff (mode \`${r.mode}\`)`,
    '',
    `${r.existing.networkPolicies} existing NetworkPolicies against ${r.proposed.networkPolicies} proposed, over ${r.universe.connections} connections between the observed peers (${windowText(r.window)}); ${r.universe.unchanged} of them, never observed and with the same policies at both ends in both sets, cannot change.`,
    '',
    markdownTable(
      ['change', 'connections'],
      [
        ['newly allowed', `${r.newlyAllowed.length} (${r.newlyAllowed.filter((c) => c.observed).length} observed)`],
        ['newly denied', `${r.newlyDenied.length} (${newlyDeniedObserved(r)} with observed traffic)`],
        ['allowed by both', String(r.allowedByBoth.length)],
        ['unused existing rules', String(r.unusedRules.length)],
        ['files changed', String(r.files.length)],
      ],
    ),
  ];
  const header = ['source', 'destination', 'port', 'observed'];
  if (r.newlyAllowed.length > 0)
    out.push('', '#### Newly allowed', '', markdownTable(header, changeRows(r.newlyAllowed)));
  if (r.newlyDenied.length > 0) out.push('', '#### Newly denied', '', markdownTable(header, changeRows(r.newlyDenied)));
  if (r.unusedRules.length > 0) {
    const since = r.unusedSince === null ? 'in the learning window' : `since ${iso(r.unusedSince)}`;
    out.push(
      '',
      `#### Existing rules unused ${since} (tightening candidates)`,
      '',
      markdownTable(
        ['rule', 'allows', 'last seen', 'action'],
        r.unusedRules.map((u) => [code(ruleText(u)), u.description, lastSeenText(u), u.removed ? 'removed' : 'kept']),
      ),
    );
  }
  if (r.files.length > 0) {
    out.push('', '#### Files', '', ...r.files.map((f) => `- ${f.status} ${code(f.path)}`));
    out.push('', details('YAML diff', fence(renderDiffYaml(r), 'diff')));
  }
  if (r.notes.length > 0) out.push('', '#### Notes', '', ...r.notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}
