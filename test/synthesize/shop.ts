// A hand-built graph of a small shop, as identity and the store would hand it to synthesis:
// namespaces shop and payments, kube-dns in kube-system, an external API known by DNS name at two
// addresses, the API server, kubelet probes from the host, a dropped edge, an ICMP edge, a workload
// without a stable selector, a world peer without address and a rarely used metrics port.
import type { Edge, Graph, PeerNode, PodRecord, Protocol, VerdictCounts } from '../../src/model/index.js';

const T0 = Date.parse('2026-11-01T10:00:00Z');
const HOUR = 3_600_000;

function workload(
  namespace: string,
  kind: 'Deployment' | 'StatefulSet',
  name: string,
  selector: Record<string, string> | undefined,
  selectorReason?: string,
): PeerNode {
  return {
    key: `${namespace}/${kind}/${name}`,
    peer: { type: 'workload', namespace, kind, name },
    names: [],
    ips: [],
    serviceAccounts: [name],
    firstSeen: T0,
    lastSeen: T0 + 23 * HOUR,
    selector,
    selectorReason,
  };
}

function external(ip: string, names: string[]): PeerNode {
  return {
    key: `cidr:${ip}/32`,
    peer: { type: 'external', cidr: `${ip}/32` },
    names,
    ips: [ip],
    serviceAccounts: [],
    firstSeen: T0,
    lastSeen: T0 + 23 * HOUR,
  };
}

function reserved(entity: 'host' | 'kube-apiserver' | 'world', ips: string[]): PeerNode {
  return {
    key: `reserved:${entity}`,
    peer: { type: 'reserved', entity },
    names: [],
    ips,
    serviceAccounts: [],
    firstSeen: T0,
    lastSeen: T0 + 23 * HOUR,
  };
}

function edge(
  src: string,
  dst: string,
  protocol: Protocol,
  port: number,
  verdicts: VerdictCounts,
  extra: Partial<Edge> = {},
): Edge {
  const flows = Object.values(verdicts).reduce((a, b) => a + (b ?? 0), 0);
  return {
    src,
    dst,
    protocol,
    port,
    flows,
    verdicts,
    firstSeen: T0 + HOUR,
    lastSeen: T0 + 20 * HOUR + 13 * 60_000,
    http: [],
    dnsNames: [],
    kafkaTopics: [],
    dropReasons: [],
    policies: [],
    services: [],
    ...extra,
  };
}

function pod(namespace: string, name: string, workloadKey: string, labels: Record<string, string>): PodRecord {
  return { namespace, name, workload: workloadKey, labels, ips: [], firstSeen: T0, lastSeen: T0 + 23 * HOUR };
}

export const KEYS = {
  frontend: 'shop/Deployment/frontend',
  orders: 'shop/Deployment/orders',
  db: 'shop/StatefulSet/db',
  legacy: 'shop/Deployment/legacy',
  payments: 'payments/Deployment/payments',
  coredns: 'kube-system/Deployment/coredns',
  stripeA: 'cidr:203.0.113.7/32',
  stripeB: 'cidr:203.0.113.9/32',
  apiserver: 'reserved:kube-apiserver',
  host: 'reserved:host',
  world: 'reserved:world',
} as const;

/** A fresh graph each call, so a test may change it freely. */
export function shopGraph(): Graph {
  const nodes = [
    workload('shop', 'Deployment', 'frontend', { app: 'frontend' }, 'app=frontend selects exactly its 3 pods'),
    workload('shop', 'Deployment', 'orders', { 'app.kubernetes.io/name': 'orders' }),
    // `tier: yes` must come out quoted: a YAML 1.1 reader would take it for a boolean.
    workload('shop', 'StatefulSet', 'db', { tier: 'yes', app: 'db' }),
    workload(
      'shop',
      'Deployment',
      'legacy',
      undefined,
      'pods of shop/Deployment/legacy share every stable label with shop/Deployment/orders',
    ),
    workload('payments', 'Deployment', 'payments', { app: 'payments' }),
    workload('kube-system', 'Deployment', 'coredns', { 'k8s-app': 'kube-dns' }),
    external('203.0.113.7', ['api.stripe.com']),
    external('203.0.113.9', ['api.stripe.com']),
    reserved('kube-apiserver', ['172.18.0.2']),
    reserved('host', []),
    reserved('world', []),
  ];
  const k = KEYS;
  const edges: Edge[] = [
    edge(k.frontend, k.orders, 'TCP', 8080, { forwarded: 1234 }),
    edge(k.frontend, k.orders, 'TCP', 9090, { forwarded: 3 }),
    edge(k.frontend, k.payments, 'TCP', 8443, { forwarded: 50 }),
    edge(k.orders, k.payments, 'TCP', 8443, { forwarded: 300 }),
    edge(k.orders, k.db, 'TCP', 5432, { forwarded: 900 }),
    edge(k.frontend, k.db, 'TCP', 5432, { dropped: 7 }, { dropReasons: ['POLICY_DENIED'] }),
    edge(
      k.frontend,
      k.coredns,
      'UDP',
      53,
      { forwarded: 400 },
      { dnsNames: ['orders.shop.svc.cluster.local', 'payments.payments.svc.cluster.local'] },
    ),
    edge(k.orders, k.coredns, 'UDP', 53, { forwarded: 100 }, { dnsNames: ['db.shop.svc.cluster.local'] }),
    edge(k.orders, k.coredns, 'TCP', 53, { forwarded: 5 }),
    edge(k.payments, k.coredns, 'UDP', 53, { forwarded: 60 }, { dnsNames: ['api.stripe.com'] }),
    edge(k.payments, k.stripeA, 'TCP', 443, { forwarded: 80 }),
    edge(k.payments, k.stripeB, 'TCP', 443, { forwarded: 20, dropped: 2 }),
    edge(k.orders, k.apiserver, 'TCP', 6443, { forwarded: 12 }),
    edge(k.host, k.frontend, 'TCP', 8080, { forwarded: 2880 }),
    edge(k.orders, k.payments, 'ICMPv4', 8, { forwarded: 4 }),
    edge(k.legacy, k.orders, 'TCP', 8080, { forwarded: 40 }),
    edge(k.world, k.frontend, 'TCP', 80, { forwarded: 15 }),
  ];
  const pods = [
    pod('shop', 'frontend-6d9f8c7b5-abcde', k.frontend, { app: 'frontend', 'pod-template-hash': '6d9f8c7b5' }),
    pod('shop', 'orders-5c4b3a2d1-fghij', k.orders, { 'app.kubernetes.io/name': 'orders' }),
    pod('shop', 'db-0', k.db, { app: 'db', tier: 'yes' }),
    pod('shop', 'legacy-7f8e9d0c1-klmno', k.legacy, { 'app.kubernetes.io/name': 'orders' }),
    pod('payments', 'payments-4a3b2c1d0-pqrst', k.payments, { app: 'payments' }),
    pod('kube-system', 'coredns-5d78c9869d-uvwxy', k.coredns, { 'k8s-app': 'kube-dns' }),
  ];
  return { peers: new Map(nodes.map((n) => [n.key, n])), pods, edges, window: {} };
}

/** The shop with one IP per pod, so the policy engine can place the pods. */
export function shopGraphWithIps(): Graph {
  const graph = shopGraph();
  graph.pods.forEach((p, i) => {
    p.ips = [`10.244.0.${i + 10}`];
  });
  return graph;
}
