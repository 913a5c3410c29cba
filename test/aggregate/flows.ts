// Small flow builders for aggregator tests.
import type { Endpoint, Flow } from '../../src/model/index.js';

export const HOUR = 3_600_000;
/** 2026-01-01T00:00:00Z, on an hour boundary. */
export const T0 = Date.UTC(2026, 0, 1);
export const H0 = T0 / HOUR;

/** A pod whose owner the source reported (Hubble `workloads`). */
export function podEp(workload: string, pod: string, ip: string, extra: Partial<Endpoint> = {}): Endpoint {
  return {
    namespace: 'shop',
    pod,
    workload: { kind: 'Deployment', name: workload },
    labels: { app: workload },
    serviceAccount: workload,
    ip,
    ...extra,
  };
}

export const web1 = () => podEp('web', 'web-1', '10.0.0.1');
export const web2 = () => podEp('web', 'web-2', '10.0.0.2');
export const api1 = () => podEp('api', 'api-1', '10.0.1.1');
export const dns1 = (): Endpoint => ({
  namespace: 'kube-system',
  pod: 'coredns-1',
  workload: { kind: 'Deployment', name: 'coredns' },
  labels: { 'k8s-app': 'kube-dns' },
  ip: '10.96.0.10',
});
export const world = (ip: string, extra: Partial<Endpoint> = {}): Endpoint => ({
  reserved: 'world',
  ip,
  labels: {},
  ...extra,
});

export function flow(source: Endpoint, destination: Endpoint, extra: Partial<Flow> = {}): Flow {
  return {
    time: T0,
    source,
    destination,
    protocol: 'TCP',
    port: 8080,
    verdict: 'forwarded',
    reply: false,
    direction: 'egress',
    count: 1,
    origin: { source: 'test.json' },
    ...extra,
  };
}
