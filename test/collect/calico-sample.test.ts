// The shop rendered as Calico flow logs (samples/calico.ts): deterministic, aggregated per 5-minute
// interval, reported from each pod end, denied flows at Calico's denied-flow aggregation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CALICO_INTERVAL_MS, calicoLines } from '../../samples/calico.js';
import { shopScenario } from '../../samples/shop.js';

const START = Date.parse('2024-06-03T00:00:00Z');
const render = (seed: number, aggregation?: 'prefix' | 'source-port') =>
  [...calicoLines(shopScenario(), { events: 1500, seed, startMs: START, spanMs: 3 * 3600_000, aggregation })].map(
    (l) => JSON.parse(l) as Record<string, unknown>,
  );

describe('the shop as Calico flow logs', () => {
  it('is the same for the same seed and differs for another', () => {
    assert.deepEqual(render(3), render(3));
    assert.notDeepEqual(render(3), render(4));
  });

  it('aggregates per 5-minute interval and name prefix, without addresses or pod names', () => {
    const docs = render(3);
    for (const d of docs) {
      assert.equal(((d.start_time as number) * 1000) % CALICO_INTERVAL_MS, 0);
      assert.equal((d.end_time as number) - (d.start_time as number), CALICO_INTERVAL_MS / 1000);
    }
    const allowed = docs.filter((d) => d.action === 'allow');
    assert.ok(allowed.every((d) => d.source_ip === null && d.dest_ip === null));
    const pods = allowed.filter((d) => d.source_type === 'wep');
    assert.ok(pods.every((d) => d.source_name === '-'));
    assert.ok(pods.some((d) => String(d.source_name_aggr).endsWith('-*')));
    // One document per interval and key: counts are summed, not repeated.
    const keys = docs.map((d) =>
      JSON.stringify({
        ...d,
        num_flows: 0,
        num_flows_started: 0,
        num_flows_completed: 0,
        packets_in: 0,
        packets_out: 0,
        bytes_in: 0,
        bytes_out: 0,
      }),
    );
    assert.equal(new Set(keys).size, keys.length);
    assert.ok(docs.some((d) => (d.num_flows as number) > 1));
  });

  it('reports pod-to-pod connections from both ends, host and network ends from the pod end only', () => {
    const docs = render(3).filter((d) => d.action === 'allow');
    const reporters = (pred: (d: Record<string, unknown>) => boolean) =>
      new Set(docs.filter(pred).map((d) => d.reporter));
    assert.deepEqual(
      reporters((d) => d.source_type === 'wep' && d.dest_type === 'wep'),
      new Set(['src', 'dst']),
    );
    assert.deepEqual(
      reporters((d) => d.source_type === 'hep'),
      new Set(['dst']),
    );
    assert.deepEqual(
      reporters((d) => d.dest_type === 'net'),
      new Set(['src']),
    );
    // Both reports of pod-to-pod traffic add up to the same number of connections.
    const sum = (reporter: string) =>
      docs
        .filter((d) => d.source_type === 'wep' && d.dest_type === 'wep' && d.reporter === reporter)
        .reduce((s, d) => s + (d.num_flows as number), 0);
    assert.equal(sum('src'), sum('dst'));
  });

  it('keeps names and addresses of denied flows, denied at the client when the client is a pod', () => {
    const denied = render(3).filter((d) => d.action === 'deny');
    assert.ok(denied.length > 0);
    for (const d of denied) assert.notEqual(d.source_ip, null);
    const fromPod = denied.filter((d) => d.source_type === 'wep');
    assert.ok(fromPod.length > 0 && fromPod.every((d) => d.reporter === 'src' && d.source_name !== '-'));
    const fromOutside = denied.filter((d) => d.source_type === 'net');
    assert.ok(fromOutside.length > 0 && fromOutside.every((d) => d.reporter === 'dst' && d.source_name_aggr === 'pub'));
  });

  it('keeps addresses and pod names of allowed flows at source-port aggregation', () => {
    const allowed = render(3, 'source-port').filter((d) => d.action === 'allow' && d.source_type === 'wep');
    assert.ok(allowed.every((d) => d.source_ip !== null && d.source_name !== '-'));
  });
});
