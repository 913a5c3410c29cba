// Renderings of the dependency graph for `flowwright graph` and the service API: a terminal table,
// JSON (stable schema), Graphviz dot and Mermaid.
import { type Graph, type PeerNode, peerLabel } from '../model/index.js';
import { allowedFlows, deniedFlows, isoTime as iso } from '../synthesize/index.js';
import { textTable } from './render-common.js';

export type GraphFormat = 'table' | 'json' | 'dot' | 'mermaid';
export const GRAPH_FORMATS: readonly GraphFormat[] = ['table', 'json', 'dot', 'mermaid'];

/** Keeps the edges that touch a namespace (either end), and the peers on them. */
export function filterGraphByNamespace(graph: Graph, namespace: string): Graph {
  const inNs = (key: string) => {
    const p = graph.peers.get(key)?.peer;
    return p !== undefined && (p.type === 'workload' || p.type === 'networkset') && p.namespace === namespace;
  };
  const edges = graph.edges.filter((e) => inNs(e.src) || inNs(e.dst));
  const keys = new Set(edges.flatMap((e) => [e.src, e.dst]));
  for (const [key] of graph.peers) if (inNs(key)) keys.add(key);
  const peers = new Map([...graph.peers].filter(([key]) => keys.has(key)));
  return { ...graph, peers, edges, pods: graph.pods.filter((p) => p.namespace === namespace) };
}

function label(graph: Graph, key: string): string {
  const node = graph.peers.get(key);
  if (!node) return key;
  const base = peerLabel(node.peer);
  return node.names.length > 0 ? `${base} (${node.names.join(', ')})` : base;
}

export function renderGraph(graph: Graph, format: GraphFormat): string {
  switch (format) {
    case 'table':
      return renderTable(graph);
    case 'json':
      return `${JSON.stringify(graphToJson(graph), null, 2)}\n`;
    case 'dot':
      return renderDot(graph);
    case 'mermaid':
      return renderMermaid(graph);
  }
}

function renderTable(graph: Graph): string {
  const header = ['SOURCE', 'DESTINATION', 'PORT', 'FLOWS', 'DROPPED', 'LAST SEEN'];
  const rows = graph.edges.map((e) => [
    label(graph, e.src),
    label(graph, e.dst),
    e.port ? `${e.port}/${e.protocol}` : e.protocol,
    String(allowedFlows(e)),
    String(deniedFlows(e)),
    iso(e.lastSeen),
  ]);
  if (rows.length === 0) return 'no edges in the graph (ingest some flows first, or widen --since/--until)\n';
  return `${textTable(header, rows, [3, 4])}\n`;
}

/** The JSON shape of `flowwright graph --format json` and `GET /api/v1/graph`. Field order is stable. */
export function graphToJson(graph: Graph) {
  return {
    window: {
      since: graph.window.since === undefined ? null : iso(graph.window.since),
      until: graph.window.until === undefined ? null : iso(graph.window.until),
    },
    peers: [...graph.peers.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map(peerToJson),
    edges: graph.edges.map((e) => ({
      src: e.src,
      dst: e.dst,
      protocol: e.protocol,
      port: e.port,
      flows: e.flows,
      verdicts: e.verdicts,
      firstSeen: iso(e.firstSeen),
      lastSeen: iso(e.lastSeen),
      http: e.http,
      dnsNames: e.dnsNames,
      kafkaTopics: e.kafkaTopics,
      dropReasons: e.dropReasons,
      policies: e.policies,
      services: e.services,
    })),
  };
}

function peerToJson(n: PeerNode) {
  return {
    key: n.key,
    ...n.peer,
    names: n.names,
    ips: n.ips,
    serviceAccounts: n.serviceAccounts,
    selector: n.selector ?? null,
    firstSeen: iso(n.firstSeen),
    lastSeen: iso(n.lastSeen),
  };
}

function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Graphviz: one cluster per namespace, dropped-only edges dashed red. */
function renderDot(graph: Graph): string {
  const out = ['digraph flowwright {', '  rankdir=LR;', '  node [shape=box, fontname="Helvetica"];'];
  const byNs = new Map<string, PeerNode[]>();
  for (const node of graph.peers.values()) {
    const ns = node.peer.type === 'workload' ? node.peer.namespace : '';
    byNs.set(ns, [...(byNs.get(ns) ?? []), node]);
  }
  let i = 0;
  for (const [ns, nodes] of [...byNs].sort(([a], [b]) => a.localeCompare(b))) {
    const indent = ns ? '    ' : '  ';
    if (ns) out.push(`  subgraph cluster_${i++} {`, `    label=${quote(ns)};`);
    for (const n of nodes) out.push(`${indent}${quote(n.key)} [label=${quote(label(graph, n.key))}];`);
    if (ns) out.push('  }');
  }
  for (const e of graph.edges) {
    const style = allowedFlows(e) === 0 ? ', color="red", style="dashed"' : '';
    out.push(`  ${quote(e.src)} -> ${quote(e.dst)} [label=${quote(`${e.port || ''}/${e.protocol}`)}${style}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** Mermaid flowchart: ids are n0, n1... (Mermaid ids cannot hold '/'), one subgraph per namespace. */
function renderMermaid(graph: Graph): string {
  const keys = [...graph.peers.keys()].sort();
  const ids = new Map(keys.map((k, i) => [k, `n${i}`]));
  const text = (s: string) => `"${s.replace(/"/g, '#quot;')}"`;
  const out = ['flowchart LR'];
  const byNs = new Map<string, string[]>();
  for (const k of keys) {
    const p = graph.peers.get(k)!.peer;
    const ns = p.type === 'workload' ? p.namespace : '';
    byNs.set(ns, [...(byNs.get(ns) ?? []), k]);
  }
  let j = 0;
  for (const [ns, members] of [...byNs].sort(([a], [b]) => a.localeCompare(b))) {
    if (ns) out.push(`  subgraph ns${j++} [${text(ns)}]`);
    for (const k of members) out.push(`${ns ? '    ' : '  '}${ids.get(k)}[${text(label(graph, k))}]`);
    if (ns) out.push('  end');
  }
  const dropped: number[] = [];
  graph.edges.forEach((e, i) => {
    out.push(`  ${ids.get(e.src) ?? e.src} -->|${text(`${e.port || ''}/${e.protocol}`)}| ${ids.get(e.dst) ?? e.dst}`);
    if (allowedFlows(e) === 0) dropped.push(i);
  });
  if (dropped.length > 0) out.push(`  linkStyle ${dropped.join(',')} stroke:#d33,stroke-dasharray:4`);
  return `${out.join('\n')}\n`;
}
