// `flowwright verify`: replays the learned traffic through a policy set and reports what would break.
// Also home of what verify, diff and explain share: loading policy files and the inventory.
import { existsSync } from 'node:fs';
import { type Command, Option } from 'commander';
import {
  FlowwrightError,
  formatLocation,
  type Graph,
  type InputIssue,
  type InventoryIndex,
  inputError,
} from '../model/index.js';
import {
  type Inventory,
  inventoryFromGraph,
  type LoadedPolicies,
  loadPolicyFiles,
  mergeClusterInventory,
} from '../policy/index.js';
import { renderVerify, VERIFY_FORMATS, type VerifyFormat, verifyPolicies } from '../review/index.js';
import { commandInventory, INVENTORY_HELP } from './inventory.js';
import { addOptions, resolveConfig } from './options.js';
import { loadProposalGraph, requireTraffic } from './propose.js';

const KEYS = ['db', 'since', 'until', 'trustDomain'] as const;

function issueLine(i: InputIssue): string {
  const where = formatLocation(i);
  return where ? `${where}: ${i.message}` : i.message;
}

/**
 * Loads policy files and directories. Other kinds are counted on stderr; invalid policies are listed on
 * stderr with file, line, document and field, and stop the command (exit code 3): judging traffic
 * against a set with a broken policy silently left out would mislead.
 */
export function loadPoliciesOrFail(paths: string[], flag: string): LoadedPolicies {
  if (paths.length === 0) throw new FlowwrightError('usage', `${flag} is required: policy files or directories`);
  const loaded = loadPolicyFiles(paths);
  const skipped = Object.entries(loaded.skipped);
  if (skipped.length > 0)
    process.stderr.write(`skipped other kinds: ${skipped.map(([k, n]) => `${k} ${n}`).join(', ')}\n`);
  if (loaded.issues.length > 0) {
    for (const i of loaded.issues) process.stderr.write(`flowwright: ${issueLine(i)}\n`);
    throw inputError(`${loaded.issues.length} invalid policy document(s) in ${flag} (listed above)`);
  }
  return loaded;
}

/** The inventory the policy engine evaluates against: pods seen in the graph, completed by the cluster inventory. */
export function buildInventory(graph: Graph | undefined, cluster: InventoryIndex): Inventory {
  const inv: Inventory = graph ? inventoryFromGraph(graph) : { pods: [], namespaces: new Map() };
  return cluster.empty ? inv : mergeClusterInventory(inv, cluster);
}

/** The learned graph, when the database exists (explain works from an inventory dump alone). */
export function optionalGraph(config: { db: string; since: string; until: string }): Graph | undefined {
  return existsSync(config.db) ? loadProposalGraph(config) : undefined;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerVerifyCommand(program: Command): void {
  const cmd = program
    .command('verify')
    .summary('replay observed traffic through a policy set: what would break?')
    .description(
      'Replay every edge learned in the window through a set of Kubernetes NetworkPolicies (and Istio ' +
        'AuthorizationPolicies, for the HTTP requests seen on an edge), as the cluster would judge them. ' +
        'Reports the observed connections the set would deny, each with an explanation; the coverage (the ' +
        'percentage of observed connections the set allows); and the connections that were dropped in ' +
        'reality but would now be allowed. Exits 1 when an observed connection would break, so CI can gate ' +
        'on it.',
    )
    .option('--policies <path>', 'policy file or directory (YAML, JSON, kubectl List dumps); repeatable', collect)
    .option('--inventory <path>', INVENTORY_HELP)
    .addOption(new Option('--format <format>', 'output format').choices(VERIFY_FORMATS).default('table'))
    .option('--root-namespace <ns>', 'Istio root namespace (mesh-wide AuthorizationPolicies)', 'istio-system')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ flowwright verify --policies policies/\n' +
        '  $ flowwright verify --policies policies/ --since 7d --format markdown > verify.md\n' +
        '  $ kubectl get networkpolicies -A -o yaml > live.yaml && flowwright verify --policies live.yaml\n' +
        '\nExit codes: 0 nothing observed would break, 1 something would, 2 usage, 3 bad policy or inventory file.',
    );
  addOptions(cmd, [...KEYS]);
  cmd.action((flags: Record<string, unknown>) => {
    const config = resolveConfig(flags, [...KEYS]);
    const policies = loadPoliciesOrFail((flags.policies as string[] | undefined) ?? [], '--policies');
    const graph = requireTraffic(loadProposalGraph(config), config, 'verify');
    const inventory = buildInventory(graph, commandInventory(config.db, flags.inventory as string | undefined));
    const report = verifyPolicies(graph, inventory, policies, {
      rootNamespace: flags.rootNamespace as string,
      trustDomain: config.trustDomain,
    });
    process.stdout.write(renderVerify(report, flags.format as VerifyFormat));
    if (report.totals.broken > 0) {
      throw new FlowwrightError(
        'finding',
        `${report.totals.broken} observed connection(s) would be denied (coverage ${report.coverage.toFixed(1)}%)`,
      );
    }
  });
}
