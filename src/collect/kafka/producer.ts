// The shipping side: publishes one aggregator flush as graph-delta messages, one per edge (keyed by the
// edge, so one edge's deltas always land on the same partition and are counted by one analyzer), plus
// pods and peers seen without an edge. Sends are acknowledged by all in-sync replicas and idempotent, so a
// retried send is not stored twice by Kafka.
import { CompressionTypes, type Producer } from 'kafkajs';
import type { GraphDelta } from '../../model/index.js';
import { createKafka, type KafkaConnection, kafkaError } from './client.js';
import { encodeFragment, splitDelta } from './delta.js';

export interface DeltaPublisher {
  /** Sends the delta's fragments; resolves once Kafka has acknowledged all of them. */
  publish(delta: GraphDelta): Promise<PublishResult>;
  close(): Promise<void>;
}

export interface PublishResult {
  messages: number;
  /** Message value bytes before Kafka's batch compression. */
  bytes: number;
}

export interface PublisherOptions {
  connection: KafkaConnection;
  topic: string;
  /** gzip (default) or none: compression of the record batches Kafka stores. */
  compression?: 'gzip' | 'none';
}

export async function createDeltaPublisher(opts: PublisherOptions): Promise<DeltaPublisher> {
  const kafka = createKafka(opts.connection);
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  const where = `Kafka at ${opts.connection.brokers.join(',')}`;
  try {
    await producer.connect();
  } catch (err) {
    await producer.disconnect().catch(() => {});
    throw kafkaError(err, `cannot connect to ${where}`);
  }
  const compression = opts.compression === 'none' ? CompressionTypes.None : CompressionTypes.GZIP;
  return {
    async publish(delta) {
      const messages = splitDelta(delta).map((f) => ({ key: f.key, value: encodeFragment(f.fragment) }));
      if (messages.length === 0) return { messages: 0, bytes: 0 };
      let bytes = 0;
      for (const m of messages) bytes += Buffer.byteLength(m.value);
      try {
        // Large flushes go in slices so that no request outgrows the broker's message.max.bytes.
        for (let i = 0; i < messages.length; i += 2000)
          await producer.send({ topic: opts.topic, acks: -1, compression, messages: messages.slice(i, i + 2000) });
      } catch (err) {
        throw kafkaError(err, `cannot publish to topic ${opts.topic} on ${where}`);
      }
      return { messages: messages.length, bytes };
    },
    async close() {
      await producer.disconnect().catch(() => {});
    },
  };
}
