// The foundation end to end: generated Hubble traffic of the sample shop (two days, with a rolling update of
// every workload halfway) goes through the real pipeline (file → collector → aggregator → SQLite), the
// proposal is rendered to YAML, read back by the policy engine, and judged by evaluation:
//   (a) every observed forwarded connection is allowed, from every pod of the source workload (old and new
//       ReplicaSet) to every pod of the destination workload;
//   (b) workloads that never talked are denied, and so are unobserved ports between workloads that did;
//   (c) connections that were dropped in reality stay denied.
// And ingesting the same file a second time leaves the graph exactly as it was.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_SPAN_MS, DEFAULT_START, hubbleLines } from '../../samples/hubble.js';
import { shopScenario } from '../../samples/shop.js';
import { runIngest } from '../../src/cli/ingest.js';
import { loadProposalGraph } from '../../src/cli/propose.js';
import type { Graph, PeerNode } from '../../src/model/index.js';
import {
  type CompiledNetworkPolicies,
  compileNetworkPolicies,
  type EvalEndpoint,
  evaluateConnection,
  type Inventory,
  inventoryFromGraph,
  type L4Protocol,
  parsePolicyText,
} from '../../src/policy/index.js';
import { graphToJson } from '../../src/review/index.js';
import { DEFAULT_PROPOSAL_OPTIONS, proposeNetworkPolicies, renderProposalFile } from '../../src/synthesize/index.js';

let dir: string;
let file: string;
let db: string;
let graph: Graph;
let inventory: Inventory;
let compiled: CompiledNetworkPolicies;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowwright-e2e-'));
  file = join(dir, 'flows.jsonl');
  // The default span (two days) puts every workload's rollout in the middle of the traffic.
  const lines = hubbleLines(shopScenario(), {
    flows: 30_000,
    seed: 11,
    startMs: Date.parse(DEFAULT_START),
    spanMs: DEFAULT_SPAN_MS,
    l7: true,
  });
  writeFileSync(file, `${[...lines].join('\n')}\n`);
  db = join(dir, 'flowwright.db');
  const summary = await runIngest({ inputs: [file], db, progress: false });
  assert.equal(summary.malformed, 0);
  assert.ok(summary.replies > 0, 'the generated traffic has replies, which must be skipped');

  graph = loadProposalGraph({ db, since: '', until: '' });
  inventory = inventoryFromGraph(graph);
  const proposal = proposeNetworkPolicies(graph, DEFAULT_PROPOSAL_OPTIONS);
  const policies = proposal.files.flatMap((f) => {
    const loaded = parsePolicyText(renderProposalFile(f), f.path);
    assert.deepEqual(loaded.issues, [], `${f.path} must be a valid NetworkPolicy`);
    return loaded.networkPolicies;
  });
  assert.ok(policies.length > 15, `expected a policy per workload and default denies, got ${policies.length}`);
  compiled = compileNetworkPolicies(policies, inventory);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const isL4 = (p: string): p is L4Protocol => p === 'TCP' || p === 'UDP' || p === 'SCTP';

/** The endpoints a peer stands for: every observed pod of a workload, or its observed addresses. */
function endpointsOf(node: PeerNode): EvalEndpoint[] {
  if (node.peer.type === 'workload') {
    return inventory.pods.filter((p) => p.workload === node.key).map((pod) => ({ kind: 'pod', pod }));
  }
  if (node.peer.type === 'reserved' && node.peer.entity === 'host') {
    return node.ips.length ? node.ips.map((ip) => ({ kind: 'host', ip })) : [{ kind: 'host' }];
  }
  return node.ips.map((ip) => ({ kind: 'ip', ip }));
}

function peer(key: string): PeerNode {
  const node = graph.peers.get(key);
  assert.ok(node, `peer ${key} is in the graph`);
  return node;
}

