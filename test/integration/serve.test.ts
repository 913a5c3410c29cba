// `serve` in process against the real replay gRPC server on loopback: traffic streams in, the graph and
// the proposal read over HTTP are exactly what `ingest` and `propose` make of the same flows, /metrics
// is valid Prometheus exposition that counts them, and a source that goes away is reported (readyz,
// metrics) and reconnected without losing or doubling anything.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { assignSelectors } from '../../src/identity/index.js';
import { emptyStats } from '../../src/model/index.js';
import { loadReplayFiles, type ReplayEntry, startReplayServer } from '../../src/replay/index.js';
import { graphToJson } from '../../src/review/index.js';
import { loadServeConfig } from '../../src/serve/index.js';
import { DEFAULT_PROPOSAL_OPTIONS, proposeNetworkPolicies, renderProposalFile } from '../../src/synthesize/index.js';
import {
  getJson,
  loadGraph,
  type ShopExport,
  sharedConfig,
  shopExport,
  startServing,
  waitFor,
} from '../serve/helpers.js';
import { parsePrometheus, sampleValue } from '../serve/prometheus.js';

const dir = mkdtempSync(join(tmpdir(), 'flowwright-serve-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let shop: ShopExport;
let entries: ReplayEntry[];

before(async () => {
  shop = await shopExport(dir, 3000);
  const stats = emptyStats();
  entries = await loadReplayFiles([shop.file], stats);
  assert.equal(stats.malformed, 0);
  assert.ok(shop.graph.edges.length > 10);
});

describe('serve against a live Hubble source', () => {
  it('streams, serves the graph and proposal, reports a lost source and reconnects to it', async () => {
    let server = await startReplayServer(entries, { port: 0, rate: 3000 });
    const port = server.port;
    const db = join(dir, 'live.db');
    const config = loadServeConfig({
      file: 'test.yaml',
      text: [
        'listen: 127.0.0.1:0',
        'flushInterval: 200ms',
        'sources:',
        '  - type: hubble-relay',
        '    name: relay',
        `    address: ${server.address}`,
        '    since: 1h',
        '    reconnect: { initial: 50ms, max: 200ms }',
      ].join('\n'),
      shared: sharedConfig(db, { flushEvery: 500 }),
    });
    const serving = startServing(config);
    const logs = serving.logs;
    try {
      const url = (await serving.listening()).url;
      await waitFor('ready', async () => (await getJson(`${url}/readyz`)).status === 200);
      const metrics = async () => parsePrometheus(await (await fetch(`${url}/metrics`)).text());

      // Lose the source about halfway through the traffic, then bring it back on the same port.
      await waitFor('half the traffic', () => server.released() >= entries.length / 2 || undefined);
      server.kill();
      const down = await waitFor('readyz to report the lost source', async () => {
        const r = await getJson(`${url}/readyz`);
        return r.status === 503 ? r.body : undefined;
      });
      assert.equal(down.status, 'no source connected');
      assert.notEqual(down.sources[0].state, 'connected');
      const m1 = await metrics();
      assert.equal(sampleValue(m1, 'flowwright_source_connected', { source: 'relay' }), 0);
      assert.ok(sampleValue(m1, 'flowwright_source_reconnects_total', { source: 'relay' })! >= 1);

      server = await startReplayServer(entries, { port });
      await waitFor('ready again', async () => (await getJson(`${url}/readyz`)).status === 200);
      await waitFor('every flow received', async () => {
        const m = await metrics();
        return sampleValue(m, 'flowwright_flows_ingested_total', { source: 'relay' }) === shop.flows || undefined;
      });
      const m = await metrics();
      assert.equal(sampleValue(m, 'flowwright_records_malformed_total', { source: 'relay' }), 0);
      assert.ok(sampleValue(m, 'flowwright_replies_skipped_total')! > 0);
      assert.ok(sampleValue(m, 'flowwright_flush_duration_seconds_count')! > 1);
      assert.equal(sampleValue(m, 'flowwright_source_connected', { source: 'relay' }), 1);

      // The graph over HTTP is the graph ingest learned from the same file: nothing lost, nothing doubled.
      // (The collector hands over its last partial batch a moment after counting it: wait for the flush.)
      const expectedGraph = JSON.parse(JSON.stringify(graphToJson(shop.graph)));
      const graph = await waitFor('the learned graph', async () => {
        const g = await getJson(`${url}/api/v1/graph`);
        return isDeepStrictEqual(g.body, expectedGraph) ? g : undefined;
      }).catch(() => getJson(`${url}/api/v1/graph`));
      assert.equal(graph.status, 200);
      assert.deepEqual(graph.body, expectedGraph);

      assert.equal(sampleValue(await metrics(), 'flowwright_edges'), shop.graph.edges.length);
      const workloads = await getJson(`${url}/api/v1/workloads`);
      const keys = workloads.body.workloads.map((w: { key: string }) => w.key);
      const expectedKeys = [...shop.graph.peers.values()].filter((p) => p.peer.type === 'workload').map((p) => p.key);
      assert.deepEqual(keys, expectedKeys.sort());

      // The proposal over HTTP is what `propose` makes of the reference graph, file for file.
      const proposal = await getJson(`${url}/api/v1/proposals/networkpolicy`);
      assert.equal(proposal.status, 200);
      const reference = loadGraph(shop.db);
      assignSelectors(reference);
      const expected = proposeNetworkPolicies(reference, { ...DEFAULT_PROPOSAL_OPTIONS });
      assert.deepEqual(
        proposal.body.files.map((f: { path: string; yaml: string }) => [f.path, f.yaml]),
        expected.files.map((f) => [f.path, renderProposalFile(f)]),
      );
      assert.ok(expected.files.length > 3);
      // One workload's edges with evidence.
      const frontend = keys.find((k: string) => k.endsWith('/frontend'));
      assert.ok(frontend, 'the shop has a frontend');
      const wl = await getJson(`${url}/api/v1/workloads/${frontend}`);
      assert.equal(wl.status, 200);
      const edgesOut = shop.graph.edges.filter((e) => e.src === frontend);
      assert.equal(wl.body.egress.length, edgesOut.length);
      assert.ok(wl.body.egress.every((e: { flows: number; lastSeen: string }) => e.flows > 0 && e.lastSeen));
    } finally {
      await serving.stop();
      server.kill();
    }
    // After the stop, the database holds the same graph.
    assert.deepEqual(loadGraph(db), loadGraph(shop.db));
    assert.ok(logs.some((l) => JSON.parse(l).msg === 'source disconnected'));
  });
});
