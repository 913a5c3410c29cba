// End to end on generated shop traffic with HTTP and DNS L7 records: flows → ingest → SQLite → graph →
// proposals of every kind. The requests and DNS answers are read from the generated records themselves,
// independently of the graph, and the AuthorizationPolicy engine judges the proposal.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hubbleLines } from '../../samples/hubble.js';
import { shopScenario } from '../../samples/shop.js';
import { runIngest } from '../../src/cli/ingest.js';
import { loadProposalGraph } from '../../src/cli/propose.js';
import type { Graph } from '../../src/model/index.js';
import {
  compileAuthorizationPolicies,
  evaluateRequest,
  type Inventory,
  inventoryFromGraph,
  type LoadedPolicies,
  type PodInfo,
} from '../../src/policy/index.js';
import { checkConsistency, renderConsistency } from '../../src/review/index.js';
import { type PoliciesProposal, pathOnly, proposePolicies } from '../../src/synthesize/index.js';
import { podOf as podOfInventory, readBack } from './readback.js';
import { calicoSelectorProblem, shapeFor, shapeProblems } from './shapes.js';

// biome-ignore lint/suspicious/noExplicitAny: parsed Hubble JSON and generated documents
type Json = Record<string, any>;

interface ObservedRequest {
  srcPod: string;
  dstPod: string;
  port: number;
  method: string;
  path: string;
}

let dir: string;
let graph: Graph;
let requests: ObservedRequest[];
/** DNS name (without the final dot) → addresses answered, from the DNS records. */
let answers: Map<string, Set<string>>;
let proposal: PoliciesProposal;
let loaded: LoadedPolicies;
let inventory: Inventory;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowwright-l7-'));
  const lines = [
    ...hubbleLines(shopScenario(), {
      flows: 20_000,
      seed: 42,
      startMs: Date.parse('2024-06-03T00:00:00Z'),
      spanMs: 12 * 3600_000,
      l7: true,
    }),
  ];
  requests = [];
  answers = new Map();
  for (const line of lines) {
    const flow = (JSON.parse(line) as Json).flow as Json | undefined;
    const l7 = flow?.l7;
    if (l7?.type === 'REQUEST' && l7.http) {
      requests.push({
        srcPod: `${flow!.source.namespace}/${flow!.source.pod_name}`,
        dstPod: `${flow!.destination.namespace}/${flow!.destination.pod_name}`,
        port: flow!.l4.TCP.destination_port,
        method: l7.http.method,
        path: pathOnly(new URL(l7.http.url).pathname),
      });
    }
    if (l7?.dns?.ips?.length) {
      const name = String(l7.dns.query).replace(/\.$/, '');
      const set = answers.get(name) ?? new Set<string>();
      for (const ip of l7.dns.ips) set.add(ip);
      answers.set(name, set);
    }
  }
  const file = join(dir, 'shop.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const db = join(dir, 'shop.db');
  const summary = await runIngest({ inputs: [file], db, progress: false });
  assert.equal(summary.malformed, 0);
  graph = loadProposalGraph({ db, since: '', until: '' });
  proposal = proposePolicies(graph, {
    kinds: ['networkpolicy', 'authorizationpolicy', 'cilium', 'calico', 'tenant-baseline'],
    tenantLabel: 'team',
  });
  loaded = readBack(proposal.files);
  inventory = inventoryFromGraph(graph);
});

after(() => rmSync(dir, { recursive: true, force: true }));

function pod(name: string): PodInfo {
  const found = inventory.pods.find((p) => `${p.namespace}/${p.name}` === name);
  assert.ok(found, `pod ${name} not in the inventory`);
  return found;
}

const podOf = (workload: string): PodInfo => podOfInventory(inventory, workload);

