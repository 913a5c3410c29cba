// The proposal, read back by the policy engine: the rendered YAML must load as valid NetworkPolicies,
// and evaluating them must allow every connection that became a rule and deny the rest.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Graph } from '../../src/model/index.js';
import {
  type Connection,
  compileNetworkPolicies,
  type EvalEndpoint,
  evaluateConnection,
  inventoryFromGraph,
} from '../../src/policy/index.js';
import { DEFAULT_PROPOSAL_OPTIONS, proposeNetworkPolicies } from '../../src/synthesize/index.js';
import { podOf as podOfInventory, readBack } from './readback.js';
import { KEYS, shopGraphWithIps } from './shop.js';

function load(graph: Graph, opts = DEFAULT_PROPOSAL_OPTIONS) {
  const proposal = proposeNetworkPolicies(graph, opts);
  const loaded = readBack(proposal.files);
  const inventory = inventoryFromGraph(graph);
  return { loaded, compiled: compileNetworkPolicies(loaded.networkPolicies, inventory), inventory };
}

function podOf(inventory: ReturnType<typeof inventoryFromGraph>, workload: string): EvalEndpoint {
  return { kind: 'pod', pod: podOfInventory(inventory, workload) };
}

describe('proposal read back by the NetworkPolicy engine', () => {
  it('loads every file as a valid NetworkPolicy', () => {
    const { loaded } = load(shopGraphWithIps());
    assert.deepEqual(loaded.issues, []);
    // 5 workloads and the default deny of payments (kube-system is a system namespace; shop holds legacy).
    assert.equal(loaded.networkPolicies.length, 6);
  });

  it('allows exactly the observed connections', () => {
    const graph = shopGraphWithIps();
    const { compiled, inventory } = load(graph);
    const pod = (key: string) => podOf(inventory, key);
    const allowed = (src: EvalEndpoint, dst: EvalEndpoint, protocol: Connection['protocol'], port: number) =>
      evaluateConnection(compiled, { src, dst, protocol, port }, { detail: false }).allowed;

    assert.equal(allowed(pod(KEYS.frontend), pod(KEYS.orders), 'TCP', 8080), true);
    assert.equal(allowed(pod(KEYS.orders), pod(KEYS.db), 'TCP', 5432), true);
    assert.equal(allowed(pod(KEYS.orders), pod(KEYS.payments), 'TCP', 8443), true);
    assert.equal(allowed(pod(KEYS.frontend), pod(KEYS.coredns), 'UDP', 53), true);
    // TCP/53 was never seen from frontend, but DNS rules carry it at both ends.
    assert.equal(allowed(pod(KEYS.frontend), pod(KEYS.coredns), 'TCP', 53), true);
    assert.equal(allowed(pod(KEYS.payments), { kind: 'ip', ip: '203.0.113.7' }, 'TCP', 443), true);
    assert.equal(allowed(pod(KEYS.orders), { kind: 'ip', ip: '172.18.0.2' }, 'TCP', 6443), true);

    // Not observed, or observed only as dropped: denied.
    assert.equal(allowed(pod(KEYS.frontend), pod(KEYS.db), 'TCP', 5432), false);
    assert.equal(allowed(pod(KEYS.orders), pod(KEYS.frontend), 'TCP', 8080), false);
    assert.equal(allowed(pod(KEYS.frontend), pod(KEYS.orders), 'TCP', 5432), false);
    assert.equal(allowed(pod(KEYS.payments), { kind: 'ip', ip: '203.0.113.8' }, 'TCP', 443), false);
    assert.equal(allowed({ kind: 'ip', ip: '198.51.100.1' }, pod(KEYS.frontend), 'TCP', 80), false);
    // The workload without a selector is cut off by its namespace's default deny (and the summary says so).
    assert.equal(allowed(pod(KEYS.legacy), pod(KEYS.orders), 'TCP', 8080), false);
  });

  it('widens external peers by --cidr-prefix and --allow-dropped opens the dropped edge', () => {
    const graph = shopGraphWithIps();
    const { compiled, inventory } = load(graph, { ...DEFAULT_PROPOSAL_OPTIONS, cidrPrefixV4: 24, allowDropped: true });
    const conn = (dst: EvalEndpoint, port: number): Connection => ({
      src: podOf(inventory, KEYS.payments),
      dst,
      protocol: 'TCP',
      port,
    });
    assert.equal(evaluateConnection(compiled, conn({ kind: 'ip', ip: '203.0.113.8' }, 443)).allowed, true);
    assert.equal(evaluateConnection(compiled, conn({ kind: 'ip', ip: '203.0.114.8' }, 443)).allowed, false);
    const dropped: Connection = {
      src: podOf(inventory, KEYS.frontend),
      dst: podOf(inventory, KEYS.db),
      protocol: 'TCP',
      port: 5432,
    };
    assert.equal(evaluateConnection(compiled, dropped).allowed, true);
  });
});
