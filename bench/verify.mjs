// The verifier at scale: a generated cluster of N namespaces × 100 workloads (one pod each), 10 edges
// per workload and one NetworkPolicy per workload plus a default deny per namespace. At scale 1 that
// is 10,000 workloads, 100,000 edges and 10,100 policies. Prints one JSON line with the timings.
//
// Usage: node bench/verify.mjs <module root> <scale>
//   module root: dist/src (built) or src (under `node --import tsx`)
//
// Measured (best of three runs, each with a fresh compile): parse (the policies as one kubectl List in JSON), verify (the
// full replay), and the baseline: the same replay with no policies at all (endpoint resolution and
// the walk over the edges, which any verifier must do). Every 100th workload lacks its egress rule
// to its external API, so 1% of the workloads have one broken edge to explain.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [root, scaleText] = process.argv.slice(2);
const scale = Number(scaleText ?? '1');
if (!root || !(scale > 0)) {
  console.error('usage: node bench/verify.mjs <module root: dist/src | src> <scale, 1 = 10,000 workloads>');
  process.exit(2);
}
const load = (p) => import(pathToFileURL(resolve(root, p)).href);
const policy = await load(`policy/index.${root.startsWith('dist') ? 'js' : 'ts'}`);
const review = await load(`review/index.${root.startsWith('dist') ? 'js' : 'ts'}`);

const NAMESPACES = Math.max(1, Math.round(100 * scale));
const APPS = 100;
const T = Date.parse('2026-11-01T00:00:00Z');

const nsName = (n) => `ns-${n}`;
const app = (a) => `app-${a}`;
const key = (n, a) => `${nsName(n)}/Deployment/${app(a)}`;
const extIp = (n, a) => `203.0.${n % 256}.${a}`;
/** Same-namespace destinations of app a: the next seven apps. */
const nextApps = (a) => Array.from({ length: 7 }, (_, k) => (a + 1 + k) % APPS);
const prevApps = (a) => Array.from({ length: 7 }, (_, k) => (a - 1 - k + 2 * APPS) % APPS);

function buildGraph() {
  const peers = new Map();
  const pods = [];
  const edges = [];
  const node = (k, peer, extra = {}) =>
    peers.set(k, { key: k, peer, names: [], ips: [], serviceAccounts: [], firstSeen: T, lastSeen: T, ...extra });
  const edge = (src, dst, port, verdicts) =>
    edges.push({
      src,
      dst,
      protocol: 'TCP',
      port,
      flows: 10,
      verdicts,
      firstSeen: T,
      lastSeen: T + 3600_000,
      http: [],
      dnsNames: [],
      kafkaTopics: [],
      dropReasons: [],
      policies: [],
      services: [],
    });
  for (let n = 0; n < NAMESPACES; n++) {
    for (let a = 0; a < APPS; a++) {
      const k = key(n, a);
      node(
        k,
        { type: 'workload', namespace: nsName(n), kind: 'Deployment', name: app(a) },
        { selector: { app: app(a) } },
      );
      node(`cidr:${extIp(n, a)}/32`, { type: 'external', cidr: `${extIp(n, a)}/32` }, { ips: [extIp(n, a)] });
      pods.push({
        namespace: nsName(n),
        name: `${app(a)}-0`,
        workload: k,
        labels: { app: app(a), tier: 'x' },
        ips: [`10.${n % 256}.${a}.1`],
        firstSeen: T,
        lastSeen: T,
      });
      for (const b of nextApps(a)) edge(k, key(n, b), 8080, { forwarded: 10 });
      edge(k, key((n + 1) % NAMESPACES, a), 9090, { forwarded: 10 });
      edge(k, `cidr:${extIp(n, a)}/32`, 443, { forwarded: 10 });
      edge(k, key(n, (a + 50) % APPS), 5432, { dropped: 5 });
    }
  }
  return { peers, pods, edges, window: {} };
}

const sel = (labels) => ({ matchLabels: labels });
const appIn = (apps) => ({ matchExpressions: [{ key: 'app', operator: 'In', values: apps.map(app) }] });

function buildPolicies() {
  const items = [];
  for (let n = 0; n < NAMESPACES; n++) {
    items.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'default-deny', namespace: nsName(n) },
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    });
    for (let a = 0; a < APPS; a++) {
      const egress = [
        { to: [{ podSelector: appIn(nextApps(a)) }], ports: [{ port: 8080 }] },
        {
          to: [
            {
              namespaceSelector: sel({ 'kubernetes.io/metadata.name': nsName((n + 1) % NAMESPACES) }),
              podSelector: sel({ app: app(a) }),
            },
          ],
          ports: [{ port: 9090 }],
        },
      ];
      if (a !== 0) egress.push({ to: [{ ipBlock: { cidr: `${extIp(n, a)}/32` } }], ports: [{ port: 443 }] });
      items.push({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: app(a), namespace: nsName(n) },
        spec: {
          podSelector: sel({ app: app(a) }),
          policyTypes: ['Ingress', 'Egress'],
          ingress: [
            { from: [{ podSelector: appIn(prevApps(a)) }], ports: [{ port: 8080 }] },
            {
              from: [
                {
                  namespaceSelector: sel({ 'kubernetes.io/metadata.name': nsName((n - 1 + NAMESPACES) % NAMESPACES) }),
                  podSelector: sel({ app: app(a) }),
                },
              ],
              ports: [{ port: 9090 }],
            },
          ],
          egress,
        },
      });
    }
  }
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

const graph = buildGraph();
const text = buildPolicies();
const inventory = policy.inventoryFromGraph(graph);

const t = performance.now();
const loaded = policy.parsePolicyText(text, 'bench-policies.json');
const parseMs = performance.now() - t;
if (loaded.issues.length > 0) throw new Error(`policy issues: ${JSON.stringify(loaded.issues[0])}`);

/** Best of three: the machine is shared, and the first run also pays for compiling the code. */
function best(fn) {
  let ms = Number.POSITIVE_INFINITY;
  let result;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    result = fn();
    ms = Math.min(ms, performance.now() - t0);
  }
  return { ms, result };
}
const { ms: baselineMs, result: baseline } = best(() => review.verifyPolicies(graph, inventory, policy.emptyLoaded()));
const { ms: verifyMs, result: report } = best(() => review.verifyPolicies(graph, inventory, loaded));

// The work the evaluator did, counted: selector checks per pod and rule checks per edge must stay flat.
const compiled = policy.compileNetworkPolicies(loaded.networkPolicies, inventory);
for (const p of inventory.pods) policy.policiesSelecting(compiled, p);
const podSelectorChecks = compiled.stats.podSelectorChecks;

console.log(
  JSON.stringify({
    scale,
    workloads: NAMESPACES * APPS,
    edges: graph.edges.length,
    policies: loaded.networkPolicies.length,
    parseMs,
    baselineMs,
    verifyMs,
    broken: report.totals.broken,
    coverage: report.coverage,
    baselineCoverage: baseline.coverage,
    podSelectorChecksPerPod: podSelectorChecks / inventory.pods.length,
    maxRssKb: process.resourceUsage().maxRSS,
  }),
);
