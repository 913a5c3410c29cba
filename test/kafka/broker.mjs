#!/usr/bin/env node
// A real single-node Apache Kafka broker (KRaft, no ZooKeeper) for the Kafka tests and the benchmark.
//
//   node test/kafka/broker.mjs fetch             download the broker jars (Maven Central, cached)
//   node test/kafka/broker.mjs start [--dir D]   start a broker on a free loopback port; prints its address
//                                                and writes D/broker.json ({ brokers, pid, dir })
//   node test/kafka/broker.mjs stop [--dir D]    stop the broker started with the same --dir
//
// The jars come from `mvn dependency:copy-dependencies` on test/kafka/pom.xml and are kept in
// $FLOWWRIGHT_KAFKA_CACHE (default ~/.cache/flowwright) so reruns start in seconds. Importers get
// startBroker() (returns { brokers, stop }) and missingTools() (why a broker cannot run here, or undefined).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const pom = join(here, 'pom.xml');
const KAFKA_VERSION = /<kafka\.version>([^<]+)</.exec(readFileSync(pom, 'utf8'))[1];

export function cacheDir() {
  return join(process.env.FLOWWRIGHT_KAFKA_CACHE || join(homedir(), '.cache', 'flowwright'), `kafka-${KAFKA_VERSION}`);
}

function has(command, args) {
  const r = spawnSync(command, args, { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

/** Why no broker can be started here (no Java 17+, no Maven and no cached jars), or undefined. */
export function missingTools() {
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (java.error) return 'java is not installed (a Kafka broker needs Java 17 or newer)';
  const m = /version "(\d+)/.exec(`${java.stderr}${java.stdout}`);
  if (m && Number(m[1]) < 17) return `java ${m[1]} is too old (Kafka ${KAFKA_VERSION} needs Java 17 or newer)`;
  if (!existsSync(join(cacheDir(), 'libs', '.complete')) && !has('mvn', ['-v']))
    return 'mvn (Maven) is not installed, and the Kafka broker jars are not cached';
  return undefined;
}

/** Downloads the broker jars once; later calls return the cached directory at once. */
export function fetchJars() {
  const libs = join(cacheDir(), 'libs');
  if (existsSync(join(libs, '.complete'))) return libs;
  rmSync(libs, { recursive: true, force: true });
  mkdirSync(libs, { recursive: true });
  const r = spawnSync(
    'mvn',
    ['-B', '-q', '-f', pom, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${libs}`],
    { encoding: 'utf8' },
  );
  if (r.error || r.status !== 0)
    throw new Error(`mvn dependency:copy-dependencies failed:\n${r.error?.message ?? ''}${r.stdout}${r.stderr}`);
  if (!readdirSync(libs).some((f) => f.startsWith('kafka_2.13-'))) throw new Error(`no broker jar in ${libs}`);
  writeFileSync(join(libs, '.complete'), `${new Date().toISOString()}\n`);
  return libs;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, '127.0.0.1', () => done(true));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (what `kafka-storage random-uuid` prints). */
function clusterId() {
  return randomBytes(16).toString('base64url');
}

/**
 * Formats a fresh KRaft log directory and starts the broker (also its own controller) on free loopback
 * ports. Resolves once the broker accepts connections and has registered with its controller.
 * `detached` lets the broker outlive this process (the `start` command).
 */
export async function startBroker({ dir, detached = false } = {}) {
  const libs = fetchJars();
  const work = dir ?? mkdtempSync(join(tmpdir(), 'flowwright-kafka-'));
  mkdirSync(work, { recursive: true });
  const logDir = join(work, 'data');
  rmSync(logDir, { recursive: true, force: true });
  const [port, controllerPort] = [await freePort(), await freePort()];
  const props = [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${logDir}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // Tests start consumers one after another: no reason to wait 3 s for more members before assigning.
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'log.flush.interval.messages=9223372036854775807',
  ];
  const config = join(work, 'server.properties');
  writeFileSync(config, `${props.join('\n')}\n`);
  const classpath = join(libs, '*');
  // Small heap, client JIT settings that start fast: a test broker handles little data.
  const jvm = [
    '-Xms128m',
    '-Xmx512m',
    '-XX:+UseSerialGC',
    '-Djava.awt.headless=true',
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
  ];
  const format = spawnSync(
    'java',
    [
      ...jvm,
      '-cp',
      classpath,
      'kafka.tools.StorageTool',
      'format',
      `--cluster-id=${clusterId()}`,
      '--config',
      config,
      '--ignore-formatted',
    ],
    { encoding: 'utf8' },
  );
  if (format.error || format.status !== 0)
    throw new Error(`kafka storage format failed:\n${format.error?.message ?? ''}${format.stdout}${format.stderr}`);

  const logFile = join(work, 'broker.log');
  const out = openSync(logFile, 'a');
  const child = spawn('java', [...jvm, '-cp', classpath, 'kafka.Kafka', config], {
    stdio: ['ignore', out, out],
    detached,
  });
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const brokers = `127.0.0.1:${port}`;
  const stop = async () => {
    if (exited) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited) throw new Error(`kafka broker exited (${JSON.stringify(exited)}); log: ${tail(logFile)}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`kafka broker did not listen on ${brokers} within 90 s; log: ${tail(logFile)}`);
    }
    await sleep(200);
  }
  if (detached) child.unref();
  return { brokers, pid: child.pid, dir: work, logFile, stop };
}

function tail(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}

async function main(argv) {
  const [command, ...rest] = argv;
  const dirIndex = rest.indexOf('--dir');
  const dir = dirIndex >= 0 ? rest[dirIndex + 1] : join(tmpdir(), 'flowwright-kafka-ci');
  const stateFile = join(dir, 'broker.json');
  if (command === 'fetch') {
    const why = missingTools();
    if (why) throw new Error(why);
    console.log(fetchJars());
  } else if (command === 'start') {
    const why = missingTools();
    if (why) throw new Error(why);
    const started = Date.now();
    const b = await startBroker({ dir, detached: true });
    writeFileSync(stateFile, `${JSON.stringify({ brokers: b.brokers, pid: b.pid, dir: b.dir, log: b.logFile })}\n`);
    console.error(
      `kafka ${KAFKA_VERSION} broker at ${b.brokers} (pid ${b.pid}) in ${Date.now() - started} ms; log ${b.logFile}`,
    );
    console.log(b.brokers);
  } else if (command === 'stop') {
    if (!existsSync(stateFile)) return;
    const { pid } = JSON.parse(readFileSync(stateFile, 'utf8'));
    try {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100; i++) {
        await sleep(100);
        process.kill(pid, 0); // throws once the process is gone
      }
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  } else {
    console.error('usage: broker.mjs fetch | start [--dir DIR] | stop [--dir DIR]');
    process.exitCode = 2;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`broker.mjs: ${err.message}`);
    process.exit(1);
  });
}
