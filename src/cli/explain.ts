// `flowwright explain`: one connection (or one HTTP request) through a policy set, with every policy
// that selects either end, every rule, and why it does or does not match.
import type { Command } from 'commander';
import { FlowwrightError, type Graph, usageError } from '../model/index.js';
import {
  type Connection,
  type EvalEndpoint,
  evaluateConnection,
  evaluateRequest,
  explainConnection,
  explainRequest,
  type Inventory,
  type L4Protocol,
  type PodInfo,
  parseIp,
} from '../policy/index.js';
import { compilePolicySet, endpointResolver, l4Protocol } from '../review/index.js';
import { commandInventory, INVENTORY_HELP } from './inventory.js';
import { addOptions, resolveConfig } from './options.js';
import { buildInventory, collect, loadPoliciesOrFail, optionalGraph } from './verify.js';

const KEYS = ['db', 'since', 'until', 'trustDomain'] as const;

export interface Target {
  /** `shop/frontend-6d9f-abcde`, `shop/deployment/frontend` or an IP address. */
  name: string;
  port?: number;
  protocol: L4Protocol;
}

/** `ns/pod`, `ns/kind/name` or an IP (`[v6]` with a port), then optionally `:port` and `/protocol`. */
export function parseTarget(text: string, what: string): Target {
  let rest = text.trim();
  let name: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw usageError(`${what}: missing ']' in '${text}'`);
    name = rest.slice(1, close);
    rest = rest.slice(close + 1);
  } else if (parseIp(rest)) {
    return { name: rest, protocol: 'TCP' };
  } else {
    const colon = rest.indexOf(':');
    name = colon < 0 ? rest : rest.slice(0, colon);
    rest = colon < 0 ? '' : rest.slice(colon);
  }
  if (rest === '') return { name, protocol: 'TCP' };
  const m = /^:(\d+)(?:\/([A-Za-z]+))?$/.exec(rest);
  if (!m) throw usageError(`${what}: expected name[:port[/protocol]], got '${text}'`);
  const port = Number(m[1]);
  if (port < 1 || port > 65535) throw usageError(`${what}: port ${port} is outside 1-65535`);
  const protocol = l4Protocol((m[2] ?? 'TCP').toUpperCase());
  if (!protocol) throw usageError(`${what}: protocol must be TCP, UDP or SCTP, got '${m[2]}'`);
  return { name, port, protocol };
}

/** A workload key without its cluster part, kind in lower case: `shop/deployment/frontend`. */
function plainWorkload(key: string): string {
  return key.replace(/^[^:/]+:/, '').toLowerCase();
}

/** Finds the endpoint a name means, in the inventory (and the graph for workloads without pod records). */
export function resolveTarget(name: string, inv: Inventory, graph: Graph | undefined, what: string): EvalEndpoint {
  if (parseIp(name)) {
    const pod = inv.pods.find((p) => p.ips.includes(name));
    return pod ? { kind: 'pod', pod } : { kind: 'ip', ip: name };
  }
  const parts = name.split('/');
  if (parts.length === 2) {
    const [ns, pod] = parts;
    const found = inv.pods.find((p) => p.namespace === ns && p.name === pod);
    if (found) return { kind: 'pod', pod: found };
    // `shop/frontend` for a workload is a common slip: accept it when it names exactly one workload.
    const owners = [...new Set(inv.pods.filter((p) => p.namespace === ns && p.workload).map((p) => p.workload!))];
    const matching = owners.filter((w) => plainWorkload(w).split('/')[2] === pod.toLowerCase());
    if (matching.length === 1) return workloadEndpoint(matching[0], inv, graph, what);
    const known = inv.pods.filter((p) => p.namespace === ns).map((p) => p.name);
    throw usageError(
      `${what}: no pod ${name} in the inventory${known.length ? ` (pods in ${ns}: ${known.slice(0, 5).join(', ')}${known.length > 5 ? ', ...' : ''})` : ''}`,
    );
  }
  if (parts.length === 3) return workloadEndpoint(name, inv, graph, what);
  throw usageError(`${what}: expected namespace/pod, namespace/kind/name or an IP address, got '${name}'`);
}

function workloadEndpoint(name: string, inv: Inventory, graph: Graph | undefined, what: string): EvalEndpoint {
  const want = plainWorkload(name);
  const pod: PodInfo | undefined = inv.pods.find((p) => p.workload && plainWorkload(p.workload) === want);
  if (pod) return { kind: 'pod', pod };
  const key = graph && [...graph.peers.keys()].find((k) => plainWorkload(k) === want);
  if (graph && key) {
    const r = endpointResolver(graph, inv)(key);
    if ('endpoints' in r && r.endpoints[0]) return r.endpoints[0];
  }
  throw usageError(`${what}: no workload ${name} in the inventory or the learned graph`);
}

