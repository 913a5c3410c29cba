// Calico flow logs where only one end reported a connection (issue 12.7). Real Calico Enterprise captures
// of Online Boutique hold only `reporter: src` records for most connections (frontend → coredns UDP/53,
// frontend → cartservice ...): the destination's node log was not exported, or the destination's report
// was filtered. Each observed connection must become an edge whichever end reported it, count once when
// both did (also when the two reports reach the store in different ingests), and a destination's deny
// must still decide the verdict. Judged end to end: file → ingest → SQLite → graph → proposal → the
// project's NetworkPolicy engine.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runIngest } from '../../src/cli/ingest.js';
import { loadProposalGraph } from '../../src/cli/propose.js';
import type { Graph } from '../../src/model/index.js';
import { type Connection, connectionText, judgeProposal } from './judge.js';

const FIXTURES = join(import.meta.dirname, '../fixtures');
const ONE_SIDED = join(FIXTURES, 'calico/online-boutique-one-sided.jsonl');
const REAL_DENY = join(FIXTURES, 'real/calico/observability-clinic-multitool-deny.jsonl');

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'flowwright-calico-one-sided-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let dbs = 0;
/** Ingests each list of files as its own `flowwright ingest` run into one fresh database. */
async function learn(...runs: string[][]): Promise<Graph> {
  const db = join(dir, `graph-${dbs++}.db`);
  for (const inputs of runs) {
    const summary = await runIngest({ inputs, db, progress: false });
    assert.equal(summary.malformed, 0, JSON.stringify(summary.issues));
  }
  return loadProposalGraph({ db, since: '', until: '' });
}

type Doc = Record<string, string | number | null | object>;
const docs = (file: string): Doc[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));

/** `frontend-755cdc7957-*` → the Deployment `frontend`, as the fixture's names are all Deployment pods. */
const workload = (namespace: unknown, aggr: unknown) =>
  `${namespace}/Deployment/${String(aggr).replace(/-[a-z0-9]+-\*$/, '')}`;

/**
 * The connections the capture shows allowed, read from the records themselves (not through flowwright):
 * every connection some end reported as allowed, unless the destination denied it.
 */
function observedAllowed(records: Doc[]): Connection[] {
  const key = (d: Doc) =>
    `${workload(d.source_namespace, d.source_name_aggr)}|${workload(d.dest_namespace, d.dest_name_aggr)}|${d.proto}|${d.dest_port}`;
  const deniedAtDst = new Set(records.filter((d) => d.reporter === 'dst' && d.action === 'deny').map(key));
  const out = new Map<string, Connection>();
  for (const d of records) {
    if (d.action !== 'allow' || deniedAtDst.has(key(d))) continue;
    const c: Connection = {
      src: workload(d.source_namespace, d.source_name_aggr),
      dst: workload(d.dest_namespace, d.dest_name_aggr),
      protocol: d.proto === 'udp' ? 'UDP' : 'TCP',
      port: Number(d.dest_port),
    };
    out.set(connectionText(c), c);
  }
  return [...out.values()];
}

const edgeRows = (g: Graph) =>
  g.edges.map((e) => `${e.src} > ${e.dst} ${e.protocol}/${e.port} ${JSON.stringify(e.verdicts)} ${e.flows}`).sort();

const EXPECTED_EDGES = [
  'default/Deployment/checkoutservice > default/Deployment/paymentservice TCP/50051 {"dropped":3} 3',
  'default/Deployment/frontend > default/Deployment/cartservice TCP/7070 {"forwarded":1} 1',
  'default/Deployment/frontend > default/Deployment/productcatalogservice TCP/3550 {"forwarded":10} 10',
  'default/Deployment/frontend > kube-system/Deployment/coredns UDP/53 {"forwarded":24} 24',
  'default/Deployment/loadgenerator > default/Deployment/frontend TCP/8080 {"forwarded":5} 5',
];

describe('Calico connections reported by one end only', () => {
  it('makes an edge of every connection, whichever end reported it, and counts a doubly reported one once', async () => {
    const g = await learn([ONE_SIDED]);
    assert.deepEqual(edgeRows(g), EXPECTED_EDGES);
  });

  it('counts the same when the two ends arrive in separate ingests (one log per node), in either order', async () => {
    const records = docs(ONE_SIDED);
    const bySide = (side: string) => {
      const file = join(dir, `${side}.jsonl`);
      writeFileSync(
        file,
        `${records
          .filter((d) => d.reporter === side)
          .map((d) => JSON.stringify(d))
          .join('\n')}\n`,
      );
      return file;
    };
    const src = bySide('src');
    const dst = bySide('dst');
    assert.deepEqual(edgeRows(await learn([src], [dst])), EXPECTED_EDGES);
    assert.deepEqual(edgeRows(await learn([dst], [src])), EXPECTED_EDGES);
    // Re-reading a file is a new report of the same hour only when the file is new: a checkpointed file
    // is not read twice, so nothing here can double.
  });

  it('proposes policy that allows every observed connection, DNS included, and nothing unobserved', async () => {
    const g = await learn([ONE_SIDED]);
    const judge = judgeProposal(g);
    const observed = observedAllowed(docs(ONE_SIDED));
    assert.equal(observed.length, 4);
    for (const c of observed) assert.equal(judge.verdict(c), undefined, `${connectionText(c)} must be allowed`);
    const unobserved: Connection[] = [
      // Denied by the destination in the capture: evidence, not an allow.
      {
        src: 'default/Deployment/checkoutservice',
        dst: 'default/Deployment/paymentservice',
        protocol: 'TCP',
        port: 50051,
      },
      {
        src: 'default/Deployment/cartservice',
        dst: 'default/Deployment/productcatalogservice',
        protocol: 'TCP',
        port: 3550,
      },
      { src: 'default/Deployment/loadgenerator', dst: 'default/Deployment/cartservice', protocol: 'TCP', port: 7070 },
      { src: 'default/Deployment/frontend', dst: 'kube-system/Deployment/coredns', protocol: 'TCP', port: 8080 },
    ];
    for (const c of unobserved) assert.notEqual(judge.verdict(c), undefined, `${connectionText(c)} must be denied`);
  });

  it('keeps a real destination-only deny as a denied edge (observability-clinic capture)', async () => {
    const g = await learn([REAL_DENY]);
    assert.deepEqual(edgeRows(g), [
      'default/Pod/multitool > hipstershop/Deployment/checkoutservice TCP/5050 {"dropped":1} 1',
    ]);
    const judge = judgeProposal(g);
    assert.notEqual(
      judge.verdict({
        src: 'default/Pod/multitool',
        dst: 'hipstershop/Deployment/checkoutservice',
        protocol: 'TCP',
        port: 5050,
      }),
      undefined,
      'a denied connection is not proposed',
    );
  });
});
