// Reads generated Hubble lines the way a consumer would, independently of the generator's own tables:
// peers are derived from labels, `workloads` and pod names, so the tests check what the records say.

export interface SampleStats {
  flows: number;
  nonFlow: Record<string, number>;
  replies: number;
  dropped: number;
  dropReasons: Set<string>;
  withoutIsReply: number;
  withoutIsReplyNotSyn: number;
  /** `src>dst|PROTO/port` of non-reply forwarded records. */
  forwarded: Set<string>;
  droppedConnections: Set<string>;
  /** Workload key → pod-template-hash / controller-revision-hash values seen. */
  rolloutHashes: Map<string, Set<string>>;
  endpointsWithWorkloads: number;
  endpointsWithoutWorkloads: number;
  dnsQueries: Set<string>;
  destinationNames: Map<string, Set<string>>;
  lookupBeforeExternal: boolean;
  timesInOrder: boolean;
  firstTime: number;
  lastTime: number;
  httpRequests: number;
  httpResponses: number;
  httpPaths: Set<string>;
}

export function connectionKey(c: { src: string; dst: string; protocol: string; port: number }): string {
  return `${c.src}>${c.dst}|${c.protocol}/${c.port}`;
}

// biome-ignore lint/suspicious/noExplicitAny: test helper over parsed JSON
type Json = any;

function labelValue(labels: string[], key: string): string | undefined {
  const prefix = `k8s:${key}=`;
  const found = labels.find((l) => l.startsWith(prefix));
  return found?.slice(prefix.length);
}

/** The peer key of one end of a flow, derived as an identity stage would. */
export function peerOf(ep: Json, ip: string): string {
  const labels: string[] = ep.labels ?? [];
  if (labels.includes('reserved:host')) return 'reserved:host';
  if (labels.includes('reserved:kube-apiserver')) return 'reserved:kube-apiserver';
  if (labels.includes('reserved:world')) return `cidr:${ip}/32`;
  if (ep.workloads?.length) return `${ep.namespace}/${ep.workloads[0].kind}/${ep.workloads[0].name}`;
  const hash = labelValue(labels, 'pod-template-hash');
  if (hash) return `${ep.namespace}/Deployment/${ep.pod_name.slice(0, ep.pod_name.indexOf(`-${hash}-`))}`;
  if (labelValue(labels, 'controller-revision-hash'))
    return `${ep.namespace}/StatefulSet/${ep.pod_name.replace(/-\d+$/, '')}`;
  throw new Error(`cannot tell the workload of ${JSON.stringify(ep)}`);
}

export function analyze(lines: Iterable<string>): SampleStats {
  const s: SampleStats = {
    flows: 0,
    nonFlow: {},
    replies: 0,
    dropped: 0,
    dropReasons: new Set(),
    withoutIsReply: 0,
    withoutIsReplyNotSyn: 0,
    forwarded: new Set(),
    droppedConnections: new Set(),
    rolloutHashes: new Map(),
    endpointsWithWorkloads: 0,
    endpointsWithoutWorkloads: 0,
    dnsQueries: new Set(),
    destinationNames: new Map(),
    lookupBeforeExternal: true,
    timesInOrder: true,
    firstTime: Number.POSITIVE_INFINITY,
    lastTime: 0,
    httpRequests: 0,
    httpResponses: 0,
    httpPaths: new Set(),
  };
  const queriedBy = new Map<string, Set<string>>();
  let previousTime = '';
  for (const line of lines) {
    const record = JSON.parse(line);
    if (!record.flow) {
      const kind = Object.keys(record).find((k) => k !== 'node_name' && k !== 'time')!;
      s.nonFlow[kind] = (s.nonFlow[kind] ?? 0) + 1;
      continue;
    }
    const f = record.flow;
    s.flows++;
    if (f.time < previousTime) s.timesInOrder = false;
    previousTime = f.time;
    const ms = Date.parse(f.time);
    s.firstTime = Math.min(s.firstTime, ms);
    s.lastTime = Math.max(s.lastTime, ms);

    for (const ep of [f.source, f.destination]) {
      if (!ep.pod_name) continue;
      if (ep.workloads) s.endpointsWithWorkloads++;
      else s.endpointsWithoutWorkloads++;
      const key = peerOf(ep, '');
      const hash = labelValue(ep.labels, 'pod-template-hash') ?? labelValue(ep.labels, 'controller-revision-hash');
      if (!hash) throw new Error(`pod without a rollout hash: ${ep.pod_name}`);
      const set = s.rolloutHashes.get(key) ?? new Set();
      set.add(hash);
      s.rolloutHashes.set(key, set);
    }

    const flags = f.l4.TCP?.flags;
    let reply: boolean;
    if (f.is_reply === undefined) {
      s.withoutIsReply++;
      if (!flags?.SYN) s.withoutIsReplyNotSyn++;
      reply = Boolean(flags?.SYN && flags?.ACK);
    } else reply = f.is_reply;
    if (reply) s.replies++;

    const protocol = Object.keys(f.l4)[0]!;
    const l4 = f.l4[protocol];
    const port = protocol === 'ICMPv4' ? l4.type : l4.destination_port;
    const src = peerOf(f.source, f.IP.source);
    const dst = peerOf(f.destination, f.IP.destination);

    if (f.l7?.dns && f.l7.type === 'REQUEST') {
      s.dnsQueries.add(f.l7.dns.query);
      const set = queriedBy.get(f.source.pod_name) ?? new Set();
      set.add(f.l7.dns.query);
      queriedBy.set(f.source.pod_name, set);
    }
    if (f.l7?.http) {
      if (f.l7.type === 'REQUEST') s.httpRequests++;
      else s.httpResponses++;
      s.httpPaths.add(new URL(f.l7.http.url).pathname);
    }
    if (f.destination_names) {
      const set = s.destinationNames.get(f.IP.destination) ?? new Set();
      for (const n of f.destination_names) set.add(n);
      s.destinationNames.set(f.IP.destination, set);
      if (!reply && !queriedBy.get(f.source.pod_name)?.has(`${f.destination_names[0]}.`))
        s.lookupBeforeExternal = false;
    }

    if (f.verdict === 'DROPPED') {
      s.dropped++;
      s.dropReasons.add(f.drop_reason_desc);
      s.droppedConnections.add(connectionKey({ src, dst, protocol, port }));
    } else if (f.verdict === 'FORWARDED' && !reply) {
      s.forwarded.add(connectionKey({ src, dst, protocol, port }));
    }
  }
  return s;
}
