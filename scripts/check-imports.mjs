// Checks that each stage imports only the stages below it (see DESIGN.md) and that the heavy
// libraries stay in their one folder. Prints the allowed table when something is out of place.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const src = join(root, 'src');

// folder -> project folders it may import (besides itself)
const allowed = {
  model: [],
  collect: ['model'],
  identity: ['model'],
  aggregate: ['model', 'identity'],
  store: ['model'],
  synthesize: ['model', 'identity'],
  policy: ['model', 'identity'],
  review: ['model', 'identity', 'policy', 'synthesize'],
  replay: ['model', 'collect', 'policy'],
  rollout: ['model', 'identity', 'policy', 'review', 'synthesize'],
  cli: ['*'],
  serve: ['model', 'collect', 'identity', 'aggregate', 'store', 'synthesize', 'policy', 'review', 'replay', 'rollout'],
  prbot: ['model', 'identity', 'store', 'synthesize', 'policy', 'review', 'rollout'],
  cluster: ['model'],
};
// package -> folders that may import it
const packages = {
  'better-sqlite3': ['store'],
  kafkajs: ['collect/kafka'],
  commander: ['cli'],
  '@octokit/rest': ['prbot'],
  // the CEL evaluator (and the protobuf runtime and RE2 engine it works with) for the replay server's filters
  '@bufbuild/cel': ['replay'],
  '@bufbuild/protobuf': ['replay'],
  '@bufbuild/re2': ['replay'],
};

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const problems = [];
for (const file of walk(src)) {
  const rel = relative(src, file);
  const folder = rel.split('/')[0];
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
    const spec = m[1];
    if (spec.startsWith('.')) {
      const target = relative(src, join(file, '..', spec)).split('/')[0];
      if (target === folder || target.startsWith('..')) continue;
      const ok = allowed[folder];
      if (!ok) problems.push(`${rel}: folder '${folder}' is not in the allowed table`);
      else if (!ok.includes('*') && !ok.includes(target))
        problems.push(`${rel}: '${folder}' may not import '${target}'`);
    } else if (!spec.startsWith('node:')) {
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      const owners = packages[pkg];
      if (owners && !owners.some((o) => rel.startsWith(`${o}/`)))
        problems.push(`${rel}: only ${owners.join(', ')} may import '${pkg}'`);
    }
  }
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error('\nallowed imports per folder:');
  for (const [k, v] of Object.entries(allowed)) console.error(`  ${k.padEnd(11)} ${v.join(', ') || '(nothing)'}`);
  for (const [k, v] of Object.entries(packages)) console.error(`  package ${k} only in ${v.join(', ')}`);
  process.exit(1);
}
