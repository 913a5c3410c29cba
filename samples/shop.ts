// The sample scenario: an online shop modeled on the well-known eleven-service microservices demo,
// plus the pieces a real cluster adds around it: a cache and a database in their own namespace,
// cluster DNS, the API server, kubelet probes, two external APIs reached by name, and a small ops
// namespace. Peer keys follow `peerKey` in src/model/graph.ts.
import {
  buildScenario,
  deniedConnections,
  externalKey,
  type HttpRoute,
  type IntendedConnection,
  intendedConnections,
  type Scenario,
  type WorkloadSpec,
} from './scenario.js';

/** Product IDs of the demo's catalog; request paths such as `/product/OLJCESPC7Z` use them. */
export const PRODUCT_IDS = [
  'OLJCESPC7Z',
  '66VCHSJNUP',
  '1YMWWN1N4O',
  'L9ECAV7KIM',
  '2ZYFJ3GM2N',
  '0PUK6V6EV0',
  'LS4PSXUNUM',
  '9SIQT8TOJO',
  '6E92ZMYYFZ',
];

export const PAYMENTS_API = { ip: '203.0.113.10', names: ['api.payments.example'] };
export const SHIPPING_API = { ip: '198.51.100.20', names: ['api.shipping.example'] };
/** The resolver coredns forwards external names to. */
export const UPSTREAM_DNS = { ip: '1.1.1.1', names: [] };
/** A scanner on the internet that policy keeps out. */
export const SCANNER = { ip: '192.0.2.77', names: [] };

const shop = (name: string, replicas: number, port: number | undefined, extra: Partial<WorkloadSpec> = {}) =>
  ({
    namespace: 'shop',
    kind: 'Deployment',
    name,
    replicas,
    labels: { app: name, 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'online-shop' },
    serviceAccount: name,
    service: port === undefined ? undefined : name,
    probePorts: port === undefined ? undefined : [port],
    ...extra,
  }) satisfies WorkloadSpec;

const w = (ns: string, name: string, kind = 'Deployment') => `${ns}/${kind}/${name}`;
const FRONTEND = w('shop', 'frontend');
const CART = w('shop', 'cartservice');
const CATALOG = w('shop', 'productcatalogservice');
const CURRENCY = w('shop', 'currencyservice');
const PAYMENT = w('shop', 'paymentservice');
const SHIPPING = w('shop', 'shippingservice');
const EMAIL = w('shop', 'emailservice');
const CHECKOUT = w('shop', 'checkoutservice');
const RECOMMENDATION = w('shop', 'recommendationservice');
const AD = w('shop', 'adservice');
const LOADGEN = w('shop', 'loadgenerator');
const REDIS = w('data', 'redis-cart', 'StatefulSet');
const ORDERS_DB = w('data', 'orders-db', 'StatefulSet');
const COREDNS = w('kube-system', 'coredns');
const BLACKBOX = w('ops', 'blackbox-exporter');
const RELOADER = w('ops', 'config-reloader');

/** gRPC methods are HTTP/2 POSTs to `/<package>.<Service>/<Method>`. */
const grpc = (service: string, methods: Record<string, number>): HttpRoute[] =>
  Object.entries(methods).map(([m, weight]) => ({ method: 'POST', path: `/hipstershop.${service}/${m}`, weight }));

