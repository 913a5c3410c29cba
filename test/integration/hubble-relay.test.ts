// Live Hubble end to end, on loopback: the replay server serves a generated export, and `collect` must
// learn exactly the graph that `ingest` learns from the same file, also when the server dies mid-stream,
// over TLS with a CA made for the test, and across two runs that resume from the stored checkpoint.
// Servers that talk garbage or hang up must produce clear errors and retries, never a crash.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_START, hubbleLines } from '../../samples/hubble.js';
import { shopScenario } from '../../samples/shop.js';
import { runCollect } from '../../src/cli/collect.js';
import { runIngest } from '../../src/cli/ingest.js';
import { GET_FLOWS_PATH, SERVER_STATUS_PATH } from '../../src/collect/hubble/proto.js';
import { type RelayEvent, streamRelayFlows } from '../../src/collect/hubble/relay.js';
import { emptyStats, FlowwrightError, type Graph } from '../../src/model/index.js';
import { loadReplayFiles, type ReplayEntry, startReplayServer } from '../../src/replay/index.js';
import { openStore } from '../../src/store/index.js';
import { makeTestCertificates, haveOpenssl as opensslInstalled } from './test-ca.js';

const dir = mkdtempSync(join(tmpdir(), 'flowwright-relay-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A dense export: 2,500 flows in 20 seconds of flow time, so a resumed stream overlaps many flows.
const exportFile = join(dir, 'flows.json.gz');
writeFileSync(
  exportFile,
  gzipSync(
    `${[
      ...hubbleLines(shopScenario(), {
        flows: 2500,
        seed: 5,
        startMs: Date.parse(DEFAULT_START),
        spanMs: 20_000,
        l7: true,
      }),
    ].join('\n')}\n`,
  ),
);

let dbCount = 0;
const newDb = () => join(dir, `graph-${++dbCount}.db`);

function loadGraph(db: string): Graph {
  const store = openStore(db, { readonly: true });
  try {
    return store.loadGraph();
  } finally {
    store.close();
  }
}

let entries: ReplayEntry[];
let fileGraph: Graph;
let fileFlows: number;
let firstFlowTime: string;

before(async () => {
  const stats = emptyStats();
  entries = await loadReplayFiles([exportFile], stats);
  assert.equal(stats.malformed, 0);
  const db = newDb();
  const summary = await runIngest({ inputs: [exportFile], db, progress: false });
  fileFlows = summary.flows;
  assert.equal(fileFlows, stats.flows);
  fileGraph = loadGraph(db);
  assert.ok(fileGraph.edges.length > 10, 'the sample makes a real graph');
  firstFlowTime = new Date(Date.parse(DEFAULT_START) - 1000).toISOString();
});

describe('collect from the replay server', () => {
  it('learns exactly the graph that ingest learns from the same file', async () => {
    const server = await startReplayServer(entries, { port: 0 });
    try {
      const db = newDb();
      const summary = await runCollect({ address: server.address, follow: false, db, progress: false });
      assert.equal(summary.flows, fileFlows);
      assert.equal(summary.connections, 1);
      assert.deepEqual(loadGraph(db), fileGraph);
    } finally {
      server.kill();
    }
  });

  it('reconnects after the server is killed mid-stream, resumes, and still ends with the exact graph', async () => {
    const rate = 5000;
    let server = await startReplayServer(entries, { port: 0, rate });
    const port = server.port;
    const log: string[] = [];
    const db = newDb();
    const collecting = runCollect({
      address: server.address,
      follow: true,
      since: firstFlowTime,
      maxFlows: fileFlows,
      db,
      progress: false,
      flushEvery: 300,
      backoff: { initialMs: 20, maxMs: 200 },
      log: (line) => log.push(line),
    });
    // Kill once the collector is reading and about a third of the traffic has happened; restart on the same port.
    let releasedAtKill = 0;
    while (server.calls() === 0 || server.released() < entries.length / 3) await new Promise((r) => setTimeout(r, 5));
    releasedAtKill = server.released();
    server.kill();
    await new Promise((r) => setTimeout(r, 100));
    server = await startReplayServer(entries, { port, rate });
    try {
      const summary = await collecting;
      assert.ok(releasedAtKill < entries.length, 'the first server died before it had sent everything');
      assert.ok(summary.connections >= 2, `reconnected (log: ${log.join(' | ')})`);
      assert.ok(
        log.some((l) => /^lost .*retrying in/.test(l)),
        'the disconnect was reported',
      );
      assert.ok(summary.duplicates > 0, 'the resumed stream repeated flows, and they were recognized');
      assert.equal(summary.flows, fileFlows);
      assert.deepEqual(loadGraph(db), fileGraph);
    } finally {
      server.kill();
    }
  });

  it('resumes a second run after the checkpoint the first one stored', async () => {
    const server = await startReplayServer(entries, { port: 0 });
    try {
      const db = newDb();
      const first = await runCollect({ address: server.address, follow: false, maxFlows: 1000, db, progress: false });
      assert.equal(first.flows, 1000);
      assert.ok(first.resumePosition);
      const second = await runCollect({ address: server.address, follow: false, db, progress: false });
      assert.equal(first.flows + second.flows, fileFlows);
      assert.deepEqual(loadGraph(db), fileGraph);
    } finally {
      server.kill();
    }
  });
});

describe('TLS', () => {
  const tlsDir = join(dir, 'tls');
  let haveOpenssl = true;
  const pem = (name: string) => join(tlsDir, name);

  before(() => {
    haveOpenssl = opensslInstalled();
    if (!haveOpenssl) return;
    mkdirSync(tlsDir);
    // As Hubble Relay is deployed: the server certificate names *.hubble-relay.cilium.io, not the host.
    makeTestCertificates(tlsDir, [
      {
        name: 'server',
        subject: '/CN=*.hubble-relay.cilium.io',
        ext: 'subjectAltName=DNS:*.hubble-relay.cilium.io\nextendedKeyUsage=serverAuth\n',
      },
      { name: 'client', subject: '/CN=hubble-client', ext: 'extendedKeyUsage=clientAuth\n' },
    ]);
  });

  /** A replay server with mTLS, and its address by name: a TLS client sends the host name (SNI), never an IP. */
  const startTlsServer = async () => {
    const server = await startReplayServer(entries, {
      port: 0,
      tls: {
        cert: readFileSync(pem('server.crt')),
        key: readFileSync(pem('server.key')),
        clientCa: readFileSync(pem('ca.crt')),
      },
    });
    return { server, address: `localhost:${server.port}` };
  };

  const countFlows = async (address: string, tls: Parameters<typeof streamRelayFlows>[0]['tls']) => {
    const stats = emptyStats();
    for await (const _ of streamRelayFlows({ address, tls, follow: false, maxAttempts: 1 }, stats)) {
      // counted in stats
    }
    return stats.flows;
  };

  it('reads flows over mTLS with the test CA and the server name Hubble Relay uses', async (t) => {
    if (!haveOpenssl) return t.skip('openssl is not installed');
    const { server, address } = await startTlsServer();
    try {
      const tls = {
        ca: pem('ca.crt'),
        cert: pem('client.crt'),
        key: pem('client.key'),
        serverName: 'ui.hubble-relay.cilium.io',
      };
      assert.equal(await countFlows(address, tls), fileFlows);
      // without verification, only the client certificate is needed
      assert.equal(
        await countFlows(address, { cert: pem('client.crt'), key: pem('client.key'), insecureSkipVerify: true }),
        fileFlows,
      );
    } finally {
      server.kill();
    }
  });

  it('fails clearly when the name does not match or no client certificate is given', async (t) => {
    if (!haveOpenssl) return t.skip('openssl is not installed');
    const { server, address } = await startTlsServer();
    try {
      const unreachable = (err: unknown) =>
        err instanceof FlowwrightError && err.code === 'unreachable' && err.message.includes(address);
      await assert.rejects(
        countFlows(address, { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') }),
        unreachable,
      );
      await assert.rejects(
        countFlows(address, { ca: pem('ca.crt'), serverName: 'ui.hubble-relay.cilium.io' }),
        unreachable,
      );
      // plaintext to a TLS server
      await assert.rejects(countFlows(address, undefined), unreachable);
    } finally {
      server.kill();
    }
  });
});

describe('misbehaving servers', () => {
  /** A TCP server on loopback that does `onSocket` with every connection. */
  const rawServer = async (
    onSocket: (s: import('node:net').Socket) => void,
  ): Promise<{ server: Server; address: string }> => {
    const server = createServer(onSocket);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return { server, address: `127.0.0.1:${port}` };
  };

  /** Runs the collector with 3 attempts and fast backoff; returns the error and the events. */
  const collectFrom = async (address: string) => {
    const events: RelayEvent[] = [];
    const stats = emptyStats();
    let error: unknown;
    try {
      for await (const _ of streamRelayFlows(
        {
          address,
          follow: true,
          maxAttempts: 3,
          backoff: { initialMs: 10, maxMs: 20 },
          onEvent: (e) => events.push(e),
        },
        stats,
      )) {
        // nothing should arrive
      }
    } catch (err) {
      error = err;
    }
    return { error, events, stats };
  };

  const assertRetriedThenGaveUp = (r: Awaited<ReturnType<typeof collectFrom>>, address: string, detail: RegExp) => {
    assert.ok(r.error instanceof FlowwrightError, `a FlowwrightError, got ${String(r.error)}`);
    assert.equal(r.error.code, 'unreachable');
    assert.match(r.error.message, new RegExp(`cannot read flows from ${address} \\(3 attempts\\)`));
    assert.match(r.error.message, detail);
    const retries = r.events.filter((e) => e.type === 'disconnected');
    assert.equal(retries.length, 2, 'two retries between three attempts');
    for (const e of retries) assert.ok(e.type === 'disconnected' && e.retryInMs >= 5 && e.retryInMs <= 20);
    assert.equal(r.stats.flows, 0);
  };

  it('retries and then gives up on a server that closes every connection at once', async () => {
    const { server, address } = await rawServer((s) => s.destroy());
    try {
      assertRetriedThenGaveUp(await collectFrom(address), address, /UNAVAILABLE/);
    } finally {
      server.close();
    }
  });

  it('retries and then gives up on a server that answers with garbage instead of HTTP/2', async () => {
    const { server, address } = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\n\r\nthis is not gRPC\r\n'));
    try {
      assertRetriedThenGaveUp(await collectFrom(address), address, /UNAVAILABLE|INTERNAL/);
    } finally {
      server.close();
    }
  });

  it('retries and then gives up on a gRPC server whose GetFlows messages are not protobuf', async () => {
    const server = new grpc.Server();
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]); // field 1, absurd length
    const passthrough = { requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b };
    server.addService(
      {
        GetFlows: {
          path: GET_FLOWS_PATH,
          requestStream: false,
          responseStream: true,
          ...passthrough,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
        ServerStatus: {
          path: SERVER_STATUS_PATH,
          requestStream: false,
          responseStream: false,
          ...passthrough,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      {
        GetFlows: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
          call.write(garbage);
          call.end();
        },
        ServerStatus: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(0)),
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    try {
      const address = `127.0.0.1:${port}`;
      assertRetriedThenGaveUp(await collectFrom(address), address, /INTERNAL/);
    } finally {
      server.forceShutdown();
    }
  });

  it('gives up at once on a server that is not a Hubble Observer', async () => {
    const server = new grpc.Server(); // no services: every method is UNIMPLEMENTED
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    try {
      const r = await collectFrom(`127.0.0.1:${port}`);
      assert.ok(r.error instanceof FlowwrightError && r.error.code === 'unreachable');
      assert.match(r.error.message, /UNIMPLEMENTED/);
      assert.equal(r.events.filter((e) => e.type === 'disconnected').length, 0);
    } finally {
      server.forceShutdown();
    }
  });
});
