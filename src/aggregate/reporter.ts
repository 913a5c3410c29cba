// Calico reports a connection from each end that it manages: once with reporter `src` (at the
// source's node) and once with reporter `dst` (at the destination's node). Counting both would
// double every pod-to-pod edge, so only one report of each connection may count.
//
// The destination's report is the one that counts: it carries the final verdict. A connection the
// source allowed and the destination denied (an ingress policy) is logged `src: allow` + `dst: deny`,
// and it was denied. A connection denied on its way out (an egress policy) never reaches the
// destination, so its `src: deny` report is the only one and counts. The other reports add their
// evidence (policies, services) to the counted edge without counting.
import type { Endpoint, Flow } from '../model/index.js';

/**
 * True when the endpoint is a pod (workload endpoint) that Calico manages, and so files its own
 * report. Host endpoints, network sets and plain networks (`pub`/`pvt`) report nothing.
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
 * Whether a record counts toward its edge: every record without a reporter (Hubble), every `dst`
 * report, and a `src` report when no `dst` report of the same connection can exist: the source denied
 * it, or the destination is not a Calico workload.
 * Limit: the logs of one node alone hold only the `src` reports of its pods' outgoing connections, so
 * allowed connections to pods on other nodes are learned from those nodes' logs (ingest all of them).
 */
export function countsTowardEdge(flow: Flow): boolean {
  if (flow.reporter !== 'src') return true;
  if (flow.verdict === 'dropped') return true;
  return !isCalicoWorkload(flow.destination);
}
