// The relay collector's parts (address syntax, filters, backoff, TLS file errors) and its central promise:
// a flow read over gRPC and the same flow read from `hubble observe -o json` become identical records.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { DEFAULT_START, hubbleLines } from '../../samples/hubble.js';
import { shopScenario } from '../../samples/shop.js';
import { handleHubbleRecord } from '../../src/collect/hubble/json.js';
import {
  decodeKeepingUnknown,
  jsonToResponse,
  loadHubbleProto,
  unknownFields,
} from '../../src/collect/hubble/proto.js';
import {
  backoffDelay,
  flowFilters,
  parseRelayAddress,
  type RelayEvent,
  relayCredentials,
  streamRelayFlows,
} from '../../src/collect/hubble/relay.js';
import { emptyStats, type Flow, FlowwrightError } from '../../src/model/index.js';
import { entriesFromLines, type ReplayServer, startReplayServer } from '../../src/replay/index.js';

describe('parseRelayAddress', () => {
  it('accepts host:port, a bare host (port 4245) and bracketed IPv6', () => {
    assert.deepEqual(parseRelayAddress('localhost:4245'), { host: 'localhost', port: 4245, target: 'localhost:4245' });
    assert.deepEqual(parseRelayAddress('hubble-relay.kube-system'), {
      host: 'hubble-relay.kube-system',
      port: 4245,
      target: 'hubble-relay.kube-system:4245',
    });
    assert.deepEqual(parseRelayAddress('[::1]:80'), { host: '::1', port: 80, target: '[::1]:80' });
  });

  it('rejects bad syntax as a usage error that names the option', () => {
    for (const bad of ['', 'http://relay:4245', 'relay:', 'relay:abc', 'relay:70000', 'relay:0', '::1:4245', '[::1']) {
      assert.throws(
        () => parseRelayAddress(bad),
        (err: unknown) => err instanceof FlowwrightError && err.code === 'usage' && /--hubble-relay/.test(err.message),
        bad,
      );
    }
    assert.equal(parseRelayAddress('127.0.0.1:0', '--listen', true).port, 0);
  });
});

describe('flowFilters', () => {
  it('turns namespaces into source-or-destination pod prefixes, each with the verdicts', () => {
    assert.deepEqual(flowFilters({ namespaces: ['shop', 'data'], verdicts: ['dropped'] }), {
      whitelist: [
        { source_pod: ['shop/'], verdict: ['DROPPED'] },
        { destination_pod: ['shop/'], verdict: ['DROPPED'] },
        { source_pod: ['data/'], verdict: ['DROPPED'] },
        { destination_pod: ['data/'], verdict: ['DROPPED'] },
      ],
      blacklist: [],
    });
    assert.deepEqual(flowFilters({ verdicts: ['FORWARDED'], excludeReplies: true }), {
      whitelist: [{ verdict: ['FORWARDED'] }],
      blacklist: [{ reply: [true] }],
    });
    assert.deepEqual(flowFilters({}), { whitelist: [], blacklist: [] });
  });

  it('rejects an unknown verdict', () => {
    assert.throws(() => flowFilters({ verdicts: ['ALLOWED'] }), /unknown verdict 'ALLOWED'/);
  });
});

describe('backoffDelay', () => {
  it('doubles per attempt up to the maximum, with half of each step random', () => {
    const b = { initialMs: 100, maxMs: 1000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, b, () => 0)),
      [50, 100, 200, 400, 500, 500],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, b, () => 1)),
      [100, 200, 400, 800, 1000, 1000],
    );
  });
});

describe('relayCredentials', () => {
  it('reports an unreadable certificate file as an input error naming the file', () => {
    assert.throws(
      () => relayCredentials({ ca: '/nonexistent/ca.crt' }),
      (err: unknown) =>
        err instanceof FlowwrightError && err.code === 'input' && err.location?.file === '/nonexistent/ca.crt',
    );
    assert.throws(() => relayCredentials({ cert: 'c.pem' }), /needs its key/);
  });

  it('refuses a file that is not PEM, naming it', () => {
    const garbage = join(mkdtempSync(join(tmpdir(), 'fw-pem-')), 'ca.crt');
    writeFileSync(garbage, 'garbage\n');
    assert.throws(
      () => relayCredentials({ ca: garbage }),
      (err: unknown) =>
        err instanceof FlowwrightError &&
        err.code === 'input' &&
        err.location?.file === garbage &&
        /not PEM/.test(err.message),
    );
  });
});

