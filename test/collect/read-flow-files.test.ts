import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { FINGERPRINT_BYTES, parseFilePosition, readFlowFiles } from '../../src/collect/index.js';
import {
  type Checkpoint,
  type CollectStats,
  describeError,
  emptyStats,
  type FlowBatch,
  FlowwrightError,
} from '../../src/model/index.js';

const fixtures = fileURLToPath(new URL('fixtures/', import.meta.url));
const fixture = (name: string) => join(fixtures, name);
const dir = mkdtempSync(join(tmpdir(), 'fw-read-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function collect(paths: string[], opts: Partial<Parameters<typeof readFlowFiles>[1]> = {}) {
  const stats = opts.stats ?? emptyStats();
  const batches: FlowBatch[] = [];
  for await (const batch of readFlowFiles(paths, { ...opts, stats })) batches.push(batch);
  return { stats, batches, flows: batches.flatMap((b) => b.flows) };
}

/** One Hubble JSON line for a connection from web to api on port 10000+i. */
function flowLine(i: number): string {
  const time = new Date(Date.UTC(2024, 5, 3, 10) + i * 1000).toISOString();
  return JSON.stringify({
    flow: {
      time,
      verdict: 'FORWARDED',
      IP: { source: '10.244.1.10', destination: '10.244.2.20' },
      l4: { TCP: { source_port: 40000, destination_port: 10000 + i, flags: { SYN: true } } },
      source: { namespace: 'shop', labels: ['k8s:app=web'], pod_name: 'web-1' },
      destination: { namespace: 'shop', labels: ['k8s:app=api'], pod_name: 'api-1' },
      traffic_direction: 'EGRESS',
      is_reply: false,
      Summary: 'TCP Flags: SYN',
    },
    node_name: 'kind-worker',
    time,
  });
}

/** `count` flow lines starting at index `from`, with a node_status line every 50 lines. */
function flowText(from: number, count: number): string {
  let s = '';
  for (let i = from; i < from + count; i++) {
    if (i % 50 === 0)
      s += '{"node_status":{"state_change":"NODE_CONNECTED"},"node_name":"n","time":"2024-06-03T10:00:00Z"}\n';
    s += `${flowLine(i)}\n`;
  }
  return s;
}

const portsOf = (batches: FlowBatch[]) => batches.flatMap((b) => b.flows.map((f) => f.port! - 10000));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test('hubble observe -o json: flows with their origin, non-flow records and lost events counted, one done checkpoint', async () => {
  const path = fixture('wrapped.jsonl');
  const { stats, batches, flows } = await collect([path]);
  assert.deepEqual(
    flows.map((f) => f.origin),
    [2, 3, 6, 7, 8, 9, 10].map((line) => ({ source: path, line })),
  );
  assert.deepEqual(
    flows.map((f) => f.reply),
    [false, true, false, true, null, false, null],
    'reply flows are passed on, the aggregator skips them',
  );
  assert.deepEqual(stats, { ...emptyStats(), records: 9, flows: 7, nonFlow: 2, lostEvents: 17 });
  const bytes = readFileSync(path);
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0].checkpoint, {
    source: `file:${createHash('sha256').update(bytes).digest('hex')}`,
    position: JSON.stringify({ lines: 10, size: bytes.length }),
    done: true,
    label: path,
  });
});

test('each file is detected on its own: jsonpb, exporter lines without wrapper, L7, in one directory', async () => {
  const d = join(dir, 'mixed');
  mkdirSync(d);
  for (const name of ['jsonpb.jsonl', 'bare.jsonl', 'l7.jsonl']) copyFileSync(fixture(name), join(d, name));
  const { stats, batches } = await collect([d]);
  assert.deepEqual(
    batches.map((b) => [b.checkpoint?.label, b.flows.length]),
    [
      [join(d, 'bare.jsonl'), 4],
      [join(d, 'jsonpb.jsonl'), 2],
      [join(d, 'l7.jsonl'), 4],
    ],
  );
  assert.equal(stats.nonFlow, 2);
  assert.equal(stats.lostEvents, 3);
  assert.equal(stats.malformed, 0);
});

test('malformed lines are counted with file, line and field, and reading goes on', async () => {
  const path = fixture('malformed.jsonl');
  const { stats, flows } = await collect([path]);
  assert.deepEqual(
    flows.map((f) => [f.origin.line, f.source.port]),
    [
      [1, 1111],
      [7, 1112],
    ],
  );
  assert.equal(stats.records, 7);
  assert.equal(stats.flows, 2);
  assert.equal(stats.malformed, 5);
  assert.deepEqual(
    stats.issues.map((i) => [i.file, i.line, i.field]),
    [
      [path, 2, undefined],
      [path, 3, 'time'],
      [path, 4, undefined],
      [path, 5, undefined],
      [path, 6, 'l4'],
    ],
  );
  assert.match(stats.issues[0].message, /^not valid JSON/);
  assert.match(stats.issues[1].message, /RFC 3339/);
  assert.match(stats.issues[3].message, /not a Hubble flow/);
});

