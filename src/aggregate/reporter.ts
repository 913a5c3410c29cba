// Calico reports a connection from each end that it manages: once with reporter `src` (at the
// source's node) and once with reporter `dst` (at the destination's node). Counting both would
// double every pod-to-pod edge, so only one report of each connection may count.
import type { Endpoint, Flow } from '../model/index.js';

/**
 * True when the endpoint is a pod (workload endpoint) that Calico manages, and so files its own
 * `src` report. Host endpoints, network sets and plain networks (`pub`/`pvt`) report nothing.
 */
function isCalicoWorkload(ep: Endpoint): boolean {
  return (
    ep.reserved === undefined &&
    ep.networkSet === undefined &&
    ep.namespace !== undefined &&
    (ep.pod !== undefined || ep.workload !== undefined)
  );
}

/**
 * Whether a record counts toward its edge. Every record without a reporter (Hubble) and every `src`
 * report counts; a `dst` report counts only when the source is not a Calico workload, because then no
 * `src` report of the same connection exists.
 * Simplification: a source pod in a cluster or node that Calico does not log is still assumed to report.
 */
export function countsTowardEdge(flow: Flow): boolean {
  if (flow.reporter !== 'dst') return true;
  return !isCalicoWorkload(flow.source);
}
