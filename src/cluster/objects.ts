// Kubernetes objects (as the API server and `kubectl get -o json` return them) → the inventory model.
// The `--inventory` file and the live watch both go through `toInventoryObject`, so they agree on
// every field. A field of the wrong type is bad input naming the field, never silently dropped.
import {
  checkLabels,
  checkName,
  FlowwrightError,
  type InputLocation,
  type InventoryController,
  type InventoryEndpointSlice,
  type InventoryObject,
  type InventoryPod,
  type InventoryService,
  type InventoryServicePort,
  inputError,
  NAMESPACE_NAME_LABEL,
  type OwnerRef,
  type PodPort,
  type Timed,
} from '../model/index.js';

type Obj = Record<string, unknown>;

/** The kinds the inventory keeps; any other kind in a dump is counted and left out. */
export const KEPT_KINDS = new Set(['Namespace', 'Pod', 'Service', 'EndpointSlice', 'ReplicaSet', 'Job']);

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads fields of one object, failing with the field's path. */
function reader(loc: InputLocation, base: string): Reader {
  const fail = (field: string, message: string): never => {
    throw inputError(message, { ...loc, field: field ? `${base}.${field}` : base });
  };
  const at = (o: Obj, path: string): unknown => {
    let v: unknown = o;
    for (const part of path.split('.')) v = isObj(v) ? v[part] : undefined;
    return v;
  };
  return {
    fail,
    nested: (field: string) => reader(loc, `${base}.${field}`),
    obj(o: Obj, path: string): Obj | undefined {
      const v = at(o, path);
      if (v === undefined || v === null) return undefined;
      return isObj(v) ? v : fail(path, 'expected an object');
    },
    list(o: Obj, path: string): unknown[] {
      const v = at(o, path);
      if (v === undefined || v === null) return [];
      return Array.isArray(v) ? v : fail(path, 'expected a list');
    },
    str(o: Obj, path: string): string | undefined {
      const v = at(o, path);
      if (v === undefined || v === null) return undefined;
      return typeof v === 'string' ? v : fail(path, 'expected a string');
    },
    num(o: Obj, path: string): number | undefined {
      const v = at(o, path);
      if (v === undefined || v === null) return undefined;
      return typeof v === 'number' && Number.isInteger(v) ? v : fail(path, 'expected an integer');
    },
    labels(o: Obj, path: string): Record<string, string> {
      const v = at(o, path);
      if (v === undefined || v === null) return {};
      if (!isObj(v)) return fail(path, 'expected an object of strings');
      for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') fail(`${path}.${k}`, 'expected a string');
      const labels = v as Record<string, string>;
      named(() => checkLabels(labels, `${base}.${path}`), loc);
      return { ...labels };
    },
  };
}

interface Reader {
  fail(field: string, message: string): never;
  nested(field: string): Reader;
  obj(o: Obj, path: string): Obj | undefined;
  list(o: Obj, path: string): unknown[];
  str(o: Obj, path: string): string | undefined;
  num(o: Obj, path: string): number | undefined;
  labels(o: Obj, path: string): Record<string, string>;
}

/** Runs a names.ts check, adding the file and document to its error. */
function named(check: () => void, loc: InputLocation): void {
  try {
    check();
  } catch (err) {
    if (err instanceof FlowwrightError) throw new FlowwrightError(err.code, err.message, { ...loc, ...err.location });
    throw err;
  }
}

function time(r: Reader, o: Obj, path: string): number | undefined {
  const text = r.str(o, path);
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? r.fail(path, `not an RFC 3339 time: ${JSON.stringify(text)}`) : ms;
}

function controllerOf(r: Reader, o: Obj): OwnerRef | undefined {
  const refs = r.list(o, 'metadata.ownerReferences');
  let chosen: OwnerRef | undefined;
  for (const [i, ref] of refs.entries()) {
    if (!isObj(ref)) return r.fail(`metadata.ownerReferences[${i}]`, 'expected an object');
    const rr = r.nested(`metadata.ownerReferences[${i}]`);
    const kind = rr.str(ref, 'kind');
    const name = rr.str(ref, 'name');
    if (!kind || !name) return r.fail(`metadata.ownerReferences[${i}]`, 'needs kind and name');
    if (ref.controller === true || !chosen) chosen = { kind, name };
  }
  return chosen;
}

