// The service's configuration file: a full example is read as documented, and each mistake is an error
// that names the file and the key.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FlowwrightError } from '../../src/model/index.js';
import { loadServeConfig, parseListen, type SharedConfig } from '../../src/serve/index.js';
import { sharedConfig } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'flowwright-serve-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const shared: SharedConfig = sharedConfig('x.db', { flushEvery: 50_000 });

const load = (text: string, env: NodeJS.ProcessEnv = {}) => loadServeConfig({ text, file: 'fw.yaml', shared, env });

function fails(text: string, pattern: RegExp, env: NodeJS.ProcessEnv = {}) {
  assert.throws(
    () => load(text, env),
    (err: unknown) => {
      assert.ok(err instanceof FlowwrightError);
      assert.equal(err.code, 'usage');
      assert.equal(err.location?.file, 'fw.yaml');
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe('serve configuration', () => {
  it('reads every documented key', () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'a-long-enough-secret-token\n');
    const c = load(`
listen: 0.0.0.0:9000
auth: { tokenFile: ${tokenFile} }
flushInterval: 5s
retention: 30d
window: 7d
sources:
  - type: hubble-relay
    address: hubble-relay.kube-system:80
    namespaces: [shop]
    verdicts: [FORWARDED, DROPPED]
    excludeReplies: true
    since: 1h
    reconnect: { initial: 1s, max: 1m }
    tls: { ca: /ca.crt, serverName: relay.example }
  - type: goldmane
    name: calico
    address: goldmane.calico-system:7443
    tls: { ca: /ca.crt, cert: /c.crt, key: /c.key }
policies: { dir: /etc/flowwright/policies }
limits: { maxBodyBytes: 0, maxHeaderBytes: 8192, maxUrlBytes: 2048, requestTimeout: 10s }
shutdownTimeout: 20s
`);
    assert.deepEqual(c.listen, { host: '0.0.0.0', port: 9000 });
    assert.equal(c.token, 'a-long-enough-secret-token');
    assert.equal(c.flushIntervalMs, 5000);
    assert.equal(c.retentionMs, 30 * 86_400_000);
    assert.equal(c.windowMs, 7 * 86_400_000);
    assert.equal(c.sources.length, 2);
    const [relay, goldmane] = c.sources;
    assert.equal(relay.name, 'hubble-relay:hubble-relay.kube-system:80');
    assert.ok(relay.type === 'hubble-relay');
    assert.deepEqual(relay.namespaces, ['shop']);
    assert.equal(relay.excludeReplies, true);
    assert.equal(relay.sinceMs, 3_600_000);
    assert.deepEqual(relay.reconnect, { initialMs: 1000, maxMs: 60_000 });
    assert.deepEqual(relay.tls, { ca: '/ca.crt', serverName: 'relay.example' });
    assert.equal(goldmane.name, 'calico');
    assert.equal(c.policiesDir, '/etc/flowwright/policies');
    assert.deepEqual(c.limits, { maxBodyBytes: 0, maxHeaderBytes: 8192, maxUrlBytes: 2048, requestTimeoutMs: 10_000 });
    assert.equal(c.shutdownTimeoutMs, 20_000);
    assert.equal(c.db, 'x.db');
    assert.ok(Object.isFrozen(c));
  });

  it('has safe defaults: loopback, no sources, no auth', () => {
    const c = load('');
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 8080 });
    assert.equal(c.token, undefined);
    assert.deepEqual(c.sources, []);
    assert.deepEqual(c.kinds, ['networkpolicy']);
    assert.equal(c.windowMs, undefined);
    assert.equal(load('window: all\n').windowMs, undefined, 'the documented default can be written out');
    assert.deepEqual(loadServeConfig({ text: '', shared: { ...shared, kinds: 'cilium,networkpolicy' } }).kinds, [
      'networkpolicy',
      'cilium',
    ]);
  });

  it('takes the existing policies from --policies over policies.dir, and refuses a missing directory', () => {
    const text = 'policies: { dir: /etc/flowwright/policies }';
    assert.equal(loadServeConfig({ text, file: 'fw.yaml', shared, env: {}, policies: dir }).policiesDir, dir);
    assert.equal(load(text).policiesDir, '/etc/flowwright/policies');
    assert.throws(
      () => loadServeConfig({ text, file: 'fw.yaml', shared, env: {}, policies: join(dir, 'nope') }),
      /--policies: no such file or directory: .*nope/,
    );
  });

  it('takes the token from an environment variable, and the listen address from FLOWWRIGHT_LISTEN', () => {
    const c = load('auth: { tokenEnv: FW_TOKEN }', {
      FW_TOKEN: 'another-long-secret-token',
      FLOWWRIGHT_LISTEN: ':7000',
    });
    assert.equal(c.token, 'another-long-secret-token');
    assert.deepEqual(c.listen, { host: '0.0.0.0', port: 7000 });
  });

  it('reads Kafka sources, the SASL password from the environment', () => {
    const c = load(
      `
sources:
  - type: kafka
    brokers: [kafka-0.kafka:9092, kafka-1.kafka:9092]
    topics: [flows, calico-flows:calico]
    groupId: analyzers
    deadLetterTopic: flows-dlq
    fromBeginning: false
    tls: { ca: /ca.crt }
    sasl: { mechanism: scram-sha-512, username: flowwright, passwordEnv: KAFKA_PASSWORD }
`,
      { KAFKA_PASSWORD: 'kafka-secret' },
    );
    const k = c.sources[0];
    assert.ok(k.type === 'kafka');
    assert.equal(k.name, 'kafka:analyzers@kafka-0.kafka:9092,kafka-1.kafka:9092');
    assert.deepEqual(k.connection.brokers, ['kafka-0.kafka:9092', 'kafka-1.kafka:9092']);
    assert.deepEqual(k.topics, [
      { topic: 'flows', format: 'auto' },
      { topic: 'calico-flows', format: 'calico' },
    ]);
    assert.equal(k.groupId, 'analyzers');
    assert.equal(k.deadLetterTopic, 'flows-dlq');
    assert.equal(k.fromBeginning, false);
    assert.deepEqual(k.connection.ssl, {
      ca: '/ca.crt',
      cert: undefined,
      key: undefined,
      insecureSkipVerify: undefined,
    });
    assert.deepEqual(k.connection.sasl, {
      mechanism: 'scram-sha-512',
      username: 'flowwright',
      password: 'kafka-secret',
    });
    fails(
      'sources: [{type: kafka, brokers: nowhere, topics: [a]}]',
      /^sources\[0\]\.brokers: .*'nowhere' is not host:port/,
    );
    fails('sources: [{type: kafka, brokers: k:9092, topics: []}]', /^sources\[0\]\.topics: name at least one topic/);
    fails(
      'sources: [{type: kafka, brokers: k:9092, topics: [a:xml]}]',
      /^sources\[0\]\.topics\[0\]: format must be one of/,
    );
    fails(
      'sources: [{type: kafka, brokers: k:9092, topics: [a], sasl: {mechanism: plain, username: u}}]',
      /^sources\[0\]\.sasl: give passwordFile or passwordEnv/,
    );
  });

  it('names the key of every mistake', () => {
    fails('listne: 1.2.3.4:80', /^listne: unknown key/);
    fails('listen: nowhere', /^listen: 'nowhere' is not host:port/);
    fails('flushInterval: 10', /^flushInterval: expected a duration/);
    fails('retention: 10m', /^retention: must be at least 1h/);
    fails('sources: {}', /^sources: expected a list/);
    fails('sources: [{type: zipkin}]', /^sources\[0\]\.type: expected one of hubble-relay, goldmane, kafka/);
    fails('sources: [{type: hubble-relay}]', /^sources\[0\]\.address: expected a non-empty string/);
    fails('sources: [{type: hubble-relay, address: a:1, namespace: [x]}]', /^sources\[0\]\.namespace: unknown key/);
    fails(
      'sources: [{type: goldmane, address: a:1, tls: {cert: /c}}]',
      /^sources\[0\]\.tls: a client certificate needs its key/,
    );
    fails(
      'sources: [{type: goldmane, address: a:1}, {type: goldmane, address: a:1}]',
      /^sources\[1\]\.name: 'goldmane:a:1' is used by an earlier source/,
    );
    fails(
      'sources: [{type: hubble-relay, address: a:1, reconnect: {initial: 1m, max: 1s}}]',
      /reconnect: max must not be below/,
    );
    assert.throws(
      () => loadServeConfig({ text: '', file: 'fw.yaml', shared: { ...shared, kinds: 'networkpolicy,firewall' } }),
      { message: /^kinds: unknown kind 'firewall'/ },
    );
    fails('limits: { maxUrlBytes: 10 }', /^limits\.maxUrlBytes: expected an integer from 256/);
    fails('auth: { tokenFile: /nonexistent/token }', /^auth\.tokenFile: cannot read/);
    fails('auth: { tokenEnv: NOPE }', /^auth\.tokenEnv: the environment variable NOPE is not set/);
    fails('auth: { tokenEnv: SHORT }', /^auth: the token must be at least 16 characters/, { SHORT: 'abc' });
    fails('- a list', /^\(top level\): expected a mapping/);
    fails('listen: [', /not valid YAML/);
  });

  it('never puts the token in an error message', () => {
    const secret = 'tiny';
    assert.throws(
      () => load('auth: { tokenEnv: T }', { T: secret }),
      (err: Error) => !err.message.includes(secret),
    );
  });

  it('parses listen addresses', () => {
    assert.deepEqual(parseListen('[::1]:8080', 'listen'), { host: '::1', port: 8080 });
    assert.deepEqual(parseListen('127.0.0.1:0', 'listen'), { host: '127.0.0.1', port: 0 });
    assert.throws(() => parseListen('127.0.0.1:99999', 'listen'), /not host:port/);
    assert.throws(() => parseListen('http://x:80', 'listen'), /not host:port/);
  });
});

describe('the README', () => {
  it('has a configuration example the service accepts', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('#### Configuration file'));
    const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(example, 'a YAML example follows the configuration reference');
    // The token file exists only in a pod: the rest goes through the real validator.
    const text = example.replace(/auth:\n\s+tokenFile: .*\n/, '');
    const c = loadServeConfig({ text, file: 'README.md', shared, sharedKeys: [...Object.keys(shared)] });
    assert.ok(c.sources.length >= 2);
    assert.ok(c.retentionMs !== undefined && c.windowMs !== undefined);
  });
});
