import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { workloadOf } from '../../src/identity/index.js';
import type { Endpoint, WorkloadName } from '../../src/model/index.js';

function pod(name: string, labels: Record<string, string> = {}, workload?: WorkloadName): Endpoint {
  return { namespace: 'shop', pod: name, labels, workload };
}

describe('workloadOf: the source report wins', () => {
  test('a Hubble workload is taken as reported, even when the name suggests otherwise', () => {
    const ep = pod('cart-7d9f8c6b5-xk2p9', { 'pod-template-hash': '7d9f8c6b5' }, { kind: 'Deployment', name: 'carts' });
    assert.deepEqual(workloadOf(ep), { kind: 'Deployment', name: 'carts' });
  });

  test('a reported ReplicaSet `<deploy>-<hash>` becomes the Deployment when the pod carries that hash', () => {
    const ep = pod(
      'cart-7d9f8c6b5-xk2p9',
      { 'pod-template-hash': '7d9f8c6b5' },
      { kind: 'ReplicaSet', name: 'cart-7d9f8c6b5' },
    );
    assert.deepEqual(workloadOf(ep), { kind: 'Deployment', name: 'cart' });
  });

  test('a reported ReplicaSet stays one when the pod has no pod-template-hash (a ReplicaSet of its own)', () => {
    const ep = pod('legacy-rs-xk2p9', {}, { kind: 'ReplicaSet', name: 'legacy-rs' });
    assert.deepEqual(workloadOf(ep), { kind: 'ReplicaSet', name: 'legacy-rs' });
  });

  test('a reported ReplicaSet stays one when its name does not end in the pod hash', () => {
    const ep = pod('cart-xk2p9', { 'pod-template-hash': '7d9f8c6b5' }, { kind: 'ReplicaSet', name: 'cart-other' });
    assert.deepEqual(workloadOf(ep), { kind: 'ReplicaSet', name: 'cart-other' });
  });

  test('a reported Job `<cronjob>-<scheduled minutes>` becomes the CronJob', () => {
    const ep = pod(
      'backup-29412345-q7wzm',
      { 'job-name': 'backup-29412345' },
      { kind: 'Job', name: 'backup-29412345' },
    );
    assert.deepEqual(workloadOf(ep), { kind: 'CronJob', name: 'backup' });
  });

  test('a reported Job with a short number suffix stays a Job', () => {
    const ep = pod('migrate-2-q7wzm', { 'job-name': 'migrate-2' }, { kind: 'Job', name: 'migrate-2' });
    assert.deepEqual(workloadOf(ep), { kind: 'Job', name: 'migrate-2' });
  });

  test('a reported workload is used even without a pod name', () => {
    assert.deepEqual(workloadOf({ namespace: 'shop', labels: {}, workload: { kind: 'StatefulSet', name: 'db' } }), {
      kind: 'StatefulSet',
      name: 'db',
    });
  });
});

