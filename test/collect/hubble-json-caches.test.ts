// The Hubble normalizer remembers what repeats from flow to flow (a pod's endpoint, the minute of the
// time, service names). These tests check that what it remembers never changes a result: every flow
// normalizes exactly as it would on its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeHubbleFlow } from '../../src/collect/hubble/json.js';
import { FlowwrightError } from '../../src/model/index.js';

const ORIGIN = { source: 'flows.json', line: 1 };

function podEnd(pod: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    namespace: 'shop',
    pod_name: pod,
    identity: 4001,
    cluster_name: 'prod',
    labels: ['k8s:app=web', 'k8s:io.cilium.k8s.policy.serviceaccount=web', 'k8s:pod-template-hash=7d4b9c'],
    workloads: [{ name: 'web', kind: 'Deployment' }],
    ...extra,
  };
}

function flowOf(time: string, source: Record<string, unknown>, sourcePort = 40000): Record<string, unknown> {
  return {
    time,
    verdict: 'FORWARDED',
    IP: { source: '10.0.0.1', destination: '10.0.0.2' },
    l4: { TCP: { source_port: sourcePort, destination_port: 8080 } },
    source,
    destination: podEnd('api-0', { workloads: undefined, labels: ['k8s:app=api'] }),
    destination_service: { namespace: 'shop', name: 'api' },
  };
}

test('a pod seen again gets its own endpoint object, with its own address and port', () => {
  const a = normalizeHubbleFlow(flowOf('2024-06-03T10:00:01Z', podEnd('web-7d4b9c-aaaaa'), 40001), ORIGIN);
  const b = normalizeHubbleFlow(flowOf('2024-06-03T10:00:02Z', podEnd('web-7d4b9c-aaaaa'), 40002), ORIGIN);
  assert.notEqual(a.source, b.source);
  assert.equal(a.source.port, 40001);
  assert.equal(b.source.port, 40002);
  assert.deepEqual({ ...a.source, port: 0 }, { ...b.source, port: 0 });
  assert.deepEqual(a.source.workload, { kind: 'Deployment', name: 'web' });
  assert.equal(a.service, 'shop/api');
  assert.equal(b.service, 'shop/api');
});

test('a pod whose labels, namespace, identity, cluster or workload change is read afresh', () => {
  const pod = 'web-7d4b9c-bbbbb';
  const first = normalizeHubbleFlow(flowOf('2024-06-03T10:00:01Z', podEnd(pod)), ORIGIN).source;
  assert.deepEqual(first.labels, { app: 'web', 'pod-template-hash': '7d4b9c' });

  const relabeled = podEnd(pod, {
    labels: ['k8s:app=web', 'k8s:io.cilium.k8s.policy.serviceaccount=web2', 'k8s:tier=front'],
  });
  const second = normalizeHubbleFlow(flowOf('2024-06-03T10:00:02Z', relabeled), ORIGIN).source;
  assert.deepEqual(second.labels, { app: 'web', tier: 'front' });
  assert.equal(second.serviceAccount, 'web2');

  const changes: [Record<string, unknown>, (ep: typeof first) => unknown, unknown][] = [
    [{ namespace: 'other' }, (ep) => ep.namespace, 'other'],
    [{ identity: 4002 }, (ep) => ep.identity, 4002],
    [{ cluster_name: 'dr' }, (ep) => ep.cluster, 'dr'],
    [
      { workloads: [{ name: 'web-v2', kind: 'deployment' }] },
      (ep) => ep.workload,
      { kind: 'Deployment', name: 'web-v2' },
    ],
    [{ workloads: undefined }, (ep) => ep.workload, undefined],
    [{ labels: undefined }, (ep) => ep.labels, {}],
  ];
  for (const [change, read, expected] of changes) {
    const ep = normalizeHubbleFlow(flowOf('2024-06-03T10:00:03Z', podEnd(pod, change)), ORIGIN).source;
    assert.deepEqual(read(ep), expected, JSON.stringify(change));
    // And back: the original fields give the original endpoint again.
    const back = normalizeHubbleFlow(flowOf('2024-06-03T10:00:04Z', podEnd(pod)), ORIGIN).source;
    assert.deepEqual({ ...back, port: 0 }, { ...first, port: 0 });
  }
});

