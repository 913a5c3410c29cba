// The service's configuration: the `flowwright.yaml` keys that only `serve` reads (listen address, auth,
// flush and retention, sources, proposal kinds, the policies to diff against, request limits), checked
// key by key so that every mistake names the file and the key. The keys the service shares with the other
// commands (db, flushEvery, minFlows, cidrPrefix, ...) are resolved by the CLI's options table and
// handed in as `shared`.
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import {
  type KafkaConnection,
  type KafkaTopic,
  parseBrokers,
  SASL_MECHANISMS,
  type SaslMechanism,
  TOPIC_FORMATS,
  type TopicFormat,
} from '../collect/kafka/index.js';
import { FlowwrightError } from '../model/index.js';
import { type PolicyKind, parseKinds } from '../synthesize/index.js';

export interface SourceTls {
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
  insecureSkipVerify?: boolean;
}

interface SourceCommon {
  /** Shown in logs, metrics (`source` label) and health; unique. Default `<type>:<address>`. */
  name: string;
  reconnect: { initialMs: number; maxMs: number };
}

export interface HubbleRelaySource extends SourceCommon {
  type: 'hubble-relay';
  address: string;
  tls?: SourceTls;
  namespaces?: string[];
  verdicts?: string[];
  excludeReplies: boolean;
  /** First start only (no checkpoint yet): how far back to start, in ms before now. Default: new flows only. */
  sinceMs?: number;
}

export interface GoldmaneSource extends SourceCommon {
  type: 'goldmane';
  address: string;
  tls?: SourceTls;
  namespaces?: string[];
  sinceMs?: number;
  /** How long a quiet stream waits before its newest 15 s interval counts as complete (default 20 s). */
  settleMs?: number;
}

export interface KafkaSource extends SourceCommon {
  type: 'kafka';
  connection: KafkaConnection;
  groupId: string;
  topics: KafkaTopic[];
  deadLetterTopic?: string;
  /** A group with no stored offsets starts at the oldest message (default) or, false, at new ones. */
  fromBeginning: boolean;
}

export type SourceConfig = HubbleRelaySource | GoldmaneSource | KafkaSource;

/** The keys of flowwright.yaml shared with the other commands that the service uses. */
export interface SharedConfig {
  db: string;
  flushEvery: number;
  minFlows: number;
  cidrPrefix: number;
  cidrPrefixV6: number;
  defaultDeny: boolean;
  includeSystemNamespaces: boolean;
  /** Comma-separated system namespaces (patterns with `*`) that get no default deny. */
  systemNamespaces: string;
  /** Comma-separated CIDRs of the nodes (--node-cidr); empty: each node address observed. */
  nodeCidr: string;
  allowDropped: boolean;
  /** Comma-separated policy kinds offered by the API and page (`networkpolicy,cilium`). */
  kinds: string;
  trustDomain: string;
  l7: string;
  tenantLabel: string;
}

export interface ServeConfig extends Omit<SharedConfig, 'kinds'> {
  /** The file the configuration came from, for messages; undefined when there was none. */
  file?: string;
  listen: { host: string; port: number };
  /** The bearer token every /api and /metrics request must carry; undefined = no authentication. */
  token?: string;
  /** Write the aggregate to the database at least this often (ms). */
  flushIntervalMs: number;
  /** Hourly buckets older than this are deleted (ms); undefined = kept forever. */
  retentionMs?: number;
  /** The learning window the API and page use when a request names none (ms before now); undefined = all. */
  windowMs?: number;
  sources: SourceConfig[];
  /** Proposal kinds offered by the API and page, from the shared `kinds` option. */
  kinds: PolicyKind[];
  /** Existing policies (a directory of YAML manifests) that verify and diff compare against. */
  policiesDir?: string;
  limits: { maxBodyBytes: number; maxHeaderBytes: number; maxUrlBytes: number; requestTimeoutMs: number };
  /** How long SIGTERM may take before the process gives up on a clean stop (ms). */
  shutdownTimeoutMs: number;
}

/** Top-level keys of flowwright.yaml that belong to the service (the CLI lets them through its own check). */
export const SERVE_FILE_KEYS = [
  'listen',
  'auth',
  'flushInterval',
  'retention',
  'window',
  'sources',
  'policies',
  'limits',
  'shutdownTimeout',
] as const;

