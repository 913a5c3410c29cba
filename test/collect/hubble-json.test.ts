import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  classifyHubbleRecord,
  handleHubbleRecord,
  normalizeHubbleFlow,
  splitUrl,
} from '../../src/collect/hubble/json.js';
import { jsonToResponse, loadHubbleProto } from '../../src/collect/hubble/proto.js';
import { emptyStats, type Flow, FlowwrightError } from '../../src/model/index.js';

const fixture = (name: string): Record<string, unknown>[] =>
  readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .map((line) => (line.trim() ? JSON.parse(line) : undefined))
    .filter((x) => x !== undefined);

const wrapped = fixture('wrapped.jsonl');
const jsonpb = fixture('jsonpb.jsonl');
const bare = fixture('bare.jsonl');
const l7 = fixture('l7.jsonl');

const ORIGIN = { source: 'flows.json', line: 2 };
const innerOf = (record: Record<string, unknown>) => record.flow as Record<string, unknown>;

/** The flow on line 2 of wrapped.jsonl, written out by hand from the fixture. */
const WEB_TO_API: Flow = {
  time: Date.UTC(2024, 5, 3, 10, 0, 1, 123),
  source: {
    labels: { app: 'web', 'pod-template-hash': '7d4b9c' },
    namespaceLabels: { 'kubernetes.io/metadata.name': 'shop', team: 'storefront' },
    serviceAccount: 'web',
    cluster: 'prod-eu',
    namespace: 'shop',
    pod: 'web-7d4b9c-abcde',
    identity: 40001,
    workload: { kind: 'Deployment', name: 'web' },
    ip: '10.244.1.10',
    port: 41234,
  },
  destination: {
    labels: { app: 'api' },
    serviceAccount: 'api',
    cluster: 'prod-eu',
    namespace: 'shop',
    pod: 'api-0',
    identity: 40002,
    workload: { kind: 'StatefulSet', name: 'api' },
    ip: '10.244.2.20',
    port: 8080,
  },
  protocol: 'TCP',
  port: 8080,
  verdict: 'forwarded',
  reply: false,
  direction: 'egress',
  count: 1,
  service: 'shop/api',
  node: 'kind-worker',
  origin: ORIGIN,
};

test('a wrapped hubble observe -o json flow normalizes field by field', () => {
  assert.deepEqual(normalizeHubbleFlow(innerOf(wrapped[1]), ORIGIN), WEB_TO_API);
});

test("Cilium's unconfigured cluster name 'default' names no cluster; a configured name is kept", () => {
  const inner = structuredClone(innerOf(wrapped[1])) as { source: Record<string, unknown> };
  inner.source.cluster_name = 'default';
  inner.source.labels = (inner.source.labels as string[]).map((l) =>
    l.replace(/policy\.cluster=.*/, 'policy.cluster=default'),
  );
  const flow = normalizeHubbleFlow(inner, ORIGIN);
  assert.equal(flow.source.cluster, undefined);
  assert.equal(flow.destination.cluster, 'prod-eu');
});

test('lowerCamelCase keys (jsonpb) and enum numbers (exporter without wrapper) give the same flow', () => {
  assert.deepEqual(normalizeHubbleFlow(innerOf(jsonpb[1]), ORIGIN), WEB_TO_API);
  assert.deepEqual(normalizeHubbleFlow(bare[0], ORIGIN), WEB_TO_API);
});

test('the protobufjs object of a decoded gRPC message gives the identical flow', () => {
  const proto = loadHubbleProto();
  for (const record of [wrapped[1], wrapped[2], l7[0], l7[2]]) {
    // As the relay collector sees it: bytes off the wire, decoded, turned into a plain object.
    const bytes = proto.GetFlowsResponse.encode(jsonToResponse(proto, record)).finish();
    const obj = proto.GetFlowsResponse.toObject(proto.GetFlowsResponse.decode(bytes), { enums: String });
    const flow = obj.flow as Record<string, unknown>;
    const time = flow.time as { seconds: unknown; nanos: number };
    assert.equal(typeof time.seconds, 'object', 'seconds stays a Long, as protobufjs gives it');
    assert.ok(flow.is_reply === undefined || typeof flow.is_reply === 'object');
    assert.deepEqual(normalizeHubbleFlow(flow, ORIGIN), normalizeHubbleFlow(innerOf(record), ORIGIN));
  }
});

