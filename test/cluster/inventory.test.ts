// The inventory model: a kubectl List read into objects with lifetimes, the lookups identity and review
// use (pod by name or by address at a time, Services and their pod ports), its storage, and refusals of
// files of the wrong shape.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { addInventoryDocument, type InventoryRead, readInventoryPath } from '../../src/cluster/index.js';
import { FlowwrightError, type InventoryPod, indexInventory } from '../../src/model/index.js';
import { openStore } from '../../src/store/index.js';

const FIXTURE = join(import.meta.dirname, 'fixtures/inventory.json');
const T = (iso: string) => Date.parse(iso);
const dir = mkdtempSync(join(tmpdir(), 'flowwright-inventory-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function pod(name: string, ip: string, created: string, extra: Record<string, unknown> = {}) {
  return {
    kind: 'Pod',
    metadata: { name, namespace: 'shop', uid: `uid-${name}`, creationTimestamp: created, labels: { app: name } },
    spec: { containers: [] },
    status: { podIP: ip },
    ...extra,
  };
}

function read(doc: unknown, file = 'inv.json'): InventoryRead {
  const into: InventoryRead = { objects: [], ignored: {}, files: [file] };
  addInventoryDocument(doc, file, into);
  return into;
}

function refusal(doc: unknown): FlowwrightError {
  try {
    read(doc);
  } catch (err) {
    assert.ok(err instanceof FlowwrightError, String(err));
    assert.equal(err.code, 'input');
    return err;
  }
  assert.fail('the inventory was accepted');
}

describe('inventory file', () => {
  const { objects, ignored } = readInventoryPath(FIXTURE);
  const index = indexInventory({ objects });

  it('keeps namespaces, pods, services and endpoint slices, and counts other kinds', () => {
    assert.deepEqual(
      objects.map((t) => t.object.kind),
      ['Namespace', 'Namespace', 'Pod', 'Pod', 'Pod', 'Pod', 'Service', 'Service', 'EndpointSlice'],
    );
    assert.deepEqual(ignored, { ConfigMap: 1 });
    assert.deepEqual(index.namespaceLabels('shop'), { 'kubernetes.io/metadata.name': 'shop', team: 'retail' });
    assert.deepEqual(index.namespaces(), ['kube-system', 'shop']);
  });

  it('names the owning workload: Deployment via ReplicaSet, StatefulSet, DaemonSet, CronJob via Job', () => {
    const owner = (ns: string, name: string) => index.workloadOf(index.pod(ns, name)!);
    assert.deepEqual(owner('shop', 'web-5d8f7c9b4-x2x7q'), { kind: 'Deployment', name: 'web' });
    assert.deepEqual(owner('shop', 'db-0'), { kind: 'StatefulSet', name: 'db' });
    assert.deepEqual(owner('kube-system', 'node-local-dns-6jnx9'), { kind: 'DaemonSet', name: 'node-local-dns' });
    assert.deepEqual(owner('shop', 'report-28644120-q8m2z'), { kind: 'CronJob', name: 'report' });
  });

  it('prefers the stored ReplicaSet and Job owners over names when the dump has them', () => {
    const inv = read({
      kind: 'List',
      items: [
        {
          kind: 'ReplicaSet',
          metadata: {
            name: 'api-x',
            namespace: 'shop',
            ownerReferences: [{ kind: 'Deployment', name: 'api-gateway', controller: true }],
          },
        },
        { kind: 'Job', metadata: { name: 'migrate-12345678', namespace: 'shop' } },
        pod('api-x-abcde', '10.0.2.1', '2024-06-03T00:00:00Z', {
          metadata: {
            name: 'api-x-abcde',
            namespace: 'shop',
            ownerReferences: [{ kind: 'ReplicaSet', name: 'api-x' }],
          },
        }),
        pod('migrate-12345678-vwxyz', '10.0.2.2', '2024-06-03T00:00:00Z', {
          metadata: {
            name: 'migrate-12345678-vwxyz',
            namespace: 'shop',
            ownerReferences: [{ kind: 'Job', name: 'migrate-12345678', controller: true }],
          },
        }),
      ],
    });
    const idx = indexInventory(inv);
    assert.deepEqual(idx.workloadOf(idx.pod('shop', 'api-x-abcde')!), { kind: 'Deployment', name: 'api-gateway' });
    // The Job has no CronJob owner, though its name looks like one's.
    assert.deepEqual(idx.workloadOf(idx.pod('shop', 'migrate-12345678-vwxyz')!), {
      kind: 'Job',
      name: 'migrate-12345678',
    });
  });

  it('finds pods by address, never a host-network pod (the node address is shared)', () => {
    const at = T('2024-06-03T10:00:00Z');
    assert.equal(index.podByIp('10.0.1.5', at)?.name, 'web-5d8f7c9b4-x2x7q');
    assert.equal(index.podByIp('10.0.1.5', T('2024-06-03T08:00:00Z')), undefined, 'before the pod was created');
    assert.equal(index.podByIp('172.18.0.2', at), undefined);
    assert.equal(index.pod('kube-system', 'node-local-dns-6jnx9')?.hostNetwork, true);
    const web = index.pod('shop', 'web-5d8f7c9b4-x2x7q')!;
    assert.equal(web.serviceAccount, 'web');
    assert.deepEqual(web.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  });

  it('resolves a Service to its pods and its port to the pod port (named targetPort, EndpointSlice)', () => {
    const at = T('2024-06-03T10:00:00Z');
    const web = index.serviceByIp('10.96.0.10', at)!;
    assert.equal(web.name, 'web');
    assert.deepEqual(web.selector, { app: 'web' });
    const pods = index.servicePods(web, at);
    assert.deepEqual(
      pods.map((p) => p.name),
      ['web-5d8f7c9b4-x2x7q'],
    );
    assert.equal(index.targetPort(web, 80, 'TCP', pods[0]), 8080);
    assert.equal(index.targetPort(web, 80, 'TCP'), 8080, 'from the EndpointSlice, without a pod');
    assert.equal(index.targetPort(web, 81, 'TCP'), undefined);
    assert.equal(index.targetPort(index.service('shop', 'db')!, 5432, 'TCP'), 5432);
  });

  it('resolves a reused address to the pod that held it at the time', () => {
    const { objects: later } = read({
      kind: 'PodList',
      items: [pod('cache-7f9c6d5b8-q2w4z', '10.0.1.5', '2024-06-03T12:00:00Z')],
    });
    const both = indexInventory({ objects: [...objects, ...later] });
    assert.equal(both.podByIp('10.0.1.5', T('2024-06-03T10:00:00Z'))?.name, 'web-5d8f7c9b4-x2x7q');
    assert.equal(both.podByIp('10.0.1.5', T('2024-06-03T13:00:00Z'))?.name, 'cache-7f9c6d5b8-q2w4z');
    // The same name recreated (a StatefulSet pod): each incarnation answers for its own time.
    const first = pod('db-1', '10.0.3.1', '2024-06-03T00:00:00Z');
    const second = {
      ...pod('db-1', '10.0.3.2', '2024-06-03T06:00:00Z'),
      metadata: { ...first.metadata, uid: 'again' },
    };
    second.metadata.creationTimestamp = '2024-06-03T06:00:00Z';
    const re = indexInventory(read({ kind: 'List', items: [first, second] }));
    assert.deepEqual(re.pod('shop', 'db-1', T('2024-06-03T01:00:00Z'))?.ips, ['10.0.3.1']);
    assert.deepEqual(re.pod('shop', 'db-1', T('2024-06-03T07:00:00Z'))?.ips, ['10.0.3.2']);
    assert.deepEqual(re.pod('shop', 'db-1')?.ips, ['10.0.3.2']);
  });

  it('stores objects with their lifetimes: updated by uid, closed when deleted', () => {
    const store = openStore(join(dir, 'inv.db'));
    try {
      store.applyInventory(objects, T('2024-06-03T11:00:00Z'));
      store.applyInventory(objects, T('2024-06-03T12:00:00Z'));
      assert.equal(store.loadInventory().objects.length, objects.length, 'the same uids are not stored twice');
      const relabelled = read({
        kind: 'List',
        items: [pod('web-5d8f7c9b4-x2x7q', '10.0.1.5', '2024-06-03T09:00:00Z')],
      });
      (relabelled.objects[0].object as InventoryPod).uid = 'pod-web-1';
      store.applyInventory(relabelled.objects, T('2024-06-03T13:00:00Z'));
      store.deleteInventoryObject('Pod', 'pod-db-0', T('2024-06-03T14:00:00Z'));
      const closed = store.closeMissingInventory('Service', new Set(['svc-web']), T('2024-06-03T15:00:00Z'));
      assert.equal(closed, 1);
      const stored = indexInventory(store.loadInventory());
      assert.deepEqual(
        stored.pod('shop', 'web-5d8f7c9b4-x2x7q')?.labels,
        { app: 'web-5d8f7c9b4-x2x7q' },
        'latest wins',
      );
      assert.equal(stored.podByIp('10.0.1.9', T('2024-06-03T13:59:00Z'))?.name, 'db-0');
      assert.equal(stored.podByIp('10.0.1.9', T('2024-06-03T14:00:00Z')), undefined, 'deleted');
      assert.equal(stored.service('shop', 'db', T('2024-06-03T14:00:00Z'))?.name, 'db');
      assert.equal(stored.service('shop', 'db', T('2024-06-03T16:00:00Z')), undefined);
    } finally {
      store.close();
    }
  });

  it('refuses files of the wrong shape, naming the file and field', () => {
    assert.equal(refusal({ kind: 'Pod' }).location?.field, 'object.metadata');
    assert.match(refusal([1, 2]).message, /expected a kubectl List/);
    assert.match(refusal({ items: 'no' }).message, /expected a kubectl List/);
    const noName = refusal({ kind: 'List', items: [{ kind: 'Pod', metadata: { namespace: 'shop' } }] });
    assert.equal(noName.location?.field, 'items[0].metadata.name');
    assert.equal(noName.location?.file, 'inv.json');
    const bad = (patch: Record<string, unknown>) =>
      refusal({ kind: 'List', items: [{ ...pod('x-1', '10.0.0.1', '2024-06-03T00:00:00Z'), ...patch }] }).location
        ?.field;
    assert.equal(
      bad({ metadata: { name: 'x-1', namespace: 'shop', labels: { app: 5 } } }),
      'items[0].metadata.labels.app',
    );
    assert.equal(bad({ metadata: { name: 'x-1', namespace: 'Shop!' } }), 'items[0].metadata.namespace');
    assert.equal(
      bad({ metadata: { name: 'x-1', namespace: 'shop', creationTimestamp: 'yesterday' } }),
      'items[0].metadata.creationTimestamp',
    );
    assert.equal(bad({ status: { podIPs: ['10.0.0.1'] } }), 'items[0].status.podIPs[0]');
    assert.equal(
      bad({ spec: { containers: [{ ports: [{ containerPort: '80' }] }] } }),
      'items[0].spec.containers[0].ports[0].containerPort',
    );
    assert.equal(read({ kind: 'List', items: [pod('x-1', '10.0.0.1', '2024-06-03T00:00:00Z')] }).objects.length, 1);
    writeFileSync(join(dir, 'broken.json'), '{"kind": "List", "items": [');
    assert.throws(() => readInventoryPath(join(dir, 'broken.json')), /not valid JSON/);
    assert.throws(() => readInventoryPath(join(dir, 'missing.json')), /cannot read: ENOENT/);
  });
});