function protocolOf(r: Reader, o: Obj, path: string): string {
  const p = r.str(o, path) ?? 'TCP';
  return p === 'TCP' || p === 'UDP' || p === 'SCTP' ? p : r.fail(path, `unknown protocol ${JSON.stringify(p)}`);
}

function addIp(ips: string[], ip: string | undefined): void {
  if (ip && !ips.includes(ip)) ips.push(ip);
}

/**
 * One Kubernetes object as the inventory keeps it, with the time it was created (`from`, 0 when the
 * object has no creationTimestamp). Undefined for a kind the inventory does not keep.
 * `loc` names the file and document; `base` the object's path in it (`items[3]`).
 */
export function toInventoryObject(raw: unknown, loc: InputLocation, base: string, kind?: string): Timed | undefined {
  const r = reader(loc, base);
  if (!isObj(raw)) return r.fail('', 'expected a Kubernetes object');
  const k = r.str(raw, 'kind') ?? kind;
  if (!k) return r.fail('kind', 'missing');
  if (!KEPT_KINDS.has(k)) return undefined;
  if (!isObj(raw.metadata)) return r.fail('metadata', 'missing');
  const name = r.str(raw, 'metadata.name');
  if (!name) return r.fail('metadata.name', 'missing');
  const namespace = r.str(raw, 'metadata.namespace');
  const from = time(r, raw, 'metadata.creationTimestamp') ?? 0;
  const labels = r.labels(raw, 'metadata.labels');
  if (k === 'Namespace') {
    named(() => checkName('namespace', name, `${base}.metadata.name`), loc);
    const uid = r.str(raw, 'metadata.uid') ?? `Namespace/${name}/${from}`;
    return { object: { kind: 'Namespace', name, uid, labels: { ...labels, [NAMESPACE_NAME_LABEL]: name } }, from };
  }
  if (!namespace) return r.fail('metadata.namespace', 'missing');
  named(() => checkName('namespace', namespace, `${base}.metadata.namespace`), loc);
  const uid = r.str(raw, 'metadata.uid') ?? `${k}/${namespace}/${name}/${from}`;
  let object: InventoryObject;
  switch (k) {
    case 'Pod': {
      named(() => checkName('pod', name, `${base}.metadata.name`), loc);
      const ips: string[] = [];
      for (const [i, x] of r.list(raw, 'status.podIPs').entries()) {
        if (!isObj(x)) return r.fail(`status.podIPs[${i}]`, 'expected an object');
        else addIp(ips, r.nested(`status.podIPs[${i}]`).str(x, 'ip'));
      }
      addIp(ips, r.str(raw, 'status.podIP'));
      const ports: PodPort[] = [];
      for (const [i, c] of r.list(raw, 'spec.containers').entries()) {
        if (!isObj(c)) return r.fail(`spec.containers[${i}]`, 'expected an object');
        for (const [j, p] of r.nested(`spec.containers[${i}]`).list(c, 'ports').entries()) {
          const field = `spec.containers[${i}].ports[${j}]`;
          if (!isObj(p)) return r.fail(field, 'expected an object');
          const rp = r.nested(field);
          const port = rp.num(p, 'containerPort');
          if (port === undefined) return rp.fail('containerPort', 'missing');
          const entry: PodPort = { port, protocol: protocolOf(rp, p, 'protocol') };
          const portName = rp.str(p, 'name');
          if (portName) entry.name = portName;
          ports.push(entry);
        }
      }
      const pod: InventoryPod = { kind: 'Pod', namespace, name, uid, labels, ips, ports };
      const sa = r.str(raw, 'spec.serviceAccountName') ?? r.str(raw, 'spec.serviceAccount');
      if (sa) pod.serviceAccount = sa;
      const owner = controllerOf(r, raw);
      if (owner) pod.owner = owner;
      if (raw.spec && (raw.spec as Obj).hostNetwork === true) pod.hostNetwork = true;
      const node = r.str(raw, 'spec.nodeName');
      if (node) pod.node = node;
      object = pod;
      break;
    }
    case 'Service': {
      const selectorObj = r.obj(raw, 'spec.selector');
      const ports: InventoryServicePort[] = [];
      for (const [i, p] of r.list(raw, 'spec.ports').entries()) {
        const field = `spec.ports[${i}]`;
        if (!isObj(p)) return r.fail(field, 'expected an object');
        const rp = r.nested(field);
        const port = rp.num(p, 'port');
        if (port === undefined) return rp.fail('port', 'missing');
        const target = p.targetPort;
        if (target !== undefined && typeof target !== 'number' && typeof target !== 'string')
          return rp.fail('targetPort', 'expected a number or a port name');
        // An omitted targetPort is the port itself; a numeric string ("8080") is a number.
        const targetPort = typeof target === 'string' && /^\d+$/.test(target) ? Number(target) : (target ?? port);
        const entry: InventoryServicePort = { protocol: protocolOf(rp, p, 'protocol'), port, targetPort };
        const portName = rp.str(p, 'name');
        if (portName) entry.name = portName;
        ports.push(entry);
      }
      const clusterIPs: string[] = [];
      for (const [i, ip] of r.list(raw, 'spec.clusterIPs').entries()) {
        if (typeof ip !== 'string') return r.fail(`spec.clusterIPs[${i}]`, 'expected a string');
        else if (ip !== 'None') addIp(clusterIPs, ip);
      }
      const single = r.str(raw, 'spec.clusterIP');
      if (single !== 'None') addIp(clusterIPs, single);
      const svc: InventoryService = {
        kind: 'Service',
        namespace,
        name,
        uid,
        type: r.str(raw, 'spec.type') ?? 'ClusterIP',
        clusterIPs,
        ports,
      };
      if (selectorObj) svc.selector = r.labels(raw, 'spec.selector');
      object = svc;
      break;
    }
    case 'EndpointSlice': {
      const ports: PodPort[] = [];
      for (const [i, p] of r.list(raw, 'ports').entries()) {
        if (!isObj(p)) return r.fail(`ports[${i}]`, 'expected an object');
        const rp = r.nested(`ports[${i}]`);
        const port = rp.num(p, 'port');
        if (port === undefined) continue;
        const entry: PodPort = { port, protocol: protocolOf(rp, p, 'protocol') };
        const portName = rp.str(p, 'name');
        if (portName) entry.name = portName;
        ports.push(entry);
      }
      const endpoints: { addresses: string[]; pod?: string }[] = [];
      for (const [i, e] of r.list(raw, 'endpoints').entries()) {
        if (!isObj(e)) return r.fail(`endpoints[${i}]`, 'expected an object');
        const re = r.nested(`endpoints[${i}]`);
        const addresses = re
          .list(e, 'addresses')
          .map((a, j) => (typeof a === 'string' ? a : re.fail(`addresses[${j}]`, 'expected a string')));
        const entry: { addresses: string[]; pod?: string } = { addresses };
        const ref = re.obj(e, 'targetRef');
        if (ref && re.nested('targetRef').str(ref, 'kind') === 'Pod') {
          const pod = re.nested('targetRef').str(ref, 'name');
          if (pod) entry.pod = pod;
        }
        endpoints.push(entry);
      }
      const slice: InventoryEndpointSlice = { kind: 'EndpointSlice', namespace, name, uid, ports, endpoints };
      const service = labels['kubernetes.io/service-name'];
      if (service) slice.service = service;
      object = slice;
      break;
    }
    default: {
      const controller: InventoryController = { kind: k as 'ReplicaSet' | 'Job', namespace, name, uid };
      const owner = controllerOf(r, raw);
      if (owner) controller.owner = owner;
      object = controller;
    }
  }
  return { object, from };
}
