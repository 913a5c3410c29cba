// The pull request's title and description: what a reviewer needs to decide without running anything.
// Summary first, then risk flags, verify, the files, the evidence per workload and the detailed diff;
// the body is cut to GitHub's limit at a line boundary with a note, so the first sections always show.
import { type Edge, type Graph, peerLabel } from '../model/index.js';
import { cidrContains, parseCidr } from '../policy/index.js';
import { type DeniedEdge, deniedFlows, formatCount, isoTime } from '../synthesize/index.js';
import type { Plan, PlannedChange } from './plan.js';
import { isRecord } from './repo.js';
import type { ReviewResult } from './review.js';

/** GitHub rejects pull request bodies longer than this many characters. */
export const GITHUB_BODY_LIMIT = 65_536;
/** Rows per workload in the evidence tables; the rest is counted. */
export const EVIDENCE_ROWS_PER_WORKLOAD = 30;
const SAMPLE_REQUESTS = 3;

export const HASH_MARKER = 'flowwright:proposal-hash';

export interface DescribeInput {
  graph: Graph;
  plan: Plan;
  /** Edges only ever dropped, which the proposal does not allow. */
  observedButDenied: DeniedEdge[];
  review: ReviewResult;
  mode: string;
  base: string;
  /** Shell commands that reproduce the proposal locally. */
  reproduce: string[];
  /** Body size limit; GitHub's by default (tests use small ones). */
  limit?: number;
}

export interface Description {
  title: string;
  body: string;
  /** True when the body was cut to fit the limit. */
  truncated: boolean;
}

/** The proposal hash recorded in a body, if any. */
export function hashInBody(body: string): string | undefined {
  return new RegExp(`<!-- ${HASH_MARKER}=([0-9a-f]{64}) -->`).exec(body)?.[1];
}

