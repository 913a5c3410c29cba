// The same shop traffic, logged once by Cilium Hubble and once by Calico, ingested through the real
// pipeline (files → collector → aggregator → SQLite → graph → NetworkPolicy proposal): both must teach the
// same workloads, the same edges and the same policies.
//
// What the formats cannot agree on, by design of Calico's logs, and is therefore mapped before comparing:
//   - Calico reports no ICMP type, so ICMP edges have port 0 on the Calico side;
//   - at Calico's default aggregation for allowed flows (`prefix`), addresses are aggregated away, so an
//     external address is only "the public internet" (`netset:pub`);
//   - Hubble names the cluster (Cilium's default name `default`) and workload keys carry it
//     (`default:shop/Deployment/frontend`); Calico flow logs name no cluster.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CalicoAggregation, calicoLines } from '../../samples/calico.js';
import { hubbleLines } from '../../samples/hubble.js';
import { shopIntendedConnections, shopScenario } from '../../samples/shop.js';
import { runIngest } from '../../src/cli/ingest.js';
import { loadProposalGraph } from '../../src/cli/propose.js';
import type { Graph } from '../../src/model/index.js';
import { DEFAULT_PROPOSAL_OPTIONS, proposeNetworkPolicies } from '../../src/synthesize/index.js';

const START = Date.parse('2024-06-03T00:00:00Z');
const SPAN = 12 * 3600_000;
const SEED = 42;

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowwright-calico-vs-hubble-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function learn(name: string, lines: Iterable<string>): Promise<Graph> {
  const file = join(dir, `${name}.jsonl`);
  writeFileSync(file, `${[...lines].join('\n')}\n`);
  const db = join(dir, `${name}.db`);
  const summary = await runIngest({ inputs: [file], db, progress: false });
  assert.equal(summary.malformed, 0, `${name}: ${JSON.stringify(summary.issues)}`);
  return loadProposalGraph({ db, since: '', until: '' });
}

const hubble = () =>
  learn('hubble', hubbleLines(shopScenario(), { flows: 20_000, seed: SEED, startMs: START, spanMs: SPAN, l7: false }));
const calico = (aggregation: CalicoAggregation) =>
  learn(
    `calico-${aggregation}`,
    calicoLines(shopScenario(), { events: 4_000, seed: SEED, startMs: START, spanMs: SPAN, aggregation }),
  );

/** A peer key without the cluster part (`default:shop/...` → `shop/...`). */
const withoutCluster = (key: string) => key.replace(/^[^:/]+:(?=[^/]+\/[A-Za-z]+\/)/, '');

const workloads = (g: Graph) =>
  [...g.peers.values()]
    .filter((p) => p.peer.type === 'workload')
    .map((p) => withoutCluster(p.key))
    .sort();

/** Edges as `src > dst proto/port`, ICMP without its type (Calico does not log it), sorted. */
function edges(g: Graph, peer: (key: string) => string = (k) => k): string[] {
  const out = new Set<string>();
  for (const e of g.edges) {
    const port = e.protocol === 'ICMPv4' || e.protocol === 'ICMPv6' ? 0 : e.port;
    out.add(`${peer(withoutCluster(e.src))} > ${peer(withoutCluster(e.dst))} ${e.protocol}/${port}`);
  }
  return [...out].sort();
}

/**
 * The proposed NetworkPolicies by file, without the cluster part of names and without the
 * `generated-from` annotation: it states flow counts and times, which the two formats count differently
 * (Hubble a record per observation point and packet kind, Calico a connection per report interval).
 */
function policies(g: Graph): Record<string, unknown> {
  const proposal = proposeNetworkPolicies(g, DEFAULT_PROPOSAL_OPTIONS);
  const clean = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(clean);
    if (typeof value === 'string') return withoutCluster(value);
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (k !== 'flowwright.io/generated-from') out[k] = clean(v);
    return out;
  };
  return Object.fromEntries(proposal.files.map((f) => [f.path.replace(/^default\//, ''), clean(f.documents)]));
}

describe('the shop from Calico flow logs and from Hubble flows', () => {
  let fromHubble: Graph;
  before(async () => {
    fromHubble = await hubble();
  });

  it('teaches the same workloads, edges and NetworkPolicies (Calico keeping addresses)', async () => {
    const fromCalico = await calico('source-port');
    assert.deepEqual(workloads(fromCalico), workloads(fromHubble));
    assert.deepEqual(edges(fromCalico), edges(fromHubble));
    // Every intended connection is there, so the comparison is not between two empty graphs.
    const learned = new Set(edges(fromCalico));
    for (const c of shopIntendedConnections())
      assert.ok(
        learned.has(`${c.src} > ${c.dst} ${c.protocol}/${c.protocol === 'ICMPv4' ? 0 : c.port}`),
        `${c.src} > ${c.dst}`,
      );
    const expected = policies(fromHubble);
    assert.ok(Object.keys(expected).length > 10);
    assert.deepEqual(policies(fromCalico), expected);
  });

  it("teaches the same workloads and edges at Calico's default aggregation, externals being the public network", async () => {
    const fromCalico = await calico('prefix');
    assert.deepEqual(workloads(fromCalico), workloads(fromHubble));
    // Allowed flows to outside addresses lose the address; denied ones keep it (Calico's default for denied flows).
    const denied = new Set(
      fromHubble.edges
        .filter((e) => (e.verdicts.forwarded ?? 0) === 0)
        .flatMap((e) => [withoutCluster(e.src), withoutCluster(e.dst)]),
    );
    const toNetwork = (key: string) => (key.startsWith('cidr:') && !denied.has(key) ? 'netset:pub' : key);
    assert.deepEqual(edges(fromCalico), edges(fromHubble, toNetwork));
    // Pods are known by their aggregate (denied flows keep pod names), and every aggregate is a Deployment's.
    const aggregates = fromCalico.pods.filter((p) => p.name.endsWith('-*'));
    assert.ok(aggregates.length >= 14);
    for (const p of aggregates) assert.match(p.workload, /\/Deployment\//);
  });
});
