// The proposal summary as terminal text: what was proposed, then everything a human must decide
// on (denied flows, what could not be expressed, workloads that need a label), then notes.
// Nothing is cut: each entry is something the proposal does not allow.
import { formatCount, isoTime } from './evidence.js';
import type { ProposalSummary } from './types.js';

function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

export function renderSummary(summary: ProposalSummary): string {
  const lines = [
    `Proposed ${plural(summary.policies, 'policy', 'policies')} for ${plural(summary.workloads, 'workload')} ` +
      `with ${plural(summary.rules, 'rule')}.`,
  ];
  if (summary.observedButDenied.length > 0) {
    lines.push('', 'Observed but denied (not allowed; decide by hand, or include with --allow-dropped):');
    for (const d of summary.observedButDenied) {
      const reasons = d.reasons.length > 0 ? ` (${d.reasons.join(', ')})` : '';
      lines.push(
        `  ${d.src} -> ${d.dst} ${d.protocol}/${d.port}: ${plural(d.flows, 'flow')} dropped${reasons}, last ${isoTime(d.lastSeen)}`,
      );
    }
  }
  if (summary.unsupported.length > 0) {
    lines.push('', 'Observed but not expressible, no rule proposed:');
    for (const u of summary.unsupported) lines.push(`  ${u.src} -> ${u.dst} ${u.protocol}/${u.port}: ${u.why}`);
  }
  if (summary.needsLabels.length > 0) {
    lines.push('', 'Workloads without a stable selector (no policy until they carry a distinguishing label):');
    for (const n of summary.needsLabels) lines.push(`  ${n.workload}: ${n.why}`);
  }
  if (summary.defaultDenyLeftOut && summary.defaultDenyLeftOut.length > 0) {
    lines.push('', 'No default deny written for these namespaces:');
    for (const d of summary.defaultDenyLeftOut) {
      lines.push(`  ${d.namespace}: ${d.why}`);
      for (const p of d.pods) lines.push(`    ${p.pod}: ${p.why}`);
    }
  }
  if (summary.namespaceFallbacks && summary.namespaceFallbacks.length > 0) {
    lines.push(
      '',
      'Callers without a known identity, allowed by namespace instead of principal (broader; check them):',
    );
    for (const f of summary.namespaceFallbacks) lines.push(`  ${f.caller}: any workload in namespace ${f.namespace}`);
  }
  if (summary.crossTenant && summary.crossTenant.length > 0) {
    lines.push('', 'Cross-tenant edges excepted from the tenant baseline because they were observed (review each):');
    for (const c of summary.crossTenant)
      lines.push(`  ${c.src} -> ${c.dst} ${c.protocol}/${c.port}: tenant ${c.from} -> tenant ${c.to}`);
  }
  if (summary.belowThreshold > 0) {
    lines.push('', `${plural(summary.belowThreshold, 'edge')} below --min-flows, not proposed.`);
  }
  if (summary.notes.length > 0) {
    lines.push('', 'Notes:');
    for (const note of summary.notes) lines.push(`  - ${note}`);
  }
  return `${lines.join('\n')}\n`;
}
