// Message decoding (no broker needed): encodings, formats, malformed records and poison messages, and
// the graph-delta format the shipper publishes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { createAggregator } from '../../src/aggregate/index.js';
import {
  type DeltaFragment,
  decodeMessage,
  encodeFragment,
  parseDeltaRecord,
  splitDelta,
} from '../../src/collect/kafka/index.js';
import { emptyStats, type Flow } from '../../src/model/index.js';
import { openStore } from '../../src/store/index.js';
import { calicoDoc } from '../collect/calico-fixtures.js';
import { tempDir } from '../store/helpers.js';
import { graphSnapshot, shopLines } from './helpers.js';

const empty = (): DeltaFragment => ({ peers: [], pods: [], edges: [] });

function decode(value: Buffer | string | null, format: 'auto' | 'hubble' | 'calico' | 'delta' = 'auto') {
  const flows: Flow[] = [];
  const deltas = empty();
  const stats = emptyStats();
  const result = decodeMessage(value === null ? null : Buffer.from(value), format, 'flows/0@7', flows, deltas, stats);
  return { result, flows, deltas, stats };
}

test('one flow, a newline-delimited batch and a gzip batch give the same flows', () => {
  const lines = shopLines(60)
    .filter((l) => l.includes('"flow"'))
    .slice(0, 12);
  const one = lines.flatMap((l) => decode(l).flows);
  const batch = decode(lines.join('\n')).flows;
  const gz = decode(gzipSync(`${lines.join('\n')}\n`)).flows;
  assert.equal(one.length, 12);
  assert.deepEqual(
    batch.map((f) => [f.time, f.source.ip, f.destination.ip, f.port]),
    one.map((f) => [f.time, f.source.ip, f.destination.ip, f.port]),
  );
  assert.deepEqual(
    gz.map((f) => [f.time, f.source.ip, f.destination.ip, f.port]),
    one.map((f) => [f.time, f.source.ip, f.destination.ip, f.port]),
  );
  // Where a flow came from: the message position and its line within the message.
  assert.equal(batch[1]?.origin.source, 'flows/0@7');
  assert.equal(batch[1]?.origin.line, 2);
});

test('format per topic: a Calico record on a hubble topic is poison, on an auto or calico topic a flow', () => {
  const doc = JSON.stringify(calicoDoc());
  assert.equal(decode(doc, 'calico').flows.length, 1);
  assert.equal(decode(doc, 'auto').flows.length, 1);
  const wrong = decode(doc, 'hubble');
  assert.equal(wrong.flows.length, 0);
  assert.ok(wrong.result.poison, 'nothing readable: poison');
});

test('bad records in a readable message are counted with their line; a message of only bad records is poison', () => {
  const [a, b] = shopLines(20).filter((l) => l.includes('"flow"'));
  const mixed = decode(`${a}\n{not json\n${b}\n`);
  assert.equal(mixed.result.poison, undefined);
  assert.equal(mixed.result.malformed, 1);
  assert.equal(mixed.stats.malformed, 1);
  assert.deepEqual(
    { file: mixed.stats.issues[0]?.file, line: mixed.stats.issues[0]?.line },
    { file: 'flows/0@7', line: 2 },
  );
  assert.equal(mixed.flows.length, 2);

  const junk = decode('{not json\nalso not\n');
  assert.match(junk.result.poison!, /not valid JSON/);
  assert.equal(junk.stats.malformed, 1, 'one poison message, counted once');
  assert.equal(junk.stats.records, 1);
  assert.match(junk.stats.issues[0]!.message, /^poison message skipped/);

  assert.match(decode(Buffer.from([0x1f, 0x8b, 1, 2, 3])).result.poison!, /cannot gunzip/);
  assert.match(decode('{"a":1}').result.poison!, /unrecognized format/);
});

test('empty messages, blank-only messages and tombstones are not errors, and are counted', () => {
  for (const v of [null, '', ' ', '\n\n', gzipSync(' \n')]) {
    const d = decode(v);
    assert.equal(d.result.poison, undefined);
    assert.equal(d.stats.records, 1);
    assert.equal(d.stats.nonFlow, 1);
  }
});

test('graph deltas: split per edge, encoded, parsed and stored give the graph of the flows', async (t) => {
  const dir = tempDir(t);
  const lines = shopLines(2000, 5);
  const flows: Flow[] = [];
  const stats = emptyStats();
  decodeMessage(Buffer.from(lines.join('\n')), 'hubble', 'x/0@0', flows, empty(), stats);

  // Direct: the aggregate of the flows, stored.
  const direct = join(dir, 'direct.db');
  const agg = createAggregator();
  agg.add(flows);
  const whole = agg.take();
  const s1 = openStore(direct);
  s1.applyDelta(whole);
  s1.close();

  // Shipped: two buckets, split into keyed fragments, each through JSON and decodeMessage, stored as one.
  const a2 = createAggregator();
  const fragments: string[] = [];
  for (const half of [flows.slice(0, 1000), flows.slice(1000)]) {
    a2.add(half);
    for (const f of splitDelta(a2.take())) fragments.push(encodeFragment(f.fragment));
  }
  const keys = new Set(splitDelta(whole).map((f) => f.key));
  assert.equal(keys.size, splitDelta(whole).length, 'one key per edge, pod or lone peer');
  const merged = empty();
  const s = emptyStats();
  for (const [i, value] of fragments.entries())
    assert.equal(decodeMessage(Buffer.from(value), 'delta', `d/0@${i}`, [], merged, s).poison, undefined);
  const shipped = join(dir, 'shipped.db');
  const s2 = openStore(shipped);
  s2.applyDelta({ ...merged, checkpoints: [] });
  s2.close();
  assert.deepEqual(graphSnapshot(shipped), graphSnapshot(direct));
});

test('a graph-delta record with a bad field is rejected naming the field', () => {
  const base = { flowwright: 'graph-delta', version: 1, peers: [], pods: [] };
  const edge = {
    src: 'a',
    dst: 'b',
    protocol: 'TCP',
    port: 80,
    flows: -1,
    verdicts: {},
    firstSeen: 0,
    lastSeen: 0,
  };
  assert.throws(() => parseDeltaRecord({ ...base, edges: [edge] }), /expected a count/);
  try {
    parseDeltaRecord({ ...base, edges: [edge] });
  } catch (err) {
    assert.equal((err as { location?: { field?: string } }).location?.field, 'edges[0].flows');
  }
  assert.throws(() => parseDeltaRecord({ ...base, version: 2 }), /unsupported graph-delta version/);
  const d = decode(JSON.stringify({ ...base, edges: [edge] }), 'delta');
  assert.match(d.result.poison!, /edges\[0\]\.flows/);
});
