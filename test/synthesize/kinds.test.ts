// Cilium, Calico and tenant-baseline proposals: golden files, and every rendered document read back and
// checked against the API's shape (shapes.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { Graph } from '../../src/model/index.js';
import {
  calicoQuote,
  calicoSelector,
  type PoliciesOptions,
  type PolicyKind,
  proposePolicies,
  renderProposalFile,
  renderSummary,
} from '../../src/synthesize/index.js';
import { assertGolden, proposalText } from './golden.js';
import { l7Graph } from './l7graph.js';
import { calicoSelectorProblem, shapeFor, shapeProblems } from './shapes.js';
import { KEYS } from './shop.js';

// biome-ignore lint/suspicious/noExplicitAny: tests walk the generated documents by known paths
type Doc = Record<string, any>;

function propose(kind: PolicyKind, opts: Partial<PoliciesOptions> = {}, graph: Graph = l7Graph()) {
  const p = proposePolicies(graph, { kinds: [kind], ...opts });
  return {
    p,
    summary: p.summaries[0].summary,
    text: proposalText({ files: p.files, summary: p.summaries[0].summary }),
  };
}

/** Every document as a reader of the YAML sees it. */
function documents(kind: PolicyKind, opts: Partial<PoliciesOptions> = {}): Array<{ path: string; doc: Doc }> {
  const { p } = propose(kind, opts);
  return p.files.flatMap((f) =>
    parseAllDocuments(renderProposalFile(f), { version: '1.1' }).map((d) => ({ path: f.path, doc: d.toJS() as Doc })),
  );
}

/** The shop graph with namespace labels naming two teams, for the label-based tenant baseline. */
function teamGraph(): Graph {
  const graph = l7Graph();
  for (const node of graph.peers.values()) {
    if (node.peer.type !== 'workload') continue;
    const ns = node.peer.namespace;
    node.namespaceLabels = ns === 'kube-system' ? {} : { team: ns === 'payments' ? 'billing' : 'storefront' };
  }
  return graph;
}

describe('Cilium, Calico and tenant-baseline golden files', () => {
  const variants: Array<[string, PolicyKind, Partial<PoliciesOptions>, (() => Graph)?]> = [
    ['cilium', 'cilium', {}],
    ['cilium-l7-off', 'cilium', { l7: 'off', cidrPrefixV4: 24 }],
    ['calico', 'calico', {}],
    ['tenant-baseline', 'tenant-baseline', {}],
    ['tenant-baseline-label', 'tenant-baseline', { tenantLabel: 'team' }, teamGraph],
  ];
  for (const [name, kind, opts, graph] of variants) {
    it(`matches golden/${name}`, () => {
      const { text, summary } = propose(kind, opts, graph?.());
      assertGolden(`${name}.yaml`, text);
      assertGolden(`${name}.summary.txt`, renderSummary(summary));
    });
  }
});

describe('structural validation against the API shapes', () => {
  for (const [kind, opts] of [
    ['cilium', {}],
    ['cilium', { l7: 'methods' }],
    ['calico', { allowDropped: true }],
    ['tenant-baseline', {}],
  ] as Array<[PolicyKind, Partial<PoliciesOptions>]>) {
    it(`${kind} ${JSON.stringify(opts)}: every document has the shape of its API`, () => {
      const docs = documents(kind, opts);
      assert.ok(docs.length > 0);
      for (const { path, doc } of docs) assert.deepEqual(shapeProblems(doc, shapeFor(doc)), [], path);
    });
  }

  it('the checkers catch wrong field names and types (they are not vacuous)', () => {
    const [first] = documents('cilium');
    const broken = structuredClone(first.doc);
    broken.spec.ingress = [{ fromEndpoints: [{}], toPorts: [{ ports: [{ port: 8080, protocol: 'TCP' }] }], icmps: [] }];
    broken.spec.egres = [];
    const problems = shapeProblems(broken, shapeFor(broken));
    assert.ok(
      problems.some((p) => p.includes("unknown field 'egres'")),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('expected a string')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('toPorts and icmps')),
      problems.join('\n'),
    );
    const calico = documents('calico')[0].doc;
    calico.spec.ingress = [{ action: 'Allow', protocol: 'ICMP', destination: { ports: [80] } }];
    calico.spec.selector = "app == 'x' && ";
    const calicoProblems = shapeProblems(calico, shapeFor(calico));
    assert.ok(
      calicoProblems.some((p) => p.includes('ports need protocol')),
      calicoProblems.join('\n'),
    );
    assert.ok(
      calicoProblems.some((p) => p.includes('spec.selector')),
      calicoProblems.join('\n'),
    );
  });
});