test('a label list changed after it was read does not change what was remembered', () => {
  const pod = 'web-7d4b9c-ccccc';
  const end = podEnd(pod);
  normalizeHubbleFlow(flowOf('2024-06-03T10:00:01Z', end), ORIGIN);
  (end.labels as string[])[0] = 'k8s:app=changed';
  const again = normalizeHubbleFlow(flowOf('2024-06-03T10:00:02Z', end), ORIGIN).source;
  assert.equal(again.labels.app, 'changed');
});

test('shared parts of an endpoint are frozen', () => {
  const ep = normalizeHubbleFlow(flowOf('2024-06-03T10:00:01Z', podEnd('web-7d4b9c-ddddd')), ORIGIN).source;
  assert.ok(Object.isFrozen(ep.labels));
  assert.ok(Object.isFrozen(ep.workload));
});

test('times read by hand within a remembered minute equal Date.parse, fractions cut to milliseconds', () => {
  const times = [
    '2024-06-03T10:00:00Z',
    '2024-06-03T10:00:01.5Z',
    '2024-06-03T10:00:02.05Z',
    '2024-06-03T10:00:03.123Z',
    '2024-06-03T10:00:04.1239Z',
    '2024-06-03T10:00:59.999999999Z',
    '2024-06-03T10:00:07.000000001Z',
    '2024-06-03T10:01:00.000Z', // the next minute
    '2024-06-03T10:00:30.25Z', // and back
    '2024-06-03t10:00:31Z',
    '2024-06-03T10:00:32z',
    '2024-06-03 10:00:33Z',
    '2024-06-03T10:00:34+02:00',
    '2024-06-03T10:00:35.5-01:30',
    '2024-12-31T23:59:59.999Z',
    '2025-01-01T00:00:00.001Z',
    '2024-02-29T12:34:56.789Z',
    '1969-12-31T23:59:58.5Z',
  ];
  for (const time of times) {
    const flow = normalizeHubbleFlow(flowOf(time, podEnd('web-7d4b9c-eeeee')), ORIGIN);
    assert.equal(flow.time, Date.parse(time), time);
  }
});

test('a time that only looks like the remembered minute is still checked', () => {
  normalizeHubbleFlow(flowOf('2024-06-03T10:00:00Z', podEnd('web-7d4b9c-fffff')), ORIGIN);
  for (const time of [
    '2024-06-03T10:00:60Z',
    '2024-06-03T10:00:6xZ',
    '2024-06-03T10:00:05.Z',
    '2024-06-03T10:00:05.12a4Z',
    '2024-06-03T10:00',
  ]) {
    assert.throws(
      () => normalizeHubbleFlow(flowOf(time, podEnd('web-7d4b9c-fffff')), ORIGIN),
      (err: unknown) => err instanceof FlowwrightError && err.location?.field === 'time',
      time,
    );
  }
  // More than nine fraction digits is still RFC 3339: Date.parse decides.
  const long = '2024-06-03T10:00:05.1234567891Z';
  assert.equal(normalizeHubbleFlow(flowOf(long, podEnd('web-7d4b9c-fffff')), ORIGIN).time, Date.parse(long));
});

test('hour 24 stands only for 24:00:00', () => {
  const end = normalizeHubbleFlow(flowOf('2024-06-03T24:00:00Z', podEnd('web-7d4b9c-ggggg')), ORIGIN);
  assert.equal(end.time, Date.parse('2024-06-04T00:00:00Z'));
  assert.throws(
    () => normalizeHubbleFlow(flowOf('2024-06-03T24:00:01Z', podEnd('web-7d4b9c-ggggg')), ORIGIN),
    (err: unknown) => err instanceof FlowwrightError && err.location?.field === 'time',
  );
});
