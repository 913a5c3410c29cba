// The hand-built shop (shop.ts) made ready for identity and L7 proposals: pod IPs and service accounts,
// and HTTP detail on frontend -> orders with ID-bearing paths.
import assert from 'node:assert/strict';
import type { Graph, HttpEvidence } from '../../src/model/index.js';
import { KEYS, shopGraphWithIps } from './shop.js';

const T = Date.parse('2026-11-01T12:00:00Z');
const http = (method: string, path: string, count = 5): HttpEvidence => ({
  method,
  path,
  count,
  statuses: [200],
  firstSeen: T,
  lastSeen: T,
});

/** The shop with pod IPs and service accounts, and HTTP detail on frontend → orders. */
export function l7Graph(): Graph {
  const graph = shopGraphWithIps();
  for (const p of graph.pods) p.serviceAccount = p.workload.split('/')[2];
  // In shop.ts legacy's pods carry orders' label, which a real selector choice would never allow for
  // orders (a selector selects exactly its workload's pods): give them no labels at all instead.
  const legacy = graph.pods.find((p) => p.workload === KEYS.legacy);
  assert.ok(legacy);
  legacy.labels = {};
  const edge = graph.edges.find((e) => e.src === KEYS.frontend && e.dst === KEYS.orders && e.port === 8080);
  assert.ok(edge);
  edge.http = [
    http('GET', '/api/orders'),
    http('GET', '/api/orders/1001'),
    http('GET', '/api/orders/1002?expand=items'),
    http('GET', '/api/orders/5f0c7a1e-1b7e-4c7e-9d2b-1c2d3e4f5a6b'),
    http('POST', '/api/orders'),
    http('DELETE', '/api/cart/17'),
  ];
  return graph;
}
