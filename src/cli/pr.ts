// `flowwright pr`: the proposal as a pull request. Loads the graph like `propose`, hands it to the PR
// bot with the repository, GitHub settings and mode, and prints what happened (the diff and the
// description with --dry-run). Nothing to change is exit status 6.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { FlowwrightError, usageError } from '../model/index.js';
import { defaultBranch, type GitIdentity, type PrOptions, policiesDirInRepo, runPrBot } from '../prbot/index.js';
import { unifiedDiff } from '../review/index.js';
import { parseKinds, proposePolicies } from '../synthesize/index.js';
import { addOptions, OPTIONS, parseDuration, parseInteger, resolveConfig } from './options.js';
import { addKindFlags, loadProposalGraph, PROPOSAL_KEYS, policiesOptions, requireTraffic } from './propose.js';

// pr takes its own --kinds (default networkpolicy), not the shared option.
const KEYS = [
  'db',
  'since',
  'until',
  ...PROPOSAL_KEYS.filter((key): key is Exclude<typeof key, 'kinds'> => key !== 'kinds'),
] as const;
const MODES = ['additive', 'tighten', 'replace'] as const;
const DEFAULT_AUTHOR = 'flowwright <flowwright@users.noreply.github.com>';

/** `Name <email>` → identity. */
export function parseAuthor(text: string): GitIdentity {
  const m = /^\s*([^<>]+?)\s*<([^<>\s]+)>\s*$/.exec(text);
  if (!m) throw usageError(`--author: expected 'Name <email>', got '${text}'`);
  return { name: m[1], email: m[2] };
}

