// The real hubble CLI (v1.19.4, built from the Go module proxy by test/hubble/cli.mjs) as a client of
// `flowwright replay`, as a Hubble user would type it. Every answer is compared with what the file holds,
// read with Hubble's semantics by the small functions below (written from Hubble's documentation and
// filter code, independently of src/replay/filter.ts).
//
// Skipped with one line when Go is absent; FLOWWRIGHT_REQUIRE_HUBBLE=1 (set by .ci/run) makes it required.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_SPAN_MS, DEFAULT_START, hubbleLines } from '../../samples/hubble.js';
import { shopScenario } from '../../samples/shop.js';
import { parseTimestamp } from '../../src/collect/hubble/proto.js';
import { emptyStats } from '../../src/model/index.js';
import { loadReplayFiles, type ReplayServer, startReplayServer } from '../../src/replay/index.js';
import { CLI_VERSION, hubbleBinary, hubbleSkipReason, runHubble } from '../hubble/helpers.js';

// biome-ignore lint/suspicious/noExplicitAny: test code reads the JSON records field by field
type Json = Record<string, any>;

const skip = hubbleSkipReason();
const SAMPLE = new URL('../../samples/shop-hubble.jsonl.gz', import.meta.url).pathname;

// ---------------------------------------------------------------------------------------------------
// What the file holds, read as Hubble reads it

const nsOf = (ep: Json | undefined): string => ep?.namespace ?? '';
const podOf = (ep: Json | undefined): string => ep?.pod_name ?? '';
const ends = (f: Json) => [f.source, f.destination];
const l4Port = (f: Json, side: 'source_port' | 'destination_port') => {
  const l4 = f.l4 ?? {};
  const carrier = l4.TCP ?? l4.UDP ?? l4.SCTP;
  return carrier ? (carrier[side] ?? 0) : undefined;
};
/** `key=value` with any label source, as a selector without a source means. */
const hasLabel = (ep: Json | undefined, kv: string) =>
  (ep?.labels ?? []).some((l: string) => l.slice(l.indexOf(':') + 1) === kv);
const seconds = (t: string) => {
  const ts = parseTimestamp(t)!;
  return ts.seconds + ts.nanos / 1e9;
};
/** Cilium's monitor types, as `--type` names them. */
const TYPE = { drop: 1, trace: 4, l7: 129 };

/** The flow records of a file, in Relay's order (by time; the samples are written in time order). */
function flowsOf(records: Json[]): Json[] {
  return records.filter((r) => r.flow).map((r) => r.flow);
}

const uuids = (flows: Json[]) => flows.map((f) => f.uuid as string);
const sorted = (xs: string[]) => [...xs].sort();