describe('Cilium specifics', () => {
  it('reaches external names by toFQDNs, with the DNS rule that makes them work', () => {
    const payments = documents('cilium').find((d) => d.path === 'payments/payments.cilium.yaml')!.doc;
    const egress = payments.spec.egress as Doc[];
    const fqdn = egress.find((r) => r.toFQDNs);
    assert.deepEqual(fqdn?.toFQDNs, [{ matchName: 'api.stripe.com' }]);
    assert.deepEqual(fqdn?.toPorts, [{ ports: [{ port: '443', protocol: 'TCP' }] }]);
    const dns = egress.find((r) => r.toPorts?.some((p: Doc) => p.rules?.dns));
    assert.deepEqual(dns?.toEndpoints, [
      { matchLabels: { 'k8s-app': 'kube-dns', 'k8s:io.kubernetes.pod.namespace': 'kube-system' } },
    ]);
    // Without an observed DNS edge the rule is added anyway: toFQDNs allows nothing without it.
    const graph = l7Graph();
    graph.edges = graph.edges.filter((e) => !(e.src === KEYS.payments && e.dst === KEYS.coredns));
    const { p } = propose('cilium', {}, graph);
    const again = p.files.find((f) => f.path === 'payments/payments.cilium.yaml')!.documents[0] as Doc;
    assert.ok((again.spec.egress as Doc[]).some((r) => r.toPorts?.some((x: Doc) => x.rules?.dns)));
  });

  it('names entities, keeps ICMP in a rule of its own and turns path templates into regexes', () => {
    const byPath = new Map(documents('cilium').map((d) => [d.path, d.doc]));
    const orders = byPath.get('shop/orders.cilium.yaml')!;
    assert.ok((orders.spec.egress as Doc[]).some((r) => JSON.stringify(r.toEntities) === '["kube-apiserver"]'));
    const frontend = byPath.get('shop/frontend.cilium.yaml')!;
    const entities = (frontend.spec.ingress as Doc[]).flatMap((r) => r.fromEntities ?? []);
    assert.deepEqual(entities.sort(), ['host', 'world']);
    const http = (orders.spec.ingress as Doc[])
      .flatMap((r) => r.toPorts ?? [])
      .flatMap((p: Doc) => p.rules?.http ?? []);
    assert.deepEqual(
      http.map((h: Doc) => `${h.method} ${h.path}`),
      [
        'DELETE /api/cart/[^/?]+(\\?.*)?',
        'GET /api/orders(\\?.*)?',
        'GET /api/orders/[^/?]+(\\?.*)?',
        'POST /api/orders(\\?.*)?',
      ],
    );
    const payments = byPath.get('payments/payments.cilium.yaml')!;
    const icmp = (payments.spec.ingress as Doc[]).find((r) => r.icmps);
    assert.deepEqual(icmp, {
      fromEndpoints: [
        { matchLabels: { 'app.kubernetes.io/name': 'orders', 'k8s:io.kubernetes.pod.namespace': 'shop' } },
      ],
      icmps: [{ fields: [{ family: 'IPv4', type: 8 }] }],
    });
  });
});

describe('names shared by every kind', () => {
  it('names files and objects like the NetworkPolicy proposal, with the kind added when two workloads share a name', () => {
    const graph = l7Graph();
    const db = graph.peers.get(KEYS.db)!;
    const twin = {
      ...db,
      key: 'shop/Deployment/db',
      peer: { ...db.peer, kind: 'Deployment' as const },
      selector: { app: 'db-api' },
    };
    graph.peers.set(twin.key, twin);
    const p = proposePolicies(graph, { kinds: ['networkpolicy', 'authorizationpolicy', 'cilium', 'calico'] });
    const paths = p.files.map((f) => f.path).filter((f) => f.startsWith('shop/db'));
    assert.deepEqual(paths, [
      'shop/db-deployment.authorizationpolicy.yaml',
      'shop/db-deployment.calico.yaml',
      'shop/db-deployment.cilium.yaml',
      'shop/db-deployment.networkpolicy.yaml',
      'shop/db-statefulset.authorizationpolicy.yaml',
      'shop/db-statefulset.calico.yaml',
      'shop/db-statefulset.cilium.yaml',
      'shop/db-statefulset.networkpolicy.yaml',
    ]);
    const names = new Set(
      p.files.filter((f) => f.workload === KEYS.db).map((f) => (f.documents[0] as Doc).metadata.name as string),
    );
    assert.deepEqual([...names], ['flowwright-db-statefulset']);
  });
});

