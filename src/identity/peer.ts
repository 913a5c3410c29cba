// One end of a flow → the peer it counts for in the graph. Runs for every flow, so repeated answers
// come from a bounded cache and the returned peers are shared, frozen objects.

import type { Endpoint, Peer, ReservedEntity } from '../model/index.js';
import { RESERVED_ENTITIES } from '../model/index.js';
import { externalCidr } from './external.js';
import { workloadOf } from './workload.js';

/** Above this many cached peers the cache starts over: memory stays bounded on clusters with pod churn. */
export const PEER_CACHE_LIMIT = 100_000;

const cache = new Map<string, Peer>();

const RESERVED_PEERS = new Map<ReservedEntity, Peer>(
  RESERVED_ENTITIES.map((entity) => [entity, Object.freeze({ type: 'reserved', entity }) as Peer]),
);
const UNKNOWN = RESERVED_PEERS.get('unknown') as Peer;

function remember(key: string, peer: Peer): Peer {
  if (cache.size >= PEER_CACHE_LIMIT) cache.clear();
  Object.freeze(peer);
  cache.set(key, peer);
  return peer;
}

/** Forgets cached peers (tests, or a long-running service between learning windows). */
export function clearPeerCache(): void {
  cache.clear();
}

/** An address as a single-host network. A malformed address (collectors should have refused it) is unknown. */
function externalPeer(ip: string): Peer {
  const key = `ip|${ip}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let cidr: string;
  try {
    // Through externalCidr so that one address always has one spelling (`2001:DB8:0::1` = `2001:db8::1`).
    cidr = externalCidr(ip, ip.includes(':') ? 128 : 32);
  } catch {
    return UNKNOWN;
  }
  return remember(key, { type: 'external', cidr });
}

function workloadPeer(ep: Endpoint, namespace: string): Peer {
  const reported = ep.workload;
  // The reported workload is part of the key: the same pod may come with and without it.
  const key = `wl|${ep.cluster ?? ''}|${namespace}|${ep.pod ?? ''}|${reported ? `${reported.kind}/${reported.name}` : ''}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const w = workloadOf(ep);
  if (!w) return UNKNOWN;
  const peer: Peer = ep.cluster
    ? { type: 'workload', cluster: ep.cluster, namespace, kind: w.kind, name: w.name }
    : { type: 'workload', namespace, kind: w.kind, name: w.name };
  return remember(key, peer);
}

/**
 * The graph peer for one end of a flow, checked in this order:
 *   Calico network set (`networkSet`)      → networkset (namespaced when the endpoint has a namespace)
 *   reserved `world` with an address       → external `<ip>/32` (IPv6 `/128`)
 *   any other reserved entity, or `world`
 *     without an address                   → reserved entity
 *   namespace plus pod or reported workload → workload (see workloadOf)
 *   only an address                        → external `<ip>/32` (`/128`)
 *   nothing usable                         → reserved `unknown`
 * The result may be shared with other calls and is frozen: copy it before changing it.
 */
export function resolvePeer(ep: Endpoint): Peer {
  if (ep.networkSet) {
    const key = `ns|${ep.namespace ?? ''}|${ep.networkSet}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const peer: Peer = ep.namespace
      ? { type: 'networkset', namespace: ep.namespace, name: ep.networkSet }
      : { type: 'networkset', name: ep.networkSet };
    return remember(key, peer);
  }
  const reserved = ep.reserved;
  if (reserved !== undefined) {
    if (reserved === 'world' && ep.ip) return externalPeer(ep.ip);
    return RESERVED_PEERS.get(reserved) ?? UNKNOWN;
  }
  const namespace = ep.namespace;
  if (namespace && (ep.pod || ep.workload)) return workloadPeer(ep, namespace);
  if (ep.ip) return externalPeer(ep.ip);
  return UNKNOWN;
}
