// Goldmane flows → Flows (enum names or numbers, networks without addresses, policy traces), addresses
// and the conversion of Calico Enterprise documents into Goldmane flows that the replay server serves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeCalicoFlowLog } from '../../src/collect/calico/flowlog.js';
import { goldmaneBackoff, parseGoldmaneAddress } from '../../src/collect/calico/goldmane.js';
import {
  flowLogToGoldmane,
  formatPolicyHit,
  normalizeGoldmaneFlow,
  parsePolicyString,
} from '../../src/collect/calico/proto.js';
import { resolvePeer } from '../../src/identity/index.js';
import { FlowwrightError, peerKey } from '../../src/model/index.js';
import { calicoDoc } from './calico-fixtures.js';

const ORIGIN = { source: 'goldmane:127.0.0.1:7443', position: '1717372800' };

function goldmaneFlow(key: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    Key: {
      source_name: 'frontend-6d9f8c7b5-*',
      source_namespace: 'shop',
      source_type: 'WorkloadEndpoint',
      dest_name: 'cartservice-7b8f9c6d4-*',
      dest_namespace: 'shop',
      dest_type: 'WorkloadEndpoint',
      dest_port: 7070,
      dest_service_name: 'cartservice',
      dest_service_namespace: 'shop',
      dest_service_port_name: 'grpc',
      dest_service_port: 7070,
      proto: 'TCP',
      reporter: 'Src',
      action: 'Allow',
      policies: {
        enforced_policies: [
          {
            kind: 'CalicoNetworkPolicy',
            namespace: 'shop',
            name: 'default.frontend',
            tier: 'default',
            action: 'Allow',
            policy_index: 0,
            rule_index: 1,
          },
        ],
        pending_policies: [
          { kind: 'StagedNetworkPolicy', namespace: 'shop', name: 'x', tier: 'default', action: 'Deny' },
        ],
      },
      ...key,
    },
    start_time: 1717372800,
    end_time: 1717372815,
    source_labels: ['app=frontend', 'pod-template-hash=6d9f8c7b5', 'projectcalico.org/serviceaccount=frontend'],
    dest_labels: ['app=cartservice'],
    num_connections_started: 5,
    num_connections_live: 2,
    ...extra,
  };
}

describe('Goldmane flows', () => {
  it('become Flows with workloads, count, service and the enforced policies', () => {
    const f = normalizeGoldmaneFlow(goldmaneFlow(), ORIGIN);
    assert.equal(f.time, 1717372800_000);
    assert.equal(f.count, 5);
    assert.equal(f.port, 7070);
    assert.equal(f.protocol, 'TCP');
    assert.equal(f.reporter, 'src');
    assert.equal(f.verdict, 'forwarded');
    assert.equal(f.service, 'shop/cartservice:grpc');
    assert.deepEqual(f.policies, ['0|default|shop/default.frontend|allow|1']);
    assert.equal(f.source.serviceAccount, 'frontend');
    assert.equal(peerKey(resolvePeer(f.source)), 'shop/Deployment/frontend');
    assert.equal(peerKey(resolvePeer(f.destination)), 'shop/Deployment/cartservice');
  });

  it('reads enum numbers, networks without addresses, host endpoints, the API server and denies', () => {
    const f = normalizeGoldmaneFlow(
      goldmaneFlow(
        {
          source_type: 2,
          source_name: 'worker-1-auto-hep',
          source_namespace: '',
          dest_type: 4,
          dest_name: 'pub',
          dest_namespace: '',
          dest_service_name: '',
          dest_port: 443,
          reporter: 1,
          action: 2,
        },
        { num_connections_started: 0 },
      ),
      ORIGIN,
    );
    assert.equal(peerKey(resolvePeer(f.source)), 'reserved:host');
    assert.equal(peerKey(resolvePeer(f.destination)), 'netset:pub');
    assert.equal(f.verdict, 'dropped');
    assert.equal(f.dropReason, 'POLICY_DENIED');
    assert.equal(f.count, 1, 'a continuing connection still counts once');
    const api = normalizeGoldmaneFlow(
      goldmaneFlow({
        dest_type: 'Network',
        dest_name: 'pvt',
        dest_namespace: '',
        dest_port: 6443,
        dest_service_namespace: 'default',
        dest_service_name: 'kubernetes',
        dest_service_port_name: 'https',
      }),
      ORIGIN,
    );
    assert.equal(peerKey(resolvePeer(api.destination)), 'reserved:kube-apiserver');
  });

  it('names the field of a malformed flow', () => {
    assert.throws(
      () => normalizeGoldmaneFlow({ start_time: 1 }, ORIGIN),
      (e: unknown) => e instanceof FlowwrightError && e.location?.field === 'Key',
    );
    assert.throws(
      () => normalizeGoldmaneFlow(goldmaneFlow({ dest_type: 'EndpointTypeUnspecified' }), ORIGIN),
      (e: unknown) => e instanceof FlowwrightError && e.location?.field === 'Key.dest_type',
    );
    assert.throws(
      () => normalizeGoldmaneFlow(goldmaneFlow({}, { start_time: 0, end_time: 0 }), ORIGIN),
      (e: unknown) => e instanceof FlowwrightError && e.location?.field === 'start_time',
    );
  });

  it('round-trips policy strings between the two formats', () => {
    for (const text of [
      '0|default|shop/default.frontend|allow|1',
      '1|default|shop/knp.default.cart|deny|-1',
      '2|security|global.block|pass|0',
    ]) {
      const hit = parsePolicyString(text)!;
      assert.equal(formatPolicyHit(hit), text);
    }
    assert.equal(parsePolicyString('0|default|x'), undefined);
    assert.equal(parsePolicyString('1|default|shop/knp.default.cart|deny|-1')!.kind, 'NetworkPolicy');
  });

  it('converts a Calico Enterprise document into the Goldmane flow it stands for', () => {
    const doc = calicoDoc();
    const g = flowLogToGoldmane(doc, normalizeCalicoFlowLog(doc, { source: 'f', line: 1 }));
    const back = normalizeGoldmaneFlow(g, ORIGIN);
    const direct = normalizeCalicoFlowLog(doc, { source: 'f', line: 1 });
    for (const f of [back, direct]) f.origin = ORIGIN;
    delete direct.node; // Goldmane aggregates across nodes
    assert.deepEqual(back, direct);
  });
});

describe('Goldmane addresses and backoff', () => {
  it('fills in the port and checks the syntax', () => {
    assert.equal(parseGoldmaneAddress('goldmane.calico-system'), 'goldmane.calico-system:7443');
    assert.equal(parseGoldmaneAddress('127.0.0.1:9000'), '127.0.0.1:9000');
    assert.equal(parseGoldmaneAddress('[::1]:9000'), '[::1]:9000');
    for (const bad of ['', 'http://x:1', 'x:0', 'x:port', '::1:9000', '[::1'])
      assert.throws(
        () => parseGoldmaneAddress(bad),
        (e: unknown) => e instanceof FlowwrightError && e.code === 'usage',
        bad,
      );
  });

  it('backs off exponentially up to the cap', () => {
    const b = { initialMs: 100, maxMs: 1000 };
    assert.equal(
      goldmaneBackoff(1, b, () => 0),
      50,
    );
    assert.equal(
      goldmaneBackoff(3, b, () => 1),
      400,
    );
    assert.equal(
      goldmaneBackoff(10, b, () => 1),
      1000,
    );
  });
});