const UNITS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3_600e3, d: 86_400e3, w: 604_800e3 };

type Obj = Record<string, unknown>;

/** Reads and checks one part of the file, building messages `file: key.path: problem`. */
function createChecker(file: string | undefined) {
  const fail = (path: string, message: string): never => {
    throw new FlowwrightError('usage', `${path}: ${message}`, file ? { file } : undefined);
  };
  const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
  const mapping = (v: unknown, path: string, known: readonly string[]): Obj => {
    if (!isObj(v)) return fail(path, `expected a mapping, got ${describe(v)}`);
    for (const k of Object.keys(v))
      if (!known.includes(k)) fail(`${path}.${k}`, `unknown key (known: ${known.join(', ')})`);
    return v;
  };
  const string = (v: unknown, path: string): string => {
    if (typeof v !== 'string' || v.trim() === '') return fail(path, `expected a non-empty string, got ${describe(v)}`);
    return v;
  };
  const bool = (v: unknown, path: string): boolean => {
    if (typeof v !== 'boolean') return fail(path, `expected true or false, got ${describe(v)}`);
    return v;
  };
  const int = (v: unknown, path: string, min: number, max: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      return fail(path, `expected an integer from ${min} to ${max}, got ${describe(v)}`);
    return v;
  };
  const duration = (v: unknown, path: string): number => {
    const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(v.trim()) : null;
    if (!m) return fail(path, `expected a duration like 500ms, 30s, 15m, 24h or 7d, got ${describe(v)}`);
    return Number(m[1]) * UNITS[m[2]];
  };
  const strings = (v: unknown, path: string): string[] => {
    if (!Array.isArray(v)) return fail(path, `expected a list of strings, got ${describe(v)}`);
    return v.map((x, i) => string(x, `${path}[${i}]`));
  };
  return { fail, mapping, string, bool, int, duration, strings, isObj };
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `'${v}'`;
  return `${typeof v} ${String(v)}`;
}

/** `host:port` or `[v6]:port` to listen on; port 0 picks a free one. */
export function parseListen(text: string, where: string, file?: string): { host: string; port: number } {
  const bad = () =>
    new FlowwrightError('usage', `${where}: '${text}' is not host:port (e.g. 0.0.0.0:8080 or 127.0.0.1:8080)`, {
      file,
    });
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/]*)):(\d+)$/.exec(text.trim());
  if (!m) throw bad();
  const port = Number(m[3]);
  if (port > 65535) throw bad();
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export interface LoadServeOptions {
  /** The YAML text and the file it came from; undefined = no file (defaults only). */
  text?: string;
  file?: string;
  shared: SharedConfig;
  /** Overrides from the command line (win over the file). */
  listen?: string;
  /** `--policies DIR`: the existing policies, over the file's policies.dir. */
  policies?: string;
  env?: NodeJS.ProcessEnv;
  /** Top-level keys of the shared options table (other commands' keys may sit in the same file); default: shared's. */
  sharedKeys?: readonly string[];
}

