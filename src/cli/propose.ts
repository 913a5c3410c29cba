// `flowwright propose`: the learned graph → least-privilege NetworkPolicies, one file per workload and a
// default deny per namespace, written under --out or printed to stdout; the summary goes to stderr.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { assignSelectors, explainSelector } from '../identity/index.js';
import { FlowwrightError, type Graph, usageError } from '../model/index.js';
import { openStore } from '../store/index.js';
import {
  type Proposal,
  type ProposalOptions,
  proposeNetworkPolicies,
  renderProposalFile,
  renderSummary,
} from '../synthesize/index.js';
import { addOptions, type Config, parseTime, resolveConfig } from './options.js';

const KEYS = ['db', 'since', 'until', 'minFlows', 'cidrPrefix', 'cidrPrefixV6', 'defaultDeny', 'allowDropped'] as const;

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

export function proposalOptions(config: Config): ProposalOptions {
  return {
    minFlows: config.minFlows,
    defaultDeny: config.defaultDeny,
    allowDropped: config.allowDropped,
    cidrPrefixV4: config.cidrPrefix,
    cidrPrefixV6: config.cidrPrefixV6,
  };
}

/** Writes each proposal file under `dir`, returning the paths written. */
export function writeProposal(proposal: Proposal, dir: string): string[] {
  return proposal.files.map((f) => {
    const path = join(dir, f.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, renderProposalFile(f));
    return path;
  });
}

/** All files as one YAML stream, each introduced by a `# file:` comment. */
export function proposalAsStream(proposal: Proposal): string {
  return proposal.files.map((f) => `# file: ${f.path}\n${renderProposalFile(f)}`).join('---\n');
}

export function registerProposeCommand(program: Command): void {
  const cmd = program
    .command('propose')
    .summary('propose least-privilege NetworkPolicies from the learned graph')
    .description(
      'Turn the observed dependencies into Kubernetes NetworkPolicies: one per workload, with ingress and ' +
        'egress rules for exactly the peers and ports that were seen, DNS egress to kube-dns where names were ' +
        'resolved, and a default-deny policy per namespace. Every rule carries its evidence (flow count, first ' +
        'and last seen) as a comment. Dropped flows are never allowed silently: they are listed as "observed ' +
        'but denied" in the summary on stderr (--allow-dropped to include them).',
    )
    .option('--out <dir>', 'write one YAML file per workload under this directory (default: print to stdout)')
    .option('--explain-selectors', 'print why each workload selector was chosen, on stderr')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ flowwright propose --out policies/\n' +
        '  $ flowwright propose --since 7d --min-flows 5 --cidr-prefix 24\n' +
        '  $ flowwright propose --no-default-deny | kubectl apply --dry-run=server -f -',
    );
  addOptions(cmd, [...KEYS]);
  cmd.action((flags: Record<string, unknown>) => {
    const config = resolveConfig(flags, [...KEYS]);
    const graph = loadProposalGraph(config);
    if (graph.edges.length === 0)
      throw new FlowwrightError(
        'nothing',
        `no traffic learned in ${config.db}${config.since || config.until ? ' in this window' : ''}: ` +
          'nothing to propose (learn some first: flowwright ingest <files>)',
      );
    const proposal = proposeNetworkPolicies(graph, proposalOptions(config));
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
    process.stderr.write(renderSummary(proposal.summary));
  });
}
