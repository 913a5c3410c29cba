// `npm run bench -- --kafka`: Kafka consumer throughput into the store beside file ingest of the same flows,
// measured in the same run, and the size of shipping edge deltas instead of raw flows. Uses the broker in
// FLOWWRIGHT_KAFKA_BROKERS or starts one (test/kafka/broker.mjs). Each step runs in its own process
// (bench/kafka.mjs) so that peak RSS belongs to it alone. The result is recorded in BENCHMARKS.md between
// the bench:kafka markers (a rerun with the same flow count replaces its row).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import kafkajs from 'kafkajs';

const PARTITIONS = 3;
/** Flows per shipped bucket: a 10 s bucket of a cluster reporting 1,000 flows/s. */
const BUCKET_FLOWS = 10_000;

export async function runKafkaBench({ root, source, record, file, flows, runs = 1 }) {
  const { missingTools, startBroker } = await import('../test/kafka/broker.mjs');
  let brokers = process.env.FLOWWRIGHT_KAFKA_BROKERS;
  let broker;
  if (!brokers) {
    const why = missingTools();
    if (why) {
      console.error(`kafka benchmark: ${why}`);
      return 1;
    }
    console.error('starting a Kafka broker...');
    broker = await startBroker();
    brokers = broker.brokers;
  }
  try {
    return await measureAll({ root, source, record, file, flows, runs, brokers });
  } finally {
    if (broker) {
      await broker.stop();
      rmSync(broker.dir, { recursive: true, force: true });
    }
  }
}