test('time: RFC 3339 with nanoseconds or an offset, {seconds, nanos} with string or number seconds', () => {
  const at = (time: unknown) => normalizeHubbleFlow({ time }, ORIGIN).time;
  const ms = Date.UTC(2024, 5, 3, 10, 0, 1, 123);
  assert.equal(at('2024-06-03T10:00:01.123999999Z'), ms);
  assert.equal(at('2024-06-03T12:00:01.123+02:00'), ms);
  assert.equal(at({ seconds: '1717408801', nanos: 123_999_999 }), ms);
  assert.equal(at({ seconds: 1717408801, nanos: 123_000_000 }), ms);
  assert.equal(at({ seconds: 1717408801 }), ms - 123);
});

test('a flow without a usable time is rejected with the field named', () => {
  for (const time of ['yesterday', '2024-06-03', '2024-06-03T10:00:01', 1717408801, undefined, { nanos: 2e9 }]) {
    assert.throws(
      () => normalizeHubbleFlow({ time, verdict: 'FORWARDED' }, ORIGIN),
      (err: unknown) => err instanceof FlowwrightError && err.code === 'input' && err.location?.field === 'time',
      `time ${JSON.stringify(time)}`,
    );
  }
});

test('reply: is_reply wins, then the deprecated reply flag, then TCP handshake flags, else unknown', () => {
  const flows = wrapped
    .filter((r) => classifyHubbleRecord(r) === 'flow')
    .map((r) => normalizeHubbleFlow(innerOf(r), ORIGIN));
  // SYN is_reply:false, SYN-ACK is_reply:true, SYN, SYN-ACK, ACK+PSH, dropped SYN is_reply:false, UDP
  assert.deepEqual(
    flows.map((f) => f.reply),
    [false, true, false, true, null, false, null],
  );
  const base = { time: '2024-06-03T10:00:00Z' };
  const reply = (extra: Record<string, unknown>) => normalizeHubbleFlow({ ...base, ...extra }, ORIGIN).reply;
  assert.equal(reply({ is_reply: { value: true } }), true);
  assert.equal(reply({ is_reply: {} }), false, 'BoolValue{false} decodes to an empty object');
  assert.equal(reply({ isReply: true }), true);
  assert.equal(reply({ reply: true }), true);
  assert.equal(reply({ reply: false }), null, 'the deprecated false cannot be told from absent');
  assert.equal(
    reply({ is_reply: false, l4: { TCP: { flags: { SYN: true, ACK: true } } } }),
    false,
    'is_reply beats the flags',
  );
  assert.equal(reply({ is_reply: null }), null);
});

test('enum names and numbers, unknown values fall back to unknown', () => {
  const f = (extra: Record<string, unknown>) => normalizeHubbleFlow({ time: '2024-06-03T10:00:00Z', ...extra }, ORIGIN);
  assert.equal(f({ verdict: 'AUDIT' }).verdict, 'audit');
  assert.equal(f({ verdict: 7 }).verdict, 'translated');
  assert.equal(f({ verdict: 'SOMETHING_NEW' }).verdict, 'unknown');
  assert.equal(f({ verdict: 42 }).verdict, 'unknown');
  assert.equal(f({}).verdict, 'unknown');
  assert.equal(f({ traffic_direction: 'INGRESS' }).direction, 'ingress');
  assert.equal(f({ trafficDirection: 2 }).direction, 'egress');
  assert.equal(f({}).direction, 'unknown');
  assert.equal(f({ drop_reason_desc: 'POLICY_DENIED' }).dropReason, 'POLICY_DENIED');
  assert.equal(f({ drop_reason_desc: 133 }).dropReason, 'POLICY_DENIED');
  assert.equal(f({ drop_reason_desc: 181 }).dropReason, 'POLICY_DENY');
  assert.equal(f({ drop_reason_desc: 160 }).dropReason, 'DROP_REASON_160');
  assert.equal(f({ drop_reason: 133 }).dropReason, 'POLICY_DENIED', 'the deprecated numeric field');
  assert.equal(f({ drop_reason_desc: 'DROP_REASON_UNKNOWN' }).dropReason, undefined);
  assert.equal('dropReason' in f({ verdict: 'FORWARDED' }), false);
});