function shellQuote(s: string): string {
  return /^[\w./:=@,+-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

export function registerPrCommand(program: Command): void {
  const cmd = program
    .command('pr')
    .summary('propose the policy changes as a GitHub pull request')
    .description(
      'Read the policies in --policies-dir of the repository at --repo (as committed on --base), compute the ' +
        "proposal from the learned graph in the chosen --mode, write the changed files in the repository's own " +
        'layout (one file per workload and kind), commit them on a branch (flowwright/policies-<base>) and open ' +
        'or update one pull request whose description carries the evidence, risk flags and verify result. ' +
        'Files without the label app.kubernetes.io/managed-by=flowwright, and policies marked ' +
        'flowwright.io/managed: "false", are never touched. A rerun updates the same branch and pull request; ' +
        'a proposal closed without merging is not reopened until it changes. Exit status 6 when there is ' +
        'nothing to propose. The token is read from GITHUB_TOKEN.',
    )
    .requiredOption('--repo <path>', 'the git repository (a clone of the GitHub repository) holding the policies')
    .requiredOption('--policies-dir <dir>', 'directory of policy files, relative to the repository root')
    .option('--base <branch>', 'branch the pull request targets', 'main')
    .option('--mode <mode>', `how the proposal meets existing policies: ${MODES.join(', ')}`, 'additive')
    .option('--unused-for <duration>', 'tighten: remove managed rules that matched no traffic for this long (e.g. 30d)')
    .option('--kinds <list>', 'policy kinds to propose, comma-separated', 'networkpolicy')
    .option('--branch <name>', 'branch name (default: flowwright/policies-<base>)')
    .option('--remote <name>', 'git remote to fetch the base from and push to', 'origin')
    .option('--label <name...>', 'labels for the pull request', ['flowwright'])
    .option('--author <identity>', 'commit author and committer', DEFAULT_AUTHOR)
    .option('--api-url <url>', 'GitHub API URL, e.g. https://github.example.com/api/v3 (env GITHUB_API_URL)')
    .option('--github-repo <owner/name>', 'GitHub repository (env GITHUB_REPOSITORY; default: from the remote URL)')
    .option('--retries <n>', 'retries of a GitHub request that failed with a server error', '3')
    .option('--dry-run', 'print the diff and the description; touch neither git nor the network')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ flowwright pr --repo . --policies-dir deploy/policies --dry-run\n' +
        '  $ GITHUB_TOKEN=... flowwright pr --repo . --policies-dir deploy/policies --base main --since 7d\n' +
        '  $ flowwright pr --repo . --policies-dir policies --mode tighten --unused-for 30d\n' +
        '  $ flowwright pr --repo . --policies-dir policies --api-url https://github.example.com/api/v3\n' +
        '\nExit codes: 0 pull request opened or updated (or dry run), 2 bad flags or token (401/403/404), ' +
        '3 GitHub refused the request (422) or git failed, 4 GitHub unreachable after retries, 6 nothing to propose.',
    );
  addKindFlags(cmd);
  addOptions(cmd, [...KEYS]);
  cmd.action(async (flags: Record<string, unknown>) => {
    const config = resolveConfig(flags, [...KEYS]);
    const mode = String(flags.mode);
    if (!(MODES as readonly string[]).includes(mode))
      throw usageError(`--mode: expected one of ${MODES.join(', ')}, got '${mode}'`);
    const unusedForMs =
      typeof flags.unusedFor === 'string' ? parseDuration(flags.unusedFor, '--unused-for') : undefined;
    if (unusedForMs !== undefined && mode !== 'tighten')
      throw usageError('--unused-for applies to --mode tighten only');
    const kinds = parseKinds(String(flags.kinds));
    const dryRun = flags.dryRun === true;
    const token = process.env.GITHUB_TOKEN ?? '';
    if (!dryRun && token === '') throw usageError('GITHUB_TOKEN is not set (or use --dry-run)');

    // The repository first: a wrong --repo fails before the graph is loaded.
    const repoDir = resolve(String(flags.repo));
    const policiesDir = policiesDirInRepo(repoDir, String(flags.policiesDir));
    const graph = requireTraffic(loadProposalGraph(config), config, 'propose');
    const proposal = proposePolicies(graph, { ...policiesOptions(config, flags), kinds });
    const base = String(flags.base);
    const branch = typeof flags.branch === 'string' ? flags.branch : defaultBranch(base);
    const reproduce = reproduceCommands(config, {
      branch,
      policiesDir,
      base,
      mode,
      kinds: String(flags.kinds),
      unusedFor: flags.unusedFor,
    });
    const opts: PrOptions = {
      repoDir,
      policiesDir,
      base,
      mode: mode as PrOptions['mode'],
      remote: String(flags.remote),
      branch,
      labels: (flags.label as string[]) ?? [],
      author: parseAuthor(String(flags.author)),
      dryRun,
      github: dryRun
        ? undefined
        : {
            token,
            apiUrl:
              typeof flags.apiUrl === 'string'
                ? flags.apiUrl
                : (process.env.GITHUB_API_URL ?? 'https://api.github.com'),
            repository:
              typeof flags.githubRepo === 'string' ? flags.githubRepo : process.env.GITHUB_REPOSITORY || undefined,
            retries: parseInteger(0, 10)(String(flags.retries), '--retries'),
          },
      unusedForMs,
      reproduce,
      log: (m) => process.stderr.write(`${m}\n`),
    };
    const outcome = await runPrBot(graph, proposal, opts);
    switch (outcome.action) {
      case 'nothing':
        throw new FlowwrightError('nothing', `nothing to propose: ${outcome.reason}`);
      case 'dry-run': {
        for (const c of outcome.plan.changes)
          process.stdout.write(unifiedDiff(c.before ?? null, c.after ?? null, c.path));
        process.stdout.write(
          `\n# branch: ${outcome.branch}\n# title: ${outcome.description.title}\n\n${outcome.description.body}\n`,
        );
        for (const s of outcome.plan.skipped)
          process.stderr.write(`left alone: ${s.policy}${s.path ? ` in ${s.path}` : ''}: ${s.why}\n`);
        process.stderr.write(`dry run: would commit ${outcome.plan.changes.length} files on ${outcome.branch}\n`);
        return;
      }
      default:
        process.stdout.write(`${outcome.pull.url}\n`);
        process.stderr.write(
          `${outcome.action} pull request #${outcome.pull.number} from ${outcome.branch} ` +
            `(${outcome.plan.changes.length} files, commit ${outcome.commit.slice(0, 12)})\n`,
        );
    }
  });
}

function reproduceCommands(
  config: ReturnType<typeof resolveConfig>,
  o: { policiesDir: string; base: string; branch: string; mode: string; kinds: string; unusedFor: unknown },
): string[] {
  const timeWindow = [
    ...(config.since ? ['--since', config.since] : []),
    ...(config.until ? ['--until', config.until] : []),
  ];
  const window = [
    ...timeWindow,
    ...(config.minFlows !== 1 ? ['--min-flows', String(config.minFlows)] : []),
    ...(config.cidrPrefix !== 32 ? ['--cidr-prefix', String(config.cidrPrefix)] : []),
    ...(config.cidrPrefixV6 !== 128 ? ['--cidr-prefix-v6', String(config.cidrPrefixV6)] : []),
    ...(config.defaultDeny ? [] : ['--no-default-deny']),
    ...(config.includeSystemNamespaces ? ['--include-system-namespaces'] : []),
    ...(config.systemNamespaces !== OPTIONS.systemNamespaces.default
      ? ['--system-namespaces', config.systemNamespaces]
      : []),
    ...(config.nodeCidr ? ['--node-cidr', config.nodeCidr] : []),
    ...(config.allowDropped ? ['--allow-dropped'] : []),
  ];
  const db = ['--db', config.db];
  const q = (args: string[]) => args.map(shellQuote).join(' ');
  return [
    `# with the database this run learned from (${config.db}), in a clone of the repository:`,
    `git fetch origin ${shellQuote(o.base)} ${shellQuote(o.branch)}`,
    `git checkout --detach FETCH_HEAD   # the proposed policies (${o.branch})`,
    `flowwright verify ${q(['--policies', o.policiesDir, ...db, ...timeWindow])}`,
    `git checkout --detach origin/${shellQuote(o.base)}`,
    `flowwright pr ${q([
      '--repo',
      '.',
      '--policies-dir',
      o.policiesDir,
      '--base',
      o.base,
      '--mode',
      o.mode,
      ...(o.kinds !== 'networkpolicy' ? ['--kinds', o.kinds] : []),
      ...(typeof o.unusedFor === 'string' ? ['--unused-for', o.unusedFor] : []),
      ...db,
      ...window,
      '--dry-run',
    ])}   # the same diff and description`,
  ];
}
