// `flowwright diff`: the existing policy set against the proposal, semantically (which connections
// change) and as text (a unified diff per file), shaped by --mode.
import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Command, Option } from 'commander';
import { FlowwrightError, inputError } from '../model/index.js';
import { DIFF_FORMATS, DIFF_MODES, type DiffFormat, type DiffMode, diffPolicies, renderDiff } from '../review/index.js';
import { proposeNetworkPolicies } from '../synthesize/index.js';
import { commandInventory, INVENTORY_HELP } from './inventory.js';
import { addOptions, parseDuration, resolveConfig } from './options.js';
import { loadProposalGraph, proposalOptions, requireTraffic } from './propose.js';
import { buildInventory, collect, loadPoliciesOrFail } from './verify.js';

const KEYS = ['db', 'since', 'until', 'minFlows', 'cidrPrefix', 'cidrPrefixV6', 'defaultDeny', 'allowDropped'] as const;

/** New files go beside the existing ones: under the --existing directory, or beside the file. */
function defaultOutDir(path: string): string {
  try {
    return statSync(path).isDirectory() ? path : dirname(path);
  } catch {
    return '.';
  }
}

export function registerDiffCommand(program: Command): void {
  const cmd = program
    .command('diff')
    .summary('compare an existing policy set with the proposal, semantically and as text')
    .description(
      'Evaluate the existing NetworkPolicies and the proposal over the same universe (every observed peer to ' +
        'every observed workload and external peer, on the ports seen there) and list the connections newly ' +
        'allowed, newly denied (with whether they were ever observed) and allowed by both, the existing rules ' +
        'that matched no observed traffic (tightening candidates, with last seen), and the file changes.\n\n' +
        'Modes: additive (default) keeps the existing set and adds only the proposal rules that observed ' +
        'traffic needs, never taking an allow away; tighten also deletes existing rules unused for --unused-for ' +
        '(or in the whole window); replace swaps the existing set for the proposal.',
    )
    .option('--existing <path>', 'existing policy file or directory; repeatable', collect)
    .addOption(
      new Option('--mode <mode>', 'how the proposal is combined with the existing set')
        .choices(DIFF_MODES)
        .default('additive'),
    )
    .option('--unused-for <duration>', 'a rule is unused when nothing matched it for this long (e.g. 30d)')
    .addOption(new Option('--format <format>', 'output format').choices(DIFF_FORMATS).default('table'))
    .option('--inventory <path>', INVENTORY_HELP)
    .option('--out-dir <dir>', 'where new files are placed in the file diff (default: the --existing directory)')
    .option('--exit-code', 'exit 1 when the proposed set differs from the existing one')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ flowwright diff --existing cluster-policies/\n' +
        '  $ flowwright diff --existing cluster-policies/ --mode tighten --unused-for 30d --format markdown\n' +
        '  $ flowwright diff --existing cluster-policies/ --format yaml-diff | git apply\n' +
        '  $ flowwright diff --existing live.yaml --mode replace --format json | jq .summary',
    );
  addOptions(cmd, [...KEYS]);
  cmd.action((flags: Record<string, unknown>) => {
    const config = resolveConfig(flags, [...KEYS]);
    const paths = (flags.existing as string[] | undefined) ?? [];
    const existing = loadPoliciesOrFail(paths, '--existing');
    const unusedForMs =
      typeof flags.unusedFor === 'string' ? parseDuration(flags.unusedFor, '--unused-for') : undefined;
    const graph = requireTraffic(loadProposalGraph(config), config, 'compare');
    const inventory = buildInventory(graph, commandInventory(config.db, flags.inventory as string | undefined));
    // The files whose NetworkPolicies are compared; files of other kinds only are left alone.
    const existingFiles = new Map<string, string>();
    for (const p of existing.networkPolicies) {
      if (existingFiles.has(p.source.file)) continue;
      try {
        existingFiles.set(p.source.file, readFileSync(p.source.file, 'utf8'));
      } catch (err) {
        throw inputError(`cannot read: ${(err as NodeJS.ErrnoException).code}`, { file: p.source.file });
      }
    }
    const proposal = proposeNetworkPolicies(graph, proposalOptions(config));
    const report = diffPolicies(
      { graph, inventory, existing, existingFiles, proposal },
      {
        mode: flags.mode as DiffMode,
        unusedForMs,
        outDir: typeof flags.outDir === 'string' ? flags.outDir : defaultOutDir(paths[0]),
      },
    );
    process.stdout.write(renderDiff(report, flags.format as DiffFormat));
    if (flags.exitCode && report.files.length > 0)
      throw new FlowwrightError('finding', `${report.files.length} file(s) would change`);
  });
}
