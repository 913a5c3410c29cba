// Calico semantics through collector and aggregator together: a connection reported from both ends
// counts once and keeps both ends' evidence; aggregation placeholders become workloads (not pods that
// never existed); host endpoints, network sets and denied flows land on the right edges.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAggregator } from '../../src/aggregate/index.js';
import { normalizeCalicoFlowLog } from '../../src/collect/calico/flowlog.js';
import type { Flow } from '../../src/model/index.js';
import { selectEdges } from '../../src/synthesize/index.js';
import { calicoDoc } from './calico-fixtures.js';

const flow = (extra: Record<string, unknown>, line = 1): Flow =>
  normalizeCalicoFlowLog(calicoDoc(extra), { source: 'flows.log', line });

const SRC_POLICY = '0|default|shop/default.frontend-egress|allow|2';
const DST_POLICY = '0|default|shop/default.cart-ingress|allow|0';

function aggregate(flows: Flow[]) {
  const agg = createAggregator();
  agg.add(flows);
  return { delta: agg.take(), stats: agg.stats };
}

describe('Calico double reporting', () => {
  it('counts a connection reported by src and dst once, keeping both reports evidence', () => {
    const src = flow({ reporter: 'src', num_flows: 12, policies: { all_policies: [SRC_POLICY] } });
    const dst = flow({ reporter: 'dst', num_flows: 12, host: 'worker-2', policies: { all_policies: [DST_POLICY] } });
    // Either order: reports of one connection come from different nodes' logs.
    for (const order of [
      [src, dst],
      [dst, src],
    ]) {
      const { delta, stats } = aggregate(order);
      assert.equal(delta.edges.length, 1);
      const edge = delta.edges[0]!;
      assert.deepEqual(
        [edge.src, edge.dst, edge.protocol, edge.port],
        ['shop/Deployment/frontend', 'shop/Deployment/cartservice', 'TCP', 7070],
      );
      assert.equal(edge.flows, 12, 'num_flows of one report, not both');
      assert.deepEqual(edge.verdicts, { forwarded: 12 });
      assert.deepEqual(
        edge.policies.map((p) => [p.value, p.count]),
        [
          [DST_POLICY, 12],
          [SRC_POLICY, 12],
        ],
      );
      assert.deepEqual(
        edge.services.map((s) => [s.value, s.count]),
        [['shop/cartservice:grpc', 12]],
        'the Service both ends name is counted once',
      );
      assert.equal(stats.reported, 2);
    }
  });

  it('takes the verdict of the destination: allowed by the source, denied by the destination is denied', () => {
    const { delta, stats } = aggregate([
      flow({ reporter: 'src', num_flows: 4, policies: { all_policies: [SRC_POLICY] } }),
      flow({
        reporter: 'dst',
        action: 'deny',
        num_flows: 4,
        policies: { all_policies: ['0|default|shop/knp.default.cartservice|deny|-1'] },
      }),
    ]);
    assert.equal(delta.edges.length, 1);
    const edge = delta.edges[0]!;
    assert.equal(edge.flows, 4);
    assert.deepEqual(edge.verdicts, { dropped: 4 });
    assert.equal(stats.reported, 2);
    assert.ok(edge.policies.some((p) => p.value === '0|default|shop/knp.default.cartservice|deny|-1'));
    assert.ok(
      edge.policies.some((p) => p.value === SRC_POLICY),
      "the source's allowing policy stays as evidence",
    );
    assert.deepEqual(
      edge.dropReasons.map((d) => d.value),
      ['POLICY_DENIED'],
    );
  });

  it("learns the outgoing connections from one node's log alone (its source reports)", () => {
    const { delta } = aggregate([flow({ reporter: 'src', num_flows: 6 })]);
    assert.deepEqual(
      delta.edges.map((e) => [e.src, e.dst, e.port, e.flows, e.verdicts.forwarded]),
      [['shop/Deployment/frontend', 'shop/Deployment/cartservice', 7070, 6, 6]],
    );
  });

  it("learns the incoming connections from one node's log alone (its destination reports)", () => {
    const { delta } = aggregate([flow({ reporter: 'dst', num_flows: 6, host: 'worker-2' })]);
    assert.deepEqual(
      delta.edges.map((e) => [e.src, e.dst, e.port, e.flows, e.verdicts.forwarded]),
      [['shop/Deployment/frontend', 'shop/Deployment/cartservice', 7070, 6, 6]],
    );
  });

  it('counts reports whose other end is not a Calico workload: host endpoints, networks, network sets', () => {
    const { delta } = aggregate([
      // The kubelet probing a pod: only the pod's node reports.
      flow({
        reporter: 'dst',
        source_type: 'hep',
        source_name_aggr: 'worker-1-auto-hep',
        source_namespace: '-',
        source_labels: null,
        dest_service_name: '-',
        num_flows: 3,
      }),
      // An outside client, aggregated away to "the public internet".
      flow({
        reporter: 'dst',
        source_type: 'net',
        source_name_aggr: 'pub',
        source_namespace: '-',
        source_labels: null,
      }),
      // To a global network set: only the source reports.
      flow({
        reporter: 'src',
        dest_type: 'ns',
        dest_name_aggr: 'payment-apis',
        dest_namespace: '-',
        dest_port: 443,
        num_flows: 2,
      }),
    ]);
    assert.deepEqual(
      delta.edges.map((e) => [e.src, e.dst, e.port, e.flows]),
      [
        ['netset:pub', 'shop/Deployment/cartservice', 7070, 12],
        ['reserved:host', 'shop/Deployment/cartservice', 7070, 3],
        ['shop/Deployment/frontend', 'netset:payment-apis', 443, 2],
      ],
    );
  });
});

