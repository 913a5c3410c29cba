// Calico flow logs read from files through the shared file collector: flows.log lines, Elasticsearch
// exports (hits, _bulk bodies, a one-line array), gzip, a directory holding Hubble and Calico files side by
// side, and malformed lines reported with file and line while the rest is read.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readFlowFiles } from '../../src/collect/index.js';
import { type CollectStats, emptyStats, type Flow } from '../../src/model/index.js';
import { calicoDoc } from './calico-fixtures.js';

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowwright-calico-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

const lines = (...records: unknown[]) =>
  `${records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`;

async function read(
  paths: string[],
  stats: CollectStats = emptyStats(),
): Promise<{ flows: Flow[]; stats: CollectStats }> {
  const flows: Flow[] = [];
  for await (const batch of readFlowFiles(paths, { stats })) flows.push(...batch.flows);
  return { flows, stats };
}

describe('Calico flow log files', () => {
  it('names Calico L7 logs given instead of flow logs, line by line, also inside search hits', async () => {
    const fixture = new URL('../fixtures/calico/l7-log.jsonl', import.meta.url).pathname;
    const { flows, stats } = await read([fixture]);
    assert.equal(flows.length, 0);
    assert.equal(stats.records, 2);
    assert.deepEqual(stats.malformedKinds, { 'Calico L7 log, not a flow log': 2 });
    assert.deepEqual(
      stats.issues.map((i) => [i.line, i.message.slice(0, 'a Calico L7 log'.length)]),
      [
        [1, 'a Calico L7 log'],
        [2, 'a Calico L7 log'],
      ],
    );
    const hit = JSON.parse(readFileSync(fixture, 'utf8').split('\n')[0]!);
    writeFileSync(join(dir, 'l7-hits.json'), lines({ hits: { hits: [{ _source: hit }] } }, { _source: hit }));
    const wrapped = await read([join(dir, 'l7-hits.json')]);
    assert.deepEqual(wrapped.stats.malformedKinds, { 'Calico L7 log, not a flow log': 2 });
  });

  it('reads flows.log lines, gzip or not, with their line numbers', async () => {
    const text = lines(calicoDoc({ num_flows: 1 }), '', calicoDoc({ num_flows: 2, reporter: 'dst' }));
    writeFileSync(join(dir, 'flows.log'), text);
    writeFileSync(join(dir, 'flows.log.gz'), gzipSync(text));
    for (const name of ['flows.log', 'flows.log.gz']) {
      const { flows, stats } = await read([join(dir, name)]);
      assert.deepEqual(
        flows.map((f) => [f.count, f.reporter, f.origin.line]),
        [
          [1, 'src', 1],
          [2, 'dst', 3],
        ],
      );
      assert.equal(stats.records, 2);
      assert.equal(stats.malformed, 0);
    }
  });

  it('reads Elasticsearch hits, _bulk bodies and a one-line array', async () => {
    const hit = (extra: Record<string, unknown>) => ({
      _index: 'tigera_secure_ee_flows.cluster.20240603',
      _id: 'x',
      _source: calicoDoc(extra),
    });
    writeFileSync(join(dir, 'export.ndjson'), lines(hit({ num_flows: 1 }), hit({ num_flows: 2 })));
    writeFileSync(
      join(dir, 'bulk.ndjson'),
      lines(
        { index: { _index: 'tigera_secure_ee_flows' } },
        calicoDoc({ num_flows: 3 }),
        { create: { _index: 'tigera_secure_ee_flows', _id: 'b' } },
        calicoDoc({ num_flows: 4 }),
        { delete: { _index: 'tigera_secure_ee_flows', _id: 'c' } },
      ),
    );
    writeFileSync(join(dir, 'array.json'), JSON.stringify([hit({ num_flows: 5 }), calicoDoc({ num_flows: 6 })]));
    writeFileSync(join(dir, 'search.json'), JSON.stringify({ took: 2, hits: { hits: [hit({ num_flows: 7 })] } }));

    assert.deepEqual(
      (await read([join(dir, 'export.ndjson')])).flows.map((f) => f.count),
      [1, 2],
    );
    const bulk = await read([join(dir, 'bulk.ndjson')]);
    assert.deepEqual(
      bulk.flows.map((f) => [f.count, f.origin.line]),
      [
        [3, 2],
        [4, 4],
      ],
    );
    assert.equal(bulk.stats.nonFlow, 3, 'action lines are not flows');
    assert.deepEqual(
      (await read([join(dir, 'array.json')])).flows.map((f) => f.count),
      [5, 6],
    );
    assert.deepEqual(
      (await read([join(dir, 'search.json')])).flows.map((f) => f.count),
      [7],
    );
  });

  it('reports malformed lines with file, line and field, and reads the rest', async () => {
    const path = join(dir, 'bad.log');
    writeFileSync(
      path,
      lines(
        calicoDoc({ num_flows: 1 }),
        '{"start_time": 1717372800, "source_type": ',
        calicoDoc({ source_type: 'vm' }),
        { hello: 1 },
        calicoDoc({ num_flows: 2 }),
      ),
    );
    const { flows, stats } = await read([path]);
    assert.deepEqual(
      flows.map((f) => f.count),
      [1, 2],
    );
    assert.equal(stats.malformed, 3);
    assert.deepEqual(
      stats.issues.map((i) => [i.file, i.line, i.field]),
      [
        [path, 2, undefined],
        [path, 3, 'source_type'],
        [path, 4, undefined],
      ],
    );
    assert.match(stats.issues[0]!.message, /not valid JSON/);
  });

  it('takes Hubble and Calico files side by side in one directory', async () => {
    const both = join(dir, 'both');
    rmSync(both, { recursive: true, force: true });
    mkdirSync(both);
    writeFileSync(join(both, 'a-calico.log'), lines(calicoDoc({ num_flows: 9 })));
    writeFileSync(
      join(both, 'b-hubble.json'),
      lines({
        flow: {
          time: '2024-06-03T00:00:01Z',
          verdict: 'FORWARDED',
          IP: { source: '10.244.1.5', destination: '10.244.2.6' },
          l4: { TCP: { source_port: 40000, destination_port: 7070 } },
          source: { namespace: 'shop', pod_name: 'frontend-6d9f8c7b5-x2x7k', labels: ['k8s:app=frontend'] },
          destination: { namespace: 'shop', pod_name: 'cartservice-7b8f9c6d4-abcde', labels: ['k8s:app=cartservice'] },
          is_reply: false,
        },
      }),
    );
    const { flows, stats } = await read([both]);
    assert.equal(stats.malformed, 0);
    assert.deepEqual(
      flows.map((f) => [f.count, f.reporter ?? 'none', f.destination.port]),
      [
        [9, 'src', 7070],
        [1, 'none', 7070],
      ],
    );
  });
});