describe('gRPC and JSON give identical records', () => {
  const lines = [
    ...hubbleLines(shopScenario(), {
      flows: 1500,
      seed: 3,
      startMs: Date.parse(DEFAULT_START),
      spanMs: 3_600_000,
      l7: true,
    }),
  ];
  let server: ReplayServer;
  before(async () => {
    const entries = await entriesFromLines(
      lines.map((text, i) => ({ text, file: 'x', line: i + 1 })),
      emptyStats(),
    );
    server = await startReplayServer(entries, { port: 0 });
  });
  after(() => server.kill());

  it('normalizes every flow of the stream exactly as the file collector does', async () => {
    const fileStats = emptyStats();
    const fromFile: Flow[] = [];
    for (const [i, line] of lines.entries()) {
      fileStats.records++;
      handleHubbleRecord(JSON.parse(line), { source: 'flows.json', line: i + 1 }, fromFile, fileStats);
    }

    const grpcStats = emptyStats();
    const events: RelayEvent[] = [];
    const fromGrpc: Flow[] = [];
    let checkpoint: string | undefined;
    for await (const batch of streamRelayFlows(
      { address: server.address, follow: false, onEvent: (e) => events.push(e), batchSize: 100 },
      grpcStats,
    )) {
      fromGrpc.push(...batch.flows);
      checkpoint = batch.checkpoint?.position;
    }

    const strip = (flows: Flow[]) => flows.map(({ origin: _origin, ...rest }) => rest);
    assert.equal(fromGrpc.length, fromFile.length);
    assert.deepEqual(strip(fromGrpc), strip(fromFile));
    assert.ok(
      fromFile.some((f) => f.l7?.dns) &&
        fromFile.some((f) => f.l7?.http) &&
        lines.some((l) => l.startsWith('{"flow"') && !l.includes('"is_reply"')),
      'the sample covers DNS and HTTP records and flows that do not say whether they are replies',
    );
    const { issues: _a, ...grpcCounts } = grpcStats;
    const { issues: _b, ...fileCounts } = fileStats;
    // the stream has one record more: the NODE_CONNECTED status that Relay sends first
    assert.deepEqual(grpcCounts, { ...fileCounts, records: fileCounts.records + 1, nonFlow: fileCounts.nonFlow + 1 });
    assert.ok(events.some((e) => e.type === 'node_status' && e.state === 'NODE_CONNECTED'));
    assert.ok(grpcStats.lostEvents > 0);

    // where each flow came from, and where to resume: the latest flow time, to the nanosecond
    assert.deepEqual(fromGrpc[0].origin, {
      source: `hubble-relay:${server.address}`,
      position: JSON.parse(lines.find((l) => l.startsWith('{"flow"'))!).flow.time,
    });
    const latest = lines
      .map((l) => JSON.parse(l))
      .filter((r) => r.flow)
      .map((r) => r.flow.time as string)
      .sort()
      .at(-1);
    assert.equal(checkpoint, latest);

    const connected = events.find((e) => e.type === 'connected');
    assert.deepEqual(connected && { nodes: connected.nodes, seenFlows: connected.seenFlows }, {
      nodes: new Set(fromFile.map((f) => f.node)).size,
      seenFlows: fromFile.length,
    });
    assert.equal(events.filter((e) => e.type === 'lost').length, 2);
  });

  it('applies namespace and verdict filters on the server and stops at maxFlows', async () => {
    const stats = emptyStats();
    const flows: Flow[] = [];
    for await (const batch of streamRelayFlows(
      { address: server.address, follow: false, namespaces: ['data'], verdicts: ['dropped'] },
      stats,
    )) {
      flows.push(...batch.flows);
    }
    assert.ok(flows.length > 0);
    for (const f of flows) {
      assert.equal(f.verdict, 'dropped');
      assert.ok(f.source.namespace === 'data' || f.destination.namespace === 'data');
    }

    const limited = emptyStats();
    let n = 0;
    for await (const batch of streamRelayFlows({ address: server.address, follow: false, maxFlows: 250 }, limited))
      n += batch.flows.length;
    assert.equal(n, 250);
    assert.equal(limited.flows, 250);
  });

  it('resumes after a checkpoint without counting the flows at its instant again', async () => {
    const first = emptyStats();
    let position = '';
    const seen: Flow[] = [];
    for await (const batch of streamRelayFlows({ address: server.address, follow: false, maxFlows: 700 }, first)) {
      seen.push(...batch.flows);
      position = batch.checkpoint?.position ?? position;
    }
    const second = emptyStats();
    const events: RelayEvent[] = [];
    for await (const batch of streamRelayFlows(
      { address: server.address, follow: false, resumeAfter: position, onEvent: (e) => events.push(e) },
      second,
    ))
      seen.push(...batch.flows);
    // together, the two runs read every flow exactly once
    const fromFile: Flow[] = [];
    for (const line of lines) handleHubbleRecord(JSON.parse(line), { source: 'f' }, fromFile, emptyStats());
    const canon = (flows: Flow[]) => flows.map(({ origin: _o, ...rest }) => JSON.stringify(rest)).sort();
    assert.equal(first.flows, 700);
    assert.equal(first.flows + second.flows, fromFile.length);
    assert.deepEqual(canon(seen), canon(fromFile));
  });
});