describe('Calico aggregation placeholders', () => {
  it('folds `<prefix>-*` aggregates into workloads and records the aggregate, not invented pods', () => {
    const { delta } = aggregate([
      flow({ reporter: 'dst' }),
      flow({
        reporter: 'dst',
        source_name_aggr: 'frontend-5c4b9d8f7-*',
        source_labels: { labels: ['app=frontend', 'pod-template-hash=5c4b9d8f7'] },
      }),
    ]);
    assert.deepEqual(
      delta.peers.filter((p) => p.peer.type === 'workload').map((p) => p.key),
      ['shop/Deployment/cartservice', 'shop/Deployment/frontend'],
    );
    assert.deepEqual(
      delta.pods.map((p) => [p.name, p.workload, p.labels.app]),
      [
        ['cartservice-7b8f9c6d4-*', 'shop/Deployment/cartservice', 'cartservice'],
        ['frontend-5c4b9d8f7-*', 'shop/Deployment/frontend', 'frontend'],
        ['frontend-6d9f8c7b5-*', 'shop/Deployment/frontend', 'frontend'],
      ],
    );
    assert.equal(delta.edges.length, 1, 'two rollouts of one Deployment are one edge');
    assert.equal(delta.edges[0]!.flows, 24);
  });
});

describe('Calico denied flows', () => {
  it('are observed-but-denied evidence, never allowed', () => {
    const { delta } = aggregate([
      flow({
        reporter: 'src',
        action: 'deny',
        source_name_aggr: 'loadgenerator-7d9c5b6f4-*',
        source_labels: { labels: ['app=loadgenerator', 'pod-template-hash=7d9c5b6f4'] },
        dest_name_aggr: 'orders-db-0',
        dest_namespace: 'data',
        dest_port: 5432,
        dest_labels: { labels: ['app.kubernetes.io/instance=orders-db', 'controller-revision-hash=orders-db-6b'] },
        num_flows: 5,
      }),
    ]);
    const edge = delta.edges[0]!;
    assert.deepEqual(edge.verdicts, { dropped: 5 });
    const graphEdge = {
      ...edge,
      dnsNames: [],
      kafkaTopics: [],
      http: [],
      dropReasons: ['POLICY_DENIED'],
      policies: [],
      services: [],
    };
    const selection = selectEdges([graphEdge], { minFlows: 1, allowDropped: false });
    assert.equal(selection.rules.length, 0);
    assert.deepEqual(
      selection.observedButDenied.map((d) => [d.src, d.dst, d.port, d.flows, d.reasons]),
      [['shop/Deployment/loadgenerator', 'data/StatefulSet/orders-db', 5432, 5, ['POLICY_DENIED']]],
    );
  });
});
