import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readInventoryPath } from '../../src/cluster/index.js';
import { type Graph, indexInventory, type PeerNode } from '../../src/model/index.js';
import {
  compileNetworkPolicies,
  evaluateConnection,
  inventoryFromGraph,
  mergeClusterInventory,
  parsePolicyText,
} from '../../src/policy/index.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const cluster = () => indexInventory(readInventoryPath(join(fixtures, 'kubectl-pods.json')));

function workloadNode(ns: string, name: string, namespaceLabels?: Record<string, string>): PeerNode {
  const node: PeerNode = {
    key: `${ns}/Deployment/${name}`,
    peer: { type: 'workload', namespace: ns, kind: 'Deployment', name },
    names: [],
    ips: [],
    serviceAccounts: [],
    firstSeen: 0,
    lastSeen: 0,
  };
  if (namespaceLabels) node.namespaceLabels = namespaceLabels;
  return node;
}

function edge(src: string, dst: string, protocol: 'TCP' | 'UDP' | 'ICMPv4', port: number): Graph['edges'][number] {
  return {
    src,
    dst,
    protocol,
    port,
    flows: 1,
    verdicts: { forwarded: 1 },
    firstSeen: 0,
    lastSeen: 0,
    http: [],
    dnsNames: [],
    kafkaTopics: [],
    dropReasons: [],
    policies: [],
    services: [],
  };
}

function graph(): Graph {
  const web = workloadNode('shop', 'web', { team: 'retail' });
  const db = workloadNode('shop', 'db');
  const gw = workloadNode('edge', 'gateway');
  return {
    peers: new Map([web, db, gw].map((n) => [n.key, n])),
    pods: [
      {
        namespace: 'shop',
        name: 'web-5d8f7c9b4-x2x7q',
        workload: web.key,
        labels: { app: 'web' },
        serviceAccount: 'web',
        ips: ['10.0.1.5'],
        firstSeen: 0,
        lastSeen: 0,
      },
      {
        namespace: 'edge',
        name: 'gateway-1',
        workload: gw.key,
        labels: { app: 'gateway' },
        ips: ['10.0.9.1'],
        firstSeen: 0,
        lastSeen: 0,
      },
    ],
    edges: [
      edge(gw.key, web.key, 'TCP', 8080),
      edge(gw.key, web.key, 'TCP', 8080),
      edge(web.key, db.key, 'TCP', 5432),
      edge(gw.key, web.key, 'ICMPv4', 0),
    ],
    window: {},
  };
}

describe('inventory', () => {
  it('builds one pod per observed pod, with the ports its workload was reached on', () => {
    const inv = inventoryFromGraph(graph());
    assert.deepEqual(
      inv.pods.map((p) => `${p.namespace}/${p.name}`),
      ['edge/gateway-1', 'shop/web-5d8f7c9b4-x2x7q'],
    );
    const web = inv.pods[1];
    assert.deepEqual(web.ports, [{ port: 8080, protocol: 'TCP' }]);
    assert.equal(web.serviceAccount, 'web');
    assert.equal(web.workload, 'shop/Deployment/web');
    assert.deepEqual(inv.namespaces.get('shop'), { team: 'retail', 'kubernetes.io/metadata.name': 'shop' });
    assert.deepEqual(inv.namespaces.get('edge'), { 'kubernetes.io/metadata.name': 'edge' });
  });

  it('is completed by the cluster inventory: labels, IPs, named ports, workloads', () => {
    const before = inventoryFromGraph(graph());
    const inv = mergeClusterInventory(before, cluster());
    assert.equal(before.pods[1].ports.length, 1, 'the input inventory is not changed');
    assert.deepEqual(
      inv.pods.map((p) => `${p.namespace}/${p.name}`),
      ['edge/gateway-1', 'edge/node-exporter-abcde', 'shop/db-0', 'shop/web-5d8f7c9b4-x2x7q'],
    );
    const web = inv.pods[3];
    assert.deepEqual(web.ports, [
      { name: 'http', port: 8080, protocol: 'TCP' },
      { name: 'metrics', port: 9090, protocol: 'TCP' },
      { name: 'http-envoy-prom', port: 15090, protocol: 'TCP' },
    ]);
    assert.deepEqual(web.ips, ['10.0.1.5', 'fd00::1:5']);
    assert.equal(web.workload, 'shop/Deployment/web');
    assert.equal(inv.pods[2].workload, 'shop/StatefulSet/db');
    assert.equal(inv.pods[2].serviceAccount, undefined);
    assert.equal(inv.pods[1].hostNetwork, true);
    assert.deepEqual(inv.namespaces.get('shop'), { team: 'retail', 'kubernetes.io/metadata.name': 'shop' });
  });

  it('lets named ports in a policy evaluate against the dumped container ports', () => {
    const inv = mergeClusterInventory(inventoryFromGraph(graph()), cluster());
    const policies = parsePolicyText(
      [
        'apiVersion: networking.k8s.io/v1',
        'kind: NetworkPolicy',
        'metadata: {name: web, namespace: shop}',
        'spec:',
        '  podSelector: {matchLabels: {app: web}}',
        '  ingress:',
        '  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: edge}}}]',
        '    ports: [{port: http}]',
      ].join('\n'),
      'web.yaml',
    ).networkPolicies;
    const compiled = compileNetworkPolicies(policies, inv);
    const gateway = inv.pods.find((p) => p.name === 'gateway-1')!;
    const web = inv.pods.find((p) => p.name.startsWith('web-'))!;
    const conn = (port: number) => ({
      src: { kind: 'pod' as const, pod: gateway },
      dst: { kind: 'pod' as const, pod: web },
      protocol: 'TCP' as const,
      port,
    });
    assert.equal(evaluateConnection(compiled, conn(8080)).allowed, true);
    assert.equal(evaluateConnection(compiled, conn(9090)).allowed, false);
  });
});
