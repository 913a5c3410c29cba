// The replay server against a plain gRPC client: what each GetFlows option selects, the other Observer
// calls, the health service, and how input lines are reported at load time. The real hubble CLI against
// the same server is in test/integration/hubble-cli.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_SPAN_MS, DEFAULT_START, hubbleLines } from '../../samples/hubble.js';
import { shopScenario } from '../../samples/shop.js';
import {
  GET_AGENT_EVENTS_PATH,
  GET_FLOWS_PATH,
  GET_NAMESPACES_PATH,
  GET_NODES_PATH,
  HEALTH_CHECK_PATH,
  loadHubbleProto,
  parseTimestamp,
  responseToJson,
  SERVER_STATUS_PATH,
} from '../../src/collect/hubble/proto.js';
import { emptyStats } from '../../src/model/index.js';
import {
  entriesFromLines,
  type ReplayEntry,
  type ReplayServer,
  sortWithinWindow,
  startReplayServer,
} from '../../src/replay/index.js';

// biome-ignore lint/suspicious/noExplicitAny: test code reads the JSON records field by field
type Json = Record<string, any>;

const proto = loadHubbleProto();
const lines = [
  ...hubbleLines(shopScenario(), {
    flows: 600,
    seed: 11,
    startMs: Date.parse(DEFAULT_START),
    spanMs: DEFAULT_SPAN_MS,
    l7: true,
  }),
];
const records: Json[] = lines.map((l) => JSON.parse(l));
const flowRecords = records.filter((r) => r.flow);

const asSourceLines = (texts: string[]) => texts.map((text, i) => ({ text, file: 'flows.json', line: i + 1 }));

/** Encodes a GetFlowsRequest; `extra` bytes are appended raw (to send fields this version does not know). */
function encodeRequest(request: Json, extra?: Uint8Array): Uint8Array {
  const bytes = proto.GetFlowsRequest.encode(proto.GetFlowsRequest.fromObject(request)).finish();
  return extra ? Buffer.concat([bytes, extra]) : bytes;
}

/** Reads a GetFlows stream to its end (or until `stopAfter` flows, then cancels), as JSON records. */
function getFlows(
  address: string,
  request: Json | Uint8Array,
  stopAfter?: number,
): Promise<{ records: Json[]; error?: grpc.ServiceError }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const call = client.makeServerStreamRequest(
    GET_FLOWS_PATH,
    (r: Uint8Array) => Buffer.from(r),
    (b: Buffer) => responseToJson(proto, proto.GetFlowsResponse.decode(b)),
    request instanceof Uint8Array ? request : encodeRequest(request),
  );
  const out: Json[] = [];
  let flows = 0;
  return new Promise((resolve) => {
    const done = (error?: grpc.ServiceError) => {
      client.close();
      resolve({ records: out, error });
    };
    call.on('data', (r: Json) => {
      out.push(r);
      if (r.flow && ++flows === stopAfter) call.cancel();
    });
    call.on('error', (err: grpc.ServiceError) => done(err.code === grpc.status.CANCELLED ? undefined : err));
    call.on('end', () => done());
  });
}

function unary(address: string, path: string, type: string, request: Uint8Array = new Uint8Array()): Promise<Json> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const T = proto.root.lookupType(type);
  return new Promise<Json>((resolve, reject) =>
    client.makeUnaryRequest(
      path,
      (r: Uint8Array) => Buffer.from(r),
      (b: Buffer) => T.toObject(T.decode(b), { longs: Number, enums: String }),
      request,
      (err, res) => {
        client.close();
        if (err) reject(err);
        else resolve(res as Json);
      },
    ),
  );
}

const uuids = (rs: Json[]) => rs.filter((r) => r.flow).map((r) => r.flow.uuid as string);
const ts = (text: string) => parseTimestamp(text)!;