describe('the real hubble CLI against flowwright replay', { skip }, () => {
  let hubble: string;
  let sample: { server: ReplayServer; flows: Json[]; records: Json[] };
  let http: { server: ReplayServer; flows: Json[]; records: Json[]; file: string };
  let dir: string;

  before(async () => {
    hubble = await hubbleBinary();
    dir = mkdtempSync(join(tmpdir(), 'flowwright-hubble-cli-'));
    const sampleRecords = gunzipSync(readFileSync(SAMPLE))
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l));
    sample = {
      server: await startReplayServer(await loadReplayFiles([SAMPLE], emptyStats()), { port: 0 }),
      flows: flowsOf(sampleRecords),
      records: sampleRecords,
    };
    // A capture with HTTP requests and responses too (the shipped sample has DNS only).
    const lines = [
      ...hubbleLines(shopScenario(), {
        flows: 3000,
        seed: 7,
        startMs: Date.parse(DEFAULT_START),
        spanMs: DEFAULT_SPAN_MS,
        l7: true,
      }),
    ];
    const file = join(dir, 'http.json');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const httpRecords = lines.map((l) => JSON.parse(l));
    http = {
      server: await startReplayServer(await loadReplayFiles([file], emptyStats()), { port: 0 }),
      flows: flowsOf(httpRecords),
      records: httpRecords,
      file,
    };
  });
  after(() => {
    sample?.server.kill();
    http?.server.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** `hubble <args> --server <replay>`; asserts it succeeded. */
  async function ok(server: ReplayServer, args: string[]): Promise<string> {
    const r = await runHubble(hubble, [...args, '--server', server.address]);
    assert.equal(r.code, 0, `hubble ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  }

  /** The flows `hubble observe -o jsonpb <args>` prints. */
  async function observe(server: ReplayServer, args: string[]): Promise<Json[]> {
    const out = await ok(server, ['observe', '-o', 'jsonpb', ...args]);
    return out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l))
      .filter((r) => r.flow)
      .map((r) => r.flow);
  }

  /** Asserts `observe --all <args>` returns exactly the flows `want` selects (and that it selects some). */
  async function observeMatches(server: ReplayServer, flows: Json[], args: string[], want: (f: Json) => boolean) {
    const expected = flows.filter(want);
    assert.ok(expected.length > 0, `${args.join(' ')}: the file has matching flows`);
    assert.ok(expected.length < flows.length, `${args.join(' ')}: the file has flows that do not match`);
    const got = await observe(server, ['--all', ...args]);
    assert.deepEqual(sorted(uuids(got)), sorted(uuids(expected)), args.join(' '));
  }

  it(`is the CLI version the tests were written for (${CLI_VERSION})`, async () => {
    const r = await runHubble(hubble, ['version']);
    assert.match(r.stdout, new RegExp(`hubble v?${CLI_VERSION.replaceAll('.', '\\.')}`));
  });

  it('`hubble status`: health check, flows, rate and nodes', async () => {
    const out = await ok(sample.server, ['status']);
    assert.match(out, new RegExp(`Healthcheck \\(via ${sample.server.address.replaceAll('.', '\\.')}\\): Ok`));
    const n = sample.flows.length.toLocaleString('en-US');
    assert.match(out, new RegExp(`Current/Max Flows: ${n}/${n} \\(100\\.00%\\)`));
    const nodes = new Set(sample.flows.map((f) => f.node_name));
    assert.match(out, new RegExp(`Connected Nodes: ${nodes.size}/${nodes.size}`));
    assert.match(out, /Flows\/s: \d+\.\d\d/);
  });

  it('`hubble list nodes`: one connected node per node name, with its flows', async () => {
    const perNode = new Map<string, number>();
    for (const f of sample.flows) perNode.set(f.node_name, (perNode.get(f.node_name) ?? 0) + 1);
    const table = await ok(sample.server, ['list', 'nodes']);
    for (const [name, n] of perNode)
      assert.match(table, new RegExp(`${name}\\s+Connected\\s+\\S+\\s+[\\d.]+\\s+${n}/${n}`));
    const json = JSON.parse(await ok(sample.server, ['list', 'nodes', '-o', 'json']));
    assert.deepEqual(
      json.map((n: Json) => [n.name, n.state, Number(n.num_flows)]),
      [...perNode].sort().map(([name, n]) => [name, 'NODE_CONNECTED', n]),
    );
  });

  it('`hubble list namespaces`: the namespaces of the flows', async () => {
    const expected = [...new Set(sample.flows.flatMap((f) => ends(f).map(nsOf)).filter((n) => n !== ''))].sort();
    const json = JSON.parse(await ok(sample.server, ['list', 'namespaces', '-o', 'json']));
    assert.deepEqual(
      json.map((n: Json) => n.namespace),
      expected,
    );
    const table = await ok(sample.server, ['list', 'namespaces']);
    assert.deepEqual(table.trim().split('\n').slice(1), expected);
  });

  it('answers the examples of issue 18 as Hubble does', async () => {
    const flows = sample.flows;
    assert.equal((await observe(sample.server, ['--all', '--to-port', '53'])).length, 1118);
    assert.equal((await observe(sample.server, ['--all', '--not', '--to-port', '53'])).length, 10882);
    assert.equal((await observe(sample.server, ['--all', '--type', 'l7'])).length, 732);
    // a bare pod name means namespace default, where the shop has no pods
    assert.equal((await observe(sample.server, ['--all', '--pod', 'frontend'])).length, 0);
    const a = flows[2000].time as string;
    const b = flows[6000].time as string;
    const window = flows.filter((f) => seconds(f.time) >= seconds(a) && seconds(f.time) <= seconds(b));
    const firstFifty = await observe(sample.server, ['--since', a, '--until', b, '--last', '50']);
    assert.deepEqual(uuids(firstFifty), uuids(window.slice(0, 50)));
  });

  it('observe: namespace, pod, label, verdict and protocol filters', async () => {
    const { server, flows } = sample;
    await observeMatches(server, flows, ['--namespace', 'data'], (f) => ends(f).some((e) => nsOf(e) === 'data'));
    await observeMatches(server, flows, ['--from-namespace', 'ops'], (f) => nsOf(f.source) === 'ops');
    await observeMatches(server, flows, ['--pod', 'shop/frontend'], (f) =>
      ends(f).some((e) => nsOf(e) === 'shop' && podOf(e).startsWith('frontend')),
    );
    await observeMatches(
      server,
      flows,
      ['--to-pod', 'data/orders-db'],
      (f) => podOf(f.destination).startsWith('orders-db') && nsOf(f.destination) === 'data',
    );
    await observeMatches(server, flows, ['--label', 'app=frontend'], (f) =>
      ends(f).some((e) => hasLabel(e, 'app=frontend')),
    );
    await observeMatches(
      server,
      flows,
      ['--from-label', 'k8s:app in (checkoutservice, cartservice)'],
      (f) => hasLabel(f.source, 'app=checkoutservice') || hasLabel(f.source, 'app=cartservice'),
    );
    await observeMatches(server, flows, ['--verdict', 'DROPPED'], (f) => f.verdict === 'DROPPED');
    await observeMatches(
      server,
      flows,
      ['--drop-reason-desc', 'POLICY_DENIED'],
      (f) => f.verdict === 'DROPPED' && f.drop_reason_desc === 'POLICY_DENIED',
    );
    await observeMatches(server, flows, ['--protocol', 'udp'], (f) => f.l4?.UDP !== undefined);
    await observeMatches(
      server,
      flows,
      ['--protocol', 'icmp'],
      (f) => f.l4?.ICMPv4 !== undefined || f.l4?.ICMPv6 !== undefined,
    );
    await observeMatches(server, flows, ['--protocol', 'dns'], (f) => f.l7?.dns !== undefined);
  });

  it('observe: port, service, workload, identity, node, direction and TCP flag filters', async () => {
    const { server, flows } = sample;
    await observeMatches(
      server,
      flows,
      ['--port', '5432'],
      (f) => l4Port(f, 'source_port') === 5432 || l4Port(f, 'destination_port') === 5432,
    );
    await observeMatches(server, flows, ['--not', '--to-port', '53', '--not', '--to-port', '8080'], (f) => {
      const p = l4Port(f, 'destination_port');
      return p !== 53 && p !== 8080;
    });
    await observeMatches(
      server,
      flows,
      ['--to-service', 'kube-system/kube-dns'],
      (f) =>
        f.destination_service?.namespace === 'kube-system' &&
        (f.destination_service?.name ?? '').startsWith('kube-dns'),
    );
    await observeMatches(server, flows, ['--to-workload', 'StatefulSet/orders-db'], (f) =>
      (f.destination?.workloads ?? []).some((w: Json) => w.kind === 'StatefulSet' && w.name === 'orders-db'),
    );
    const identity = flows[0].source.identity as number;
    await observeMatches(server, flows, ['--from-identity', String(identity)], (f) => f.source?.identity === identity);
    await observeMatches(server, flows, ['--node-name', 'shop-worker2'], (f) => f.node_name === 'shop-worker2');
    await observeMatches(server, flows, ['--traffic-direction', 'ingress'], (f) => f.traffic_direction === 'INGRESS');
    await observeMatches(
      server,
      flows,
      ['--tcp-flags', 'SYN,ACK'],
      (f) => f.l4?.TCP?.flags?.SYN && f.l4?.TCP?.flags?.ACK,
    );
  });

  it('observe: event type, FQDN, HTTP and CEL filters', async () => {
    await observeMatches(sample.server, sample.flows, ['--type', 'drop'], (f) => f.event_type?.type === TYPE.drop);
    // trace sub-types are Cilium's observation points: to-endpoint is 0, to-stack 3
    await observeMatches(
      sample.server,
      sample.flows,
      ['--type', 'trace:to-endpoint'],
      (f) => f.event_type?.type === TYPE.trace && (f.event_type?.sub_type ?? 0) === 0,
    );
    await observeMatches(
      sample.server,
      sample.flows,
      ['--type', 'trace:to-stack'],
      (f) => f.event_type?.type === TYPE.trace && f.event_type?.sub_type === 3,
    );
    await observeMatches(sample.server, sample.flows, ['--to-fqdn', '*.example'], (f) =>
      (f.destination_names ?? []).some((n: string) => /^[-.0-9a-z]*\.example$/.test(n)),
    );
    const { server, flows } = http;
    await observeMatches(server, flows, ['--http-status', '5+'], (f) => (f.l7?.http?.code ?? 0) >= 500);
    await observeMatches(server, flows, ['--type', 'l7', '--http-method', 'GET'], (f) => f.l7?.http?.method === 'GET');
    await observeMatches(server, flows, ['--http-path', '^/api/'], (f) => {
      const url: string = f.l7?.http?.url ?? '';
      return /^\/api\//.test(url.replace(/^[a-z]+:\/\/[^/]*/, '').split('?')[0]);
    });
    await observeMatches(
      server,
      flows,
      [
        '--cel-expression',
        '_flow.verdict == Verdict.FORWARDED && has(_flow.l4.TCP) && _flow.l4.TCP.destination_port == uint(8080)',
      ],
      (f) => f.verdict === 'FORWARDED' && f.l4?.TCP?.destination_port === 8080,
    );
    // what Hubble's CEL checker refuses is refused, and says why
    const r = await runHubble(hubble, [
      'observe',
      '--server',
      server.address,
      '--cel-expression',
      '_flow.l4.TCP.destination_port == 8080',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /InvalidArgument.*no matching overload for '_==_' applied to '\(uint, int\)'/);
  });

  it('observe: time range with --first and --last, and the default of the last 20', async () => {
    const { server, flows } = sample;
    const a = flows[500].time as string;
    const b = flows[900].time as string;
    const window = flows.filter((f) => seconds(f.time) >= seconds(a) && seconds(f.time) <= seconds(b));
    assert.deepEqual(uuids(await observe(server, ['--since', a, '--until', b])), uuids(window));
    assert.deepEqual(
      uuids(await observe(server, ['--since', a, '--until', b, '--first', '7'])),
      uuids(window.slice(0, 7)),
    );
    assert.deepEqual(uuids(await observe(server, ['--first', '5'])), uuids(flows.slice(0, 5)));
    assert.deepEqual(uuids(await observe(server, ['--last', '5'])), uuids(flows.slice(-5)));
    assert.deepEqual(uuids(await observe(server, [])), uuids(flows.slice(-20)));
    // --last counts matching flows
    const dropped = flows.filter((f) => f.verdict === 'DROPPED');
    assert.deepEqual(uuids(await observe(server, ['--verdict', 'DROPPED', '--last', '3'])), uuids(dropped.slice(-3)));
  });

  it('observe --follow: flows as they are released, in order', async () => {
    const entries = await loadReplayFiles([http.file], emptyStats());
    const server = await startReplayServer(entries, { port: 0, rate: 2000 });
    try {
      const want = 400;
      const r = await runHubble(
        hubble,
        ['observe', '--server', server.address, '--follow', '--since', http.flows[0].time, '-o', 'jsonpb'],
        {
          stopWhen: (out) => out.split('\n').filter((l) => l.startsWith('{"flow"')).length >= want,
        },
      );
      const got = r.stdout
        .split('\n')
        .filter((l) => l.startsWith('{"flow"'))
        .map((l) => JSON.parse(l).flow);
      assert.ok(got.length >= want, r.stderr);
      assert.deepEqual(uuids(got.slice(0, want)), uuids(http.flows.slice(0, want)));
    } finally {
      server.kill();
    }
  });

  it('observe --field-mask: only the fields asked for', async () => {
    const got = await observe(sample.server, [
      '--last',
      '20',
      '--field-mask',
      'time,verdict,source.pod_name,l4.TCP.destination_port',
    ]);
    const expected = sample.flows.slice(-20).map((f) => {
      const masked: Json = {
        time: f.time,
        verdict: f.verdict,
        source: f.source?.pod_name ? { pod_name: f.source.pod_name } : {},
      };
      masked.l4 = f.l4?.TCP
        ? { TCP: f.l4.TCP.destination_port ? { destination_port: f.l4.TCP.destination_port } : {} }
        : {};
      return masked;
    });
    assert.equal(got.length, 20);
    got.forEach((g, i) => {
      assert.equal(seconds(g.time), seconds(expected[i].time));
      assert.deepEqual({ ...g, time: undefined }, { ...expected[i], time: undefined });
    });
  });

  it('prints every output format: compact, dict, table, json and jsonpb', async () => {
    const last = sample.flows.slice(-10);
    const name = (ep: Json, ip: string) => (ep?.pod_name ? `${ep.namespace}/${ep.pod_name}` : ip);
    const compact = await ok(sample.server, ['observe', '--last', '10', '-o', 'compact']);
    const dict = await ok(sample.server, ['observe', '--last', '10', '-o', 'dict']);
    const table = await ok(sample.server, ['observe', '--last', '10', '-o', 'table']);
    assert.equal(compact.trim().split('\n').length, 10);
    assert.equal(dict.split('\n').filter((l) => l.includes('TIMESTAMP:')).length, 10);
    assert.equal(table.trim().split('\n').length, 11);
    for (const [i, f] of last.entries()) {
      const line = compact.trim().split('\n')[i];
      assert.ok(line.includes(name(f.source, f.IP.source)), line);
      assert.ok(line.includes(name(f.destination, f.IP.destination)), line);
      assert.ok(line.includes(f.verdict), line);
      assert.ok(table.includes(name(f.source, f.IP.source)));
    }
    assert.equal((dict.match(/VERDICT: (\w+)/g) ?? []).length, 10);
    const json = await observe(sample.server, ['--last', '10']);
    const jsonLegacyName = await ok(sample.server, ['observe', '--last', '10', '-o', 'json']);
    assert.deepEqual(uuids(json), uuids(last));
    assert.deepEqual(
      uuids(
        jsonLegacyName
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).flow),
      ),
      uuids(last),
    );
  });

  it('observe agent-events and debug-events: empty answers, not Unimplemented', async () => {
    assert.equal((await ok(sample.server, ['observe', 'agent-events'])).trim(), '');
    assert.equal((await ok(sample.server, ['observe', 'debug-events'])).trim(), '');
  });

  it('round trip: a capture replayed and read back with -o jsonpb equals the original, field for field', async () => {
    const out = await ok(http.server, ['observe', '--all', '-o', 'jsonpb']);
    const got = out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l));
    const originals = http.records.filter((r) => r.flow || r.lost_events);
    assert.equal(got.length, originals.length);
    // The same values, written alike: times with as many fraction digits as needed, and fields at their
    // default value (0, '', false, []) left out, as protobuf JSON prints them (is_reply is a wrapper: its
    // false is a value).
    const canonical = (v: unknown, key = ''): unknown => {
      if (typeof v === 'string' && (key === 'time' || key === 'first' || key === 'last')) {
        const t = parseTimestamp(v)!;
        return `${t.seconds}.${String(t.nanos).padStart(9, '0')}`;
      }
      if (Array.isArray(v)) return v.map((x) => canonical(x));
      if (v && typeof v === 'object')
        return Object.fromEntries(
          Object.entries(v)
            .filter(
              ([k, x]) =>
                k === 'is_reply' || !(x === 0 || x === '' || x === false || (Array.isArray(x) && x.length === 0)),
            )
            .map(([k, x]) => [k, canonical(x, k)]),
        );
      return v;
    };
    // Flows by uuid; lost events (which Relay sorts among the flows by their own time) as a set.
    const byUuid = new Map(originals.filter((r) => r.flow).map((r) => [r.flow.uuid as string, r]));
    for (const record of got.filter((r) => r.flow))
      assert.deepEqual(canonical(record), canonical(byUuid.get(record.flow.uuid)), record.flow.uuid);
    const lost = (rs: Json[]) =>
      rs
        .filter((r) => r.lost_events)
        .map((r) => JSON.stringify(canonical(r)))
        .sort();
    assert.deepEqual(lost(got), lost(originals));
    // and in Relay's order: by time
    const times = got.filter((r) => r.flow).map((r) => seconds(r.flow.time));
    assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]));
  });
});
