// Policy kinds at scale: proposing every kind (NetworkPolicy, AuthorizationPolicy with L7 paths, Cilium,
// Calico, tenant baseline) against proposing NetworkPolicy alone on the same generated graph, and the
// consistency check of the NetworkPolicy and AuthorizationPolicy proposals, whose work grows with
// workloads × workloads × ports. Each size runs in this one process, smallest first; peak RSS is the
// process's. Run: node --import tsx bench/kinds.ts [--sizes 10x10,30x30,100x100]
import { parseArgs } from 'node:util';
import type { Edge, Graph, PeerNode, PodRecord } from '../src/model/index.js';
import { emptyLoaded, inventoryFromGraph, mergeLoaded, parsePolicyText } from '../src/policy/index.js';
import { checkConsistency } from '../src/review/index.js';
import { proposePolicies, renderProposalFile } from '../src/synthesize/index.js';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '10x10,30x30,100x100' } } });
const T = Date.parse('2026-11-01T00:00:00Z');

/** `namespaces` × `workloads` Deployments; each calls 5 of its namespace and 1 across, with HTTP on half. */
function graph(namespaces: number, workloads: number): Graph {
  const peers = new Map<string, PeerNode>();
  const pods: PodRecord[] = [];
  const edges: Edge[] = [];
  const key = (n: number, w: number) => `ns${n}/Deployment/w${w}`;
  for (let n = 0; n < namespaces; n++)
    for (let w = 0; w < workloads; w++) {
      const k = key(n, w);
      peers.set(k, {
        key: k,
        peer: { type: 'workload', namespace: `ns${n}`, kind: 'Deployment', name: `w${w}` },
        names: [],
        ips: [],
        serviceAccounts: [`w${w}`],
        namespaceLabels: { 'kubernetes.io/metadata.name': `ns${n}`, team: `t${n % 5}` },
        firstSeen: T,
        lastSeen: T,
        selector: { app: `w${w}` },
      });
      pods.push({
        namespace: `ns${n}`,
        name: `w${w}-0`,
        workload: k,
        labels: { app: `w${w}` },
        serviceAccount: `w${w}`,
        ips: [`10.${n >> 8}.${n & 255}.${w + 1}`],
        firstSeen: T,
        lastSeen: T,
      });
    }
  for (let n = 0; n < namespaces; n++)
    for (let w = 0; w < workloads; w++) {
      const targets = [1, 2, 3, 4, 5].map((d) => key(n, (w + d) % workloads));
      targets.push(key((n + 1) % namespaces, w));
      targets.forEach((dst, i) => {
        const http =
          i % 2 === 0
            ? Array.from({ length: 20 }, (_, j) => ({
                method: j % 3 === 0 ? 'POST' : 'GET',
                path: `/api/v1/items/${1000 + j * 7 + w}`,
                count: 3,
                statuses: [200],
                firstSeen: T,
                lastSeen: T,
              }))
            : [];
        edges.push({
          src: key(n, w),
          dst,
          protocol: 'TCP',
          port: 8080 + i,
          flows: 10,
          verdicts: { forwarded: 10 },
          firstSeen: T,
          lastSeen: T,
          http,
          dnsNames: [],
          kafkaTopics: [],
          dropReasons: [],
          policies: [],
          services: [],
        });
      });
    }
  return { peers, pods, edges, window: {} };
}

function time<T>(f: () => T): [T, number] {
  const start = process.hrtime.bigint();
  const out = f();
  return [out, Number(process.hrtime.bigint() - start) / 1e6];
}

const rows: string[] = [
  '| workloads | edges | NetworkPolicy only (ms) | all five kinds (ms) | ratio | files | consistency: connections | consistency (ms) | peak RSS |',
  '|---|---|---|---|---|---|---|---|---|',
];
for (const size of values.sizes.split(',')) {
  const [n, w] = size.split('x').map(Number);
  const g = graph(n, w);
  // Warm up once so that the first size does not pay for module compilation.
  proposePolicies(g, { kinds: ['networkpolicy'] });
  const [, npMs] = time(() => proposePolicies(g, { kinds: ['networkpolicy'] }));
  const [all, allMs] = time(() =>
    proposePolicies(g, { kinds: ['networkpolicy', 'authorizationpolicy', 'cilium', 'calico', 'tenant-baseline'] }),
  );
  const loaded = emptyLoaded();
  for (const f of all.files) {
    if (f.kind === 'NetworkPolicy' && f.path.endsWith('.networkpolicy.yaml'))
      mergeLoaded(loaded, parsePolicyText(renderProposalFile(f), f.path));
    if (f.kind === 'AuthorizationPolicy') mergeLoaded(loaded, parsePolicyText(renderProposalFile(f), f.path));
  }
  const [report, cMs] = time(() =>
    checkConsistency(loaded.networkPolicies, loaded.authorizationPolicies, inventoryFromGraph(g)),
  );
  if (report.findings.length > 0) throw new Error(`${report.findings.length} inconsistencies in a proposal`);
  const rss = `${Math.round(process.resourceUsage().maxRSS / 1024)} MB`;
  rows.push(
    `| ${n * w} | ${g.edges.length} | ${npMs.toFixed(0)} | ${allMs.toFixed(0)} | ${(allMs / npMs).toFixed(1)}× | ${all.files.length} | ${report.checked} | ${cMs.toFixed(0)} | ${rss} |`,
  );
}
process.stdout.write(`${rows.join('\n')}\n`);
