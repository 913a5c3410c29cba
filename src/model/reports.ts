// Calico reports a connection from each end that it manages: once with reporter `src` (at the
// source's node) and once with reporter `dst` (at the destination's node). Real exports often hold
// only one of the two: the logs of some nodes only, a flow-log filter, a source that is not a Calico
// endpoint, or a destination in another cluster. So a connection must count whichever reports are
// present, and once when both are.
//
// The two ends' counts are kept apart per edge and hour and combined here:
//   - denied at the source (`src: deny`, an egress policy) never reaches the destination, so no `dst`
//     report of it exists; denied at the destination (`dst: deny`, an ingress policy) was allowed by the
//     source (`src: allow`). Denied connections are therefore the sum of both ends' denies.
//   - allowed connections are what the destination allowed, or what the source allowed minus what the
//     destination then denied, whichever is larger: the larger side is the more complete report of the
//     same connections, so a missing report never hides a connection and two reports never double it.
//   - any other verdict: the larger side.
// A destination's deny thus still decides the verdict of a connection the source allowed.
import { VERDICTS } from './flow.js';
import type { VerdictCounts } from './graph.js';

/** The connections of one edge and hour as each end reported them. */
export interface ReporterCounts {
  src: VerdictCounts;
  dst: VerdictCounts;
}

/** The connection counts of one edge and hour from both ends' reports (see the file comment). */
export function combineReports(src: VerdictCounts, dst: VerdictCounts): VerdictCounts {
  const out: VerdictCounts = {};
  const srcDenied = src.dropped ?? 0;
  const dstDenied = dst.dropped ?? 0;
  for (const v of VERDICTS) {
    let n: number;
    if (v === 'dropped') n = srcDenied + dstDenied;
    else if (v === 'forwarded') n = Math.max((src.forwarded ?? 0) - dstDenied, dst.forwarded ?? 0, 0);
    else n = Math.max(src[v] ?? 0, dst[v] ?? 0);
    if (n > 0) out[v] = n;
  }
  return out;
}

/** The sum of verdict counts: an edge's or hour's flows. */
export function totalOf(v: VerdictCounts): number {
  let n = 0;
  for (const k of VERDICTS) n += v[k] ?? 0;
  return n;
}