async function measureAll({ root, source, record, file, flows, runs, brokers }) {
  const { Kafka, logLevel } = kafkajs;
  const admin = new Kafka({ brokers: brokers.split(','), clientId: 'bench', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const stamp = Date.now();
  const rawTopic = `bench-flows-${stamp}`;
  const batchedTopic = `bench-batched-${stamp}`;
  const deltaTopic = `bench-deltas-${stamp}`;
  await admin.createTopics({
    topics: [rawTopic, batchedTopic, deltaTopic].map((topic) => ({ topic, numPartitions: PARTITIONS })),
    waitForLeaders: true,
  });
  const moduleRoot = source ? 'src' : 'dist/src';
  const step = (name, ...args) => {
    console.error(`kafka benchmark: ${name}...`);
    const r = spawnSync(
      process.execPath,
      [...(source ? ['--import', 'tsx'] : []), 'bench/kafka.mjs', moduleRoot, name, brokers, file, ...args],
      { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    const last = r.stdout.trim().split('\n').pop();
    if (r.status !== 0 || !last?.startsWith('{'))
      throw new Error(`${name} failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(0, 6).join(' | ')}`);
    return JSON.parse(last);
  };
  try {
    const produced = step('produce', rawTopic);
    step('produce-batched', batchedTopic);
    // File ingest and consumer alternate, best of --runs each: a busy machine slows both alike.
    let fileIngest;
    let consumed;
    let batched;
    for (let i = 0; i < runs; i++) {
      const f = step('file', rawTopic);
      const c = step('consume', rawTopic, `bench-${stamp}-${i}`);
      const b = step('consume', batchedTopic, `bench-batched-${stamp}-${i}`);
      if (!fileIngest || f.elapsedMs < fileIngest.elapsedMs) fileIngest = f;
      if (!consumed || c.elapsedMs < consumed.elapsedMs) consumed = c;
      if (!batched || b.elapsedMs < batched.elapsedMs) batched = b;
    }
    if (batched.flows !== fileIngest.flows || batched.edges !== fileIngest.edges)
      throw new Error(`the batched consumer stored ${batched.flows} flows / ${batched.edges} edges`);
    const shipped = step('ship', deltaTopic, String(BUCKET_FLOWS));
    const deltas = step('deltas', deltaTopic, `bench-deltas-${stamp}`);
    if (fileIngest.flows !== flows) throw new Error(`the file holds ${fileIngest.flows} flows, not ${flows}`);
    if (consumed.flows !== fileIngest.flows || consumed.edges !== fileIngest.edges)
      throw new Error(
        `the consumer stored ${consumed.flows} flows / ${consumed.edges} edges, the file ingest ${fileIngest.flows} / ${fileIngest.edges}`,
      );
    if (deltas.dependencies !== fileIngest.dependencies || deltas.edges !== fileIngest.edges)
      throw new Error(
        `the delta consumer stored ${deltas.dependencies} flows / ${deltas.edges} edges, the file ingest ${fileIngest.dependencies} / ${fileIngest.edges}`,
      );

    // Sizes: the JSON values as produced, and gzip of them (what a compressed topic roughly stores).
    const rawGzip = statSync(file).size;
    const deltaGzip = await deltaTopicGzipBytes(brokers, deltaTopic);
    const rate = (r) => Math.round(fileIngest.flows / (r.elapsedMs / 1000));
    const fmt = (n) => Math.round(n).toLocaleString('en-US');
    const mb = (kb) => `${fmt(kb / 1024)} MB`;
    const result = {
      flows: fileIngest.flows,
      fileRate: rate(fileIngest),
      kafkaRate: rate(consumed),
      batchedRate: rate(batched),
      deltaRate: rate(deltas),
      ratio: rate(consumed) / rate(fileIngest),
      fileRss: fileIngest.maxRssKb,
      kafkaRss: consumed.maxRssKb,
      rawBytes: produced.bytes,
      deltaBytes: shipped.bytes,
      rawGzip,
      deltaGzip,
      rawMessages: produced.messages,
      deltaMessages: shipped.messages,
      buckets: shipped.buckets,
      transactions: consumed.transactions,
    };
    const machine = `${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`;
    console.log(`\nkafka benchmark: ${fmt(result.flows)} flows, ${PARTITIONS} partitions, broker ${brokers}`);
    console.log(`machine: ${machine}\n`);
    console.log(
      `file ingest (runIngest → SQLite)            ${fmt(result.fileRate)} flows/s, peak RSS ${mb(result.fileRss)}`,
    );
    console.log(
      `kafka consume (1 flow per message → SQLite) ${fmt(result.kafkaRate)} flows/s, peak RSS ${mb(result.kafkaRss)}, ${fmt(result.transactions)} transactions`,
    );
    console.log(`ratio kafka/file: ${result.ratio.toFixed(2)}`);
    console.log(`kafka consume (100 flows per message)      ${fmt(result.batchedRate)} flows/s`);
    console.log(
      `delta consume (edge deltas → SQLite)        ${fmt(result.deltaRate)} flows/s (flows the deltas stand for)`,
    );
    console.log(
      `shipping: raw ${fmt(result.rawMessages)} messages, ${fmt(result.rawBytes)} B JSON (${fmt(result.rawGzip)} B gzip); ` +
        `deltas ${fmt(result.deltaMessages)} messages in ${result.buckets} buckets of ${fmt(BUCKET_FLOWS)} flows, ` +
        `${fmt(result.deltaBytes)} B JSON (${fmt(result.deltaGzip)} B gzip): ${(result.rawBytes / result.deltaBytes).toFixed(0)}× smaller`,
    );
    if (record) recordRow(root, result, machine, source, runs);
    return 0;
  } finally {
    await admin.deleteTopics({ topics: [rawTopic, batchedTopic, deltaTopic] }).catch(() => {});
    await admin.disconnect();
  }
}

/** Reads the delta topic back and gzips the values together. */
async function deltaTopicGzipBytes(brokers, topic) {
  const { Kafka, logLevel } = kafkajs;
  const kafka = new Kafka({ brokers: brokers.split(','), clientId: 'bench', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = ends.reduce((n, e) => n + Number(e.high), 0);
  const consumer = kafka.consumer({ groupId: `bench-size-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const values = [];
  await new Promise((resolve) => {
    consumer.run({
      eachMessage: async ({ message }) => {
        values.push(message.value.toString(), '\n');
        if (values.length / 2 >= total) resolve();
      },
    });
  });
  await consumer.disconnect();
  return gzipSync(values.join('')).length;
}

function recordRow(root, r, machine, source, runs) {
  const path = join(root, 'BENCHMARKS.md');
  const START = '<!-- bench:kafka:start -->';
  const END = '<!-- bench:kafka:end -->';
  const text = readFileSync(path, 'utf8');
  if (!text.includes(START)) {
    console.error('BENCHMARKS.md has no bench:kafka markers; not recorded');
    return;
  }
  const [head, rest] = text.split(START);
  const [table, tail] = rest.split(END);
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  const lines = table.trim().split('\n');
  const header = lines.slice(0, 2);
  const kept = lines.slice(2).filter((l) => l.split('|')[2]?.trim() !== fmt(r.flows));
  const row =
    `| ${new Date().toISOString().slice(0, 10)} | ${fmt(r.flows)} | ${fmt(r.fileRate)} | ${fmt(r.kafkaRate)} | ` +
    `${r.ratio.toFixed(2)} | ${fmt(r.batchedRate)} | ${fmt(r.deltaRate)} | ${fmt(r.fileRss / 1024)} MB | ${fmt(r.kafkaRss / 1024)} MB | ` +
    `${(r.rawBytes / 1e6).toFixed(1)} MB / ${(r.rawGzip / 1e6).toFixed(1)} MB | ` +
    `${(r.deltaBytes / 1e6).toFixed(2)} MB / ${(r.deltaGzip / 1e6).toFixed(2)} MB | ${(r.rawBytes / r.deltaBytes).toFixed(0)}× | ` +
    `${machine} | \`npm run bench -- --kafka --flows ${r.flows}${runs > 1 ? ` --runs ${runs}` : ''}${source ? ' --source' : ''}\` |`;
  const sorted = [...kept, row].sort(
    (a, b) => Number(a.split('|')[2].replaceAll(',', '')) - Number(b.split('|')[2].replaceAll(',', '')),
  );
  writeFileSync(path, `${head}${START}\n${[...header, ...sorted].join('\n')}\n${END}${tail}`);
  console.log('\nrecorded in BENCHMARKS.md');
}
