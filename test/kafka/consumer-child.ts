// A consumer in its own process, so that tests can kill it hard (SIGKILL) at a chosen point:
//   node --import tsx test/kafka/consumer-child.ts '<json options>'
// Options: brokers, topics, db, group, follow, sessionTimeoutMs, maxBytesPerPartition, and
//   hangBeforeWrite: n   stop inside the n-th batch, after decoding and before the store transaction
//   hangAfterWrite: n    stop inside the n-th batch, after the store transaction and before the Kafka commit
// It prints `LOG <line>` per consumer event, `HANG` when it reached the chosen point (and then waits to be
// killed), and `DONE <summary JSON>` when it stops by itself (or on SIGTERM).
import { runKafkaCollect } from '../../src/cli/kafka.js';

const o = JSON.parse(process.argv[2] ?? '{}');
const out = (line: string) => process.stdout.write(`${line}\n`);
const stop = new AbortController();
process.on('SIGTERM', () => stop.abort());

let batches = 0;
const hang = async (at: number | undefined) => {
  if (at === undefined || ++batches !== at) return;
  out('HANG');
  await new Promise(() => {}); // until killed
};

const summary = await runKafkaCollect({
  connection: { brokers: String(o.brokers).split(',') },
  groupId: o.group,
  topics: o.topics,
  db: o.db,
  follow: o.follow ?? true,
  sessionTimeoutMs: o.sessionTimeoutMs,
  maxBytesPerPartition: o.maxBytesPerPartition,
  progress: false,
  signal: stop.signal,
  log: (line) => out(`LOG ${line}`),
  beforeWrite: o.hangBeforeWrite !== undefined ? () => hang(o.hangBeforeWrite) : undefined,
  afterWrite: o.hangAfterWrite !== undefined ? () => hang(o.hangAfterWrite) : undefined,
});
out(`DONE ${JSON.stringify({ flows: summary.flows, kafka: summary.kafka })}`);
