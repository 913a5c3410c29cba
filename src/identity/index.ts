// Identity: which workload a pod belongs to, which labels select a workload, and what the peers that
// are not pods (reserved entities, external addresses, network sets) are called.
export { dnsNamesByIp, externalCidr, isIp, normalizeDnsName, noteDnsNames, parseIp } from './external.js';
export { inventoryPodOf, resolveWithInventory } from './inventory.js';
export { isKubeDns } from './kubedns.js';
export { clearPeerCache, PEER_CACHE_LIMIT, resolvePeer } from './peer.js';
export { assignSelectors, explainSelector, isVolatileLabel } from './selector.js';
export { workloadOf } from './workload.js';