test('--strict makes the first malformed line fatal, with file and line', async () => {
  const path = fixture('malformed.jsonl');
  const stats = emptyStats();
  await assert.rejects(collect([path], { strict: true, stats }), (err: unknown) => {
    assert.ok(err instanceof FlowwrightError);
    assert.equal(err.code, 'input');
    assert.deepEqual(err.location, { file: path, line: 2 });
    assert.match(describeError(err), new RegExp(`^${path.replace(/[.]/g, '\\.')}:2: not valid JSON`));
    return true;
  });
  assert.equal(stats.flows, 1, 'the flow before it was read');
});

test('a file in no known format is reported at its first non-blank line and skipped; others go on', async () => {
  const text = join(dir, 'notes.txt');
  writeFileSync(text, '\n\nThese are my notes.\n{"flow":{}}\n');
  const otherJson = join(dir, 'other.json');
  writeFileSync(
    otherJson,
    '{"start_time":1717408800,"source_namespace":"shop","dest_namespace":"db","action":"allow"}\n',
  );
  const { stats, batches } = await collect([text, otherJson, fixture('l7.jsonl')]);
  assert.deepEqual(
    stats.issues.map((i) => [i.file, i.line]),
    [
      [text, 3],
      [otherJson, 1],
    ],
  );
  assert.match(stats.issues[0].message, /^unrecognized format/);
  assert.equal(batches.length, 1, 'no checkpoint for the unreadable files: a later run reports them again');
  assert.equal(stats.flows, 4);
  await assert.rejects(collect([text], { strict: true }), (err: unknown) => {
    assert.ok(err instanceof FlowwrightError);
    assert.deepEqual(err.location, { file: text, line: 3 });
    return true;
  });
});

test('a gzipped file named .json gives the same flows as the plain file', async () => {
  const gz = join(dir, 'wrapped-compressed.json');
  writeFileSync(gz, gzipSync(readFileSync(fixture('wrapped.jsonl'))));
  const plain = await collect([fixture('wrapped.jsonl')]);
  const compressed = await collect([gz]);
  assert.deepEqual(
    compressed.flows.map((f) => ({ ...f, origin: undefined })),
    plain.flows.map((f) => ({ ...f, origin: undefined })),
  );
  assert.equal(compressed.flows[0].origin.source, gz);
  assert.deepEqual(parseFilePosition(compressed.batches[0].checkpoint!.position), {
    lines: 10,
    size: readFileSync(gz).length,
  });
});

test('batches hold at most batchSize flows; each checkpoint covers the lines up to its last flow', async () => {
  const path = join(dir, 'batches.json');
  writeFileSync(path, flowText(0, 250));
  const { batches } = await collect([path], { batchSize: 100 });
  assert.deepEqual(
    batches.map((b) => b.flows.length),
    [100, 100, 50],
  );
  const positions = batches.map((b) => parseFilePosition(b.checkpoint!.position)!.lines);
  assert.deepEqual(positions, [
    batches[0].flows.at(-1)!.origin.line,
    batches[1].flows.at(-1)!.origin.line,
    255, // 250 flows and 5 node_status lines
  ]);
  assert.deepEqual(
    batches.map((b) => b.checkpoint!.done),
    [false, false, true],
  );
  assert.deepEqual(portsOf(batches), range(0, 250));
});

test('checkpoints: resume after N lines, skip a file read to its end, continue a file that grew', async () => {
  const path = join(dir, 'growing.json');
  writeFileSync(path, flowText(0, 300));
  assert.ok(readFileSync(path).length > FINGERPRINT_BYTES, 'the file is longer than the fingerprint');

  // A store of checkpoints, as the ingest loop keeps them.
  const saved = new Map<string, Checkpoint>();
  const resume = (source: string) => saved.get(source);
  const run = async () => {
    const r = await collect([path], { resume, batchSize: 64 });
    for (const b of r.batches) if (b.checkpoint) saved.set(b.checkpoint.source, b.checkpoint);
    return r;
  };

  // An earlier run stopped after line 120: flows 0-116 and node_status lines 1, 52 and 103.
  const first = await collect([path], { batchSize: 64 });
  const source = first.batches[0].checkpoint!.source;
  saved.set(source, { source, position: JSON.stringify({ lines: 120, size: 1 }), done: false });
  const resumed = await run();
  assert.deepEqual(portsOf(resumed.batches), range(117, 300));
  assert.equal(resumed.stats.records, 306 - 120, 'lines before the checkpoint are not counted again');

  // Read to its end: the next run skips it.
  const again = await run();
  assert.deepEqual(again.batches, []);
  assert.equal(again.stats.filesSkipped, 1);
  assert.equal(again.stats.records, 0);

  // Appended to: the next run reads only the new lines, under the same checkpoint source.
  appendFileSync(path, flowText(300, 40));
  const grown = await run();
  assert.deepEqual(portsOf(grown.batches), range(300, 340));
  assert.equal(grown.batches.at(-1)!.checkpoint!.source, source);
  assert.deepEqual(parseFilePosition(grown.batches.at(-1)!.checkpoint!.position), {
    lines: 300 + 6 + 40 + 1,
    size: readFileSync(path).length,
  });
  assert.equal((await run()).stats.filesSkipped, 1);
});

