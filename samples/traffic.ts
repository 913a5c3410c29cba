// Turns a scenario into a seeded sequence of connection events: which connection happens, between which
// pods, from which ephemeral port, carrying which request. Format-neutral: renderers decide how many
// records an event becomes. The caller drives time, so a renderer can spread a fixed number of records
// evenly over a span.
import { createRng, type Rng, weightedPicker } from './prng.js';
import type { ConnectionSpec, ExternalSpec, HttpRoute, Pod, Scenario } from './scenario.js';

/** One end of a connection at one moment. */
export interface EventEnd {
  /** Peer key, as in the scenario (`shop/Deployment/frontend`, `reserved:host`, `cidr:1.2.3.4/32`). */
  key: string;
  ip: string;
  /** The pod, for in-cluster ends. */
  pod?: Pod;
  /** For ends that are not pods. */
  reserved?: 'host' | 'world' | 'kube-apiserver';
  /** DNS names of an external address. */
  names?: string[];
}

export interface HttpRequest {
  method: string;
  path: string;
  status: number;
  latencyNs: number;
}

export interface TrafficEvent {
  /** Time in milliseconds since the epoch, as given by the caller. */
  time: number;
  connection: ConnectionSpec;
  dropped: boolean;
  src: EventEnd;
  dst: EventEnd;
  srcPort: number;
  /** Set when the connection carries HTTP (renderers may leave it out). */
  http?: HttpRequest;
  protocol?: 'HTTP/1.1' | 'HTTP/2';
  /** Set on DNS queries (UDP 53 to the cluster DNS or its upstream). */
  dns?: { query: string; answers: string[] };
  /** The DNS lookup the client made just before connecting to an external name. */
  lookup?: TrafficEvent;
}

export interface TrafficOptions {
  seed: number;
  /** From this time on (ms), the second generation of pods serves traffic. */
  rolloutAt: number;
}

export interface Traffic {
  /** The next event, happening at `time`. Every connection occurs once at the start of each generation. */
  next(time: number): TrafficEvent;
}

const DNS_PORT = 53;

export function createTraffic(scenario: Scenario, opts: TrafficOptions): Traffic {
  const rng = createRng(opts.seed);
  const all = [
    ...scenario.connections.map((c) => ({ c, dropped: false })),
    ...scenario.dropped.map((c) => ({ c, dropped: true })),
  ];
  const pick = weightedPicker(all, (x) => x.c.weight);
  const routePickers = new Map<ConnectionSpec, (r: Rng) => HttpRoute>();
  for (const c of scenario.connections)
    if (c.http)
      routePickers.set(
        c,
        weightedPicker(c.http.routes, (r) => r.weight),
      );

  // What each client asks the DNS for: the names of the Services and external APIs it reaches.
  const dnsWorkload = scenario.spec.dns.workload;
  const queries = new Map<string, { query: string; answers: string[] }[]>();
  const upstreamQueries: { query: string; answers: string[] }[] = [];
  for (const e of scenario.externals.values())
    for (const n of e.names) upstreamQueries.push({ query: `${n}.`, answers: [e.ip] });
  for (const c of scenario.connections) {
    const w = scenario.workloads.get(c.dst);
    const e = scenario.externals.get(c.dst);
    const answer =
      w?.serviceName && w.serviceIp
        ? { query: w.serviceName, answers: [w.serviceIp] }
        : e && e.names.length > 0
          ? { query: `${e.names[0]}.`, answers: [e.ip] }
          : undefined;
    if (!answer || c.dst === dnsWorkload) continue;
    const list = queries.get(c.src) ?? [];
    if (!list.some((q) => q.query === answer.query)) list.push(answer);
    queries.set(c.src, list);
  }
  const dnsConnections = new Map(
    scenario.connections.filter((c) => c.dst === dnsWorkload && c.port === DNS_PORT).map((c) => [c.src, c]),
  );

  let generation: 0 | 1 | undefined;
  let sweep: typeof all = [];

  const podEnd = (key: string, gen: 0 | 1): EventEnd => {
    const pods = scenario.workloads.get(key)!.pods[gen];
    const pod = pods[pods.length === 1 ? 0 : rng.int(pods.length)]!;
    return { key, ip: pod.ip, pod };
  };
  const externalEnd = (key: string, e: ExternalSpec): EventEnd => ({
    key,
    ip: e.ip,
    reserved: 'world',
    names: e.names,
  });

  const makeEvent = (c: ConnectionSpec, dropped: boolean, time: number, gen: 0 | 1): TrafficEvent => {
    // The destination first: a kubelet probe comes from the node that runs the probed pod.
    let dst: EventEnd;
    if (scenario.workloads.has(c.dst)) dst = podEnd(c.dst, gen);
    else if (c.dst === 'reserved:kube-apiserver')
      dst = { key: c.dst, ip: scenario.spec.apiServer.ip, reserved: 'kube-apiserver' };
    else dst = externalEnd(c.dst, scenario.externals.get(c.dst)!);
    let src: EventEnd;
    if (scenario.workloads.has(c.src)) src = podEnd(c.src, gen);
    else if (c.src === 'reserved:host') src = { key: c.src, ip: dst.pod!.node.ip, reserved: 'host' };
    else src = externalEnd(c.src, scenario.externals.get(c.src)!);

    const event: TrafficEvent = { time, connection: c, dropped, src, dst, srcPort: rng.between(32768, 60999) };
    const routes = routePickers.get(c);
    if (routes && !dropped) {
      const route = routes(rng);
      event.protocol = c.http!.protocol;
      event.http = {
        method: route.method,
        path: fillPath(route, rng),
        status: rng.chance(0.01) ? 503 : 200,
        latencyNs: rng.between(200_000, 40_000_000),
      };
    }
    if (c.protocol === 'UDP' && c.port === DNS_PORT) {
      const options = c.dst === dnsWorkload ? queries.get(c.src) : upstreamQueries;
      if (options && options.length > 0) event.dns = options[rng.int(options.length)];
    }
    // Clients resolve an external API's name right before connecting to it.
    const external = scenario.externals.get(c.dst);
    const dnsConnection = dnsConnections.get(c.src);
    if (!dropped && external && external.names.length > 0 && dnsConnection) {
      const lookup = makeEvent(dnsConnection, false, time, gen);
      lookup.src = src;
      lookup.dns = { query: `${external.names[0]}.`, answers: [external.ip] };
      event.lookup = lookup;
    }
    return event;
  };

  return {
    next(time) {
      const gen = time < opts.rolloutAt ? 0 : 1;
      if (gen !== generation) {
        generation = gen;
        sweep = [...all];
      }
      const chosen = sweep.length > 0 ? sweep.shift()! : pick(rng);
      return makeEvent(chosen.c, chosen.dropped, time, gen);
    },
  };
}

function fillPath(route: HttpRoute, rng: Rng): string {
  let path = route.path;
  if (route.ids && path.includes('{id}')) path = path.replace('{id}', route.ids[rng.int(route.ids.length)]!);
  if (path.includes('{number}')) path = path.replace('{number}', String(rng.between(1000, 99999)));
  return path;
}
