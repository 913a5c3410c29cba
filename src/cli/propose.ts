// `flowwright propose`: the learned graph → least-privilege policy of the selected kinds (NetworkPolicy by
// default; Istio AuthorizationPolicy, CiliumNetworkPolicy, Calico, tenant baseline), one file per workload
// and kind, written under --out or printed to stdout; the summaries go to stderr.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { assignSelectors, explainSelector } from '../identity/index.js';
import { FlowwrightError, type Graph, usageError } from '../model/index.js';
import { emptyLoaded, inventoryFromGraph, mergeLoaded, parsePolicyText } from '../policy/index.js';
import { checkConsistency, renderConsistency } from '../review/index.js';
import { stageProposal } from '../rollout/index.js';
import { openStore } from '../store/index.js';
import {
  DEFAULT_PATH_THRESHOLD,
  type L7Level,
  type PoliciesOptions,
  type Proposal,
  type ProposalOptions,
  parseKinds,
  proposePolicies,
  renderProposalFile,
  renderSummary,
} from '../synthesize/index.js';
import { addOptions, type Config, parseInteger, parseTime, resolveConfig, splitList } from './options.js';

/** The options that shape a proposal, in `--help` order: shared by propose, pr and serve. */
export const PROPOSAL_KEYS = [
  'minFlows',
  'cidrPrefix',
  'cidrPrefixV6',
  'defaultDeny',
  'includeSystemNamespaces',
  'systemNamespaces',
  'nodeCidr',
  'allowDropped',
  'kinds',
  'trustDomain',
  'l7',
  'tenantLabel',
] as const;
const KEYS = ['db', 'since', 'until', ...PROPOSAL_KEYS] as const;

/** Loads the graph in the configured window and assigns selectors: the input of every proposal. */
export function loadProposalGraph(config: Pick<Config, 'db' | 'since' | 'until'>): Graph {
  const since = parseTime(config.since, '--since');
  const until = parseTime(config.until, '--until');
  if (since !== undefined && until !== undefined && since >= until) throw usageError('--since must be before --until');
  const store = openStore(config.db, { readonly: true });
  try {
    const graph = store.loadGraph({ since, until });
    assignSelectors(graph);
    return graph;
  } finally {
    store.close();
  }
}

/**
 * Refuses an empty graph (exit 6, nothing to do): a proposal, a verification or a diff over no traffic
 * would say "nothing needed" and, in tighten or replace mode, remove every rule.
 */
export function requireTraffic(graph: Graph, config: Pick<Config, 'db' | 'since' | 'until'>, what: string): Graph {
  if (graph.edges.length > 0) return graph;
  throw new FlowwrightError(
    'nothing',
    `no traffic learned in ${config.db}${config.since || config.until ? ' in this window' : ''}: ` +
      `nothing to ${what} (learn some first: flowwright ingest <files>)`,
  );
}

export function proposalOptions(config: Config): ProposalOptions {
  return {
    minFlows: config.minFlows,
    defaultDeny: config.defaultDeny,
    allowDropped: config.allowDropped,
    cidrPrefixV4: config.cidrPrefix,
    cidrPrefixV6: config.cidrPrefixV6,
    includeSystemNamespaces: config.includeSystemNamespaces,
    systemNamespaces: parseNamespaceList(config.systemNamespaces),
    nodeCidrs: splitList(config.nodeCidr),
  };
}

/** `kube-system, cilium*` → the names and patterns; every entry is a namespace name, `*` allowed. */
export function parseNamespaceList(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(',')) {
    const name = part.trim();
    if (name === '') continue;
    if (!/^[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?$/.test(name))
      throw usageError(`--system-namespaces: '${name}' is not a namespace name or pattern (a-z, 0-9, '-', '*')`);
    out.push(name);
  }
  return out;
}

/** Every option of `proposePolicies` from the resolved configuration and the command's own flags. */
export function policiesOptions(config: Config, flags: Record<string, unknown> = {}): PoliciesOptions {
  const threshold = flags.pathThreshold;
  return {
    ...proposalOptions(config),
    // An empty setting (FLOWWRIGHT_KINDS=) means the default, as for the other options.
    kinds: parseKinds(config.kinds || 'networkpolicy'),
    trustDomain: config.trustDomain,
    l7: config.l7 as L7Level,
    tenantLabel: config.tenantLabel,
    pathThreshold:
      typeof threshold === 'string' ? parseInteger(1)(threshold, '--path-threshold') : DEFAULT_PATH_THRESHOLD,
    istioAllowNothing: flags.istioAllowNothing === true,
    istioStrictMtls: flags.istioStrictMtls === true,
  };
}

/** The per-kind flags that are not config keys (see policiesOptions); `propose` and `pr` take them. */
export function addKindFlags(cmd: Command): Command {
  return cmd
    .option(
      '--path-threshold <n>',
      `more distinct values than this at one path position become {*} (default: ${DEFAULT_PATH_THRESHOLD})`,
    )
    .option('--istio-allow-nothing', 'also write an allow-nothing AuthorizationPolicy per namespace (opt-in)')
    .option('--istio-strict-mtls', 'also write a PeerAuthentication with mTLS STRICT per namespace (opt-in)');
}

