// `flowwright graph`: the learned dependency graph as a table, JSON, Graphviz dot or Mermaid.
import { type Command, Option } from 'commander';
import { usageError } from '../model/index.js';
import { filterGraphByNamespace, GRAPH_FORMATS, type GraphFormat, renderGraph } from '../review/index.js';
import { openStore } from '../store/index.js';
import { addOptions, parseTime, resolveConfig } from './options.js';

const KEYS = ['db', 'since', 'until'] as const;

export function registerGraphCommand(program: Command): void {
  const cmd = program
    .command('graph')
    .summary('show the learned dependency graph')
    .description(
      'Print the dependency graph learned so far: one line per edge (source, destination, port/protocol), ' +
        'with allowed and dropped flow counts and when it was last seen. Dropped-only edges are evidence, ' +
        'not dependencies: they are drawn dashed red in dot and Mermaid output.',
    )
    .addOption(new Option('--format <format>', 'output format').choices(GRAPH_FORMATS).default('table'))
    .option('--namespace <ns>', 'only edges with an end in this namespace')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ flowwright graph\n' +
        '  $ flowwright graph --namespace shop --since 7d\n' +
        '  $ flowwright graph --format dot | dot -Tsvg > graph.svg\n' +
        "  $ flowwright graph --format json | jq '.edges[] | select(.verdicts.dropped > 0)'",
    );
  addOptions(cmd, [...KEYS]);
  cmd.action((flags: Record<string, unknown>) => {
    const config = resolveConfig(flags, [...KEYS]);
    const since = parseTime(config.since, '--since');
    const until = parseTime(config.until, '--until');
    if (since !== undefined && until !== undefined && since >= until)
      throw usageError('--since must be before --until');
    const store = openStore(config.db, { readonly: true });
    try {
      let graph = store.loadGraph({ since, until });
      if (typeof flags.namespace === 'string') graph = filterGraphByNamespace(graph, flags.namespace);
      process.stdout.write(renderGraph(graph, flags.format as GraphFormat));
    } finally {
      store.close();
    }
  });
}