test('a last line still being written is left for the next run, not counted as malformed or lost', async () => {
  const path = join(dir, 'being-written.json');
  const full = flowText(0, 300);
  // The writer is in the middle of line 306 (flow 299): its first half is on disk, no newline yet.
  const cut = full.length - 200;
  writeFileSync(path, full.slice(0, cut));
  const saved = new Map<string, Checkpoint>();
  const run = async () => {
    const r = await collect([path], { resume: (source) => saved.get(source), batchSize: 64 });
    for (const b of r.batches) if (b.checkpoint) saved.set(b.checkpoint.source, b.checkpoint);
    return r;
  };
  const first = await run();
  assert.deepEqual(portsOf(first.batches), range(0, 299));
  assert.equal(first.stats.malformed, 0);
  assert.equal(first.stats.incompleteLastLines, 1);
  assert.equal(first.batches.at(-1)!.checkpoint!.done, false, 'the file is not done while its last line is not');

  // The writer finishes the line and appends more: every flow is counted exactly once.
  appendFileSync(path, full.slice(cut) + flowText(300, 10));
  const second = await run();
  assert.deepEqual(portsOf(second.batches), range(299, 310));
  assert.equal(second.stats.malformed, 0);
  assert.equal(second.stats.incompleteLastLines, undefined);
});

test('a checkpoint with an unreadable position is ignored and the file read from the start', async () => {
  const path = fixture('l7.jsonl');
  const { flows } = await collect([path], {
    resume: (source) => ({ source, position: 'garbage', done: true }),
  });
  assert.equal(flows.length, 4);
});

test('a file with only non-flow records still yields its done checkpoint', async () => {
  const path = join(dir, 'status-only.json');
  writeFileSync(path, '{"node_status":{"state_change":"NODE_CONNECTED"},"node_name":"n"}\n\n');
  const { batches, stats } = await collect([path]);
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0].flows, []);
  assert.equal(batches[0].checkpoint?.done, true);
  assert.deepEqual(parseFilePosition(batches[0].checkpoint!.position), { lines: 2, size: 67 });
  assert.equal(stats.nonFlow, 1);
});

test('a truncated gzip file keeps the flows read so far, not done, with the issue counted', async () => {
  const whole = gzipSync(flowText(0, 3000));
  const path = join(dir, 'truncated.json.gz');
  writeFileSync(path, whole.subarray(0, Math.floor(whole.length / 2)));
  const stats: CollectStats = emptyStats();
  const { batches } = await collect([path, fixture('l7.jsonl')], { stats });
  const cut = batches.filter((b) => b.checkpoint?.label === path);
  const kept = portsOf(cut);
  assert.ok(kept.length > 100 && kept.length < 3000, `read part of the file (${kept.length} flows)`);
  assert.deepEqual(kept, range(0, kept.length));
  assert.equal(cut.at(-1)!.checkpoint!.done, false);
  assert.equal(stats.malformed, 1);
  assert.equal(stats.issues[0].file, path);
  assert.equal(stats.issues[0].line, parseFilePosition(cut.at(-1)!.checkpoint!.position)!.lines + 1);
  assert.match(stats.issues[0].message, /gzip/);
  assert.equal(batches.at(-1)!.checkpoint!.label, fixture('l7.jsonl'), 'the next file is read');
});

test('stdin (-) from a stream: flows without checkpoint, origin "-"', async () => {
  const stdin = Readable.from([gzipSync(readFileSync(fixture('wrapped.jsonl')))]);
  const { batches, flows, stats } = await collect(['-'], { stdin });
  assert.equal(flows.length, 7);
  assert.ok(flows.every((f) => f.origin.source === '-'));
  assert.ok(batches.every((b) => b.checkpoint === undefined));
  assert.equal(stats.lostEvents, 17);
});

test('stdin (-) of a real process, piped in', () => {
  const script = `
    import { readFlowFiles } from './src/collect/index.ts';
    import { emptyStats } from './src/model/index.ts';
    const stats = emptyStats();
    const lines = [];
    for await (const b of readFlowFiles(['-'], { stats })) for (const f of b.flows) lines.push(f.origin.line);
    console.log(JSON.stringify({ lines, stats }));
  `;
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    input: readFileSync(fixture('wrapped.jsonl')),
    encoding: 'utf8',
  });
  assert.equal(child.status, 0, child.stderr);
  const out = JSON.parse(child.stdout);
  assert.deepEqual(out.lines, [2, 3, 6, 7, 8, 9, 10]);
  assert.equal(out.stats.records, 9);
  assert.equal(out.stats.nonFlow, 2);
});
