// Calico Enterprise flow log documents → Flows: endpoint types, aggregation placeholders, labels,
// counts, policies, Services, time, and malformed documents reported with their field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classifyCalicoRecord,
  handleCalicoRecord,
  isCalicoRecord,
  normalizeCalicoFlowLog,
} from '../../src/collect/calico/flowlog.js';
import { classifyHubbleRecord } from '../../src/collect/index.js';
import { resolvePeer, workloadOf } from '../../src/identity/index.js';
import { emptyStats, type Flow, FlowwrightError, peerKey } from '../../src/model/index.js';
import { calicoDoc } from './calico-fixtures.js';

const ORIGIN = { source: 'flows.log', line: 7 };

const peerOf = (ep: Flow['source']) => peerKey(resolvePeer(ep));

describe('Calico flow log documents', () => {
  it('reads an aggregated pod-to-pod document', () => {
    const flow = normalizeCalicoFlowLog(calicoDoc(), ORIGIN);
    assert.equal(flow.time, 1717372800_000);
    assert.equal(flow.protocol, 'TCP');
    assert.equal(flow.port, 7070);
    assert.equal(flow.count, 12, 'num_flows, not one');
    assert.equal(flow.verdict, 'forwarded');
    assert.equal(flow.reply, false);
    assert.equal(flow.reporter, 'src');
    assert.equal(flow.direction, 'egress');
    assert.equal(flow.node, 'worker-1');
    assert.equal(flow.service, 'shop/cartservice:grpc');
    assert.deepEqual(flow.policies, ['0|default|shop/default.frontend-egress|allow|2']);
    assert.deepEqual(flow.origin, ORIGIN);
    // The aggregate stands in for the pod; `-` (aggregated away) is no value.
    assert.equal(flow.source.pod, 'frontend-6d9f8c7b5-*');
    assert.equal(flow.source.ip, undefined);
    assert.equal(flow.source.port, undefined);
    assert.deepEqual(flow.source.labels, { app: 'frontend', 'pod-template-hash': '6d9f8c7b5' });
    assert.equal(flow.source.serviceAccount, 'frontend');
    assert.deepEqual(workloadOf(flow.source), { kind: 'Deployment', name: 'frontend' });
    assert.equal(peerOf(flow.source), 'shop/Deployment/frontend');
    assert.equal(peerOf(flow.destination), 'shop/Deployment/cartservice');
  });

  it('prefers the pod name when the document keeps it, and reads a StatefulSet pod aggregate without a star', () => {
    const flow = normalizeCalicoFlowLog(
      calicoDoc({
        source_name: 'frontend-6d9f8c7b5-x2x7k',
        source_ip: '10.244.1.12',
        dest_name: '-',
        dest_name_aggr: 'redis-cart-0',
        dest_namespace: 'data',
        dest_labels: {
          labels: [
            'app=redis',
            'controller-revision-hash=redis-cart-5d8f',
            'statefulset.kubernetes.io/pod-name=redis-cart-0',
          ],
        },
      }),
      ORIGIN,
    );
    assert.equal(flow.source.pod, 'frontend-6d9f8c7b5-x2x7k');
    assert.equal(flow.source.ip, '10.244.1.12');
    assert.equal(peerOf(flow.source), 'shop/Deployment/frontend');
    assert.equal(peerOf(flow.destination), 'data/StatefulSet/redis-cart');
  });

  it('maps host endpoints, network sets and networks', () => {
    const hep = normalizeCalicoFlowLog(
      calicoDoc({
        source_type: 'hep',
        source_name: '-',
        source_name_aggr: 'worker-1-auto-hep',
        source_namespace: '-',
        source_labels: null,
        source_ip: '172.18.0.3',
        reporter: 'dst',
      }),
      ORIGIN,
    );
    assert.equal(hep.source.reserved, 'host');
    assert.equal(hep.source.ip, '172.18.0.3');
    assert.equal(peerOf(hep.source), 'reserved:host');
    assert.equal(hep.direction, 'ingress');

    const globalSet = normalizeCalicoFlowLog(
      calicoDoc({ dest_type: 'ns', dest_name_aggr: 'payment-apis', dest_namespace: '-', dest_labels: null }),
      ORIGIN,
    );
    assert.equal(peerOf(globalSet.destination), 'netset:payment-apis');
    const namespacedSet = normalizeCalicoFlowLog(
      calicoDoc({ dest_type: 'ns', dest_name_aggr: 'partners', dest_namespace: 'shop' }),
      ORIGIN,
    );
    assert.equal(peerOf(namespacedSet.destination), 'netset:shop/partners');

    const publicWithIp = normalizeCalicoFlowLog(
      calicoDoc({
        dest_type: 'net',
        dest_name_aggr: 'pub',
        dest_namespace: '-',
        dest_ip: '203.0.113.10',
        dest_port: 443,
        dest_domains: ['api.payments.example'],
        dest_service_name: '-',
      }),
      ORIGIN,
    );
    assert.equal(peerOf(publicWithIp.destination), 'cidr:203.0.113.10/32');
    assert.deepEqual(publicWithIp.destination.names, ['api.payments.example']);
    assert.equal(publicWithIp.service, undefined);

    const privateWithIp = normalizeCalicoFlowLog(
      calicoDoc({
        dest_type: 'net',
        dest_name_aggr: 'pvt',
        dest_namespace: '-',
        dest_ip: '192.168.7.9',
        dest_service_name: '-',
      }),
      ORIGIN,
    );
    assert.equal(peerOf(privateWithIp.destination), 'cidr:192.168.7.9/32');

    // Aggregated away: only the kind of network is left.
    const publicAggregated = normalizeCalicoFlowLog(
      calicoDoc({ dest_type: 'net', dest_name_aggr: 'pub', dest_namespace: '-', dest_service_name: '-' }),
      ORIGIN,
    );
    assert.equal(peerOf(publicAggregated.destination), 'netset:pub');
    const privateAggregated = normalizeCalicoFlowLog(
      calicoDoc({ source_type: 'net', source_name_aggr: 'pvt', source_namespace: '-', source_labels: null }),
      ORIGIN,
    );
    assert.equal(peerOf(privateAggregated.source), 'netset:pvt');
  });

  it('recognizes the API server behind the Service default/kubernetes', () => {
    const flow = normalizeCalicoFlowLog(
      calicoDoc({
        dest_type: 'net',
        dest_name_aggr: 'pvt',
        dest_namespace: '-',
        dest_port: 6443,
        dest_service_namespace: 'default',
        dest_service_name: 'kubernetes',
        dest_service_port: 'https',
        dest_service_port_num: 443,
      }),
      ORIGIN,
    );
    assert.equal(peerOf(flow.destination), 'reserved:kube-apiserver');
    assert.equal(flow.port, 6443);
    assert.equal(flow.service, 'default/kubernetes:https');
  });

  it('keeps a denied flow as dropped evidence with the deciding policy', () => {
    const flow = normalizeCalicoFlowLog(
      calicoDoc({
        action: 'deny',
        reporter: 'dst',
        policies: {
          enforced_policies: ['0|default|shop/knp.default.cartservice|deny|-1'],
          pending_policies: ['0|default|shop/staged:default.cart|allow|0'],
        },
      }),
      ORIGIN,
    );
    assert.equal(flow.verdict, 'dropped');
    assert.equal(flow.dropReason, 'POLICY_DENIED');
    assert.deepEqual(flow.policies, ['0|default|shop/knp.default.cartservice|deny|-1'], 'enforced, not pending');
  });

  it('reads protocols by name and number, ICMP without a port, and times in several forms', () => {
    assert.equal(normalizeCalicoFlowLog(calicoDoc({ proto: 'udp' }), ORIGIN).protocol, 'UDP');
    assert.equal(normalizeCalicoFlowLog(calicoDoc({ proto: 17 }), ORIGIN).protocol, 'UDP');
    assert.equal(normalizeCalicoFlowLog(calicoDoc({ proto: '132' }), ORIGIN).protocol, 'SCTP');
    const icmp = normalizeCalicoFlowLog(calicoDoc({ proto: 'icmp', dest_port: null }), ORIGIN);
    assert.equal(icmp.protocol, 'ICMPv4');
    assert.equal(icmp.port, undefined);
    assert.equal(normalizeCalicoFlowLog(calicoDoc({ proto: 'gre' }), ORIGIN).protocol, 'UNKNOWN');
    assert.equal(normalizeCalicoFlowLog(calicoDoc({ start_time: '1717372800' }), ORIGIN).time, 1717372800_000);
    assert.equal(normalizeCalicoFlowLog(calicoDoc({ start_time: 1717372800123 }), ORIGIN).time, 1717372800123);
    assert.equal(
      normalizeCalicoFlowLog(calicoDoc({ start_time: '2024-06-03T00:00:00Z' }), ORIGIN).time,
      Date.parse('2024-06-03T00:00:00Z'),
    );
    assert.equal(normalizeCalicoFlowLog(calicoDoc({ start_time: undefined }), ORIGIN).time, 1717373100_000);
    assert.equal(normalizeCalicoFlowLog(calicoDoc({ num_flows: 0 }), ORIGIN).count, 3, 'num_flows_started');
    assert.equal(normalizeCalicoFlowLog(calicoDoc({ num_flows: undefined, num_flows_started: 0 }), ORIGIN).count, 1);
  });

  it('names the field of a malformed document', () => {
    const fieldOf = (extra: Record<string, unknown>) => {
      try {
        normalizeCalicoFlowLog(calicoDoc(extra), ORIGIN);
      } catch (err) {
        assert.ok(err instanceof FlowwrightError);
        assert.equal(err.code, 'input');
        return err.location?.field;
      }
      assert.fail('no error');
    };
    assert.equal(fieldOf({ source_type: 'pod' }), 'source_type');
    assert.equal(fieldOf({ dest_type: undefined }), 'dest_type');
    assert.equal(fieldOf({ start_time: 'yesterday' }), 'start_time');
    assert.equal(fieldOf({ start_time: undefined, end_time: undefined }), 'start_time');
    assert.equal(fieldOf({ dest_port: 70000 }), 'dest_port');
    assert.equal(fieldOf({ num_flows: -2 }), 'num_flows');
    assert.equal(fieldOf({ reporter: 'middle' }), 'reporter');
    assert.equal(fieldOf({ source_labels: 'app=x' }), 'source_labels');
  });
});