test('exporter without wrapper: enum numbers, ICMP type as port, reserved entities, namespace from labels', () => {
  const [, dropped, icmp, udp] = bare.map((r, i) => normalizeHubbleFlow(r, { source: 'bare.jsonl', line: i + 1 }));
  assert.equal(dropped.verdict, 'dropped');
  assert.equal(dropped.direction, 'ingress');
  assert.equal(dropped.dropReason, 'POLICY_DENY');
  assert.equal(dropped.destination.namespace, 'data');

  assert.equal(icmp.protocol, 'ICMPv4');
  assert.equal(icmp.port, 8);
  assert.equal(icmp.destination.port, undefined, 'ICMP has no endpoint ports');
  assert.equal(icmp.destination.reserved, 'kube-apiserver', 'the first reserved label names the entity');
  assert.deepEqual(icmp.destination.labels, {});
  assert.equal(icmp.destination.identity, 7);

  assert.equal(udp.protocol, 'UDP');
  assert.equal(udp.reply, true, 'deprecated reply: true');
  assert.equal(udp.source.namespace, 'shop', 'from k8s:io.kubernetes.pod.namespace when the field is missing');
  assert.deepEqual(udp.source.labels, { app: 'api' });
  assert.equal(udp.destination.reserved, 'host');
  assert.equal(udp.direction, 'unknown', 'no traffic_direction');
  assert.equal(udp.node, undefined);
});

test('labels: only the pod’s own k8s labels are kept; other reserved names map to unknown; world-ipv4 is world', () => {
  const ep = (labels: unknown[], extra: Record<string, unknown> = {}) =>
    normalizeHubbleFlow({ time: '2024-06-03T10:00:00Z', source: { labels, ...extra } }, ORIGIN).source;
  assert.deepEqual(
    ep([
      'k8s:app=a',
      'k8s:tier',
      'k8s:io.cilium.k8s.policy.uid=123',
      'k8s:io.kubernetes.pod.uid=x',
      'container:id=abc',
      'cidr:1.2.3.4/32',
      'k8s:version=v1.beta',
      42,
    ]),
    { labels: { app: 'a', tier: '', version: 'v1.beta' } },
  );
  // The value runs from the first '=' on, and `v1=beta` is no Kubernetes label value: the flow is refused.
  assert.throws(
    () => ep(['k8s:version=v1=beta']),
    (err: unknown) =>
      err instanceof FlowwrightError &&
      err.kind === 'invalid label value' &&
      err.location?.field === 'source.labels.version',
  );
  assert.equal(ep(['reserved:world-ipv4']).reserved, 'world');
  assert.equal(ep(['reserved:something-new']).reserved, 'unknown');
  assert.equal(ep([], { cluster_name: 'east' }).cluster, 'east');
  assert.equal(ep(['k8s:io.cilium.k8s.policy.cluster=west'], { cluster_name: 'east' }).cluster, 'west');
  assert.equal(ep([], { workloads: [{ name: 'x', kind: 'CustomThing' }] }).workload, undefined);
  assert.deepEqual(ep([], { workloads: [{ name: 'x', kind: 'daemonset' }] }).workload, {
    kind: 'DaemonSet',
    name: 'x',
  });
  assert.throws(
    () => ep('k8s:app=a' as unknown as unknown[]),
    (err: unknown) => err instanceof FlowwrightError && err.location?.field === 'source.labels',
  );
});

test('endpoints sharing a label list share one frozen labels object', () => {
  const a = normalizeHubbleFlow(innerOf(wrapped[5]), ORIGIN);
  const b = normalizeHubbleFlow(innerOf(wrapped[6]), ORIGIN);
  assert.equal(a.source.labels, b.destination.labels);
  assert.ok(Object.isFrozen(a.source.labels));
});

