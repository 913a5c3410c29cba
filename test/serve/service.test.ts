// The learning loop without HTTP: retention deletes hourly buckets older than the window (totals stay),
// and a source that refuses us (a gRPC server without the Hubble API) is reported as failed and retried,
// while the service keeps running.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { createAggregator } from '../../src/aggregate/index.js';
import { readFlowFiles } from '../../src/collect/index.js';
import { emptyStats, type Flow } from '../../src/model/index.js';
import { type Log, loadServeConfig, startService } from '../../src/serve/index.js';
import { openStore } from '../../src/store/index.js';
import { sharedConfig, shopExport, waitFor } from './helpers.js';

const HOUR = 3_600_000;
const dir = mkdtempSync(join(tmpdir(), 'flowwright-serve-service-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const quiet: Log = () => undefined;

describe('serve service', () => {
  it('deletes hourly buckets older than the retention window and keeps the edge totals', async () => {
    const shop = await shopExport(dir, 500, 9);
    // Move a copy of the flows three days back, into a fresh database: they are the old hours.
    const flows: Flow[] = [];
    for await (const b of readFlowFiles([shop.file], { strict: false, stats: emptyStats() })) flows.push(...b.flows);
    const db = join(dir, 'retention.db');
    const aggregator = createAggregator();
    aggregator.add(flows.map((f) => ({ ...f, time: f.time - 3 * 24 * HOUR })));
    aggregator.add(flows);
    const store = openStore(db);
    store.applyDelta(aggregator.take());
    const before = store.counts();
    const oldWindow = { since: Date.now() - 4 * 24 * HOUR, until: Date.now() - 2 * 24 * HOUR };
    assert.ok(store.loadGraph(oldWindow).edges.length > 0, 'the old hours are there');
    store.close();

    const config = loadServeConfig({ text: 'retention: 1d', shared: sharedConfig(db) });
    const service = startService({ config, log: quiet });
    try {
      assert.ok(service.counters.pruned > 0, 'pruned at start');
      assert.equal(service.store.loadGraph(oldWindow).edges.length, 0, 'nothing left in the old window');
      assert.deepEqual(service.store.counts(), before, 'edge totals stay');
      assert.equal(service.prune(), 0, 'nothing more to prune');
    } finally {
      await service.stop();
    }
  });

  it('reports a source that refuses the Hubble API as failed, and keeps retrying it', async () => {
    // A gRPC server with no services answers every call with UNIMPLEMENTED: not retryable by the collector.
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const logs: Array<{ msg: string; error?: unknown }> = [];
    const config = loadServeConfig({
      text: `sources: [{type: hubble-relay, name: wrong, address: '127.0.0.1:${port}', reconnect: {initial: 20ms, max: 50ms}}]`,
      shared: sharedConfig(join(dir, 'failing.db')),
    });
    const service = startService({ config, log: (_level, msg, fields) => logs.push({ msg, ...fields }) });
    try {
      const status = service.sources[0];
      await waitFor('two failed attempts', () => (status.reconnects >= 2 ? true : undefined));
      await waitFor('the failed state', () => (status.state === 'failed' ? true : undefined));
      assert.match(status.lastError ?? '', /UNIMPLEMENTED/);
      assert.ok(logs.some((l) => l.msg === 'source failed; restarting it'));
    } finally {
      await service.stop();
      server.forceShutdown();
    }
    assert.equal(service.sources[0].state, 'stopped');
  });
});