describe('Calico record shapes', () => {
  it('classifies documents, wrappers, _bulk action lines, search responses and arrays', () => {
    assert.equal(classifyCalicoRecord(calicoDoc()), 'flow');
    assert.equal(
      classifyCalicoRecord({ _index: 'tigera_secure_ee_flows.c.2024', _id: 'a', _source: calicoDoc() }),
      'wrapped',
    );
    assert.equal(classifyCalicoRecord({ doc: calicoDoc() }), 'wrapped');
    assert.equal(classifyCalicoRecord({ index: { _index: 'tigera_secure_ee_flows' } }), 'bulk-action');
    assert.equal(classifyCalicoRecord({ hits: { total: 1, hits: [] } }), 'hits');
    assert.equal(classifyCalicoRecord([calicoDoc()]), 'array');
    assert.equal(classifyCalicoRecord({ flow: { verdict: 'FORWARDED' } }), 'unknown');
    assert.equal(isCalicoRecord([]), false);
    assert.equal(isCalicoRecord([{ a: 1 }]), false);
    assert.equal(isCalicoRecord([{ _source: calicoDoc() }]), true);
  });

  it('is never mistaken for Hubble, and Hubble never for Calico', () => {
    assert.equal(classifyHubbleRecord(calicoDoc()), 'unknown');
    assert.equal(classifyHubbleRecord({ _source: calicoDoc() }), 'unknown');
    assert.equal(classifyHubbleRecord({ index: { _index: 'x' } }), 'unknown');
    assert.equal(
      isCalicoRecord({ flow: { time: '2024-06-03T00:00:00Z', verdict: 'FORWARDED' }, node_name: 'n' }),
      false,
    );
    assert.equal(
      isCalicoRecord({ source: { pod_name: 'a' }, destination: { pod_name: 'b' }, verdict: 'DROPPED' }),
      false,
    );
  });

  it('reads every element of an array or search response, counting bad ones by document index', () => {
    const stats = emptyStats();
    const out: Flow[] = [];
    handleCalicoRecord(
      {
        took: 3,
        hits: {
          hits: [
            { _index: 'tigera_secure_ee_flows', _source: calicoDoc() },
            { _index: 'tigera_secure_ee_flows', _source: calicoDoc({ dest_type: 'x' }) },
            { _index: 'tigera_secure_ee_flows', _source: calicoDoc({ num_flows: 2 }) },
          ],
        },
      },
      ORIGIN,
      out,
      stats,
    );
    assert.deepEqual(
      out.map((f) => f.count),
      [12, 2],
    );
    assert.equal(stats.flows, 2);
    assert.equal(stats.malformed, 1);
    assert.deepEqual(stats.issues[0], {
      file: 'flows.log',
      line: 7,
      document: 1,
      field: 'dest_type',
      message: 'unknown endpoint type "x" (expected wep, hep, ns or net)',
    });

    handleCalicoRecord({ create: { _index: 'tigera_secure_ee_flows' } }, ORIGIN, out, stats);
    assert.equal(stats.nonFlow, 1);
    assert.throws(
      () => handleCalicoRecord({ _source: { message: 'hello' } }, ORIGIN, out, stats),
      /not a Calico flow log/,
    );
  });
});
