// Builders for store tests: temp directories and small hand-written deltas.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EdgeDelta, GraphDelta, Peer, PeerSighting, PodRecord } from '../../src/model/index.js';
import { peerKey } from '../../src/model/index.js';

export const HOUR = 3_600_000;
/** 2026-01-01T00:00:00Z, on an hour boundary. */
export const T0 = Date.UTC(2026, 0, 1);

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'flowwright-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export const web: Peer = { type: 'workload', namespace: 'shop', kind: 'Deployment', name: 'web' };
export const api: Peer = { type: 'workload', namespace: 'shop', kind: 'Deployment', name: 'api' };
export const db: Peer = { type: 'workload', namespace: 'shop', kind: 'StatefulSet', name: 'db' };
export const idle: Peer = { type: 'workload', namespace: 'shop', kind: 'Deployment', name: 'idle' };
export const stripe: Peer = { type: 'external', cidr: '203.0.113.7/32' };

export function sighting(peer: Peer, firstSeen: number, lastSeen = firstSeen, extra: Partial<PeerSighting> = {}) {
  return { key: peerKey(peer), peer, names: [], ips: [], serviceAccounts: [], firstSeen, lastSeen, ...extra };
}

export function pod(name: string, workload: Peer, seen: number, extra: Partial<PodRecord> = {}): PodRecord {
  return {
    namespace: 'shop',
    name,
    workload: peerKey(workload),
    labels: { app: name.split('-')[0]! },
    ips: [],
    firstSeen: seen,
    lastSeen: seen,
    ...extra,
  };
}

/** An edge delta whose flows are all forwarded and fall into the given hours (one bucket per entry). */
export function edge(src: Peer, dst: Peer, port: number, hours: { hour: number; flows: number }[]): EdgeDelta {
  const flows = hours.reduce((n, h) => n + h.flows, 0);
  const first = Math.min(...hours.map((h) => h.hour)) * HOUR;
  const last = Math.max(...hours.map((h) => h.hour)) * HOUR + 60_000;
  return {
    src: peerKey(src),
    dst: peerKey(dst),
    protocol: 'TCP',
    port,
    flows,
    verdicts: { forwarded: flows },
    firstSeen: first,
    lastSeen: last,
    hours: hours.map((h) => ({ hour: h.hour, flows: h.flows, verdicts: { forwarded: h.flows } })),
    http: [],
    httpOverflow: 0,
    dnsNames: [],
    dnsOverflow: 0,
    kafkaTopics: [],
    dropReasons: [],
    policies: [],
    services: [],
  };
}

export function delta(parts: Partial<GraphDelta>): GraphDelta {
  return { peers: [], pods: [], edges: [], checkpoints: [], ...parts };
}
