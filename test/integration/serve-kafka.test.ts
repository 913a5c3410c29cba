// `serve` with a Kafka source against a real single-node broker (test/kafka/broker.mjs): flows produced
// to a topic in every encoding end up in the graph served over HTTP, exactly as `ingest` learns them from
// a file, and the Kafka counters show in /metrics. Skipped with one line when no broker can run here.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadServeConfig } from '../../src/serve/index.js';
import {
  type BrokerHandle,
  createTopic,
  graphSnapshot,
  kafkaSkipReason,
  mixedMessages,
  produce,
  referenceSnapshot,
  shopLines,
  tempDir,
} from '../kafka/helpers.js';
import { getJson, sharedConfig, startServing, waitFor } from '../serve/helpers.js';
import { parsePrometheus, sampleValue } from '../serve/prometheus.js';

const skip = kafkaSkipReason();

describe('serve with a Kafka source', { skip }, () => {
  let broker: BrokerHandle;
  const tmp = tempDir();
  before(async () => {
    const { useBroker } = await import('../kafka/helpers.js');
    broker = await useBroker();
  });
  after(async () => {
    await broker?.stop();
    tmp.remove();
  });

  it('consumes a topic into the served graph', async () => {
    const lines = shopLines(1500, 21);
    const topic = await createTopic(broker.brokers, 'serve-flows', 3);
    await produce(broker.brokers, topic, mixedMessages(lines, 3));
    const reference = await referenceSnapshot(lines, tmp.dir);
    const db = join(tmp.dir, 'serve-kafka.db');
    const config = loadServeConfig({
      text: [
        'listen: 127.0.0.1:0',
        'sources:',
        '  - type: kafka',
        '    name: flows',
        `    brokers: ${broker.brokers}`,
        `    topics: [${topic}]`,
        `    groupId: serve-test-${process.pid}`,
        '    reconnect: { initial: 100ms, max: 1s }',
      ].join('\n'),
      file: 'test.yaml',
      shared: sharedConfig(db),
    });
    const serving = startServing(config);
    try {
      const url = (await serving.listening()).url;
      await waitFor('ready', async () => (await getJson(`${url}/readyz`)).status === 200, 60_000);
      await waitFor(
        'every flow',
        async () => {
          const m = parsePrometheus(await (await fetch(`${url}/metrics`)).text());
          return sampleValue(m, 'flowwright_flows_ingested_total', { source: 'flows' }) === reference.summary.flows
            ? m
            : undefined;
        },
        60_000,
      );
      const m = parsePrometheus(await (await fetch(`${url}/metrics`)).text());
      assert.ok(sampleValue(m, 'flowwright_kafka_batches_total', { source: 'flows' })! > 0);
      assert.equal(sampleValue(m, 'flowwright_kafka_poison_messages_total', { source: 'flows' }), 0);
      assert.equal(sampleValue(m, 'flowwright_source_connected', { source: 'flows' }), 1);
      // Everything read: each partition that delivered a batch reports a lag of 0.
      const lag = m.get('flowwright_kafka_consumer_lag')?.samples ?? [];
      assert.ok(lag.length > 0, 'the lag of each partition is exposed');
      assert.ok(
        lag.every((x) => x.labels.source === 'flows' && x.labels.topic && x.value === 0),
        JSON.stringify(lag),
      );
      const graph = await getJson(`${url}/api/v1/graph`);
      assert.equal(graph.body.edges.length, reference.edges.length);
    } finally {
      await serving.stop();
    }
    assert.deepEqual(graphSnapshot(db).edges, reference.edges);
    assert.deepEqual(graphSnapshot(db).counts, reference.counts);
  });
});