describe('fields from a newer Relay', () => {
  it('are kept on the decoded messages and reported by where they were, while the flow reads as usual', async () => {
    const proto = loadHubbleProto();
    const flow = {
      time: '2024-06-03T00:00:01.000000001Z',
      uuid: 'u-1',
      verdict: 'FORWARDED',
      IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 40000, destination_port: 8080 } },
      source: { namespace: 'shop', pod_name: 'web-1' },
      destination: { namespace: 'shop', pod_name: 'api-1' },
    };
    const plain = jsonToResponse(proto, { flow }) as unknown as {
      flow: protobuf.Message & { source: protobuf.Message };
    };
    // the flow with two fields upstream does not define: 60 (varint) in the flow, 20 (string) in its source
    const source = Buffer.concat([
      proto.root.lookupType('flow.Endpoint').encode(plain.flow.source).finish(),
      Uint8Array.of(0xa2, 0x01, 0x01, 0x78),
    ]);
    const flowBytes = Buffer.concat([
      proto.Flow.encode({ ...plain.flow, source: undefined }).finish(),
      protobuf.Writer.create()
        .uint32((8 << 3) | 2)
        .bytes(source)
        .finish(),
      Uint8Array.of(0xe0, 0x03, 0x07),
    ]);
    const bytes = protobuf.Writer.create()
      .uint32((1 << 3) | 2)
      .bytes(flowBytes)
      .finish();
    const server = await startReplayServer(
      [{ bytes, seconds: 1717372801, nanos: 1, flow: { node: '', namespaces: ['shop'] } }],
      {
        port: 0,
      },
    );
    try {
      const events: RelayEvent[] = [];
      const stats = emptyStats();
      const got: Flow[] = [];
      for await (const batch of streamRelayFlows(
        { address: server.address, follow: false, onEvent: (e) => events.push(e) },
        stats,
      ))
        got.push(...batch.flows);
      assert.equal(got.length, 1);
      assert.equal(got[0].source.pod, 'web-1');
      assert.equal(got[0].port, 8080);
      assert.deepEqual(
        events.find((e) => e.type === 'unknown_fields'),
        {
          type: 'unknown_fields',
          fields: { 'flow field 60': 1, 'flow.source field 20': 1 },
        },
      );
      // kept: encoded again, the message still carries them, where they were
      const decoded = decodeKeepingUnknown(proto.GetFlowsResponse, bytes);
      const again = decodeKeepingUnknown(proto.GetFlowsResponse, proto.GetFlowsResponse.encode(decoded).finish());
      assert.deepEqual(unknownFields(again, proto.GetFlowsResponse), ['flow field 60', 'flow.source field 20']);
    } finally {
      server.kill();
    }
  });
});
