// Shared by the serve tests: a generated shop export with recent flow times (so a source configured
// with `since: 1h` sees it), the reference graph that `ingest` learns from it, and small HTTP helpers.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { hubbleLines } from '../../samples/hubble.js';
import { shopScenario } from '../../samples/shop.js';
import { createAggregator } from '../../src/aggregate/index.js';
import { runIngest } from '../../src/cli/ingest.js';
import type { Flow, Graph } from '../../src/model/index.js';
import {
  type HttpServer,
  jsonLog,
  type Log,
  runServe,
  type ServeConfig,
  type SharedConfig,
} from '../../src/serve/index.js';
import { openStore } from '../../src/store/index.js';

export interface ShopExport {
  file: string;
  /** Flow records in the file, replies included. */
  flows: number;
  /** A database holding what ingest learned from the file. */
  db: string;
  graph: Graph;
}

/** Writes `flows` shop flow records spread over the 10 minutes before now, and ingests them as the reference. */
export async function shopExport(dir: string, flows: number, seed = 7): Promise<ShopExport> {
  const file = join(dir, 'shop.json.gz');
  const startMs = Date.now() - 10 * 60_000;
  const lines = [...hubbleLines(shopScenario(), { flows, seed, startMs, spanMs: 9 * 60_000, l7: true })];
  writeFileSync(file, gzipSync(`${lines.join('\n')}\n`));
  const db = join(dir, 'reference.db');
  const summary = await runIngest({ inputs: [file], db, progress: false });
  return { file, flows: summary.flows, db, graph: loadGraph(db) };
}

export function loadGraph(db: string): Graph {
  const store = openStore(db, { readonly: true });
  try {
    return store.loadGraph();
  } finally {
    store.close();
  }
}

export async function getJson(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  // biome-ignore lint/suspicious/noExplicitAny: test responses are checked field by field
  return { status: res.status, headers: res.headers, body: body as any };
}

export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
) {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Runs the service in this process until stop(): its JSON log lines collect in `logs` unless another log is
 * given; listening() waits for the HTTP server; stop() aborts and waits for the clean stop (and its error).
 */
export function startServing(config: ServeConfig, log?: Log) {
  const logs: string[] = [];
  const stop = new AbortController();
  let http: HttpServer | undefined;
  const running = runServe({
    config,
    log: log ?? jsonLog((l) => logs.push(l)),
    signal: stop.signal,
    onListening: (h) => {
      http = h;
    },
  });
  return {
    logs,
    listening: () => waitFor('listening', () => http),
    async stop() {
      stop.abort();
      await running;
    },
  };
}

/** The shared options at their defaults (as the CLI's options table has them), for a database. */
export function sharedConfig(db: string, overrides: Partial<SharedConfig> = {}): SharedConfig {
  return {
    db,
    flushEvery: 50_000,
    minFlows: 1,
    cidrPrefix: 32,
    cidrPrefixV6: 128,
    defaultDeny: true,
    includeSystemNamespaces: false,
    systemNamespaces: 'kube-system,kube-public,kube-node-lease,cilium*,calico-*,tigera-*,istio-system,gke-*',
    nodeCidr: '',
    allowDropped: false,
    kinds: 'networkpolicy',
    trustDomain: 'cluster.local',
    l7: 'paths',
    tenantLabel: '',
    ...overrides,
  };
}

/**
 * A database with a large synthetic cluster: `workloads` Deployments in namespaces of 20, each calling
 * `fanOut` others (mostly in its own namespace, one across), every 50th call dropped. For checking the page
 * and API at the size the service must stay usable at.
 */
export function syntheticClusterDb(path: string, workloads: number, fanOut = 4): { edges: number } {
  const aggregator = createAggregator();
  const now = Date.now();
  const endpoint = (i: number) => {
    const ns = `team-${String(Math.floor(i / 20)).padStart(2, '0')}`;
    const name = `svc-${String(i).padStart(3, '0')}`;
    return {
      cluster: 'default',
      namespace: ns,
      pod: `${name}-7d9c8b-x${i}`,
      workload: { kind: 'Deployment' as const, name },
      labels: { app: name },
      namespaceLabels: { 'kubernetes.io/metadata.name': ns },
      serviceAccount: name,
      ip: `10.${Math.floor(i / 250)}.${i % 250}.10`,
    };
  };
  const flows: Flow[] = [];
  let calls = 0;
  for (let i = 0; i < workloads; i++) {
    for (let k = 1; k <= fanOut; k++) {
      const sameNs = Math.floor(i / 20) * 20;
      const j = k === fanOut ? (i + 20 * k + 7) % workloads : sameNs + ((i - sameNs + k) % 20);
      if (j === i || j >= workloads) continue;
      calls++;
      const dropped = calls % 50 === 0;
      flows.push({
        time: now - 60_000 + calls,
        source: endpoint(i),
        destination: { ...endpoint(j), port: 8000 + (j % 7) },
        protocol: 'TCP',
        port: 8000 + (j % 7),
        verdict: dropped ? 'dropped' : 'forwarded',
        reply: false,
        direction: 'egress',
        count: 1,
        ...(dropped ? { dropReason: 'POLICY_DENIED' } : {}),
        origin: { source: 'synthetic' },
      });
    }
  }
  aggregator.add(flows);
  const store = openStore(path);
  try {
    store.applyDelta(aggregator.take());
    return { edges: store.counts().edges };
  } finally {
    store.close();
  }
}