describe('proposals from generated traffic with HTTP and DNS records', () => {
  it('loads every AuthorizationPolicy and NetworkPolicy without an issue', () => {
    assert.deepEqual(loaded.issues, []);
    assert.ok(loaded.authorizationPolicies.length >= 14);
    assert.ok(requests.length > 1000, `only ${requests.length} HTTP requests generated`);
  });

  it('AuthorizationPolicies allow every observed request (method + concrete path)', () => {
    const compiled = compileAuthorizationPolicies(loaded.authorizationPolicies, { rootNamespace: 'istio-system' });
    const denied: string[] = [];
    for (const r of requests) {
      const src = pod(r.srcPod);
      const dst = pod(r.dstPod);
      const d = evaluateRequest(compiled, dst, {
        conn: { src: { kind: 'pod', pod: src }, dst: { kind: 'pod', pod: dst }, protocol: 'TCP', port: r.port },
        method: r.method,
        path: r.path,
        http: true,
      });
      if (d.verdict !== 'allow') denied.push(`${r.srcPod} -> ${r.dstPod} ${r.method} ${r.path}: ${d.reason}`);
    }
    assert.deepEqual(denied.slice(0, 5), []);
  });

  it('notes callers whose principal is a namespace default service account', () => {
    const notes = proposal.summaries.find((s) => s.kind === 'authorizationpolicy')!.summary.notes;
    assert.ok(
      notes.some((n) => n.startsWith("shop/Deployment/loadgenerator runs as service account 'default' of shop")),
      notes.join('\n'),
    );
  });

  it('AuthorizationPolicies deny an unobserved method or path', () => {
    const compiled = compileAuthorizationPolicies(loaded.authorizationPolicies, { rootNamespace: 'istio-system' });
    const loadgen = podOf('shop/Deployment/loadgenerator');
    const frontend = podOf('shop/Deployment/frontend');
    const ask = (method: string, path: string) =>
      evaluateRequest(compiled, frontend, {
        conn: { src: { kind: 'pod', pod: loadgen }, dst: { kind: 'pod', pod: frontend }, protocol: 'TCP', port: 8080 },
        method,
        path,
        http: true,
      }).verdict;
    assert.equal(ask('GET', '/product/OLJCESPC7Z'), 'allow');
    assert.equal(ask('GET', '/api/users/31337'), 'allow', 'an unseen id on a templated route');
    assert.equal(ask('DELETE', '/cart'), 'deny', 'unobserved method');
    assert.equal(ask('GET', '/admin'), 'deny', 'unobserved path');
    assert.equal(ask('POST', '/product/OLJCESPC7Z'), 'deny', 'observed path, unobserved method');
    assert.equal(ask('GET', '/cart/checkout'), 'deny', 'POST-only route');
    const catalog = podOf('shop/Deployment/productcatalogservice');
    const grpc = (method: string) =>
      evaluateRequest(compiled, catalog, {
        conn: { src: { kind: 'pod', pod: frontend }, dst: { kind: 'pod', pod: catalog }, protocol: 'TCP', port: 3550 },
        method: 'POST',
        path: `/hipstershop.ProductCatalogService/${method}`,
        http: true,
      }).verdict;
    assert.equal(grpc('GetProduct'), 'allow');
    assert.equal(grpc('DeleteProduct'), 'deny', 'unobserved gRPC method');
  });

  it('Cilium HTTP rules let every observed request through and not an unobserved one', () => {
    const docs = new Map(
      proposal.files.filter((f) => f.path.endsWith('.cilium.yaml')).map((f) => [f.workload, f.documents[0] as Json]),
    );
    /** Cilium's ingress decision at `dst` for one HTTP request, as its rules read (selectors, port, method, regex). */
    const allows = (src: PodInfo, dst: PodInfo, port: number, method: string, path: string): boolean => {
      const doc = docs.get(dst.workload);
      assert.ok(doc, `no CiliumNetworkPolicy for ${dst.workload}`);
      const labels: Record<string, string> = { ...src.labels, 'k8s:io.kubernetes.pod.namespace': src.namespace };
      return (doc.spec.ingress as Json[]).some(
        (rule) =>
          (rule.fromEndpoints ?? []).some((sel: Json) =>
            Object.entries(sel.matchLabels as Record<string, string>).every(([k, v]) => labels[k] === v),
          ) &&
          (rule.toPorts ?? []).some(
            (tp: Json) =>
              tp.ports.some((p: Json) => p.port === String(port)) &&
              (!tp.rules?.http ||
                tp.rules.http.some(
                  (h: Json) =>
                    h.method === method && (h.path === undefined || new RegExp(`^(?:${h.path})$`).test(path)),
                )),
          ),
      );
    };
    const missed = requests.filter((r) => !allows(pod(r.srcPod), pod(r.dstPod), r.port, r.method, r.path));
    assert.deepEqual(missed.slice(0, 3), []);
    const loadgen = podOf('shop/Deployment/loadgenerator');
    const frontend = podOf('shop/Deployment/frontend');
    assert.equal(allows(loadgen, frontend, 8080, 'GET', '/api/users/31337?tab=orders'), true);
    assert.equal(allows(loadgen, frontend, 8080, 'DELETE', '/cart'), false);
    assert.equal(allows(loadgen, frontend, 8080, 'GET', '/admin'), false);
    assert.equal(allows(loadgen, frontend, 8080, 'GET', '/api/users/1/2'), false);
  });

  it('templating collapses ID-bearing paths without merging distinct routes', () => {
    const frontend = loaded.authorizationPolicies.find((p) => p.name === 'flowwright-frontend');
    assert.ok(frontend);
    const byMethod: Record<string, string[]> = {};
    for (const rule of frontend.rules)
      for (const op of rule.to)
        for (const m of op.methods ?? []) byMethod[m] = [...(byMethod[m] ?? []), ...(op.paths ?? [])];
    assert.deepEqual(byMethod, {
      GET: ['/', '/api/cart/{*}', '/api/users/{*}', '/cart', '/product/{*}'],
      POST: ['/cart', '/cart/checkout', '/setCurrency'],
    });
    const concrete = new Set(
      requests.filter((r) => r.dstPod.startsWith('shop/frontend-')).map((r) => `${r.method} ${r.path}`),
    );
    assert.ok(concrete.size > 50, `${concrete.size} distinct requests collapse to 8 templates`);
  });

  it('the NetworkPolicy and AuthorizationPolicy proposals are consistent', () => {
    const report = checkConsistency(loaded.networkPolicies, loaded.authorizationPolicies, inventory);
    assert.deepEqual(report.findings, [], renderConsistency(report));
    assert.ok(report.checked > 500, `${report.checked} connections compared`);
    assert.ok(report.destinations.length >= 14, report.destinations.join(', '));
  });

  it('Cilium reaches the external APIs by name (toFQDNs), and the names resolve to the addresses used', () => {
    const file = proposal.files.find((f) => f.path === 'shop/paymentservice.cilium.yaml');
    assert.ok(file, proposal.files.map((f) => f.path).join('\n'));
    const doc = file.documents[0] as Json;
    const egress = doc.spec.egress as Json[];
    const fqdn = egress.find((r) => r.toFQDNs);
    assert.deepEqual(fqdn?.toFQDNs, [{ matchName: 'api.payments.example' }]);
    assert.deepEqual(fqdn?.toPorts, [{ ports: [{ port: '443', protocol: 'TCP' }] }]);
    const dns = egress.find((r) => r.toPorts?.some((p: Json) => p.rules?.dns));
    assert.ok(dns, 'no DNS rule to kube-dns: toFQDNs would never learn an address');
    assert.equal(dns.toEndpoints[0].matchLabels['k8s:io.kubernetes.pod.namespace'], 'kube-system');
    // What Cilium's DNS proxy would learn from the lookups the flows show: the allowed name answers with
    // exactly the address paymentservice connected to, and not with the other API's address.
    const learned = new Set(fqdn.toFQDNs.flatMap((f: Json) => [...(answers.get(f.matchName) ?? [])]));
    const used = graph.edges
      .filter((e) => e.src === 'shop/Deployment/paymentservice' && e.port === 443)
      .map((e) => e.dst.replace(/^cidr:/, '').replace(/\/32$/, ''));
    assert.deepEqual(used, ['203.0.113.10']);
    assert.deepEqual([...learned], used);
    assert.equal(learned.has('198.51.100.20'), false);
    // Upstream DNS of coredns has no name: an address rule.
    const coredns = proposal.files.find((f) => f.path === 'kube-system/coredns.cilium.yaml')!.documents[0] as Json;
    assert.ok((coredns.spec.egress as Json[]).some((r) => JSON.stringify(r.toCIDRSet) === '[{"cidr":"1.1.1.1/32"}]'));
  });

  it('Cilium, Calico and tenant-baseline documents have the shapes of their APIs', () => {
    let checked = 0;
    for (const f of proposal.files) {
      for (const doc of f.documents) {
        const kind = `${doc.apiVersion}`;
        if (!/cilium|projectcalico|policy\.networking/.test(kind)) continue;
        assert.deepEqual(shapeProblems(doc, shapeFor(doc)), [], f.path);
        checked++;
      }
    }
    assert.ok(checked >= 30, `${checked} documents checked`);
    const tenant = proposal.files.find((f) => f.path === 'tenant-baseline.calico.yaml')!;
    for (const d of tenant.documents.slice(1))
      assert.equal(calicoSelectorProblem((d as Json).spec.namespaceSelector), undefined);
    const summary = proposal.summaries.find((s) => s.kind === 'tenant-baseline')!.summary;
    // ops (team sre) probes the storefront: the one observed cross-tenant dependency besides the data team.
    assert.ok((summary.crossTenant ?? []).some((c) => c.src.includes('ops/Deployment/blackbox-exporter')));
  });
});
