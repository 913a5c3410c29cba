// The small cluster the conformance suites run against, shaped like the upstream netpol e2e tests:
// namespaces x, y, z with pods a, b, c each, labelled `pod=<name>`, serving ports 80 and 81 over TCP,
// UDP and SCTP with the e2e port names (`serve-80-tcp`, ...).
import assert from 'node:assert/strict';
import {
  type EvalEndpoint,
  type Inventory,
  NAMESPACE_NAME_LABEL,
  type PodInfo,
  parsePolicyText,
} from '../../src/policy/index.js';

export const NAMESPACES = ['x', 'y', 'z'];
const POD_NAMES = ['a', 'b', 'c'];

function ports(): PodInfo['ports'] {
  const out: PodInfo['ports'] = [];
  for (const protocol of ['TCP', 'UDP', 'SCTP']) {
    for (const port of [80, 81]) out.push({ name: `serve-${port}-${protocol.toLowerCase()}`, port, protocol });
  }
  return out;
}

/** x/a = 10.0.1.1, y/b = 10.0.2.2, ..., a host-network pod x/h on the node address 192.168.0.10, a gateway x/gw. */
export function world(extraNamespaceLabels: Record<string, Record<string, string>> = {}): Inventory {
  const pods: PodInfo[] = [];
  NAMESPACES.forEach((ns, i) => {
    POD_NAMES.forEach((name, j) => {
      const labels: Record<string, string> = { pod: name };
      if (name === 'b') labels.role = 'client';
      pods.push({
        namespace: ns,
        name,
        labels,
        ips: [`10.0.${i + 1}.${j + 1}`],
        ports: ports(),
        serviceAccount: `sa-${name}`,
        workload: `${ns}/Deployment/${name}`,
      });
    });
  });
  pods.push({
    namespace: 'x',
    name: 'h',
    labels: { pod: 'h' },
    ips: ['192.168.0.10'],
    ports: ports(),
    hostNetwork: true,
  });
  // An Istio gateway deployed for the Gateway API Gateway `gw` (Istio labels its pods with the gateway name).
  pods.push({
    namespace: 'x',
    name: 'gw',
    labels: { pod: 'gw', 'gateway.networking.k8s.io/gateway-name': 'gw' },
    ips: ['10.0.1.100'],
    ports: ports(),
    serviceAccount: 'gw-istio',
  });
  const namespaces = new Map<string, Record<string, string>>();
  for (const ns of NAMESPACES) namespaces.set(ns, { ...extraNamespaceLabels[ns], [NAMESPACE_NAME_LABEL]: ns });
  return { pods, namespaces };
}

export function pod(inv: Inventory, ref: string): PodInfo {
  const [ns, name] = ref.split('/');
  const p = inv.pods.find((x) => x.namespace === ns && x.name === name);
  assert.ok(p, `no pod ${ref} in the test world`);
  return p;
}

/** `x/a` → pod, `ip:203.0.113.5` → address, `node` → the pod's own node. */
export function endpoint(inv: Inventory, ref: string): EvalEndpoint {
  if (ref === 'node') return { kind: 'host', ip: '192.168.0.10' };
  if (ref.startsWith('ip:')) return { kind: 'ip', ip: ref.slice(3) };
  return { kind: 'pod', pod: pod(inv, ref) };
}

export function manifest(apiVersion: string, kind: string, namespace: string, name: string, spec: unknown): object {
  return { apiVersion, kind, metadata: { name, namespace }, spec };
}

/** Loads manifests through the real loader (as one kubectl List) and fails on any issue. */
export function load(objects: object[]) {
  const loaded = parsePolicyText(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }), 'case.json');
  assert.deepEqual(loaded.issues, [], 'the case manifests should be valid');
  return loaded;
}
