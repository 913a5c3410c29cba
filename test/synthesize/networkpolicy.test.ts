import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Graph, Peer } from '../../src/model/index.js';
import {
  DEFAULT_PROPOSAL_OPTIONS,
  type Proposal,
  type ProposalOptions,
  proposeNetworkPolicies,
  renderProposalFile,
  renderSummary,
} from '../../src/synthesize/index.js';
import { assertGolden, proposalText } from './golden.js';
import { KEYS, shopGraph } from './shop.js';

// biome-ignore lint/suspicious/noExplicitAny: tests walk the generated documents by known paths
type Doc = Record<string, any>;

function propose(opts: Partial<ProposalOptions> = {}, graph: Graph = shopGraph()): Proposal {
  return proposeNetworkPolicies(graph, { ...DEFAULT_PROPOSAL_OPTIONS, ...opts });
}

function policyOf(p: Proposal, workload: string): Doc {
  const file = p.files.find((f) => f.workload === workload);
  assert.ok(file, `no policy for ${workload}`);
  return file.documents[0] as Doc;
}

describe('proposeNetworkPolicies: golden files', () => {
  const variants: Array<[string, Partial<ProposalOptions>]> = [
    ['default', {}],
    ['allow-dropped', { allowDropped: true }],
    ['cidr-prefix-24', { cidrPrefixV4: 24 }],
    ['no-default-deny', { defaultDeny: false }],
    ['min-flows-10', { minFlows: 10 }],
  ];
  for (const [name, opts] of variants) {
    it(`matches golden/${name} (policies and summary)`, () => {
      const p = propose(opts);
      assertGolden(`${name}.yaml`, proposalText(p));
      assertGolden(`${name}.summary.txt`, renderSummary(p.summary));
    });
  }
});