/** Writes each proposal file under `dir`, returning the paths written. */
export function writeProposal(proposal: Pick<Proposal, 'files'>, dir: string): string[] {
  return proposal.files.map((f) => {
    const path = join(dir, f.path);
    try {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, renderProposalFile(f));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw usageError(`--out ${dir}: cannot write ${path} (${code})`);
    }
    return path;
  });
}

/** All files as one YAML stream, each introduced by a `# file:` comment. */
export function proposalAsStream(proposal: Pick<Proposal, 'files'>): string {
  return proposal.files.map((f) => `# file: ${f.path}\n${renderProposalFile(f)}`).join('---\n');
}

/** With both NetworkPolicy and AuthorizationPolicy proposed: are they consistent? (Text for stderr.) */
export function proposalConsistency(graph: Graph, proposal: Pick<Proposal, 'files'>, trustDomain: string): string {
  const loaded = emptyLoaded();
  for (const f of proposal.files) {
    if (f.kind === 'NetworkPolicy' && f.path.endsWith('.networkpolicy.yaml'))
      mergeLoaded(loaded, parsePolicyText(renderProposalFile(f), f.path));
    else if (f.kind === 'AuthorizationPolicy') mergeLoaded(loaded, parsePolicyText(renderProposalFile(f), f.path));
  }
  const report = checkConsistency(loaded.networkPolicies, loaded.authorizationPolicies, inventoryFromGraph(graph), {
    trustDomain,
  });
  return renderConsistency(report);
}

export function registerProposeCommand(program: Command): void {
  const cmd = program
    .command('propose')
    .summary('propose least-privilege policy (NetworkPolicy, Istio, Cilium, Calico) from the learned graph')
    .description(
      'Turn the observed dependencies into policy: one file per workload and kind, with rules for exactly the ' +
        'peers and ports that were seen, DNS egress to kube-dns where names were resolved, and a default-deny ' +
        'NetworkPolicy per namespace. --kinds selects the outputs: networkpolicy (default), authorizationpolicy ' +
        '(Istio, callers by SPIFFE identity, HTTP methods and templated paths per --l7), cilium ' +
        '(CiliumNetworkPolicy with toFQDNs, entities and HTTP rules), calico (projectcalico.org/v3 NetworkPolicy) ' +
        'and tenant-baseline (deny across tenants except the observed edges, as a Calico tier and as ' +
        'AdminNetworkPolicy). Every rule carries its evidence (flow count, first and last seen) as a comment. ' +
        'Dropped flows are never allowed silently: they are listed as "observed but denied" in the summary on ' +
        'stderr (--allow-dropped to include them). With networkpolicy and authorizationpolicy together, the ' +
        'two sets are checked for consistency.',
    )
    .option('--out <dir>', 'write one YAML file per workload and kind under this directory (default: stdout)')
    .option(
      '--staged',
      "write each kind's non-enforcing form: Calico Staged*NetworkPolicy, Istio dry-run; kinds without one are left out",
    )
    .option('--explain-selectors', 'print why each workload selector was chosen, on stderr')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ flowwright propose --out policies/\n' +
        '  $ flowwright propose --since 7d --min-flows 5 --cidr-prefix 24\n' +
        '  $ flowwright propose --no-default-deny | kubectl apply --dry-run=server -f -\n' +
        '  $ flowwright propose --kinds networkpolicy,authorizationpolicy --l7 methods --trust-domain corp.example --out policies/\n' +
        '  $ flowwright propose --kinds authorizationpolicy --istio-allow-nothing --istio-strict-mtls\n' +
        '  $ flowwright propose --kinds cilium,calico --out policies/\n' +
        '  $ flowwright propose --kinds tenant-baseline --tenant-label team\n' +
        '  $ flowwright propose --kinds networkpolicy,calico,authorizationpolicy --staged --out staged/',
    );
  addKindFlags(cmd);
  addOptions(cmd, [...KEYS]);
  cmd.action((flags: Record<string, unknown>) => {
    const config = resolveConfig(flags, [...KEYS]);
    const options = policiesOptions(config, flags);
    const graph = requireTraffic(loadProposalGraph(config), config, 'propose');
    const enforcing = proposePolicies(graph, options);
    const staged = flags.staged === true ? stageProposal(enforcing) : undefined;
    const proposal = staged ? { ...enforcing, files: staged.files } : enforcing;
    if (typeof flags.out === 'string') {
      const written = writeProposal(proposal, flags.out);
      process.stderr.write(`wrote ${written.length} files under ${flags.out}\n`);
    } else {
      process.stdout.write(proposalAsStream(proposal));
    }
    if (flags.explainSelectors) {
      for (const node of graph.peers.values()) {
        if (node.peer.type === 'workload') process.stderr.write(`${explainSelector(graph, node.key)}\n`);
      }
    }
    const several = proposal.summaries.length > 1;
    for (const { kind, summary } of proposal.summaries)
      process.stderr.write(`${several ? `\n[${kind}]\n` : ''}${renderSummary(summary)}`);
    if (options.kinds.includes('networkpolicy') && options.kinds.includes('authorizationpolicy'))
      process.stderr.write(`\n${proposalConsistency(graph, enforcing, options.trustDomain)}`);
    if (staged) {
      process.stderr.write('\n[staged]\n');
      for (const note of staged.notes) process.stderr.write(`${note}\n`);
    }
  });
}
