// `diff --format yaml-diff`: the proposed set as a unified diff per file against the existing files,
// ready for `git apply` (paths as given to --existing, with a/ and b/ prefixes).
import type { DiffReport } from './diff.js';
import { unifiedDiff } from './linediff.js';

export function renderDiffYaml(r: DiffReport): string {
  return r.files.map((f) => unifiedDiff(f.before, f.after, f.path)).join('');
}
