// Connection settings shared by the consumer and the shipping producer, passed through to kafkajs:
// brokers, client id, TLS (with CA, client certificate and key files) and SASL (PLAIN, SCRAM).
import { readFileSync } from 'node:fs';
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs';
import { FlowwrightError, usageError } from '../../model/index.js';

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';
export const SASL_MECHANISMS: readonly SaslMechanism[] = ['plain', 'scram-sha-256', 'scram-sha-512'];

export interface KafkaConnection {
  /** `host:port` of one or more bootstrap brokers. */
  brokers: string[];
  clientId?: string;
  /** TLS to the brokers; files are PEM. */
  ssl?: { ca?: string; cert?: string; key?: string; insecureSkipVerify?: boolean };
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
  /** How long to wait for a broker connection (ms, default 10 s). */
  connectionTimeoutMs?: number;
  /** Connection retries before giving up (kafkajs retries with backoff; default 5). */
  retries?: number;
  /** kafkajs' own log lines (warnings and errors), for troubleshooting; off by default. */
  debugLog?: (line: string) => void;
}

/** Checks `host:port[,host:port]` and returns the list. */
export function parseBrokers(raw: string, where = '--kafka-brokers'): string[] {
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw usageError(`${where}: expected host:port[,host:port...]`);
  for (const b of list) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(b);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      throw usageError(`${where}: '${b}' is not host:port (e.g. kafka-0.kafka:9092)`);
  }
  return list;
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new FlowwrightError('usage', `cannot read ${what}: ${(err as Error).message}`, { file: path });
  }
}

export function createKafka(conn: KafkaConnection): Kafka {
  const config: KafkaConfig = {
    brokers: conn.brokers,
    clientId: conn.clientId ?? 'flowwright',
    connectionTimeout: conn.connectionTimeoutMs ?? 10_000,
    retry: { retries: conn.retries ?? 5, initialRetryTime: 300 },
    logLevel: conn.debugLog ? logLevel.WARN : logLevel.NOTHING,
    logCreator: () => (entry) => {
      const { namespace, log } = entry;
      conn.debugLog?.(`kafkajs ${namespace}: ${log.message}${log.error ? ` (${log.error})` : ''}`);
    },
  };
  if (conn.ssl) {
    config.ssl = {
      rejectUnauthorized: !conn.ssl.insecureSkipVerify,
      ...(conn.ssl.ca ? { ca: [readPem(conn.ssl.ca, 'the Kafka CA certificate')] } : {}),
      ...(conn.ssl.cert ? { cert: readPem(conn.ssl.cert, 'the Kafka client certificate') } : {}),
      ...(conn.ssl.key ? { key: readPem(conn.ssl.key, 'the Kafka client key') } : {}),
    };
  }
  if (conn.sasl) config.sasl = { ...conn.sasl } as SASLOptions;
  return new Kafka(config);
}

/** A kafkajs failure as one of our errors: connection problems are `unreachable` (exit 4). */
export function kafkaError(err: unknown, what: string): FlowwrightError {
  if (err instanceof FlowwrightError) return err;
  const e = err as Error & { name?: string };
  const message = `${what}: ${e?.message ?? String(err)}`;
  return new FlowwrightError('unreachable', message, undefined, { cause: err });
}
