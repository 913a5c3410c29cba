// Kafka: consume flow topics into the store exactly once in effect (consumer.ts), and ship pre-aggregated
// graph deltas to a topic (producer.ts). The only folder that imports kafkajs.
export {
  type KafkaConnection,
  parseBrokers,
  SASL_MECHANISMS,
  type SaslMechanism,
} from './client.js';
export {
  consumeKafka,
  emptyKafkaCounters,
  type KafkaBatch,
  type KafkaConsumeOptions,
  type KafkaCounters,
  type KafkaSink,
  type KafkaTopic,
  kafkaCheckpointSource,
} from './consumer.js';
export { type DecodedMessage, decodeMessage, messagePosition, TOPIC_FORMATS, type TopicFormat } from './decode.js';
export {
  DELTA_KIND,
  DELTA_VERSION,
  type DeltaFragment,
  encodeFragment,
  isDeltaRecord,
  type KeyedFragment,
  mergeFragment,
  parseDeltaRecord,
  splitDelta,
} from './delta.js';
export { createDeltaPublisher, type DeltaPublisher, type PublisherOptions, type PublishResult } from './producer.js';