describe('replay server', () => {
  let server: ReplayServer;
  before(async () => {
    const stats = emptyStats();
    const entries = await entriesFromLines(asSourceLines(lines), stats);
    assert.equal(stats.malformed, 0);
    assert.equal(stats.flows, flowRecords.length);
    server = await startReplayServer(entries, { port: 0 });
  });
  after(() => server.kill());

  it('serves every record unchanged, after a NODE_CONNECTED status naming the nodes, as Relay does', async () => {
    const { records: got, error } = await getFlows(server.address, {});
    assert.equal(error, undefined);
    const nodes = [...new Set(flowRecords.map((r) => r.flow.node_name))].sort();
    assert.deepEqual(got[0].node_status, { state_change: 'NODE_CONNECTED', node_names: nodes });
    assert.equal(got.length, records.length + 1);
    assert.deepEqual(uuids(got), uuids(records));
    // the file's own lost_events and node_status records come through too, with their own fields
    assert.deepEqual(
      got.filter((r) => r.lost_events).map((r) => r.lost_events.num_events_lost),
      records.filter((r) => r.lost_events).map((r) => r.lost_events.num_events_lost),
    );
    assert.deepEqual(got[1].node_status, records[0].node_status);
  });

  it('sends the first N flows with `first` and the last N without it', async () => {
    const first = await getFlows(server.address, { number: 7, first: true });
    assert.deepEqual(uuids(first.records), uuids(flowRecords.slice(0, 7)));
    const last = await getFlows(server.address, { number: 7 });
    assert.deepEqual(uuids(last.records), uuids(flowRecords.slice(-7)));
  });

  it('reads since/until as Hubble does: both inclusive, and N counts from `since` with or without `first`', async () => {
    const since = flowRecords[100].flow.time as string;
    const until = flowRecords[200].flow.time as string;
    const { records: got } = await getFlows(server.address, { since: ts(since), until: ts(until) });
    const expected = flowRecords.filter((r) => r.flow.time >= since && r.flow.time <= until);
    assert.ok(expected.length >= 101);
    assert.deepEqual(uuids(got), uuids(expected));
    // `hubble observe --since A --until B --last 50` gets the first 50 after A, as from Hubble
    for (const first of [false, true]) {
      const n = await getFlows(server.address, { since: ts(since), until: ts(until), number: 50, first });
      assert.deepEqual(uuids(n.records), uuids(expected.slice(0, 50)));
    }
  });

  it('filters by namespace, takes a bare pod name as namespace default, and reads blacklists as Hubble', async () => {
    const inData = (r: Json) => r.flow.source?.namespace === 'data' || r.flow.destination?.namespace === 'data';
    const ns = await getFlows(server.address, {
      whitelist: [{ source_pod: ['data/'] }, { destination_pod: ['data/'] }],
    });
    const expectedNs = flowRecords.filter(inData);
    assert.ok(expectedNs.length > 0 && expectedNs.length < flowRecords.length);
    assert.deepEqual(uuids(ns.records), uuids(expectedNs));

    const pod = flowRecords.find((r) => r.flow.source?.namespace === 'shop')!.flow.source.pod_name as string;
    const bare = await getFlows(server.address, { whitelist: [{ source_pod: [pod.split('-')[0]] }] });
    assert.equal(uuids(bare.records).length, 0, 'no pod of this name lives in namespace default');

    const notDns = await getFlows(server.address, { blacklist: [{ destination_port: ['53'] }] });
    const port = (r: Json) => r.flow.l4?.TCP?.destination_port ?? r.flow.l4?.UDP?.destination_port;
    const expectedNotDns = flowRecords.filter((r) => port(r) !== 53);
    assert.ok(expectedNotDns.length > 0 && expectedNotDns.length < flowRecords.length);
    assert.deepEqual(uuids(notDns.records), uuids(expectedNotDns));

    // A flow that does not say whether it is a reply is left in by a reply blacklist, unless it was
    // dropped: Hubble reads an unknown dropped flow as not a reply.
    const noReplies = await getFlows(server.address, { blacklist: [{ reply: [true] }] });
    const expected = flowRecords.filter((r) => r.flow.is_reply !== true);
    assert.ok(expected.some((r) => r.flow.is_reply === undefined));
    assert.deepEqual(uuids(noReplies.records), uuids(expected));
    const requests = await getFlows(server.address, { whitelist: [{ reply: [false] }] });
    const expectedRequests = flowRecords.filter(
      (r) => r.flow.is_reply === false || (r.flow.is_reply === undefined && r.flow.verdict === 'DROPPED'),
    );
    assert.deepEqual(uuids(requests.records), uuids(expectedRequests));
  });

  it('refuses a filter value it cannot use, naming the field, with InvalidArgument', async () => {
    for (const [filter, message] of [
      [{ destination_port: ['http'] }, /invalid destination port filter: invalid port "http"/],
      [{ protocol: ['tcp', 'quic'] }, /unknown protocol: "quic"/],
      [{ source_label: ['app in a'] }, /invalid source label filter/],
      [{ http_path: ['(?=/api)'] }, /invalid http path filter/],
      [{ experimental: { cel_expression: ['_flow.verdict'] } }, /CEL expression.*wanted 'bool'/],
      [{ experimental: { cel_expression: ['_flow.l4.TCP.destination_port == 443'] } }, /no matching overload/],
      [{ source_ip: ['10.0.0.300'] }, /invalid IP address/],
    ] as const) {
      const { error } = await getFlows(server.address, { whitelist: [filter] });
      assert.equal(error?.code, grpc.status.INVALID_ARGUMENT, JSON.stringify(filter));
      assert.match(error?.details ?? '', message);
    }
  });

  it('refuses a FlowFilter field this version does not know instead of ignoring it', async () => {
    // whitelist (field 6) holding one FlowFilter with field 77 (varint 1), which upstream does not define
    const unknownFilter = Uint8Array.from([0x32, 0x03, 0xe8, 0x04, 0x01]);
    const { error } = await getFlows(server.address, encodeRequest({ number: 5 }, unknownFilter));
    assert.equal(error?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(error?.details ?? '', /whitelist field 77/);
  });

  it('evaluates CEL expressions over the flow as Hubble binds it (_flow, container flow)', async () => {
    const { records: got, error } = await getFlows(server.address, {
      whitelist: [
        {
          experimental: {
            cel_expression: [
              'has(_flow.l4.TCP) && _flow.l4.TCP.destination_port == uint(8080) && _flow.verdict == Verdict.FORWARDED',
            ],
          },
        },
      ],
    });
    assert.equal(error, undefined);
    const expected = flowRecords.filter(
      (r) => r.flow.l4?.TCP?.destination_port === 8080 && r.flow.verdict === 'FORWARDED',
    );
    assert.ok(expected.length > 0);
    assert.deepEqual(uuids(got), uuids(expected));
  });

  it('sends only the fields of a field mask, with the response time and node name of the masked flow', async () => {
    const { records: got } = await getFlows(server.address, {
      number: 20,
      field_mask: { paths: ['verdict', 'source.pod_name', 'l4.TCP.destination_port'] },
    });
    const flows = got.filter((r) => r.flow);
    assert.equal(flows.length, 20);
    const originals = flowRecords.slice(-20);
    flows.forEach((r, i) => {
      const o = originals[i].flow;
      const expected: Json = { verdict: o.verdict, source: o.source?.pod_name ? { pod_name: o.source.pod_name } : {} };
      if (o.l4?.TCP)
        expected.l4 = { TCP: o.l4.TCP.destination_port ? { destination_port: o.l4.TCP.destination_port } : {} };
      else expected.l4 = {};
      assert.deepEqual(r.flow, expected);
      assert.equal(r.time, undefined);
      assert.equal(r.node_name, undefined);
    });
    const bad = await getFlows(server.address, { field_mask: { paths: ['source.no_such_field'] } });
    assert.equal(bad.error?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(bad.error?.details ?? '', /invalid fieldmask: 'source.no_such_field'/);
  });

  it('reports flows, capacity, rate and nodes in ServerStatus', async () => {
    const status = await unary(server.address, SERVER_STATUS_PATH, 'observer.ServerStatusResponse');
    assert.equal(status.num_flows, flowRecords.length);
    assert.equal(status.max_flows, flowRecords.length);
    assert.equal(status.seen_flows, flowRecords.length);
    const nodes = new Set(flowRecords.map((r) => r.flow.node_name));
    assert.equal(status.num_connected_nodes.value, nodes.size);
    // the recorded traffic: flows in the last minute of the capture, per second
    const seconds = (r: Json) => ts(r.flow.time).seconds + ts(r.flow.time).nanos / 1e9;
    const last = seconds(flowRecords.at(-1)!);
    const inLastMinute = flowRecords.filter((r) => last - seconds(r) <= 60);
    assert.ok(inLastMinute.length < flowRecords.length);
    assert.ok(Math.abs(status.flows_rate - inLastMinute.length / 60) < 1e-9, String(status.flows_rate));
  });

  it('lists the nodes and namespaces of the flows (GetNodes, GetNamespaces)', async () => {
    const nodes = await unary(server.address, GET_NODES_PATH, 'observer.GetNodesResponse');
    const perNode = new Map<string, number>();
    for (const r of flowRecords) perNode.set(r.flow.node_name, (perNode.get(r.flow.node_name) ?? 0) + 1);
    assert.deepEqual(
      nodes.nodes.map((n: Json) => [n.name, n.state, n.num_flows, n.max_flows]),
      [...perNode].sort().map(([name, n]) => [name, 'NODE_CONNECTED', n, n]),
    );
    const namespaces = await unary(server.address, GET_NAMESPACES_PATH, 'observer.GetNamespacesResponse');
    const expected = [
      ...new Set(flowRecords.flatMap((r) => [r.flow.source?.namespace, r.flow.destination?.namespace]).filter(Boolean)),
    ].sort();
    assert.deepEqual(
      namespaces.namespaces.map((n: Json) => n.namespace),
      expected,
    );
  });

  it('answers the gRPC health check for the server and the Observer service, and NOT_FOUND for others', async () => {
    for (const service of ['', 'hubble.server.Observer', 'observer.Observer']) {
      const res = await unary(
        server.address,
        HEALTH_CHECK_PATH,
        'grpc.health.v1.HealthCheckResponse',
        proto.HealthCheckRequest.encode({ service }).finish(),
      );
      assert.equal(res.status, 'SERVING', service);
    }
    await assert.rejects(
      unary(
        server.address,
        HEALTH_CHECK_PATH,
        'grpc.health.v1.HealthCheckResponse',
        proto.HealthCheckRequest.encode({ service: 'nope' }).finish(),
      ),
      (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND,
    );
  });

  it('answers GetAgentEvents with an empty stream', async () => {
    const client = new grpc.Client(server.address, grpc.credentials.createInsecure());
    const call = client.makeServerStreamRequest(
      GET_AGENT_EVENTS_PATH,
      (r: Uint8Array) => Buffer.from(r),
      (b: Buffer) => b,
      proto.GetAgentEventsRequest.encode({ number: 10 }).finish(),
    );
    const got: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      call.on('data', (d) => got.push(d));
      call.on('error', reject);
      call.on('end', () => resolve());
    });
    client.close();
    assert.equal(got.length, 0);
  });
});

describe("replay server order: Relay's bounded sort window", () => {
  const entry = (seconds: number, tag: number): ReplayEntry => ({
    bytes: Uint8Array.of(tag),
    seconds,
    nanos: 0,
    flow: { node: 'n', namespaces: [] },
  });

  it('sorts by time within the window, keeps ties in input order, and lets what is further out of order through', () => {
    const input = [entry(5, 1), entry(3, 2), entry(4, 3), entry(3, 4), entry(1, 5)];
    assert.deepEqual(
      sortWithinWindow(input, 10).map((e) => e.bytes[0]),
      [5, 2, 4, 3, 1],
    );
    // with a window of 2, the queue sends its oldest whenever a third arrives: what is further out of
    // order than the window comes late, as from Relay
    assert.deepEqual(
      sortWithinWindow(input, 2).map((e) => e.seconds),
      [3, 4, 3, 1, 5],
    );
  });
});

describe('replay server with a rate', () => {
  it('releases entries over time and follows them to a client', async () => {
    const entries = await entriesFromLines(asSourceLines(lines), emptyStats());
    const server = await startReplayServer(entries, { port: 0, rate: 3000 });
    try {
      // since the first flow: everything released so far, then the rest as it is released
      const since = ts(flowRecords[0].flow.time);
      const { records: got } = await getFlows(server.address, { follow: true, since }, flowRecords.length);
      assert.deepEqual(uuids(got), uuids(flowRecords));
      assert.ok(server.released() >= entries.length - 8, 'the stream could only end once (nearly) all were released');
      const status = await unary(server.address, SERVER_STATUS_PATH, 'observer.ServerStatusResponse');
      assert.ok(status.flows_rate > 0 && status.flows_rate <= 3000, `flows_rate ${status.flows_rate}`);
    } finally {
      server.kill();
    }
  });

  it('ends a following stream cleanly on close', async () => {
    const entries = await entriesFromLines(asSourceLines(lines), emptyStats());
    const server = await startReplayServer(entries, { port: 0 });
    // follow without number or since: like Hubble, only new flows, and there are none; close() ends it
    const pending = getFlows(server.address, { follow: true });
    while (server.calls() === 0) await new Promise((r) => setTimeout(r, 5));
    await server.close();
    const { records: got, error } = await pending;
    assert.equal(error, undefined);
    assert.equal(uuids(got).length, 0);
  });
});

describe('loading replay entries', () => {
  it('counts malformed lines with file, line and field, and keeps the good ones', async () => {
    const stats = emptyStats();
    const good = lines[10];
    const entries = await entriesFromLines(
      asSourceLines([
        good,
        '{"flow": {"time": "yesterday", "verdict": "FORWARDED"}}',
        'not json',
        '',
        '{"flow": {"time": "2024-06-03T00:00:00Z", "source": "a string"}}',
        '{"agent_event": {"type": "AGENT_STARTED"}, "time": "2024-06-03T00:00:00Z"}',
        good,
      ]),
      stats,
    );
    assert.equal(entries.length, 2);
    assert.equal(stats.records, 6);
    assert.equal(stats.malformed, 3);
    assert.equal(stats.nonFlow, 1);
    assert.deepEqual(
      stats.issues.map((i) => [i.line, i.field ?? '']),
      [
        [2, 'flow.time'],
        [3, ''],
        [5, ''],
      ],
    );
    assert.match(stats.issues[2].message, /flow\.source: object expected/);
  });

  it('reports the keys that no field of the protocol has, by path, and serves the rest', async () => {
    const stats = emptyStats();
    const unknown = new Map<string, number>();
    const line = JSON.stringify({
      flow: { time: '2024-06-03T00:00:00Z', verdict: 'FORWARDED', brand_new: 1, source: { pod_name: 'a', later: 'x' } },
    });
    const entries = await entriesFromLines(asSourceLines([line, line]), stats, unknown);
    assert.equal(entries.length, 2);
    assert.deepEqual(
      [...unknown],
      [
        ['flow.brand_new', 2],
        ['flow.source.later', 2],
      ],
    );
  });
});
