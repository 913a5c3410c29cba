// `serve` with a Goldmane source against the Goldmane replay server on loopback: the service learns the
// same graph that `collect --goldmane --no-follow` learns from the same server, and its flows show in
// /metrics per source.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { calicoLines } from '../../samples/calico.js';
import { shopScenario } from '../../samples/shop.js';
import { runCollect } from '../../src/cli/collect.js';
import { startGoldmaneReplay } from '../../src/replay/goldmane.js';
import { graphToJson } from '../../src/review/index.js';
import { loadServeConfig } from '../../src/serve/index.js';
import { getJson, loadGraph, sharedConfig, startServing, waitFor } from '../serve/helpers.js';
import { parsePrometheus, sampleValue } from '../serve/prometheus.js';

const dir = mkdtempSync(join(tmpdir(), 'flowwright-serve-goldmane-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('serve with a Goldmane source', () => {
  it('learns what collect learns from the same Goldmane server', async () => {
    const file = join(dir, 'calico.log');
    const startMs = Date.now() - 30 * 60_000;
    writeFileSync(
      file,
      `${[...calicoLines(shopScenario(), { events: 400, seed: 4, startMs, spanMs: 20 * 60_000 })].join('\n')}\n`,
    );
    const server = await startGoldmaneReplay({ listen: '127.0.0.1:0', files: [file] });
    const refDb = join(dir, 'reference.db');
    const db = join(dir, 'serve.db');
    try {
      const reference = await runCollect({
        source: 'goldmane',
        address: server.address,
        follow: false,
        db: refDb,
        progress: false,
      });
      assert.ok(reference.flows > 0);
      const config = loadServeConfig({
        text: [
          'listen: 127.0.0.1:0',
          'flushInterval: 200ms',
          'sources:',
          '  - type: goldmane',
          '    name: calico',
          `    address: ${server.address}`,
          '    since: 1h',
          '    settle: 300ms',
        ].join('\n'),
        shared: sharedConfig(db),
      });
      const serving = startServing(config);
      try {
        const url = (await serving.listening()).url;
        await waitFor('ready', async () => (await getJson(`${url}/readyz`)).status === 200);
        // Flows are counted as they arrive; the newest interval is handed over once it has settled.
        const expected = JSON.parse(JSON.stringify(graphToJson(loadGraph(refDb))));
        await waitFor('every flow, settled and written', async () => {
          const graph = await getJson(`${url}/api/v1/graph`);
          return isDeepStrictEqual(graph.body, expected) ? true : undefined;
        });
        const m = parsePrometheus(await (await fetch(`${url}/metrics`)).text());
        assert.equal(
          sampleValue(m, 'flowwright_flows_ingested_total', { source: 'calico', type: 'goldmane' }),
          reference.flows,
        );
        assert.equal(sampleValue(m, 'flowwright_source_connected', { source: 'calico' }), 1);
      } finally {
        await serving.stop();
      }
      assert.deepEqual(loadGraph(db), loadGraph(refDb));
    } finally {
      server.kill();
    }
  });
});
