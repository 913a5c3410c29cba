// What the API returns, as pure functions of the graph (and, for proposals, of the options): the
// workload list, one workload's evidence, and the proposal of one kind with each file's YAML.
import { type Edge, type Graph, type PeerNode, peerLabel } from '../model/index.js';
import { filterGraphByNamespace, graphToJson } from '../review/index.js';
import {
  allowedFlows,
  deniedFlows,
  type PoliciesOptions,
  type PolicyKind,
  type Proposal,
  proposePolicies,
  renderProposalFile,
} from '../synthesize/index.js';

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function windowJson(graph: Graph) {
  return {
    since: graph.window.since === undefined ? null : iso(graph.window.since),
    until: graph.window.until === undefined ? null : iso(graph.window.until),
  };
}

/** The graph of `GET /api/v1/graph`: the shape of `flowwright graph --format json`, optionally one namespace. */
export function graphView(graph: Graph, namespace?: string) {
  return graphToJson(namespace ? filterGraphByNamespace(graph, namespace) : graph);
}

function label(graph: Graph, key: string): string {
  const node = graph.peers.get(key);
  return node ? peerLabel(node.peer) : key;
}

/** `GET /api/v1/workloads`: every workload with how much it talks, sorted by key. */
export function workloadsView(graph: Graph, namespace?: string) {
  const stats = new Map<string, { ingress: number; egress: number; flows: number; dropped: number }>();
  const get = (key: string) => {
    let s = stats.get(key);
    if (!s) {
      s = { ingress: 0, egress: 0, flows: 0, dropped: 0 };
      stats.set(key, s);
    }
    return s;
  };
  for (const e of graph.edges) {
    const out = get(e.src);
    out.egress++;
    out.flows += e.flows;
    out.dropped += deniedFlows(e);
    const inn = get(e.dst);
    inn.ingress++;
    inn.flows += e.flows;
    inn.dropped += deniedFlows(e);
  }
  const workloads = [...graph.peers.values()]
    .filter((n): n is PeerNode & { peer: { type: 'workload' } } => n.peer.type === 'workload')
    .filter((n) => namespace === undefined || n.peer.namespace === namespace)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((n) => {
      const s = stats.get(n.key) ?? { ingress: 0, egress: 0, flows: 0, dropped: 0 };
      return {
        key: n.key,
        namespace: n.peer.namespace,
        kind: n.peer.kind,
        name: n.peer.name,
        ...(n.peer.cluster ? { cluster: n.peer.cluster } : {}),
        serviceAccounts: n.serviceAccounts,
        ingressEdges: s.ingress,
        egressEdges: s.egress,
        flows: s.flows,
        droppedFlows: s.dropped,
        firstSeen: iso(n.firstSeen),
        lastSeen: iso(n.lastSeen),
      };
    });
  return { window: windowJson(graph), workloads };
}

function edgeJson(graph: Graph, e: Edge, peer: string) {
  return {
    peer,
    peerLabel: label(graph, peer),
    peerNames: graph.peers.get(peer)?.names ?? [],
    protocol: e.protocol,
    port: e.port,
    flows: e.flows,
    allowedFlows: allowedFlows(e),
    droppedFlows: deniedFlows(e),
    verdicts: e.verdicts,
    firstSeen: iso(e.firstSeen),
    lastSeen: iso(e.lastSeen),
    http: e.http.map((h) => ({ ...h, firstSeen: iso(h.firstSeen), lastSeen: iso(h.lastSeen) })),
    dnsNames: e.dnsNames,
    kafkaTopics: e.kafkaTopics,
    dropReasons: e.dropReasons,
    policies: e.policies,
    services: e.services,
  };
}

/** `GET /api/v1/workloads/<key>`: the workload, its pods, and its edges in each direction with evidence (selectors assigned). */
export function workloadView(graph: Graph, key: string) {
  const node = graph.peers.get(key);
  if (node?.peer.type !== 'workload') return undefined;
  return {
    window: windowJson(graph),
    workload: {
      key,
      ...node.peer,
      serviceAccounts: node.serviceAccounts,
      selector: node.selector ?? null,
      selectorReason: node.selectorReason ?? null,
      firstSeen: iso(node.firstSeen),
      lastSeen: iso(node.lastSeen),
    },
    pods: graph.pods
      .filter((p) => p.workload === key)
      .map((p) => ({
        name: p.name,
        labels: p.labels,
        serviceAccount: p.serviceAccount ?? null,
        ips: p.ips,
        firstSeen: iso(p.firstSeen),
        lastSeen: iso(p.lastSeen),
      })),
    ingress: graph.edges.filter((e) => e.dst === key).map((e) => edgeJson(graph, e, e.src)),
    egress: graph.edges.filter((e) => e.src === key).map((e) => edgeJson(graph, e, e.dst)),
  };
}

/** The proposal of one kind for the graph (selectors are assigned here). */
/** The graph must have its selectors assigned (the caller does it once per cached graph). */
export function propose(graph: Graph, kind: PolicyKind, opts: PoliciesOptions): Proposal {
  const p = proposePolicies(graph, { ...opts, kinds: [kind] });
  return { files: p.files, summary: p.summaries[0].summary };
}

/** `GET /api/v1/proposals/<kind>`: every file with its YAML, optionally only one namespace's or one workload's. */
export function proposalView(
  graph: Graph,
  kind: string,
  proposal: Proposal,
  filter: { namespace?: string; workload?: string },
) {
  const files = proposal.files
    .filter((f) => filter.namespace === undefined || f.namespace === filter.namespace)
    .filter((f) => filter.workload === undefined || f.workload === filter.workload)
    .map((f) => ({
      path: f.path,
      kind: f.kind,
      namespace: f.namespace,
      workload: f.workload ?? null,
      yaml: renderProposalFile(f),
      rules: (f.comments ?? []).map((c) => ({
        document: c.document,
        path: c.path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join(''),
        evidence: c.text.split('\n'),
      })),
    }));
  return { kind, window: windowJson(graph), files, summary: proposal.summary };
}