/** Reads the file named by --config. Unreadable files are configuration errors naming the file. */
export function readServeConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new FlowwrightError(
      'usage',
      `cannot read the configuration: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { file: path },
    );
  }
}

/** Parses and checks the service's keys; the result is frozen. */
export function loadServeConfig(opts: LoadServeOptions): ServeConfig {
  const env = opts.env ?? process.env;
  const c = createChecker(opts.file);
  let doc: unknown = {};
  if (opts.text !== undefined) {
    try {
      doc = parseYaml(opts.text) ?? {};
    } catch (err) {
      throw new FlowwrightError('usage', `not valid YAML: ${(err as Error).message}`, { file: opts.file });
    }
  }
  if (!c.isObj(doc)) c.fail('(top level)', `expected a mapping of keys to values, got ${describe(doc)}`);
  const top = doc as Obj;
  const known = [...SERVE_FILE_KEYS, ...(opts.sharedKeys ?? Object.keys(opts.shared))];
  for (const key of Object.keys(top))
    if (!known.includes(key)) c.fail(key, `unknown key (the service's keys: ${SERVE_FILE_KEYS.join(', ')})`);

  const listenText =
    opts.listen ??
    env.FLOWWRIGHT_LISTEN ??
    (top.listen !== undefined ? c.string(top.listen, 'listen') : '127.0.0.1:8080');
  const listen = parseListen(
    listenText,
    opts.listen !== undefined ? '--listen' : env.FLOWWRIGHT_LISTEN !== undefined ? 'FLOWWRIGHT_LISTEN' : 'listen',
    opts.file,
  );

  // The token itself never sits in the config file: it comes from a file (a mounted Secret) or the environment.
  let token: string | undefined;
  if (top.auth !== undefined) {
    const auth = c.mapping(top.auth, 'auth', ['tokenFile', 'tokenEnv']);
    if (auth.tokenFile !== undefined && auth.tokenEnv !== undefined)
      c.fail('auth', 'give tokenFile or tokenEnv, not both');
    if (auth.tokenFile !== undefined) {
      const path = c.string(auth.tokenFile, 'auth.tokenFile');
      try {
        token = readFileSync(path, 'utf8').trim();
      } catch (err) {
        c.fail('auth.tokenFile', `cannot read '${path}': ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      if (!token) c.fail('auth.tokenFile', `'${path}' is empty`);
    }
    if (auth.tokenEnv !== undefined) {
      const name = c.string(auth.tokenEnv, 'auth.tokenEnv');
      token = env[name]?.trim();
      if (!token) c.fail('auth.tokenEnv', `the environment variable ${name} is not set or empty`);
    }
  }
  if (token !== undefined && token.length < 16) c.fail('auth', 'the token must be at least 16 characters long');

  const flushIntervalMs = top.flushInterval !== undefined ? c.duration(top.flushInterval, 'flushInterval') : 10_000;
  if (flushIntervalMs < 100) c.fail('flushInterval', 'must be at least 100ms');
  const retentionMs = top.retention !== undefined ? c.duration(top.retention, 'retention') : undefined;
  if (retentionMs !== undefined && retentionMs < 3_600_000) c.fail('retention', 'must be at least 1h');
  // `all` (the default) is the whole history, as `since=all` in the API.
  const windowMs = top.window !== undefined && top.window !== 'all' ? c.duration(top.window, 'window') : undefined;

  const sources: SourceConfig[] = [];
  if (top.sources !== undefined) {
    if (!Array.isArray(top.sources)) c.fail('sources', `expected a list of sources, got ${describe(top.sources)}`);
    (top.sources as unknown[]).forEach((s, i) => {
      sources.push(parseSource(c, s, `sources[${i}]`, env));
    });
  }
  const names = new Set<string>();
  sources.forEach((s, i) => {
    if (names.has(s.name)) c.fail(`sources[${i}].name`, `'${s.name}' is used by an earlier source`);
    names.add(s.name);
  });

  let kinds: PolicyKind[];
  try {
    kinds = parseKinds(opts.shared.kinds);
  } catch (err) {
    return c.fail('kinds', (err as Error).message.replace(/^--kinds: /, ''));
  }
  let policiesDir: string | undefined;
  if (top.policies !== undefined) {
    const p = c.mapping(top.policies, 'policies', ['dir']);
    if (p.dir !== undefined) policiesDir = c.string(p.dir, 'policies.dir');
  }
  if (opts.policies !== undefined) {
    if (!existsSync(opts.policies))
      throw new FlowwrightError('usage', `--policies: no such file or directory: ${opts.policies}`);
    policiesDir = opts.policies;
  }

  const limits = { maxBodyBytes: 0, maxHeaderBytes: 16_384, maxUrlBytes: 4096, requestTimeoutMs: 30_000 };
  if (top.limits !== undefined) {
    const l = c.mapping(top.limits, 'limits', ['maxBodyBytes', 'maxHeaderBytes', 'maxUrlBytes', 'requestTimeout']);
    if (l.maxBodyBytes !== undefined) limits.maxBodyBytes = c.int(l.maxBodyBytes, 'limits.maxBodyBytes', 0, 1 << 20);
    if (l.maxHeaderBytes !== undefined)
      limits.maxHeaderBytes = c.int(l.maxHeaderBytes, 'limits.maxHeaderBytes', 1024, 1 << 20);
    if (l.maxUrlBytes !== undefined) limits.maxUrlBytes = c.int(l.maxUrlBytes, 'limits.maxUrlBytes', 256, 65_536);
    if (l.requestTimeout !== undefined) limits.requestTimeoutMs = c.duration(l.requestTimeout, 'limits.requestTimeout');
  }
  const shutdownTimeoutMs =
    top.shutdownTimeout !== undefined ? c.duration(top.shutdownTimeout, 'shutdownTimeout') : 25_000;

  return Object.freeze({
    ...opts.shared,
    kinds,
    file: opts.file,
    listen,
    token,
    flushIntervalMs,
    retentionMs,
    windowMs,
    sources,
    policiesDir,
    limits,
    shutdownTimeoutMs,
  });
}

const SOURCE_TYPES = ['hubble-relay', 'goldmane', 'kafka'];

function parseSource(
  c: ReturnType<typeof createChecker>,
  raw: unknown,
  path: string,
  env: NodeJS.ProcessEnv,
): SourceConfig {
  if (!c.isObj(raw)) return c.fail(path, `expected a mapping with a 'type', got ${describe(raw)}`);
  const type = raw.type;
  if (typeof type !== 'string' || !SOURCE_TYPES.includes(type))
    return c.fail(`${path}.type`, `expected one of ${SOURCE_TYPES.join(', ')}, got ${describe(type)}`);
  const reconnect = { initialMs: 500, maxMs: 30_000 };
  const readCommon = (s: Obj) => {
    if (s.reconnect !== undefined) {
      const r = c.mapping(s.reconnect, `${path}.reconnect`, ['initial', 'max']);
      if (r.initial !== undefined) reconnect.initialMs = c.duration(r.initial, `${path}.reconnect.initial`);
      if (r.max !== undefined) reconnect.maxMs = c.duration(r.max, `${path}.reconnect.max`);
      if (reconnect.maxMs < reconnect.initialMs) c.fail(`${path}.reconnect`, 'max must not be below initial');
    }
  };
  const tls = (v: unknown): SourceTls | undefined => {
    if (v === undefined) return undefined;
    if (v === true) return {};
    const t = c.mapping(v, `${path}.tls`, ['ca', 'cert', 'key', 'serverName', 'insecureSkipVerify']);
    const out: SourceTls = {};
    for (const k of ['ca', 'cert', 'key', 'serverName'] as const)
      if (t[k] !== undefined) out[k] = c.string(t[k], `${path}.tls.${k}`);
    if (t.insecureSkipVerify !== undefined)
      out.insecureSkipVerify = c.bool(t.insecureSkipVerify, `${path}.tls.insecureSkipVerify`);
    if ((out.cert === undefined) !== (out.key === undefined))
      c.fail(`${path}.tls`, 'a client certificate needs its key, and a key needs its certificate');
    return out;
  };
  const name = (address: string) =>
    raw.name !== undefined ? c.string(raw.name, `${path}.name`) : `${type as string}:${address}`;

  if (type === 'hubble-relay') {
    const s = c.mapping(raw, path, [
      'type',
      'name',
      'address',
      'tls',
      'namespaces',
      'verdicts',
      'excludeReplies',
      'since',
      'reconnect',
    ]);
    readCommon(s);
    const address = c.string(s.address, `${path}.address`);
    return {
      type,
      name: name(address),
      address,
      tls: tls(s.tls),
      namespaces: s.namespaces !== undefined ? c.strings(s.namespaces, `${path}.namespaces`) : undefined,
      verdicts: s.verdicts !== undefined ? c.strings(s.verdicts, `${path}.verdicts`) : undefined,
      excludeReplies: s.excludeReplies !== undefined ? c.bool(s.excludeReplies, `${path}.excludeReplies`) : false,
      sinceMs: s.since !== undefined ? c.duration(s.since, `${path}.since`) : undefined,
      reconnect,
    };
  }
  if (type === 'goldmane') {
    const s = c.mapping(raw, path, ['type', 'name', 'address', 'tls', 'namespaces', 'since', 'settle', 'reconnect']);
    readCommon(s);
    const address = c.string(s.address, `${path}.address`);
    return {
      type,
      name: name(address),
      address,
      tls: tls(s.tls),
      namespaces: s.namespaces !== undefined ? c.strings(s.namespaces, `${path}.namespaces`) : undefined,
      sinceMs: s.since !== undefined ? c.duration(s.since, `${path}.since`) : undefined,
      settleMs: s.settle !== undefined ? c.duration(s.settle, `${path}.settle`) : undefined,
      reconnect,
    };
  }
  const s = c.mapping(raw, path, [
    'type',
    'name',
    'brokers',
    'topics',
    'groupId',
    'deadLetterTopic',
    'fromBeginning',
    'tls',
    'sasl',
    'reconnect',
  ]);
  readCommon(s);
  const brokersText = Array.isArray(s.brokers)
    ? c.strings(s.brokers, `${path}.brokers`).join(',')
    : c.string(s.brokers, `${path}.brokers`);
  let brokers: string[];
  try {
    brokers = parseBrokers(brokersText, `${path}.brokers`);
  } catch (err) {
    return c.fail(`${path}.brokers`, (err as Error).message.replace(`${path}.brokers: `, ''));
  }
  const topicList = Array.isArray(s.topics) ? s.topics : c.fail(`${path}.topics`, 'expected a list of topics');
  if (topicList.length === 0) c.fail(`${path}.topics`, 'name at least one topic');
  const topics = topicList.map((t, i): KafkaTopic => {
    const text = c.string(t, `${path}.topics[${i}]`);
    const [topic, format = 'auto', ...rest] = text.split(':');
    if (!topic || rest.length > 0 || !/^[A-Za-z0-9._-]{1,249}$/.test(topic))
      c.fail(`${path}.topics[${i}]`, `'${text}' is not a topic name (letters, digits, . _ -) with an optional :format`);
    if (!(TOPIC_FORMATS as readonly string[]).includes(format))
      c.fail(`${path}.topics[${i}]`, `format must be one of ${TOPIC_FORMATS.join(', ')}`);
    return { topic, format: format as TopicFormat };
  });
  const connection: KafkaConnection = { brokers, clientId: 'flowwright-serve' };
  const t = tls(s.tls);
  if (t) {
    if (t.serverName !== undefined) c.fail(`${path}.tls.serverName`, 'not supported for Kafka');
    connection.ssl = { ca: t.ca, cert: t.cert, key: t.key, insecureSkipVerify: t.insecureSkipVerify };
  }
  if (s.sasl !== undefined) {
    const sasl = c.mapping(s.sasl, `${path}.sasl`, ['mechanism', 'username', 'passwordFile', 'passwordEnv']);
    const mechanism = c.string(sasl.mechanism, `${path}.sasl.mechanism`);
    if (!(SASL_MECHANISMS as readonly string[]).includes(mechanism))
      c.fail(`${path}.sasl.mechanism`, `expected one of ${SASL_MECHANISMS.join(', ')}`);
    const username = c.string(sasl.username, `${path}.sasl.username`);
    // Like the bearer token, the password never sits in the file itself.
    let password: string | undefined;
    if ((sasl.passwordFile === undefined) === (sasl.passwordEnv === undefined))
      c.fail(`${path}.sasl`, 'give passwordFile or passwordEnv (one of them)');
    if (sasl.passwordFile !== undefined) {
      const file = c.string(sasl.passwordFile, `${path}.sasl.passwordFile`);
      try {
        password = readFileSync(file, 'utf8').trim();
      } catch (err) {
        c.fail(`${path}.sasl.passwordFile`, `cannot read '${file}': ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    } else {
      const name = c.string(sasl.passwordEnv, `${path}.sasl.passwordEnv`);
      password = env[name];
      if (!password) c.fail(`${path}.sasl.passwordEnv`, `the environment variable ${name} is not set or empty`);
    }
    connection.sasl = { mechanism: mechanism as SaslMechanism, username, password: password ?? '' };
  }
  const groupId = s.groupId !== undefined ? c.string(s.groupId, `${path}.groupId`) : 'flowwright';
  return {
    type: 'kafka',
    name: name(`${groupId}@${brokers.join(',')}`),
    connection,
    groupId,
    topics,
    deadLetterTopic:
      s.deadLetterTopic !== undefined ? c.string(s.deadLetterTopic, `${path}.deadLetterTopic`) : undefined,
    fromBeginning: s.fromBeginning !== undefined ? c.bool(s.fromBeginning, `${path}.fromBeginning`) : true,
    reconnect,
  };
}