/** Text safe inside a Markdown table cell. */
function cell(s: string): string {
  return s.replaceAll('\\', '\\\\').replaceAll('|', '\\|').replaceAll('\n', ' ').replaceAll('`', "'");
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

export function describeProposal(input: DescribeInput): Description {
  const { plan, mode } = input;
  const namespaces = [...new Set(plan.changes.map((c) => c.file.namespace))].sort();
  const title =
    `flowwright: ${mode} policy update, ${plural(plan.changes.length, 'file')} in ` +
    (namespaces.length <= 3 ? namespaces.join(', ') : `${plural(namespaces.length, 'namespace')}`);

  const sections = [
    header(input),
    summarySection(input),
    riskSection(input),
    verifySection(input),
    filesSection(input),
    reproduceSection(input),
    evidenceSection(input),
    detailSection(input),
  ].filter((s) => s !== '');
  const full = sections.join('\n\n');
  const { text, truncated } = fit(full, input.limit ?? GITHUB_BODY_LIMIT);
  return { title, body: text, truncated };
}

function fit(body: string, limit: number): { text: string; truncated: boolean } {
  if (body.length <= limit) return { text: body, truncated: false };
  const note =
    "\n\n---\n**Description truncated** to fit GitHub's limit of 65,536 characters: run the commands under " +
    '"Reproduce locally" to see everything.\n';
  // Room for the note and for closing what the cut leaves open.
  let cut = body.slice(0, Math.max(0, limit - note.length - 100));
  const nl = cut.lastIndexOf('\n');
  if (nl > 0) cut = cut.slice(0, nl);
  // Do not leave a code fence open: the note would render inside it.
  if ((cut.match(/^```/gm) ?? []).length % 2 === 1) cut += '\n```';
  const open = (cut.match(/<details>/g) ?? []).length - (cut.match(/<\/details>/g) ?? []).length;
  for (let i = 0; i < open; i++) cut += '\n\n</details>';
  return { text: `${cut}${note}`.slice(0, limit), truncated: true };
}

function header(input: DescribeInput): string {
  const { graph, plan, mode, base } = input;
  let flows = 0;
  let first: number | undefined;
  let last: number | undefined;
  for (const e of graph.edges) {
    flows += e.flows;
    if (first === undefined || e.firstSeen < first) first = e.firstSeen;
    if (last === undefined || e.lastSeen > last) last = e.lastSeen;
  }
  const since = graph.window.since ?? first;
  const until = graph.window.until ?? last;
  const span = since !== undefined && until !== undefined ? ` between ${isoTime(since)} and ${isoTime(until)}` : '';
  return [
    `<!-- ${HASH_MARKER}=${plan.hash} -->`,
    '## flowwright policy proposal',
    '',
    `Least-privilege policy learned from ${plural(flows, 'observed flow')}${span}, in **${mode}** mode against ` +
      `\`${base}\`. Each rule in the files carries its evidence as a comment. Review before merging: traffic ` +
      'that was not observed in the learning window will be denied where a policy isolates a workload.',
  ].join('\n');
}

function summarySection(input: DescribeInput): string {
  const { plan, review } = input;
  const added = plan.changes.filter((c) => c.status === 'added').length;
  const lines = ['### Summary', ''];
  const c = review.counts;
  if (c) {
    lines.push(
      '| Connections between observed peers | Count | Of them observed |',
      '|---|---:|---:|',
      `| Newly allowed | ${formatCount(c.newlyAllowed)} | ${formatCount(c.newlyAllowedObserved)} |`,
      `| Newly denied | ${formatCount(c.newlyDenied)} | ${formatCount(c.newlyDeniedObserved)} |`,
      `| Unchanged (allowed before and after) | ${formatCount(c.unchanged)} | |`,
      `| Unused existing rules (no observed traffic) | ${formatCount(c.unusedRules)} | |`,
      '',
      'Newly denied connections that were never observed are what least privilege takes away; observed ones would break.',
      '',
    );
  } else {
    lines.push('The connection-level diff was not computed for this run.', '');
  }
  lines.push(
    `Files: ${formatCount(added)} added, ${formatCount(plan.changes.length - added)} modified` +
      (plan.unchanged > 0 ? `, ${plural(plan.unchanged, 'policy', 'policies')} already up to date` : '') +
      (plan.skipped.length > 0 ? `, ${plural(plan.skipped.length, 'policy', 'policies')} left alone (see below)` : '') +
      '.',
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Risk flags: what a reviewer should look at twice, found in the rules this change adds.

interface AddedPeer {
  change: PlannedChange;
  direction: 'ingress' | 'egress';
  peer: Record<string, unknown>;
  ports: string;
}

function rulesOf(doc: unknown, direction: 'ingress' | 'egress'): Array<{ peers: unknown[]; ports: unknown[] }> {
  if (!isRecord(doc) || doc.kind !== 'NetworkPolicy' || !isRecord(doc.spec)) return [];
  const rules = doc.spec[direction];
  if (!Array.isArray(rules)) return [];
  return rules.filter(isRecord).map((r) => ({
    peers: Array.isArray(r[direction === 'ingress' ? 'from' : 'to'])
      ? (r[direction === 'ingress' ? 'from' : 'to'] as unknown[])
      : [],
    ports: Array.isArray(r.ports) ? r.ports : [],
  }));
}

function portsText(ports: unknown[]): string {
  if (ports.length === 0) return 'any port';
  return ports
    .filter(isRecord)
    .map((p) => `${p.protocol ?? 'TCP'}/${p.port ?? '*'}${p.endPort ? `-${p.endPort}` : ''}`)
    .join(', ');
}

/** Peers (with their ports) in the new documents that the old documents did not have. */
function addedPeers(change: PlannedChange): AddedPeer[] {
  const out: AddedPeer[] = [];
  for (const direction of ['ingress', 'egress'] as const) {
    const before = new Set<string>();
    for (const doc of change.beforeObjects)
      for (const r of rulesOf(doc, direction))
        for (const p of r.peers) before.add(`${JSON.stringify(p)}|${portsText(r.ports)}`);
    for (const doc of change.file.documents)
      for (const r of rulesOf(doc, direction))
        for (const p of r.peers) {
          const ports = portsText(r.ports);
          if (isRecord(p) && !before.has(`${JSON.stringify(p)}|${ports}`))
            out.push({ change, direction, peer: p, ports });
        }
  }
  return out;
}

const PRIVATE_RANGES = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  'fc00::/7',
  'fe80::/10',
  '::1/128',
].map((t) => parseCidr(t)!);
/** Blocks shorter than these prefixes are called wide. */
export const WIDE_PREFIX_V4 = 24;
export const WIDE_PREFIX_V6 = 64;

function isPrivate(cidr: string): boolean {
  const block = parseCidr(cidr);
  if (!block) return false;
  return PRIVATE_RANGES.some((r) => r.prefix <= block.prefix && cidrContains(r, { v6: block.v6, value: block.base }));
}

function policyLabel(c: PlannedChange): string {
  const meta = isRecord(c.file.documents[0]?.metadata) ? (c.file.documents[0].metadata as Record<string, unknown>) : {};
  return `${c.file.namespace}/${String(meta.name ?? c.path)}`;
}

function selectorText(sel: unknown): string {
  if (!isRecord(sel)) return '';
  const ml = isRecord(sel.matchLabels) ? sel.matchLabels : {};
  const parts = Object.entries(ml).map(([k, v]) => `${k}=${v}`);
  if (Array.isArray(sel.matchExpressions) && sel.matchExpressions.length > 0) parts.push('(expressions)');
  return parts.length > 0 ? parts.join(',') : 'all';
}

const MAX_FLAG_LINES = 20;

/** `TCP/53, UDP/53`: a rule for name resolution only. */
function isDnsOnly(ports: string): boolean {
  return ports.split(', ').every((p) => /^(TCP|UDP)\/53$/.test(p));
}

function riskSection(input: DescribeInput): string {
  const internet: string[] = [];
  const cross: string[] = [];
  const wide: string[] = [];
  for (const change of input.plan.changes) {
    for (const a of addedPeers(change)) {
      const where = `\`${policyLabel(a.change)}\` ${a.direction} ${a.ports}`;
      const ipBlock = isRecord(a.peer.ipBlock) ? a.peer.ipBlock : undefined;
      const cidr = typeof ipBlock?.cidr === 'string' ? ipBlock.cidr : undefined;
      if (cidr) {
        const block = parseCidr(cidr);
        if (a.direction === 'ingress' && !isPrivate(cidr)) internet.push(`${where} from \`${cidr}\``);
        if (block && block.prefix < (block.v6 ? WIDE_PREFIX_V6 : WIDE_PREFIX_V4))
          wide.push(`${where} ${a.direction === 'ingress' ? 'from' : 'to'} \`${cidr}\` (/${block.prefix})`);
      }
      // Every workload resolving names reaches cluster DNS in another namespace: not worth a flag each.
      if (a.peer.namespaceSelector !== undefined && !isDnsOnly(a.ports)) {
        const ns = selectorText(a.peer.namespaceSelector);
        const own = `kubernetes.io/metadata.name=${a.change.file.namespace}`;
        if (ns !== own) {
          const pods = a.peer.podSelector !== undefined ? ` pods ${selectorText(a.peer.podSelector)}` : '';
          cross.push(`${where} ${a.direction === 'ingress' ? 'from' : 'to'} namespaces ${ns}${pods}`);
        }
      }
    }
  }
  const changed = new Set(input.plan.changes.map((c) => c.file.workload).filter(Boolean));
  const dropped = input.observedButDenied.filter((d) => changed.has(d.src) || changed.has(d.dst));
  const droppedLines = dropped.map(
    (d) =>
      `${peerText(input.graph, d.src)} -> ${peerText(input.graph, d.dst)} ${d.protocol}/${d.port}: ` +
      `${plural(d.flows, 'flow')} dropped${d.reasons.length > 0 ? ` (${d.reasons.join(', ')})` : ''}, last ${isoTime(d.lastSeen)}`,
  );

  const lines = ['### Risk flags', ''];
  const group = (title: string, items: string[]) => {
    if (items.length === 0) return;
    lines.push(`- **${title}** (${formatCount(items.length)}):`);
    for (const i of items.slice(0, MAX_FLAG_LINES)) lines.push(`  - ${i}`);
    if (items.length > MAX_FLAG_LINES) lines.push(`  - … and ${formatCount(items.length - MAX_FLAG_LINES)} more`);
  };
  group('Traffic from the internet allowed', internet);
  group('Cross-namespace access added (DNS on port 53 not listed)', cross);
  group(`Wide CIDRs (shorter than /${WIDE_PREFIX_V4} IPv4, /${WIDE_PREFIX_V6} IPv6)`, wide);
  group('Observed but dropped, not allowed by this proposal (decide by hand)', droppedLines);
  if (lines.length === 2)
    lines.push('None: no internet ingress, cross-namespace access, wide CIDRs or dropped flows involved.');
  return lines.join('\n');
}

function verifySection(input: DescribeInput): string {
  const v = input.review.verify;
  if (!v) return '### Verify\n\nNot run.';
  const status = v.broken === 0 ? '✅' : '❌';
  const lines = [
    '### Verify',
    '',
    `${status} Replaying the ${plural(v.observed, 'observed connection')} through the policies after this change: ` +
      `${v.coverage}% allowed, ${plural(v.broken, 'connection')} would be denied.`,
  ];
  if (v.details) lines.push('', v.details);
  if (v.markdown) lines.push('', '<details><summary>Verify report</summary>', '', v.markdown.trim(), '', '</details>');
  return lines.join('\n');
}

function filesSection(input: DescribeInput): string {
  const { plan } = input;
  const lines = ['### Files', '', '| File | Change | Policy | Workload |', '|---|---|---|---|'];
  for (const c of plan.changes)
    lines.push(
      `| \`${cell(c.path)}\` | ${c.status} | ${cell(`${c.file.kind} ${policyLabel(c)}`)} | ${cell(c.file.workload ?? '(namespace)')} |`,
    );
  if (plan.skipped.length > 0) {
    lines.push('', '**Left alone** (flowwright does not change these):', '');
    for (const s of plan.skipped) lines.push(`- ${s.policy}${s.path ? ` in \`${s.path}\`` : ''}: ${s.why}`);
  }
  return lines.join('\n');
}

function reproduceSection(input: DescribeInput): string {
  return ['### Reproduce locally', '', '```sh', ...input.reproduce, '```'].join('\n');
}

function peerText(graph: Graph, key: string): string {
  const node = graph.peers.get(key);
  if (!node) return key;
  const label = peerLabel(node.peer);
  return node.names.length > 0 ? `${label} (${node.names.slice(0, 2).join(', ')})` : label;
}

function samples(e: Edge): string {
  const http = [...e.http].sort((a, b) => b.count - a.count || (a.method + a.path < b.method + b.path ? -1 : 1));
  const shown = http.slice(0, SAMPLE_REQUESTS).map((h) => {
    const statuses = h.statuses.length > 0 ? ` → ${h.statuses.join('/')}` : '';
    return `${h.method} ${h.path}${statuses} ×${formatCount(h.count)}`;
  });
  if (http.length > SAMPLE_REQUESTS) shown.push(`+${http.length - SAMPLE_REQUESTS} more`);
  if (e.kafkaTopics.length > 0) shown.push(`topics ${e.kafkaTopics.slice(0, SAMPLE_REQUESTS).join(', ')}`);
  if (e.dnsNames.length > 0) shown.push(`DNS ${e.dnsNames.slice(0, SAMPLE_REQUESTS).join(', ')}`);
  return shown.join('; ');
}

function evidenceSection(input: DescribeInput): string {
  const { graph, plan } = input;
  const workloads = [...new Set(plan.changes.map((c) => c.file.workload).filter((w): w is string => !!w))].sort();
  if (workloads.length === 0) return '';
  const edgesOf = new Map<string, Array<{ dir: 'in' | 'out'; edge: Edge }>>();
  for (const w of workloads) edgesOf.set(w, []);
  for (const e of graph.edges) {
    edgesOf.get(e.dst)?.push({ dir: 'in', edge: e });
    if (e.src !== e.dst) edgesOf.get(e.src)?.push({ dir: 'out', edge: e });
  }
  const lines = ['### Evidence per workload'];
  for (const w of workloads) {
    const rows = edgesOf.get(w)!;
    rows.sort(
      (a, b) =>
        (a.dir === b.dir ? 0 : a.dir === 'in' ? -1 : 1) ||
        b.edge.flows - a.edge.flows ||
        (a.edge.src + a.edge.dst < b.edge.src + b.edge.dst ? -1 : 1) ||
        a.edge.port - b.edge.port,
    );
    lines.push('', `#### ${cell(peerText(graph, w))}`, '');
    if (rows.length === 0) {
      lines.push('No traffic observed in the window.');
      continue;
    }
    lines.push(
      '| Direction | Peer | Port | Flows | Dropped | First seen | Last seen | Sample requests |',
      '|---|---|---|---:|---:|---|---|---|',
    );
    for (const { dir, edge } of rows.slice(0, EVIDENCE_ROWS_PER_WORKLOAD)) {
      const peer = peerText(graph, dir === 'in' ? edge.src : edge.dst);
      lines.push(
        `| ${dir === 'in' ? 'from' : 'to'} | ${cell(peer)} | ${edge.protocol}/${edge.port} | ${formatCount(edge.flows)} | ` +
          `${formatCount(deniedFlows(edge))} | ${isoTime(edge.firstSeen)} | ${isoTime(edge.lastSeen)} | ${cell(samples(edge))} |`,
      );
    }
    if (rows.length > EVIDENCE_ROWS_PER_WORKLOAD)
      lines.push(
        '',
        `… and ${plural(rows.length - EVIDENCE_ROWS_PER_WORKLOAD, 'more connection')} (those with the fewest flows).`,
      );
  }
  return lines.join('\n');
}

function detailSection(input: DescribeInput): string {
  const md = input.review.markdown?.trim();
  if (!md) return '';
  return ['<details><summary>Semantic diff</summary>', '', md, '', '</details>'].join('\n');
}