export function shopScenario(): Scenario {
  return buildScenario({
    name: 'shop',
    cluster: 'default',
    namespaces: [
      { name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop', team: 'storefront' } },
      { name: 'data', labels: { 'kubernetes.io/metadata.name': 'data', team: 'platform-data' } },
      { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system' } },
      { name: 'ops', labels: { 'kubernetes.io/metadata.name': 'ops', team: 'sre' } },
    ],
    nodes: [
      { name: 'shop-control-plane', ip: '172.18.0.2', podNet: '10.244.0.', controlPlane: true },
      { name: 'shop-worker', ip: '172.18.0.3', podNet: '10.244.1.' },
      { name: 'shop-worker2', ip: '172.18.0.4', podNet: '10.244.2.' },
      { name: 'shop-worker3', ip: '172.18.0.5', podNet: '10.244.3.' },
    ],
    workloads: [
      shop('frontend', 2, 8080),
      shop('cartservice', 2, 7070),
      shop('productcatalogservice', 2, 3550),
      shop('currencyservice', 1, 7000),
      shop('paymentservice', 1, 50051),
      shop('shippingservice', 1, 50051),
      // Flow logs from this one lack the workload name: its owner must be derived from the pod.
      shop('emailservice', 1, 8080, { reportsWorkload: false }),
      shop('checkoutservice', 1, 5050),
      shop('recommendationservice', 1, 8080),
      shop('adservice', 1, 9555),
      shop('loadgenerator', 1, undefined, { serviceAccount: 'default' }),
      {
        namespace: 'data',
        kind: 'StatefulSet',
        name: 'redis-cart',
        replicas: 1,
        // Shares `part-of` with orders-db, so a selector must pick the instance label.
        labels: {
          'app.kubernetes.io/name': 'redis',
          'app.kubernetes.io/instance': 'redis-cart',
          'app.kubernetes.io/part-of': 'shop-data',
        },
        serviceAccount: 'default',
        service: 'redis-cart',
        probePorts: [6379],
        reportsWorkload: false,
      },
      {
        namespace: 'data',
        kind: 'StatefulSet',
        name: 'orders-db',
        replicas: 1,
        labels: {
          'app.kubernetes.io/name': 'postgresql',
          'app.kubernetes.io/instance': 'orders-db',
          'app.kubernetes.io/part-of': 'shop-data',
        },
        serviceAccount: 'orders-db',
        service: 'orders-db',
        // pg_isready runs as an exec probe: no network probe.
      },
      {
        namespace: 'kube-system',
        kind: 'Deployment',
        name: 'coredns',
        replicas: 2,
        labels: { 'k8s-app': 'kube-dns' },
        serviceAccount: 'coredns',
        service: 'kube-dns',
        probePorts: [8080, 8181],
        controlPlane: true,
      },
      {
        namespace: 'ops',
        kind: 'Deployment',
        name: 'blackbox-exporter',
        replicas: 1,
        labels: { 'app.kubernetes.io/name': 'blackbox-exporter' },
        serviceAccount: 'blackbox-exporter',
        service: 'blackbox-exporter',
        probePorts: [9115],
      },
      {
        namespace: 'ops',
        kind: 'Deployment',
        name: 'config-reloader',
        replicas: 1,
        labels: { 'app.kubernetes.io/name': 'config-reloader' },
        serviceAccount: 'config-reloader',
      },
    ],
    externals: [PAYMENTS_API, SHIPPING_API, UPSTREAM_DNS, SCANNER],
    apiServer: { ip: '172.18.0.2', port: 6443 },
    dns: { workload: COREDNS, service: 'kube-dns', weight: 3 },
    probeWeight: 1,
    connections: [
      {
        src: LOADGEN,
        dst: FRONTEND,
        protocol: 'TCP',
        port: 8080,
        weight: 30,
        http: {
          protocol: 'HTTP/1.1',
          routes: [
            { method: 'GET', path: '/', weight: 10 },
            { method: 'GET', path: '/product/{id}', weight: 10, ids: PRODUCT_IDS },
            { method: 'POST', path: '/setCurrency', weight: 2 },
            { method: 'GET', path: '/cart', weight: 3 },
            { method: 'POST', path: '/cart', weight: 3 },
            { method: 'POST', path: '/cart/checkout', weight: 1 },
            { method: 'GET', path: '/api/cart/{number}', weight: 2 },
            { method: 'GET', path: '/api/users/{number}', weight: 1 },
          ],
        },
      },
      {
        src: FRONTEND,
        dst: CATALOG,
        protocol: 'TCP',
        port: 3550,
        weight: 20,
        http: {
          protocol: 'HTTP/2',
          routes: grpc('ProductCatalogService', { ListProducts: 3, GetProduct: 6, SearchProducts: 1 }),
        },
      },
      {
        src: FRONTEND,
        dst: CURRENCY,
        protocol: 'TCP',
        port: 7000,
        weight: 15,
        http: { protocol: 'HTTP/2', routes: grpc('CurrencyService', { GetSupportedCurrencies: 1, Convert: 4 }) },
      },
      {
        src: FRONTEND,
        dst: CART,
        protocol: 'TCP',
        port: 7070,
        weight: 10,
        http: { protocol: 'HTTP/2', routes: grpc('CartService', { AddItem: 2, GetCart: 5, EmptyCart: 1 }) },
      },
      {
        src: FRONTEND,
        dst: RECOMMENDATION,
        protocol: 'TCP',
        port: 8080,
        weight: 8,
        http: { protocol: 'HTTP/2', routes: grpc('RecommendationService', { ListRecommendations: 1 }) },
      },
      {
        src: FRONTEND,
        dst: AD,
        protocol: 'TCP',
        port: 9555,
        weight: 8,
        http: { protocol: 'HTTP/2', routes: grpc('AdService', { GetAds: 1 }) },
      },
      {
        src: FRONTEND,
        dst: SHIPPING,
        protocol: 'TCP',
        port: 50051,
        weight: 3,
        http: { protocol: 'HTTP/2', routes: grpc('ShippingService', { GetQuote: 1 }) },
      },
      {
        src: FRONTEND,
        dst: CHECKOUT,
        protocol: 'TCP',
        port: 5050,
        weight: 2,
        http: { protocol: 'HTTP/2', routes: grpc('CheckoutService', { PlaceOrder: 1 }) },
      },
      {
        src: CHECKOUT,
        dst: CART,
        protocol: 'TCP',
        port: 7070,
        weight: 2,
        http: { protocol: 'HTTP/2', routes: grpc('CartService', { GetCart: 1, EmptyCart: 1 }) },
      },
      {
        src: CHECKOUT,
        dst: CATALOG,
        protocol: 'TCP',
        port: 3550,
        weight: 2,
        http: { protocol: 'HTTP/2', routes: grpc('ProductCatalogService', { GetProduct: 1 }) },
      },
      {
        src: CHECKOUT,
        dst: CURRENCY,
        protocol: 'TCP',
        port: 7000,
        weight: 2,
        http: { protocol: 'HTTP/2', routes: grpc('CurrencyService', { Convert: 1 }) },
      },
      {
        src: CHECKOUT,
        dst: SHIPPING,
        protocol: 'TCP',
        port: 50051,
        weight: 2,
        http: { protocol: 'HTTP/2', routes: grpc('ShippingService', { GetQuote: 1, ShipOrder: 1 }) },
      },
      {
        src: CHECKOUT,
        dst: PAYMENT,
        protocol: 'TCP',
        port: 50051,
        weight: 1,
        http: { protocol: 'HTTP/2', routes: grpc('PaymentService', { Charge: 1 }) },
      },
      {
        src: CHECKOUT,
        dst: EMAIL,
        protocol: 'TCP',
        port: 8080,
        weight: 1,
        http: { protocol: 'HTTP/2', routes: grpc('EmailService', { SendOrderConfirmation: 1 }) },
      },
      {
        src: RECOMMENDATION,
        dst: CATALOG,
        protocol: 'TCP',
        port: 3550,
        weight: 8,
        http: { protocol: 'HTTP/2', routes: grpc('ProductCatalogService', { ListProducts: 1 }) },
      },
      { src: CART, dst: REDIS, protocol: 'TCP', port: 6379, weight: 12 },
      { src: CHECKOUT, dst: ORDERS_DB, protocol: 'TCP', port: 5432, weight: 1 },
      { src: PAYMENT, dst: externalKey(PAYMENTS_API.ip), protocol: 'TCP', port: 443, weight: 1 },
      { src: SHIPPING, dst: externalKey(SHIPPING_API.ip), protocol: 'TCP', port: 443, weight: 1 },
      { src: COREDNS, dst: externalKey(UPSTREAM_DNS.ip), protocol: 'UDP', port: 53, weight: 1 },
      { src: COREDNS, dst: 'reserved:kube-apiserver', protocol: 'TCP', port: 6443, weight: 0.5 },
      { src: RELOADER, dst: 'reserved:kube-apiserver', protocol: 'TCP', port: 6443, weight: 0.5 },
      { src: BLACKBOX, dst: FRONTEND, protocol: 'TCP', port: 8080, weight: 0.5 },
      // Echo request (ICMP type 8); the reply is type 0.
      { src: BLACKBOX, dst: FRONTEND, protocol: 'ICMPv4', port: 8, weight: 0.3 },
    ],
    dropped: [
      { src: LOADGEN, dst: ORDERS_DB, protocol: 'TCP', port: 5432, weight: 0.3 },
      { src: externalKey(SCANNER.ip), dst: FRONTEND, protocol: 'TCP', port: 22, weight: 0.3 },
    ],
  });
}

/** Every connection the shop intends (forwarded, non-reply), sorted: a learned policy must allow each. */
export function shopIntendedConnections(): IntendedConnection[] {
  return intendedConnections(shopScenario());
}

/** Connections the shop's traffic tries but policy drops: a learned policy must not allow them. */
export function shopDeniedConnections(): IntendedConnection[] {
  return deniedConnections(shopScenario());
}