describe('proposeNetworkPolicies: semantics', () => {
  it('writes one policy per workload with a selector, plus a default deny per namespace', () => {
    const p = propose();
    assert.deepEqual(
      p.files.map((f) => f.path),
      [
        'kube-system/coredns.networkpolicy.yaml',
        'payments/default-deny.networkpolicy.yaml',
        'payments/payments.networkpolicy.yaml',
        'shop/db.networkpolicy.yaml',
        'shop/frontend.networkpolicy.yaml',
        'shop/orders.networkpolicy.yaml',
      ],
    );
    assert.equal(p.summary.workloads, 5);
    assert.equal(p.summary.policies, 6);
    const frontend = policyOf(p, KEYS.frontend);
    assert.equal(frontend.metadata.name, 'flowwright-frontend');
    assert.deepEqual(frontend.metadata.labels, { 'app.kubernetes.io/managed-by': 'flowwright' });
    assert.deepEqual(frontend.spec.podSelector, { matchLabels: { app: 'frontend' } });
    assert.deepEqual(frontend.spec.policyTypes, ['Ingress', 'Egress']);
    const deny = p.files.find((f) => f.path === 'payments/default-deny.networkpolicy.yaml')?.documents[0] as Doc;
    assert.deepEqual(deny.spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    assert.equal(deny.metadata.name, 'flowwright-default-deny');
  });

  it('reports the workload without a selector instead of writing a policy for it', () => {
    const p = propose();
    assert.equal(
      p.files.some((f) => f.workload === KEYS.legacy),
      false,
    );
    assert.deepEqual(p.summary.needsLabels, [
      {
        workload: KEYS.legacy,
        why: 'pods of shop/Deployment/legacy share every stable label with shop/Deployment/orders',
      },
    ]);
    assert.ok(
      p.summary.unsupported.some(
        (u) => u.src === KEYS.legacy && u.dst === KEYS.orders && u.why === 'source has no stable selector',
      ),
    );
  });

  it('selects a peer in another namespace with namespaceSelector AND podSelector in one element', () => {
    const ingress = policyOf(propose(), KEYS.payments).spec.ingress;
    assert.deepEqual(ingress, [
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } },
            podSelector: { matchLabels: { app: 'frontend' } },
          },
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } },
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'orders' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 8443 }],
      },
    ]);
  });

  it('merges peers with the same port set into one rule and keeps the others apart', () => {
    const egress = policyOf(propose(), KEYS.orders).spec.egress as Doc[];
    // db (TCP/5432), payments (TCP/8443), kube-dns (UDP+TCP 53), API server (TCP/6443): four port sets.
    assert.equal(egress.length, 4);
    const graph = shopGraph();
    // Give orders a second workload on TCP/5432: it joins the db rule instead of adding one.
    graph.edges.push({ ...graph.edges[4], dst: KEYS.frontend, port: 5432 });
    const merged = policyOf(propose({}, graph), KEYS.orders).spec.egress as Doc[];
    assert.equal(merged.length, 4);
    const pg = merged.find((r) => r.ports[0].port === 5432);
    assert.deepEqual(
      pg?.to.map((peer: Doc) => peer.podSelector.matchLabels),
      [{ tier: 'yes', app: 'db' }, { app: 'frontend' }],
    );
  });

  it('allows DNS to kube-dns on UDP and TCP 53 in one rule, whichever was observed', () => {
    for (const key of [KEYS.frontend, KEYS.orders, KEYS.payments]) {
      const dns = (policyOf(propose(), key).spec.egress as Doc[]).filter((r) =>
        r.ports.some((port: Doc) => port.port === 53),
      );
      assert.equal(dns.length, 1, key);
      assert.deepEqual(dns[0].ports, [
        { protocol: 'TCP', port: 53 },
        { protocol: 'UDP', port: 53 },
      ]);
      assert.deepEqual(dns[0].to, [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
          podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
        },
      ]);
    }
    // kube-dns's own ingress matches, so TCP fallback is not dropped at the server end.
    const coredns = policyOf(propose(), KEYS.coredns).spec.ingress as Doc[];
    assert.equal(coredns.length, 1);
    assert.equal(coredns[0].from.length, 3);
    assert.deepEqual(coredns[0].ports, [
      { protocol: 'TCP', port: 53 },
      { protocol: 'UDP', port: 53 },
    ]);
  });

  it('reaches external peers by ipBlock, widened by --cidr-prefix, and the API server by exact address', () => {
    const narrow = policyOf(propose(), KEYS.payments).spec.egress as Doc[];
    const https = narrow.find((r) => r.ports[0].port === 443);
    assert.deepEqual(https?.to, [{ ipBlock: { cidr: '203.0.113.7/32' } }, { ipBlock: { cidr: '203.0.113.9/32' } }]);
    const wide = propose({ cidrPrefixV4: 24 });
    const wideHttps = (policyOf(wide, KEYS.payments).spec.egress as Doc[]).find((r) => r.ports[0].port === 443);
    assert.deepEqual(wideHttps?.to, [{ ipBlock: { cidr: '203.0.113.0/24' } }]);
    const api = (policyOf(wide, KEYS.orders).spec.egress as Doc[]).find((r) => r.ports[0].port === 6443);
    assert.deepEqual(api, { to: [{ ipBlock: { cidr: '172.18.0.2/32' } }], ports: [{ protocol: 'TCP', port: 6443 }] });
  });

  it('never allows a dropped edge silently, and marks it when --allow-dropped includes it', () => {
    const dbIngress = (p: Proposal) => policyOf(p, KEYS.db).spec.ingress as Doc[];
    const fromFrontend = (rules: Doc[]) =>
      rules.some((r) => r.from.some((peer: Doc) => peer.podSelector?.matchLabels?.app === 'frontend'));
    const strict = propose();
    assert.equal(fromFrontend(dbIngress(strict)), false);
    assert.deepEqual(strict.summary.observedButDenied, [
      {
        src: KEYS.frontend,
        dst: KEYS.db,
        protocol: 'TCP',
        port: 5432,
        flows: 7,
        reasons: ['POLICY_DENIED'],
        lastSeen: Date.parse('2026-11-02T06:13:00Z'),
      },
    ]);
    const loose = propose({ allowDropped: true });
    assert.equal(fromFrontend(dbIngress(loose)), true);
    assert.deepEqual(loose.summary.observedButDenied, []);
    const text = renderProposalFile(loose.files.find((f) => f.workload === KEYS.db)!);
    assert.match(
      text,
      /shop\/frontend -> shop\/db TCP\/5432: 7 flows, .*observed DROPPED \(POLICY_DENIED\), included by --allow-dropped/,
    );
  });

  it('lists ICMP, port-less and unselectable peers as unsupported, and host traffic as a note', () => {
    const p = propose();
    assert.deepEqual(
      p.summary.unsupported.map((u) => `${u.src} -> ${u.dst} ${u.protocol}/${u.port}: ${u.why}`),
      [
        'reserved:world -> shop/Deployment/frontend TCP/80: world peer without an observed address',
        'shop/Deployment/legacy -> shop/Deployment/orders TCP/8080: source has no stable selector',
        'shop/Deployment/orders -> payments/Deployment/payments ICMPv4/8: ICMP cannot be expressed in NetworkPolicy (its ports cover TCP, UDP and SCTP only)',
      ],
    );
    const frontendIngress = policyOf(p, KEYS.frontend).spec.ingress as Doc[];
    assert.equal(
      frontendIngress.some((r) => r.ports.some((port: Doc) => port.port === 80)),
      false,
    );
    assert.ok(p.summary.notes.some((n) => n.startsWith('host -> shop/frontend TCP/8080: no rule needed')));
  });

  it('allows other nodes by the ranges of --node-cidr, written as networks, instead of each address', () => {
    const graph = shopGraph();
    const base = graph.edges[0];
    graph.peers.set('reserved:remote-node', {
      ...graph.peers.get(KEYS.host)!,
      key: 'reserved:remote-node',
      peer: { type: 'reserved', entity: 'remote-node' },
      ips: ['10.0.0.12'],
    });
    graph.edges.push({ ...base, src: 'reserved:remote-node', dst: KEYS.frontend, port: 8080 });
    const p = propose({ nodeCidrs: ['10.0.7.1/16', 'fd00:1::/64'] }, graph);
    const fromNodes = (policyOf(p, KEYS.frontend).spec.ingress as Doc[]).find((r) => r.ports[0].port === 8080);
    assert.deepEqual(fromNodes?.from, [{ ipBlock: { cidr: '10.0.0.0/16' } }, { ipBlock: { cidr: 'fd00:1::/64' } }]);
    assert.ok(p.summary.notes.some((n) => n.includes('node ranges given with --node-cidr')));
  });

  it('handles each kind of non-pod peer as NetworkPolicy allows', () => {
    const graph = shopGraph();
    const base = graph.edges[0];
    const add = (key: string, peer: Peer, ips: string[]) =>
      graph.peers.set(key, { ...graph.peers.get(KEYS.host)!, key, peer, ips });
    add('reserved:remote-node', { type: 'reserved', entity: 'remote-node' }, ['10.0.0.12']);
    add('reserved:health', { type: 'reserved', entity: 'health' }, []);
    add('cidr:2001:db8::7/128', { type: 'external', cidr: '2001:db8::7/128' }, ['2001:db8::7']);
    add('netset:shop/partners', { type: 'networkset', namespace: 'shop', name: 'partners' }, []);
    graph.edges.push(
      { ...base, src: 'reserved:remote-node', dst: KEYS.frontend, port: 8080 },
      { ...base, src: 'reserved:health', dst: KEYS.frontend, port: 4240 },
      // The API server calling a webhook: ingress by the API server's exact address.
      { ...base, src: KEYS.apiserver, dst: KEYS.orders, port: 9443 },
      { ...base, src: KEYS.frontend, dst: 'cidr:2001:db8::7/128', port: 443 },
      { ...base, src: KEYS.frontend, dst: 'netset:shop/partners', port: 443 },
      { ...base, src: KEYS.frontend, dst: KEYS.host, port: 10250 },
    );
    const p = propose({ cidrPrefixV6: 64, cidrPrefixV4: 8 }, graph);
    const why = (src: string, dst: string) =>
      p.summary.unsupported.filter((u) => u.src === src && u.dst === dst).map((u) => u.why);
    // Other nodes are not exempt: their observed address becomes an exact ipBlock, with a note.
    assert.deepEqual(why('reserved:remote-node', KEYS.frontend), []);
    const fromNode = (policyOf(p, KEYS.frontend).spec.ingress as Doc[]).find((r) =>
      r.from.some((peer: Doc) => peer.ipBlock?.cidr === '10.0.0.12/32'),
    );
    assert.ok(fromNode, 'remote-node 10.0.0.12 is allowed by ipBlock /32 despite --cidr-prefix 8');
    assert.ok(
      p.summary.notes.some((n) => n.startsWith('traffic with other nodes (remote-node) is allowed by ipBlock')),
    );
    assert.match(why('reserved:health', KEYS.frontend)[0], /health-check/);
    assert.match(why(KEYS.frontend, 'netset:shop/partners')[0], /network sets/);
    const webhook = (policyOf(p, KEYS.orders).spec.ingress as Doc[]).find((r) => r.ports[0].port === 9443);
    assert.deepEqual(webhook?.from, [{ ipBlock: { cidr: '172.18.0.2/32' } }]);
    const v6 = (policyOf(p, KEYS.frontend).spec.egress as Doc[]).find((r) =>
      r.to.some((peer: Doc) => peer.ipBlock?.cidr?.includes(':')),
    );
    assert.deepEqual(v6?.to, [{ ipBlock: { cidr: '2001:db8::/64' } }]);
    assert.ok(p.summary.notes.some((n) => n.startsWith('shop/frontend -> host TCP/10250: no rule needed')));
    assert.ok(p.summary.notes.some((n) => n.startsWith('kube-system/Deployment/coredns serves cluster DNS')));
  });

  it('skips edges below --min-flows and counts them', () => {
    const p = propose({ minFlows: 10 });
    // frontend->orders TCP/9090 (3), orders->coredns TCP/53 (5), the ICMP edge (4); the dropped edge stays listed as denied.
    assert.equal(p.summary.belowThreshold, 3);
    assert.equal(p.summary.observedButDenied.length, 1);
    const orders = policyOf(p, KEYS.orders).spec.ingress as Doc[];
    assert.equal(
      orders.some((r) => r.ports.some((port: Doc) => port.port === 9090)),
      false,
    );
  });

  it('adds the kind to the name when two workloads in a namespace share one', () => {
    const graph = shopGraph();
    const db = graph.peers.get(KEYS.db)!;
    const twin = {
      ...db,
      key: 'shop/Deployment/db',
      peer: { type: 'workload' as const, namespace: 'shop', kind: 'Deployment' as const, name: 'db' },
      selector: { app: 'db-admin' },
    };
    graph.peers.set(twin.key, twin);
    const p = propose({}, graph);
    assert.equal(policyOf(p, KEYS.db).metadata.name, 'flowwright-db-statefulset');
    assert.equal(policyOf(p, twin.key).metadata.name, 'flowwright-db-deployment');
    assert.ok(p.files.some((f) => f.path === 'shop/db-deployment.networkpolicy.yaml'));
  });

  it('gives identical bytes on a rerun, whatever order the graph lists peers and edges in', () => {
    const first = proposalText(propose());
    const graph = shopGraph();
    graph.edges.reverse();
    graph.peers = new Map([...graph.peers].reverse());
    assert.equal(proposalText(propose({}, graph)), first);
    assert.equal(proposalText(propose()), first);
  });

  it('carries evidence: a comment per peer and a deterministic generated-from annotation', () => {
    const graph = shopGraph();
    graph.window = { since: Date.parse('2026-11-01T00:00:00Z'), until: Date.parse('2026-11-02T00:00:00Z') };
    const p = propose({}, graph);
    const orders = policyOf(p, KEYS.orders);
    assert.equal(
      orders.metadata.annotations['flowwright.io/generated-from'],
      '2,554 flows, 2026-11-01T00:00:00Z to 2026-11-02T00:00:00Z',
    );
    const text = renderProposalFile(p.files.find((f) => f.workload === KEYS.orders)!);
    assert.match(
      text,
      /# shop\/frontend -> shop\/orders TCP\/8080: 1,234 flows, first 2026-11-01T11:00:00Z, last 2026-11-02T06:13:00Z\n/,
    );
  });

  it('proposes nothing for an empty graph', () => {
    const p = propose({}, { peers: new Map(), pods: [], edges: [], window: {} });
    assert.deepEqual(p.files, []);
    assert.equal(renderSummary(p.summary), 'Proposed 0 policies for 0 workloads with 0 rules.\n');
  });
});

