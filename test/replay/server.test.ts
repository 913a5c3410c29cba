// The replay server against a plain gRPC client: what each GetFlows option selects, ServerStatus, and
// how malformed input lines are reported at load time.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_SPAN_MS, DEFAULT_START, hubbleLines } from '../../samples/hubble.js';
import { shopScenario } from '../../samples/shop.js';
import {
  GET_FLOWS_PATH,
  loadHubbleProto,
  parseTimestamp,
  responseToJson,
  SERVER_STATUS_PATH,
} from '../../src/collect/hubble/proto.js';
import { emptyStats } from '../../src/model/index.js';
import { entriesFromLines, type ReplayServer, startReplayServer } from '../../src/replay/index.js';

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

/** Reads a GetFlows stream to its end (or until `stopAfter` flows, then cancels), as JSON records. */
function getFlows(
  address: string,
  request: Json,
  stopAfter?: number,
): Promise<{ records: Json[]; error?: grpc.ServiceError }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const call = client.makeServerStreamRequest(
    GET_FLOWS_PATH,
    (r: Uint8Array) => Buffer.from(r),
    (b: Buffer) => responseToJson(proto, proto.GetFlowsResponse.decode(b)),
    proto.GetFlowsRequest.encode(proto.GetFlowsRequest.fromObject(request)).finish(),
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

  it('serves every record, in order and unchanged, to a non-following request', async () => {
    const { records: got, error } = await getFlows(server.address, {});
    assert.equal(error, undefined);
    assert.equal(got.length, records.length);
    assert.deepEqual(uuids(got), uuids(records));
    // the lost_events and node_status records come through too, with their own fields
    assert.deepEqual(
      got.filter((r) => r.lost_events).map((r) => r.lost_events.num_events_lost),
      records.filter((r) => r.lost_events).map((r) => r.lost_events.num_events_lost),
    );
    assert.deepEqual(got[0].node_status, records[0].node_status);
  });

  it('sends the first N flows with `first` and the last N without it', async () => {
    const first = await getFlows(server.address, { number: 7, first: true });
    assert.deepEqual(uuids(first.records), uuids(flowRecords.slice(0, 7)));
    const last = await getFlows(server.address, { number: 7 });
    assert.deepEqual(uuids(last.records), uuids(flowRecords.slice(-7)));
  });

  it('limits to since/until, both inclusive', async () => {
    const since = flowRecords[100].flow.time as string;
    const until = flowRecords[200].flow.time as string;
    const { records: got } = await getFlows(server.address, { since: ts(since), until: ts(until) });
    const expected = flowRecords.filter((r) => r.flow.time >= since && r.flow.time <= until);
    assert.ok(expected.length >= 101);
    assert.deepEqual(uuids(got), uuids(expected));
  });

  it('filters by namespace (pod prefix filters), verdict, and leaves out known replies with a blacklist', async () => {
    const inData = (r: Json) => r.flow.source?.namespace === 'data' || r.flow.destination?.namespace === 'data';
    const ns = await getFlows(server.address, {
      whitelist: [{ source_pod: ['data/'] }, { destination_pod: ['data/'] }],
    });
    const expectedNs = flowRecords.filter(inData);
    assert.ok(expectedNs.length > 0 && expectedNs.length < flowRecords.length);
    assert.deepEqual(uuids(ns.records), uuids(expectedNs));

    const dropped = await getFlows(server.address, { whitelist: [{ verdict: ['DROPPED'] }] });
    assert.deepEqual(uuids(dropped.records), uuids(flowRecords.filter((r) => r.flow.verdict === 'DROPPED')));

    const noReplies = await getFlows(server.address, { blacklist: [{ reply: [true] }] });
    const expected = flowRecords.filter((r) => r.flow.is_reply !== true);
    assert.ok(
      expected.some((r) => r.flow.is_reply === undefined),
      'the sample has flows that do not say',
    );
    assert.deepEqual(uuids(noReplies.records), uuids(expected));
  });

  it('refuses a filter it cannot apply instead of ignoring it', async () => {
    const { error } = await getFlows(server.address, { whitelist: [{ source_label: ['k8s:app=frontend'] }] });
    assert.equal(error?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(error?.details ?? '', /source_label/);
  });

  it('reports flows and nodes in ServerStatus', async () => {
    const client = new grpc.Client(server.address, grpc.credentials.createInsecure());
    const status = await new Promise<Json>((resolve, reject) =>
      client.makeUnaryRequest(
        SERVER_STATUS_PATH,
        (r: Uint8Array) => Buffer.from(r),
        (b: Buffer) => proto.ServerStatusResponse.toObject(proto.ServerStatusResponse.decode(b), { longs: Number }),
        new Uint8Array(),
        (err, res) => (err ? reject(err) : resolve(res as Json)),
      ),
    );
    client.close();
    assert.equal(status.num_flows, flowRecords.length);
    assert.equal(status.seen_flows, flowRecords.length);
    const nodes = new Set(flowRecords.map((r) => r.flow.node_name));
    assert.equal(status.num_connected_nodes.value, nodes.size);
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
    assert.equal(got.length, 0);
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
});