describe('workloadOf: derived from pod name and labels', () => {
  test('pod-template-hash label → Deployment named by what precedes the hash', () => {
    assert.deepEqual(workloadOf(pod('web-frontend-6d9f8c7b5-abcde', { 'pod-template-hash': '6d9f8c7b5' })), {
      kind: 'Deployment',
      name: 'web-frontend',
    });
  });

  test('pod-template-hash with a short hash still splits at the label value', () => {
    assert.deepEqual(workloadOf(pod('api-5c4-wxyz2', { 'pod-template-hash': '5c4' })), {
      kind: 'Deployment',
      name: 'api',
    });
  });

  test('`<name>-<hash>-<5 chars>` without labels → Deployment', () => {
    assert.deepEqual(workloadOf(pod('checkout-5b7d9c8f4-zq2xk')), { kind: 'Deployment', name: 'checkout' });
  });

  test('a name whose parts contain vowels is not mistaken for a Deployment pod', () => {
    assert.deepEqual(workloadOf(pod('nginx-debug-shell')), { kind: 'Pod', name: 'nginx-debug-shell' });
    assert.deepEqual(workloadOf(pod('my-toolbox-pod-abcde')), { kind: 'Pod', name: 'my-toolbox-pod-abcde' });
  });

  test('StatefulSet: controller-revision-hash + statefulset.kubernetes.io/pod-name, ordinal removed', () => {
    const labels = { 'controller-revision-hash': 'db-6b4f8c7d9', 'statefulset.kubernetes.io/pod-name': 'db-12' };
    assert.deepEqual(workloadOf(pod('db-12', labels)), { kind: 'StatefulSet', name: 'db' });
  });

  test('StatefulSet: controller-revision-hash and a `<name>-<ordinal>` pod', () => {
    assert.deepEqual(workloadOf(pod('redis-cache-0', { 'controller-revision-hash': 'redis-cache-5d8f' })), {
      kind: 'StatefulSet',
      name: 'redis-cache',
    });
  });

  test('StatefulSet: apps.kubernetes.io/pod-index counts like the pod-name label', () => {
    const labels = { 'controller-revision-hash': 'kafka-7c9', 'apps.kubernetes.io/pod-index': '2' };
    assert.deepEqual(workloadOf(pod('kafka-2', labels)), { kind: 'StatefulSet', name: 'kafka' });
  });

  test('DaemonSet: controller-revision-hash + pod-template-generation, random suffix removed', () => {
    const labels = { 'controller-revision-hash': '6f5d5f5b6c', 'pod-template-generation': '3' };
    assert.deepEqual(workloadOf(pod('node-exporter-x7k2p', labels)), { kind: 'DaemonSet', name: 'node-exporter' });
  });

  test('DaemonSet: controller-revision-hash alone and a `<name>-<5 chars>` pod', () => {
    assert.deepEqual(workloadOf(pod('fluent-bit-q9zt4', { 'controller-revision-hash': '7f6c' })), {
      kind: 'DaemonSet',
      name: 'fluent-bit',
    });
  });

  test('a DaemonSet whose random suffix is all digits is not read as a StatefulSet ordinal', () => {
    const labels = { 'controller-revision-hash': '6f5d5f5b6c', 'pod-template-generation': '1' };
    assert.deepEqual(workloadOf(pod('agent-24567', labels)), { kind: 'DaemonSet', name: 'agent' });
  });

  test('Job: job-name label', () => {
    assert.deepEqual(workloadOf(pod('db-migrate-v7-k2x9z', { 'job-name': 'db-migrate-v7' })), {
      kind: 'Job',
      name: 'db-migrate-v7',
    });
  });

  test('Job: batch.kubernetes.io/job-name label', () => {
    assert.deepEqual(workloadOf(pod('seed-k2x9z', { 'batch.kubernetes.io/job-name': 'seed' })), {
      kind: 'Job',
      name: 'seed',
    });
  });

  test('CronJob: a job named `<cronjob>-<scheduled minutes>`', () => {
    const labels = { 'batch.kubernetes.io/job-name': 'nightly-report-29412345', 'job-name': 'nightly-report-29412345' };
    assert.deepEqual(workloadOf(pod('nightly-report-29412345-4hx7w', labels)), {
      kind: 'CronJob',
      name: 'nightly-report',
    });
  });

  test('a bare pod is a Pod named as itself', () => {
    assert.deepEqual(workloadOf(pod('debug', { run: 'debug' })), { kind: 'Pod', name: 'debug' });
  });

  test('a bare pod named like a StatefulSet member stays a Pod without controller labels', () => {
    assert.deepEqual(workloadOf(pod('worker-1')), { kind: 'Pod', name: 'worker-1' });
  });

  test('no pod and no reported workload → undefined', () => {
    assert.equal(workloadOf({ ip: '10.0.0.1', labels: {} }), undefined);
    assert.equal(workloadOf({ namespace: 'shop', labels: { app: 'x' } }), undefined);
  });
});

describe('workloadOf: Calico aggregated names (`<prefix>-*`)', () => {
  test('`<deploy>-<hash>-*` → Deployment', () => {
    assert.deepEqual(workloadOf(pod('frontend-6d9f8c7b5-*', { app: 'frontend' })), {
      kind: 'Deployment',
      name: 'frontend',
    });
  });

  test('`<deploy>-<hash>-*` with a hash equal to the pod-template-hash label, however short', () => {
    assert.deepEqual(workloadOf(pod('api-5c4-*', { 'pod-template-hash': '5c4' })), { kind: 'Deployment', name: 'api' });
  });

  test('`<name>-*` with pod-template-hash among the labels → Deployment `<name>`', () => {
    assert.deepEqual(workloadOf(pod('frontend-*', { 'pod-template-hash': '6d9f8c7b5' })), {
      kind: 'Deployment',
      name: 'frontend',
    });
  });

  test('`<name>-*` with DaemonSet labels → DaemonSet', () => {
    const labels = { 'controller-revision-hash': '6f5d5f5b6c', 'pod-template-generation': '1' };
    assert.deepEqual(workloadOf(pod('node-exporter-*', labels)), { kind: 'DaemonSet', name: 'node-exporter' });
  });

  test('`<name>-*` with controller-revision-hash alone → StatefulSet', () => {
    assert.deepEqual(workloadOf(pod('db-*', { 'controller-revision-hash': 'db-6b4f8c7d9' })), {
      kind: 'StatefulSet',
      name: 'db',
    });
  });

  test('`<job>-*` with a job label → Job, or CronJob for a scheduled job name', () => {
    assert.deepEqual(workloadOf(pod('seed-*', { 'job-name': 'seed' })), { kind: 'Job', name: 'seed' });
    assert.deepEqual(workloadOf(pod('backup-29412345-*', { 'job-name': 'backup-29412345' })), {
      kind: 'CronJob',
      name: 'backup',
    });
  });

  test('`<name>-*` with no telling labels → ReplicaSet `<name>` (the documented default)', () => {
    assert.deepEqual(workloadOf(pod('worker-*', { app: 'worker' })), { kind: 'ReplicaSet', name: 'worker' });
  });
});
