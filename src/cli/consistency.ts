// `flowwright consistency`: do a NetworkPolicy set and an Istio AuthorizationPolicy set agree? Every
// identity-level allow must have a layer 3/4 allow and the other way round; the disagreements are listed
// with both sides. Works on any sets (existing ones, or a proposal written with --out).
import type { Command } from 'commander';
import { FlowwrightError } from '../model/index.js';
import { checkConsistency, renderConsistency } from '../review/index.js';
import { commandInventory, INVENTORY_HELP } from './inventory.js';
import { addOptions, resolveConfig } from './options.js';
import { buildInventory, loadPoliciesOrFail, optionalGraph } from './verify.js';

const KEYS = ['db', 'since', 'until', 'trustDomain'] as const;

export function registerConsistencyCommand(program: Command): void {
  const cmd = program
    .command('consistency')
    .summary('check that NetworkPolicies and Istio AuthorizationPolicies agree')
    .argument('<paths...>', 'policy files or directories holding both sets (YAML, JSON, kubectl List dumps)')
    .description(
      'Compare a NetworkPolicy set with an Istio AuthorizationPolicy set: for every workload calling every ' +
        'destination that both sets cover, on every TCP port either names, the AuthorizationPolicies must let ' +
        'some request through exactly when the NetworkPolicies allow the connection. Methods, paths and other ' +
        'request details do not count (they refine an allowed connection). Workloads come from the learned ' +
        'graph (--db) and/or a kubectl dump (--inventory). Lists every disagreement with both sides and exits 1 ' +
        'when there is one.',
    )
    .option('--inventory <path>', INVENTORY_HELP)
    .option('--root-namespace <ns>', 'Istio root namespace (mesh-wide AuthorizationPolicies)', 'istio-system')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ flowwright consistency policies/\n' +
        '  $ kubectl get networkpolicies,authorizationpolicies -A -o yaml > live.yaml\n' +
        '  $ kubectl get namespaces,pods -A -o json > inventory.json\n' +
        '  $ flowwright consistency live.yaml --inventory inventory.json\n' +
        '\nExit codes: 0 consistent, 1 inconsistencies found, 2 usage, 3 bad policy or inventory file.',
    );
  addOptions(cmd, [...KEYS]);
  cmd.action((paths: string[], flags: Record<string, unknown>) => {
    const config = resolveConfig(flags, [...KEYS]);
    const policies = loadPoliciesOrFail(paths, '<paths>');
    const inventory = buildInventory(
      optionalGraph(config),
      commandInventory(config.db, flags.inventory as string | undefined),
    );
    if (inventory.pods.length === 0)
      throw new FlowwrightError(
        'usage',
        `no workloads to compare: ${config.db} does not exist and no --inventory was given`,
      );
    const report = checkConsistency(policies.networkPolicies, policies.authorizationPolicies, inventory, {
      rootNamespace: flags.rootNamespace as string,
      trustDomain: config.trustDomain,
    });
    process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderConsistency(report));
    if (report.findings.length > 0)
      throw new FlowwrightError('finding', `${report.findings.length} inconsistent connection(s)`);
  });
}