test('L7 HTTP: path without scheme, host, query or fragment; status from code', () => {
  const [request, response, dns, kafka] = l7.map((r) => normalizeHubbleFlow(innerOf(r), ORIGIN));
  assert.deepEqual(request.l7, {
    type: 'request',
    http: { method: 'GET', path: '/v1/orders/42', host: 'api.shop.svc.cluster.local:8080' },
  });
  assert.deepEqual(response.l7, { type: 'response', http: { method: 'POST', path: '/v1/orders', status: 201 } });
  assert.equal(response.reply, true);
  assert.deepEqual(dns.l7, {
    type: 'response',
    dns: {
      query: 'api.example.com',
      answers: ['93.184.216.34', '2606:2800:220:1::1'],
      rcode: 0,
      qtypes: ['A', 'AAAA'],
    },
  });
  assert.deepEqual(dns.source.workload, { kind: 'Deployment', name: 'coredns' });
  assert.deepEqual(kafka.l7, { type: 'request', kafka: { topic: 'orders', apiKey: 'produce' } });
  assert.equal(kafka.port, 9092);
});

test('splitUrl keeps the path only', () => {
  assert.deepEqual(splitUrl('https://user:pw@example.com/a/b?c=d#e'), { host: 'example.com', path: '/a/b' });
  assert.deepEqual(splitUrl('http://example.com'), { host: 'example.com', path: '/' });
  assert.deepEqual(splitUrl('http://example.com?x=1'), { host: 'example.com', path: '/' });
  assert.deepEqual(splitUrl('/login?next=http://evil/'), { host: undefined, path: '/login' });
  assert.deepEqual(splitUrl('/p#frag?x'), { host: undefined, path: '/p' });
  assert.deepEqual(splitUrl(''), { host: undefined, path: '' });
});

test('classifyHubbleRecord tells flows from other records', () => {
  assert.equal(classifyHubbleRecord(wrapped[0]), 'node_status');
  assert.equal(classifyHubbleRecord(wrapped[1]), 'flow');
  assert.equal(classifyHubbleRecord(wrapped[3]), 'lost_events');
  assert.equal(classifyHubbleRecord(jsonpb[0]), 'node_status');
  assert.equal(classifyHubbleRecord(jsonpb[3]), 'lost_events');
  assert.equal(classifyHubbleRecord(bare[0]), 'flow');
  assert.equal(classifyHubbleRecord(bare[3]), 'flow', 'a bare flow without verdict, found by IP and l4');
  assert.equal(classifyHubbleRecord({ source: {}, destination: {} }), 'flow');
  assert.equal(classifyHubbleRecord({ agent_event: { type: 'AGENT_STARTED' }, node_name: 'n' }), 'other-event');
  assert.equal(classifyHubbleRecord({ debugEvent: { type: 'DBG_GENERIC' } }), 'other-event');
  // A wrapper's own time and node name make no flow; neither do Calico records or non-objects.
  assert.equal(classifyHubbleRecord({ node_name: 'n', time: '2024-06-03T10:00:00Z' }), 'unknown');
  assert.equal(
    classifyHubbleRecord({ start_time: 1, source_namespace: 'a', dest_namespace: 'b', action: 'allow' }),
    'unknown',
  );
  assert.equal(classifyHubbleRecord({ flow: 'x' }), 'unknown');
  assert.equal(classifyHubbleRecord({ flow: null }), 'unknown');
  assert.equal(classifyHubbleRecord([{ flow: {} }]), 'unknown');
  assert.equal(classifyHubbleRecord(null), 'unknown');
  assert.equal(classifyHubbleRecord('flow'), 'unknown');
});

test('handleHubbleRecord counts non-flow records and lost events, and fills time and node from the wrapper', () => {
  const stats = emptyStats();
  const out: Flow[] = [];
  for (const record of [...wrapped, ...jsonpb]) handleHubbleRecord(record, ORIGIN, out, stats);
  assert.equal(out.length, 9);
  assert.equal(stats.flows, 9);
  assert.equal(stats.nonFlow, 4);
  assert.equal(stats.lostEvents, 17 + 3);

  const noTime = {
    flow: { verdict: 'FORWARDED', IP: { source: '10.0.0.1', destination: '10.0.0.2' } },
    node_name: 'n1',
    time: '2024-06-03T10:00:00Z',
  };
  handleHubbleRecord(noTime, ORIGIN, out, stats);
  assert.equal(out[9].time, Date.UTC(2024, 5, 3, 10));
  assert.equal(out[9].node, 'n1');
  assert.throws(() => handleHubbleRecord({ hello: 1 }, ORIGIN, out, stats), FlowwrightError);
  assert.equal(stats.flows, 10);
});