describe('Calico specifics', () => {
  it('quotes label values safely', () => {
    assert.equal(calicoSelector({ tier: 'yes', app: 'db' }), "app == 'db' && tier == 'yes'");
    assert.equal(calicoQuote("it's"), `"it's"`);
    assert.throws(() => calicoQuote(`'"`), /both quote characters/);
    assert.throws(() => calicoSelector({ 'bad key!': 'x' }), /not a valid Kubernetes label key/);
    assert.equal(calicoSelector({}), 'all()');
    assert.equal(calicoSelectorProblem(calicoSelector({ 'app.kubernetes.io/name': 'a-b.c_d' })), undefined);
  });

  it('a workload whose selector Calico cannot say gets no policy and is listed', () => {
    const graph = l7Graph();
    graph.peers.get(KEYS.db)!.selector = { app: `'"` };
    const { p, summary } = propose('calico', {}, graph);
    assert.equal(
      p.files.some((f) => f.workload === KEYS.db),
      false,
    );
    assert.ok(summary.needsLabels.some((n) => n.workload === KEYS.db && /quote/.test(n.why)));
  });
});

describe('tenant baseline', () => {
  it('denies across tenants except the observed edges, which the summary lists', () => {
    const { p, summary } = propose('tenant-baseline');
    assert.deepEqual(
      p.files.map((f) => f.path),
      ['tenant-baseline.adminnetworkpolicy.yaml', 'tenant-baseline.calico.yaml'],
    );
    assert.deepEqual(
      summary.crossTenant?.map((c) => `${c.src} -> ${c.dst} ${c.protocol}/${c.port}`),
      [`${KEYS.frontend} -> ${KEYS.payments} TCP/8443`, `${KEYS.orders} -> ${KEYS.payments} TCP/8443`],
    );
    const calico = p.files.find((f) => f.path.endsWith('.calico.yaml'))!.documents as Doc[];
    assert.equal(calico[0].kind, 'Tier');
    assert.equal(calico[0].spec.order, 100);
    const shop = calico.find((d) => d.metadata.name === 'flowwright-tenants.tenant-shop')!;
    assert.equal(shop.spec.order, 100);
    assert.deepEqual(
      shop.spec.egress.map((r: Doc) => r.action),
      ['Allow', 'Allow', 'Deny', 'Pass'],
    );
    assert.equal(
      shop.spec.ingress.at(-2).source.namespaceSelector,
      "projectcalico.org/name != 'shop' && !(projectcalico.org/name starts with 'kube-')",
    );
    const anp = p.files.find((f) => f.path.endsWith('.adminnetworkpolicy.yaml'))!.documents as Doc[];
    assert.deepEqual(
      anp.map((d) => [d.metadata.name, d.spec.priority]),
      [
        ['flowwright-tenant-payments', 50],
        ['flowwright-tenant-shop', 51],
      ],
    );
    assert.match(renderSummary(summary), /Cross-tenant edges excepted/);
  });

  it('refuses a --tenant-label that is not a label key (it is written into selectors)', () => {
    assert.throws(
      () => propose('tenant-baseline', { tenantLabel: 'team) || all(' }),
      (err: Error & { code?: string }) =>
        err.code === 'usage' && /--tenant-label: .* is not a Kubernetes label key/.test(err.message),
    );
  });

  it('takes tenants from --tenant-label and leaves unlabeled namespaces alone', () => {
    const { p, summary } = propose('tenant-baseline', { tenantLabel: 'team' }, teamGraph());
    const anp = p.files.find((f) => f.path.endsWith('.adminnetworkpolicy.yaml'))!.documents as Doc[];
    assert.deepEqual(
      anp.map((d) => d.spec.subject),
      [{ namespaces: { matchLabels: { team: 'billing' } } }, { namespaces: { matchLabels: { team: 'storefront' } } }],
    );
    assert.ok(summary.notes.some((n) => n.includes('kube-system has no team label')));
  });
});