describe('proposeNetworkPolicies: when a default deny is safe', () => {
  it('writes none where an observed pod gets no policy of its own, and lists that pod with why', () => {
    const p = propose();
    assert.equal(
      p.files.some((f) => f.path === 'shop/default-deny.networkpolicy.yaml'),
      false,
    );
    const shop = p.summary.defaultDenyLeftOut?.find((d) => d.namespace === 'shop');
    assert.ok(shop, 'shop is listed as left out');
    assert.deepEqual(shop.pods, [
      {
        pod: 'shop/legacy-7f8e9d0c1-klmno',
        why: 'no policy of its own: pods of shop/Deployment/legacy share every stable label with shop/Deployment/orders',
      },
    ]);
    // The workloads that do have a selector keep their own policies.
    policyOf(p, KEYS.frontend);
    policyOf(p, KEYS.orders);
  });

  it('writes none in system namespaces unless asked, and keeps their workloads own policies', () => {
    const p = propose();
    assert.equal(
      p.files.some((f) => f.path === 'kube-system/default-deny.networkpolicy.yaml'),
      false,
    );
    assert.ok(p.files.some((f) => f.path === 'kube-system/coredns.networkpolicy.yaml'));
    assert.match(
      p.summary.defaultDenyLeftOut?.find((d) => d.namespace === 'kube-system')?.why ?? '',
      /system namespace/,
    );
    assert.match(
      renderSummary(p.summary),
      /No default deny written for these namespaces:\n {2}kube-system: system namespace/,
    );

    const included = propose({ includeSystemNamespaces: true });
    assert.ok(included.files.some((f) => f.path === 'kube-system/default-deny.networkpolicy.yaml'));
    assert.equal(
      included.summary.defaultDenyLeftOut?.some((d) => d.namespace === 'kube-system'),
      false,
    );
  });

  it('reads the system namespaces as names and * patterns', () => {
    const asSystem = propose({ systemNamespaces: ['pay*'] });
    assert.equal(
      asSystem.files.some((f) => f.path === 'payments/default-deny.networkpolicy.yaml'),
      false,
    );
    // kube-system is not in that list any more: it gets its default deny.
    assert.ok(asSystem.files.some((f) => f.path === 'kube-system/default-deny.networkpolicy.yaml'));
    const exact = propose({ systemNamespaces: ['pay'] });
    assert.ok(exact.files.some((f) => f.path === 'payments/default-deny.networkpolicy.yaml'));
  });
});