describe('end to end: generated traffic → store → proposal → evaluation', () => {
  it('the traffic spans a rolling update: workloads have pods of two ReplicaSets', () => {
    const frontend = inventory.pods.filter((p) => p.workload?.endsWith('shop/Deployment/frontend'));
    const hashes = new Set(frontend.map((p) => p.labels['pod-template-hash']));
    assert.ok(hashes.size >= 2, `frontend pods carry ${[...hashes].join(', ')}`);
  });

  it('(a) allows every observed forwarded connection, from every pod to every pod', () => {
    let checked = 0;
    const denied: string[] = [];
    for (const e of graph.edges) {
      if (!(e.verdicts.forwarded ?? 0) || !isL4(e.protocol)) continue;
      const srcs = endpointsOf(peer(e.src));
      const dsts = endpointsOf(peer(e.dst));
      assert.ok(srcs.length > 0 && dsts.length > 0, `endpoints for ${e.src} -> ${e.dst}`);
      for (const src of srcs)
        for (const dst of dsts) {
          checked++;
          const d = evaluateConnection(compiled, { src, dst, protocol: e.protocol, port: e.port }, { detail: false });
          if (!d.allowed) denied.push(`${e.src} -> ${e.dst} ${e.port}/${e.protocol}`);
        }
    }
    assert.ok(checked > 200, `checked ${checked} pod-level connections`);
    assert.deepEqual([...new Set(denied)], []);
  });

  it('(b) denies workload pairs that never talked, and unobserved ports of pairs that did', () => {
    const workloads = [...graph.peers.values()].filter((n) => n.peer.type === 'workload');
    const talked = new Set(graph.edges.map((e) => `${e.src}>${e.dst}|${e.protocol}/${e.port}`));
    const served = new Map<string, { protocol: L4Protocol; port: number }[]>();
    for (const e of graph.edges)
      if (isL4(e.protocol) && e.port > 0) {
        const list = served.get(e.dst) ?? [];
        if (!list.some((x) => x.port === e.port && x.protocol === e.protocol))
          list.push({ protocol: e.protocol, port: e.port });
        served.set(e.dst, list);
      }
    let checked = 0;
    const allowed: string[] = [];
    for (const a of workloads)
      for (const b of workloads) {
        if (a === b) continue;
        for (const { protocol, port } of served.get(b.key) ?? []) {
          if (talked.has(`${a.key}>${b.key}|${protocol}/${port}`)) continue;
          const src = endpointsOf(a)[0]!;
          const dst = endpointsOf(b)[0]!;
          checked++;
          if (evaluateConnection(compiled, { src, dst, protocol, port }, { detail: false }).allowed)
            allowed.push(`${a.key} -> ${b.key} ${port}/${protocol}`);
        }
      }
    assert.ok(checked > 100, `checked ${checked} unobserved connections`);
    assert.deepEqual(allowed, []);
  });

  it('(c) connections dropped in reality stay denied', () => {
    const dropped = graph.edges.filter((e) => !(e.verdicts.forwarded ?? 0) && (e.verdicts.dropped ?? 0) > 0);
    assert.ok(dropped.length >= 2, 'the shop has dropped connections (loadgenerator → orders-db, a scanner)');
    for (const e of dropped) {
      if (!isL4(e.protocol)) continue;
      for (const src of endpointsOf(peer(e.src)))
        for (const dst of endpointsOf(peer(e.dst))) {
          const d = evaluateConnection(compiled, { src, dst, protocol: e.protocol, port: e.port }, { detail: false });
          assert.equal(
            d.allowed,
            false,
            `${e.src} -> ${e.dst} ${e.port}/${e.protocol} was dropped and must stay denied`,
          );
        }
    }
  });

  it('ingesting the same file again changes nothing', async () => {
    const before = JSON.stringify(graphToJson(loadProposalGraph({ db, since: '', until: '' })));
    const again = await runIngest({ inputs: [file], db, progress: false });
    assert.equal(again.flows, 0, 'nothing is read twice');
    const afterwards = JSON.stringify(graphToJson(loadProposalGraph({ db, since: '', until: '' })));
    assert.equal(afterwards, before);
  });
});
