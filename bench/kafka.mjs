// One measurement of the Kafka benchmark, in its own process so that peak RSS belongs to it alone.
// Usage: node bench/kafka.mjs <module root: dist/src | src> <step> <brokers> <file.jsonl.gz> <topic> [group|flows per bucket]
//   produce   publish every line of the file as one message (gzip record batches), round-robin
//   produce-batched   the same lines as newline-delimited messages of 100 records each
//   file      `flowwright ingest` of the file into a fresh SQLite file (the baseline)
//   consume   `flowwright collect --kafka-brokers ... --topic <topic> --no-follow` into a fresh SQLite file
//   ship      `collect --from files --to-kafka`: the file as edge deltas on <topic>, one bucket per N flows
//   deltas    consume the delta topic into a fresh SQLite file
// Prints one JSON line: { elapsedMs, maxRssKb, ... }.
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { createGunzip } from 'node:zlib';
import kafkajs from 'kafkajs';

const [moduleRoot, step, brokers, file, topic, group = 'bench'] = process.argv.slice(2);
if (!moduleRoot || !step || !brokers || !file || !topic) {
  console.error('usage: node bench/kafka.mjs <module root> <step> <brokers> <file.jsonl.gz> <topic> [group]');
  process.exit(2);
}
const ext = moduleRoot.startsWith('dist') ? 'js' : 'ts';
const load = (path) => import(pathToFileURL(resolve(moduleRoot, `${path}.${ext}`)).href);
const dir = mkdtempSync(join(tmpdir(), 'fw-bench-kafka-'));
const connection = { brokers: brokers.split(',') };
const out = (result) => console.log(JSON.stringify({ ...result, maxRssKb: process.resourceUsage().maxRSS }));

try {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  if (step === 'produce' || step === 'produce-batched') {
    const perMessage = step === 'produce' ? 1 : 100;
    const { Kafka, CompressionTypes, logLevel } = kafkajs;
    const producer = new Kafka({ ...connection, clientId: 'bench', logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    let batch = [];
    let records = [];
    let messages = 0;
    let bytes = 0;
    const send = async () => {
      await producer.send({ topic, compression: CompressionTypes.GZIP, messages: batch });
      batch = [];
    };
    const pack = () => {
      batch.push({ value: records.join('\n') });
      records = [];
      messages++;
    };
    const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.length === 0) continue;
      records.push(line);
      bytes += Buffer.byteLength(line);
      if (records.length >= perMessage) pack();
      if (batch.length >= Math.max(20, 2000 / perMessage)) await send();
    }
    if (records.length > 0) pack();
    if (batch.length > 0) await send();
    await producer.disconnect();
    out({ elapsedMs: elapsed(), messages, bytes });
  } else if (step === 'file') {
    const { runIngest } = await load('cli/ingest');
    const s = await runIngest({ inputs: [file], db: join(dir, 'file.db'), progress: false });
    out({ elapsedMs: elapsed(), flows: s.flows, edges: s.edges, dependencies: s.dependencies });
  } else if (step === 'consume' || step === 'deltas') {
    const { runKafkaCollect } = await load('cli/kafka');
    const s = await runKafkaCollect({
      connection,
      groupId: group,
      topics: [{ topic, format: step === 'deltas' ? 'delta' : 'auto' }],
      db: join(dir, 'kafka.db'),
      follow: false,
      progress: false,
    });
    out({
      elapsedMs: elapsed(),
      flows: step === 'deltas' ? s.kafka.deltaFlows : s.flows,
      dependencies: step === 'deltas' ? s.kafka.deltaFlows : s.dependencies,
      edges: s.edges,
      messages: s.kafka.messages,
      transactions: s.kafka.batches,
      poison: s.kafka.poison,
    });
  } else if (step === 'ship') {
    const { runShipToKafka } = await load('cli/kafka');
    const s = await runShipToKafka({
      from: 'files',
      inputs: [file],
      connection,
      topic,
      db: join(dir, 'shipper.db'),
      flushEvery: Number(group),
      bucketMs: 3_600_000, // buckets by flow count here, so that the result does not depend on the machine's speed
      progress: false,
    });
    out({
      elapsedMs: elapsed(),
      flows: s.stats.flows,
      dependencies: s.dependencies,
      messages: s.messages,
      bytes: s.bytes,
      buckets: s.buckets,
    });
  } else {
    console.error(`unknown step ${step}`);
    process.exitCode = 2;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
