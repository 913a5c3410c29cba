// A small line diff for the unified YAML diff of `flowwright diff`: the longest common subsequence of
// lines (after trimming the common head and tail, which is most of a policy file), grouped into hunks
// with three lines of context, in the format `patch` and `git apply` read.

type Op = { kind: ' ' | '-' | '+'; line: string };

/** Above this many cells the middle part is shown as replaced wholesale instead of aligned. */
const MAX_CELLS = 4_000_000;

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function lcsOps(a: string[], b: string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const ops: Op[] = a.slice(0, head).map((line) => ({ kind: ' ', line }));
  const x = a.slice(head, a.length - tail);
  const y = b.slice(head, b.length - tail);
  if (x.length * y.length > MAX_CELLS) {
    for (const line of x) ops.push({ kind: '-', line });
    for (const line of y) ops.push({ kind: '+', line });
  } else {
    // len[i][j]: LCS length of x[i..] and y[j..], in one flat array.
    const w = y.length + 1;
    const len = new Uint32Array((x.length + 1) * w);
    for (let i = x.length - 1; i >= 0; i--) {
      for (let j = y.length - 1; j >= 0; j--) {
        len[i * w + j] =
          x[i] === y[j] ? len[(i + 1) * w + j + 1] + 1 : Math.max(len[(i + 1) * w + j], len[i * w + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < x.length || j < y.length) {
      if (i < x.length && j < y.length && x[i] === y[j]) {
        ops.push({ kind: ' ', line: x[i++] });
        j++;
      } else if (j === y.length || (i < x.length && len[(i + 1) * w + j] >= len[i * w + j + 1])) {
        // Deletions first within a change, as diff(1) prints them.
        ops.push({ kind: '-', line: x[i++] });
      } else {
        ops.push({ kind: '+', line: y[j++] });
      }
    }
  }
  for (const line of a.slice(a.length - tail)) ops.push({ kind: ' ', line });
  return ops;
}

function range(start: number, count: number): string {
  // An empty range names the line before it (`-0,0` for an empty file).
  const s = count === 0 ? start - 1 : start;
  return count === 1 ? `${s}` : `${s},${count}`;
}

/**
 * A unified diff of two texts (null = the file does not exist), with `--- a/…` and `+++ b/…` headers.
 * Returns '' when the texts are equal. Texts are compared as lines; a missing final newline is not shown.
 */
export function unifiedDiff(before: string | null, after: string | null, path: string, context = 3): string {
  if (before === after) return '';
  const a = splitLines(before ?? '');
  const b = splitLines(after ?? '');
  const ops = lcsOps(a, b);
  const out = [
    `--- ${before === null ? '/dev/null' : `a/${path}`}`,
    `+++ ${after === null ? '/dev/null' : `b/${path}`}`,
  ];
  // Positions of changed ops; hunks are runs of changes closer than 2 × context lines.
  const changed: number[] = [];
  ops.forEach((op, i) => {
    if (op.kind !== ' ') changed.push(i);
  });
  let k = 0;
  while (k < changed.length) {
    let end = k;
    while (end + 1 < changed.length && changed[end + 1] - changed[end] <= 2 * context) end++;
    const from = Math.max(0, changed[k] - context);
    const to = Math.min(ops.length, changed[end] + context + 1);
    let oldLine = 1;
    let newLine = 1;
    for (let i = 0; i < from; i++) {
      if (ops[i].kind !== '+') oldLine++;
      if (ops[i].kind !== '-') newLine++;
    }
    const body = ops.slice(from, to);
    const oldCount = body.filter((o) => o.kind !== '+').length;
    const newCount = body.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${range(oldLine, oldCount)} +${range(newLine, newCount)} @@`);
    for (const o of body) out.push(`${o.kind}${o.line}`);
    k = end + 1;
  }
  return `${out.join('\n')}\n`;
}