export function registerExplainCommand(program: Command): void {
  const cmd = program
    .command('explain')
    .summary('explain why one connection or request is allowed or denied')
    .description(
      'Evaluate one connection through a policy set and say, for a person who does not know the rules by ' +
        'heart, what was decided at each end: every NetworkPolicy that selects the source (egress) or the ' +
        'destination (ingress), every rule and why it does or does not match. With --principal, --method or ' +
        '--path, or when the set holds Istio AuthorizationPolicies, the request is also checked against them.\n\n' +
        'Endpoints are namespace/pod, namespace/workload-kind/name, or an IP address; the destination may end ' +
        'in :port and /protocol (TCP by default). Pods are looked up in the learned graph (--db) and in ' +
        '--inventory. Without a port, every known port of the destination is explained.',
    )
    .argument('<src>', 'source: namespace/pod, namespace/kind/name or IP')
    .argument('<dst>', 'destination: namespace/pod, namespace/kind/name or IP, then [:port[/protocol]]')
    .option('--policies <path>', 'policy file or directory; repeatable', collect)
    .option('--inventory <path>', INVENTORY_HELP)
    .option('--exit-code', 'exit 0 when allowed and 1 when denied, like git diff --exit-code')
    .option('--principal <principal>', 'the client mTLS identity, e.g. cluster.local/ns/shop/sa/frontend')
    .option('--method <method>', 'HTTP method of the request')
    .option('--path <path>', 'HTTP path of the request')
    .option('--root-namespace <ns>', 'Istio root namespace (mesh-wide AuthorizationPolicies)', 'istio-system')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ flowwright explain shop/frontend-6d9f-abcde shop/cart-7c4b-x2x9k:7070/TCP --policies policies/ --inventory pods.json\n' +
        '  $ flowwright explain 203.0.113.7 shop/frontend-6d9f-abcde:8080 --policies policies/ --exit-code\n' +
        '  $ flowwright explain shop/deployment/frontend shop/deployment/cart:7070 --policies policies/\n' +
        '  $ flowwright explain shop/frontend-6d9f-abcde shop/cart-7c4b-x2x9k:7070 --principal cluster.local/ns/shop/sa/frontend \\\n' +
        '        --method POST --path /cart/items --policies policies/\n' +
        '\nExit codes: 0 allowed (or no --exit-code), 1 denied with --exit-code (for a request given by --principal, --method\n' +
        'or --path, also when its decision depends on what flowwright cannot know), 2 usage (unknown endpoint),\n' +
        '3 bad policy or inventory file.',
    );
  addOptions(cmd, [...KEYS]);
  cmd.action((srcText: string, dstText: string, flags: Record<string, unknown>) => {
    const config = resolveConfig(flags, [...KEYS]);
    const policies = loadPoliciesOrFail((flags.policies as string[] | undefined) ?? [], '--policies');
    const graph = optionalGraph(config);
    const cluster = commandInventory(config.db, flags.inventory as string | undefined);
    if (!graph && cluster.empty)
      throw usageError(`no pods to look endpoints up in: give --inventory, or learn a graph into ${config.db} first`);
    const inventory = buildInventory(graph, cluster);
    const srcTarget = parseTarget(srcText, '<src>');
    if (srcTarget.port !== undefined) throw usageError('<src>: a source has no port; put it on the destination');
    const dstTarget = parseTarget(dstText, '<dst>');
    const src = resolveTarget(srcTarget.name, inventory, graph, '<src>');
    const dst = resolveTarget(dstTarget.name, inventory, graph, '<dst>');
    let ports: Array<{ port: number; protocol: L4Protocol }>;
    if (dstTarget.port !== undefined) ports = [{ port: dstTarget.port, protocol: dstTarget.protocol }];
    else {
      const known = dst.kind === 'pod' ? dst.pod.ports : [];
      ports = known.flatMap((p) => {
        const protocol = l4Protocol(p.protocol);
        return protocol ? [{ port: p.port, protocol }] : [];
      });
      if (ports.length === 0) throw usageError(`<dst>: no known port for ${dstTarget.name}; add :port to it`);
    }
    const compiled = compilePolicySet(policies, inventory, {
      rootNamespace: flags.rootNamespace as string,
      trustDomain: config.trustDomain,
    });
    const authz = compiled.authorizationCount > 0 ? compiled.authorization : undefined;
    const http = flags.method !== undefined || flags.path !== undefined;
    const l7Asked = http || flags.principal !== undefined;
    let allowed = true;
    const out: string[] = [];
    for (const { port, protocol } of ports) {
      const conn: Connection = { src, dst, protocol, port };
      const d = evaluateConnection(compiled.network, conn);
      out.push(explainConnection(d, conn));
      if (!d.allowed) allowed = false;
      if (dst.kind !== 'pod' || (!authz && !l7Asked)) continue;
      if (!authz) {
        out.push('No AuthorizationPolicy in --policies: the request is not checked at layer 7.\n');
        continue;
      }
      const req = {
        conn,
        principal: flags.principal as string | undefined,
        method: flags.method as string | undefined,
        path: flags.path as string | undefined,
        http: http ? true : undefined,
      };
      const r = evaluateRequest(authz, dst.pod, req);
      out.push(explainRequest(r, req));
      // A request that was asked about must be allowed outright; for a plain connection question,
      // only a definite deny counts (HTTP attributes nobody gave are not a reason to say no).
      if (r.verdict === 'deny' || (l7Asked && r.verdict !== 'allow')) allowed = false;
    }
    process.stdout.write(out.join('\n'));
    if (flags.exitCode && !allowed) throw new FlowwrightError('finding', 'denied');
  });
}
