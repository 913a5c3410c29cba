// The dependency graph, drawn by Cytoscape.js and laid out by ELK (layered, top to bottom, namespaces
// as compound nodes; a large graph's overview of collapsed namespaces by Cytoscape's own concentric layout). Both libraries are served by `serve` from the package (vendor/), never a CDN.
// This file turns the API's graph into Cytoscape elements (edges between the same two nodes merged,
// their ports aggregated into one label; large graphs with namespaces collapsed) and keeps port labels
// off nodes and off each other: after each layout or selection, labels that would overlap are hidden
// and shown on hover or select instead. Cytoscape draws text on a canvas, so no name can become markup.

/** Above this many workloads the namespaces start collapsed, one node each, and expand on click. */
export const COLLAPSE_AT = 200;
/** An edge's label lists its ports up to this many; more become "N ports" (the full list on hover). */
const PORTS_IN_LABEL = 3;
const FONT = '13px system-ui, sans-serif';
const NODE_H = 32;

/** The namespace a peer is drawn in, or undefined for peers outside every namespace. */
export function groupOf(peer) {
  if (peer.type === 'workload' || (peer.type === 'networkset' && peer.namespace)) return peer.namespace;
  return undefined;
}

export function peerName(peer) {
  switch (peer.type) {
    case 'workload':
      return peer.name;
    case 'reserved':
      return peer.entity;
    case 'external':
      return peer.names?.length ? `${peer.cidr}\n${peer.names[0]}` : peer.cidr;
    case 'networkset':
      return peer.name;
    default:
      return peer.key;
  }
}

/**
 * The style class of a peer, after Hubble UI's service map: workloads, the world (outside the
 * cluster), cluster nodes (host, remote-node), the API server, and external addresses or FQDNs.
 */
export function peerClass(peer) {
  if (peer.type === 'workload') return 'workload';
  if (peer.type === 'external') return 'external';
  if (peer.type === 'networkset') return 'networkset';
  if (peer.entity === 'world') return 'world';
  if (peer.entity === 'host' || peer.entity === 'remote-node') return 'cluster-node';
  if (peer.entity === 'kube-apiserver') return 'kube-apiserver';
  return 'reserved';
}

export function portText(e) {
  return e.port ? `${e.port}/${e.protocol}` : e.protocol;
}

function droppedOf(e) {
  return (e.verdicts?.dropped ?? 0) + (e.verdicts?.error ?? 0);
}

/**
 * Edges merged per drawn (source, target): `nodeOf(peerKey)` gives the drawn node (a peer, or its
 * collapsed namespace). Each merged edge keeps its ports, flows, dropped and would-deny counts.
 * `wouldDeny(edge)` is the rollout hook: flows of the edge the candidate policy would deny.
 */
export function mergeEdges(edges, nodeOf = (k) => k, wouldDeny = () => 0) {
  const merged = new Map();
  for (const e of edges) {
    const src = nodeOf(e.src);
    const dst = nodeOf(e.dst);
    if (src === undefined || dst === undefined) continue;
    const id = `${src}\u0000${dst}`;
    let m = merged.get(id);
    if (!m) {
      m = { id, src, dst, ports: new Map(), flows: 0, dropped: 0, wouldDeny: 0, edges: [] };
      merged.set(id, m);
    }
    const dropped = droppedOf(e);
    const wd = wouldDeny(e) ?? 0;
    m.flows += e.flows;
    m.dropped += dropped;
    m.wouldDeny += wd;
    m.edges.push(e);
    const text = portText(e);
    const p = m.ports.get(text) ?? { text, flows: 0, dropped: 0 };
    p.flows += e.flows;
    p.dropped += dropped;
    m.ports.set(text, p);
  }
  return [...merged.values()].map((m) => {
    const ports = [...m.ports.values()].sort((a, b) => b.flows - a.flows || a.text.localeCompare(b.text));
    return { ...m, ports, verdict: verdictOf(m) };
  });
}

/** dropped: every flow was dropped; would-deny: the rollout candidate would deny some; partial: some dropped. */
function verdictOf(m) {
  if (m.dropped > 0 && m.dropped >= m.flows) return 'dropped';
  if (m.wouldDeny > 0) return 'would-deny';
  if (m.dropped > 0) return 'partial';
  return 'allowed';
}

/**
 * The port filter as typed: `53`, `udp`, `53/UDP` or `8080/TCP, 9090`, separated by commas or spaces.
 * Returns a predicate on edges, or undefined when the text names nothing.
 */
export function portFilter(text) {
  const terms = String(text)
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((t) => {
      const m = /^(\d+)?(?:\/?([A-Za-z0-9-]+))?$/.exec(t);
      return m ? { port: m[1] && Number(m[1]), protocol: m[2]?.toUpperCase() } : { never: true };
    });
  if (terms.length === 0) return undefined;
  return (e) =>
    terms.some(
      (t) =>
        !t.never &&
        (t.port === undefined || e.port === t.port) &&
        (t.protocol === undefined || e.protocol.toUpperCase() === t.protocol),
    );
}

/**
 * The graph with only the edges that pass the filters: `verdict` (allowed: some flow allowed; dropped:
 * some flow dropped; would-deny: the rollout would deny some), `ports` (a portFilter predicate) and
 * `changed` (a Set of `src dst protocol port` keys). With any filter, only peers with an edge left stay.
 */
export function filterGraph(graph, { verdict, ports, changed, wouldDeny = () => 0 } = {}) {
  if (!verdict && !ports && !changed) return graph;
  const edges = graph.edges.filter((e) => {
    const dropped = droppedOf(e);
    if (verdict === 'allowed' && e.flows - dropped <= 0) return false;
    if (verdict === 'dropped' && dropped === 0) return false;
    if (verdict === 'would-deny' && !(wouldDeny(e) > 0)) return false;
    if (ports && !ports(e)) return false;
    if (changed && !changed.has(`${e.src} ${e.dst} ${e.protocol} ${e.port}`)) return false;
    return true;
  });
  const ends = new Set(edges.flatMap((e) => [e.src, e.dst]));
  return { ...graph, peers: graph.peers.filter((p) => ends.has(p.key)), edges };
}

export function edgeLabel(ports) {
  if (ports.length <= PORTS_IN_LABEL) return ports.map((p) => p.text).join(', ');
  return `${ports.length} ports`;
}

/**
 * Cytoscape elements for the graph. Namespaces in `collapsed` become one node each; the others are
 * compound parents of their workloads. Returns { elements, collapsible } (namespace → member count).
 */
export function buildElements(graph, { collapsed = new Set(), wouldDeny } = {}) {
  const members = new Map();
  for (const p of graph.peers) {
    const ns = groupOf(p);
    if (ns !== undefined) members.set(ns, (members.get(ns) ?? 0) + 1);
  }
  const elements = [];
  for (const [ns, count] of [...members].sort((a, b) => a[0].localeCompare(b[0]))) {
    const id = `ns:${ns}`;
    if (collapsed.has(ns))
      elements.push({
        group: 'nodes',
        data: { id, label: `${ns}\n${count} workloads`, namespace: ns, members: count },
        classes: 'namespace-collapsed',
      });
    else elements.push({ group: 'nodes', data: { id, label: ns, namespace: ns }, classes: 'namespace' });
  }
  const nodeOf = new Map();
  for (const p of graph.peers) {
    const ns = groupOf(p);
    if (ns !== undefined && collapsed.has(ns)) {
      nodeOf.set(p.key, `ns:${ns}`);
      continue;
    }
    nodeOf.set(p.key, p.key);
    const data = { id: p.key, label: peerName(p), kind: peerClass(p) };
    if (ns !== undefined) data.parent = `ns:${ns}`;
    elements.push({ group: 'nodes', data, classes: data.kind });
  }
  const merged = mergeEdges(graph.edges, (k) => nodeOf.get(k), wouldDeny);
  merged.forEach((m, i) => {
    elements.push({
      group: 'edges',
      data: {
        id: `e${i}`,
        source: m.src,
        target: m.dst,
        label: edgeLabel(m.ports),
        ports: m.ports.map((p) => p.text).join(', '),
        flows: m.flows,
        dropped: m.dropped,
        wouldDeny: m.wouldDeny,
        verdict: m.verdict,
      },
      classes: m.verdict,
    });
  });
  return { elements, merged, members };
}

let measureCtx;
/** Width of the longest line of `text` in the graph's font, for sizing nodes to their names. */
export function textWidth(text) {
  measureCtx ??= document.createElement('canvas').getContext('2d');
  measureCtx.font = FONT;
  return Math.max(
    ...String(text)
      .split('\n')
      .map((l) => measureCtx.measureText(l).width),
  );
}

function colours() {
  const css = getComputedStyle(document.documentElement);
  const v = (name) => css.getPropertyValue(name).trim();
  return {
    fg: v('--fg'),
    muted: v('--muted'),
    bg: v('--bg'),
    node: v('--node-bg'),
    nodeBorder: v('--node-border'),
    group: v('--group'),
    groupBorder: v('--line'),
    edge: v('--ok'),
    dropped: v('--dropped'),
    wouldDeny: v('--would-deny'),
    accent: v('--accent'),
    world: v('--world'),
    clusterNode: v('--cluster-node'),
    apiserver: v('--apiserver'),
    external: v('--external'),
    match: v('--match'),
  };
}

function stylesheet(c) {
  return [
    {
      selector: 'node',
      style: {
        label: 'data(label)',
        'font-family': 'system-ui, sans-serif',
        'font-size': 13,
        color: c.fg,
        'text-valign': 'center',
        'text-halign': 'center',
        'text-wrap': 'wrap',
        'text-max-width': 1000,
        shape: 'round-rectangle',
        'background-color': c.node,
        'border-width': 1.5,
        'border-color': c.nodeBorder,
      },
    },
    { selector: 'node[w]', style: { width: 'data(w)', height: 'data(h)' } },
    {
      selector: ':parent',
      style: {
        shape: 'round-rectangle',
        'background-color': c.group,
        'background-opacity': 1,
        'border-color': c.groupBorder,
        'border-width': 1,
        'text-valign': 'top',
        'text-halign': 'center',
        'text-margin-y': -4,
        'font-weight': 'bold',
        color: c.muted,
        padding: 12,
      },
    },
    {
      selector: 'node.namespace-collapsed',
      style: { 'background-color': c.group, 'border-color': c.groupBorder, 'border-width': 2, 'font-weight': 'bold' },
    },
    { selector: 'node.world', style: { shape: 'ellipse', 'border-color': c.world, 'border-width': 2 } },
    { selector: 'node.cluster-node', style: { shape: 'barrel', 'border-color': c.clusterNode, 'border-width': 2 } },
    { selector: 'node.kube-apiserver', style: { shape: 'hexagon', 'border-color': c.apiserver, 'border-width': 2 } },
    { selector: 'node.external', style: { 'border-style': 'dashed', 'border-color': c.external } },
    { selector: 'node.networkset', style: { 'border-style': 'dotted', 'border-color': c.external } },
    { selector: 'node.reserved', style: { 'border-style': 'dashed', 'border-color': c.muted } },
    { selector: 'node.match', style: { 'border-color': c.match, 'border-width': 3 } },
    { selector: 'node:selected', style: { 'border-color': c.accent, 'border-width': 3 } },
    {
      selector: 'edge',
      style: {
        width: 1.5,
        'line-color': c.edge,
        'target-arrow-color': c.edge,
        'target-arrow-shape': 'triangle',
        'arrow-scale': 1.1,
        'curve-style': 'bezier',
        opacity: 0.8,
        'font-family': 'system-ui, sans-serif',
        'font-size': 11,
        color: c.fg,
        'text-background-color': c.bg,
        'text-background-opacity': 0.9,
        'text-background-padding': 2,
        'text-background-shape': 'round-rectangle',
      },
    },
    { selector: 'edge.labelled', style: { label: 'data(label)' } },
    { selector: 'edge.partial', style: { 'line-style': 'dashed' } },
    {
      selector: 'edge.dropped',
      style: { 'line-color': c.dropped, 'target-arrow-color': c.dropped, 'line-style': 'dashed', color: c.dropped },
    },
    {
      selector: 'edge.would-deny',
      style: { 'line-color': c.wouldDeny, 'target-arrow-color': c.wouldDeny, color: c.wouldDeny, width: 2.5 },
    },
    { selector: 'edge:selected, edge.hl', style: { width: 3, opacity: 1 } },
    { selector: '.faded', style: { opacity: 0.15 } },
  ];
}

function sizeNodes(cy) {
  cy.nodes().forEach((n) => {
    if (n.isParent()) return;
    const lines = String(n.data('label')).split('\n').length;
    n.data({ w: Math.ceil(textWidth(n.data('label')) + 24), h: NODE_H + (lines - 1) * 16 });
  });
}

const ELK_OPTIONS = {
  algorithm: 'layered',
  'elk.direction': 'DOWN',
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.spacing.nodeNode': 22,
  'elk.layered.spacing.nodeNodeBetweenLayers': 90,
  'elk.spacing.componentComponent': 60,
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.layered.crossingMinimization.strategy': 'LAYER_SWEEP',
};

/**
 * The overview of a large graph (every namespace collapsed): namespaces on concentric rings, the most
 * connected in the middle, each ring holding as many as its circumference has room for (1, 6, 12, 18...),
 * so the picture fills the pane instead of one wide circle of tiny labels. Ties keep the API's order, so
 * the same graph is drawn the same way.
 */
function overviewLayout(cy) {
  const nodes = cy
    .nodes()
    .toArray()
    .map((n, i) => ({ n, i, degree: n.degree(false) }))
    .sort((a, b) => b.degree - a.degree || a.i - b.i);
  const ring = new Map();
  let r = 0;
  let room = 1;
  for (const { n } of nodes) {
    if (room === 0) room = 6 * ++r;
    ring.set(n.id(), r);
    room--;
  }
  return cy.layout({
    name: 'concentric',
    fit: true,
    padding: 60, // room for the legend along the bottom edge
    animate: false,
    avoidOverlap: true,
    nodeDimensionsIncludeLabels: true,
    minNodeSpacing: 30,
    concentric: (n) => -ring.get(n.id()),
    levelWidth: () => 1,
  });
}

let elkLoading;
/**
 * Loads ELK and its Cytoscape adapter (vendor/, from the package) once, the first time a graph with
 * namespaces expanded is laid out. The page's scripts come only from its own origin (the CSP's script-src).
 */
export function loadElk() {
  elkLoading ??= ['vendor/elk.bundled.js', 'vendor/cytoscape-elk.js'].reduce(
    (before, src) =>
      before.then(
        () =>
          new Promise((resolve, reject) => {
            const script = document.createElement('script');
            script.src = src;
            script.onload = resolve;
            script.onerror = () => reject(new Error(`could not load ${src}`));
            document.head.append(script);
          }),
      ),
    Promise.resolve(),
  );
  return elkLoading;
}

/** Boxes overlap (with a small margin, so touching labels do not read as one). */
function overlaps(a, b, m = 1) {
  return a.x1 < b.x2 + m && b.x1 < a.x2 + m && a.y1 < b.y2 + m && b.y1 < a.y2 + m;
}

/** A uniform grid over boxes, so that checking 5,000 labels does not compare every pair. */
function boxIndex(cell = 120) {
  const cells = new Map();
  const keys = (b) => {
    const out = [];
    for (let x = Math.floor(b.x1 / cell); x <= Math.floor(b.x2 / cell); x++)
      for (let y = Math.floor(b.y1 / cell); y <= Math.floor(b.y2 / cell); y++) out.push(`${x},${y}`);
    return out;
  };
  return {
    add(b) {
      for (const k of keys(b)) {
        if (!cells.has(k)) cells.set(k, []);
        cells.get(k).push(b);
      }
    },
    hits(b) {
      for (const k of keys(b)) for (const o of cells.get(k) ?? []) if (overlaps(b, o)) return true;
      return false;
    },
  };
}

/** The box of an element's own label (model coordinates), or undefined when it has none. */
export function labelBox(ele) {
  const bb = ele.boundingBox({
    includeNodes: false,
    includeEdges: false,
    includeLabels: true,
    includeMainLabels: true,
    includeSourceLabels: false,
    includeTargetLabels: false,
    includeOverlays: false,
    includeUnderlays: false,
  });
  return bb.w > 0 && bb.h > 0 ? bb : undefined;
}

/**
 * Shows the port label of every visible edge that fits: edges in `first` (the selection) and then the
 * busiest ones get their label, any label that would overlap a node, a namespace title or a label
 * already shown stays hidden (its ports show on hover). Returns how many were hidden.
 */
export function placeLabels(cy, first = cy.collection()) {
  const edges = cy.edges(':visible');
  cy.batch(() => edges.addClass('labelled'));
  const index = boxIndex();
  cy.nodes(':visible').forEach((n) => {
    if (n.isParent()) {
      const title = labelBox(n);
      if (title) index.add(title);
    } else index.add(n.boundingBox({ includeLabels: true, includeOverlays: false }));
  });
  const order = edges.toArray().sort((a, b) => {
    const fa = first.has(a) ? 1 : 0;
    const fb = first.has(b) ? 1 : 0;
    return fb - fa || b.data('flows') - a.data('flows');
  });
  const hide = [];
  for (const e of order) {
    const box = labelBox(e);
    if (!box) continue;
    if (index.hits(box)) hide.push(e);
    else index.add(box);
  }
  cy.batch(() => {
    for (const e of hide) e.removeClass('labelled');
  });
  return hide.length;
}

/**
 * Draws the graph into `container`. Options: onWorkload(key) when a workload is clicked, onEdge(info)
 * when an edge is clicked, onStatus(text) for what the graph shows, wouldDeny(edge) (rollout hook).
 * Returns the view: has, select, highlight, focus, showAll, fit, expand, cy.
 */
export function drawGraph(container, graph, opts = {}) {
  const { cytoscape } = window;
  const workloads = graph.peers.filter((p) => p.type === 'workload').length;
  const collapsed = new Set();
  if (workloads > COLLAPSE_AT) for (const p of graph.peers) if (groupOf(p) !== undefined) collapsed.add(groupOf(p));
  const cy = cytoscape({
    container,
    style: stylesheet(colours()),
    minZoom: 0.05,
    maxZoom: 4,
    boxSelectionEnabled: false,
    autoungrabify: true,
  });
  let built;
  let selected;
  let focused;
  let hiddenLabels = 0;
  const tip = document.createElement('div');
  tip.className = 'graph-tip';
  tip.hidden = true;
  container.append(tip);

  const report = () =>
    opts.onStatus?.({ hiddenLabels, collapsed: collapsed.size, namespaces: built.members.size, focused });

  const relabel = () => {
    const first = selected ? cy.getElementById(selected).connectedEdges() : cy.collection();
    hiddenLabels = placeLabels(cy, first);
    report();
  };

  const render = () =>
    new Promise((resolve) => {
      built = buildElements(graph, { collapsed, wouldDeny: opts.wouldDeny });
      cy.elements().remove();
      cy.add(built.elements);
      sizeNodes(cy);
      const done = () => {
        if (selected && cy.getElementById(selected).nonempty()) cy.getElementById(selected).select();
        if (focused && cy.getElementById(focused).nonempty()) applyFocus(focused);
        relabel();
        resolve();
      };
      if (collapsed.size > 0 && collapsed.size === built.members.size) {
        // Every namespace is one node: no compounds to nest, so a ring laid out in one pass does, and the
        // page need not load ELK (its start-up is most of a first render) until a namespace is expanded.
        const layout = overviewLayout(cy);
        layout.one('layoutstop', done);
        layout.run();
        return;
      }
      loadElk().then(() => {
        const layout = cy.layout({
          name: 'elk',
          fit: true,
          padding: 30,
          animate: false,
          nodeDimensionsIncludeLabels: false,
          elk: ELK_OPTIONS,
          nodeLayoutOptions: (n) => (n.isParent() ? { 'elk.padding': '[top=34,left=14,bottom=14,right=14]' } : {}),
        });
        layout.one('layoutstop', done);
        layout.run();
      });
    });

  const applyFocus = (key) => {
    const node = cy.getElementById(key);
    if (node.empty()) return false;
    focused = key;
    const keep = node.closedNeighborhood();
    const withParents = keep.union(keep.parents());
    cy.batch(() => {
      cy.elements().style('display', 'element');
      cy.elements().not(withParents).style('display', 'none');
    });
    cy.fit(withParents, 60);
    return true;
  };

  cy.on('tap', 'node', (ev) => {
    const n = ev.target;
    if (n.hasClass('namespace-collapsed')) {
      collapsed.delete(n.data('namespace'));
      render();
    } else if (n.hasClass('workload')) opts.onWorkload?.(n.id());
  });
  cy.on('tap', 'edge', (ev) => {
    const e = ev.target;
    const m = built.merged[Number(e.id().slice(1))];
    opts.onEdge?.(m);
  });
  cy.on('mouseover', 'edge', (ev) => {
    const e = ev.target;
    tip.textContent = `${e.source().data('label').split('\n')[0]} → ${e.target().data('label').split('\n')[0]}: ${e.data('ports')}${e.data('dropped') ? ` · ${e.data('dropped')} dropped` : ''}${e.data('wouldDeny') ? ` · ${e.data('wouldDeny')} would be denied` : ''}`;
    const p = ev.renderedPosition;
    tip.style.left = `${p.x + 12}px`;
    tip.style.top = `${p.y + 12}px`;
    tip.hidden = false;
  });
  cy.on('mouseout', 'edge', () => {
    tip.hidden = true;
  });
  cy.on('mouseover', 'node', (ev) => {
    const n = ev.target;
    if (n.isParent()) return;
    tip.textContent = n.hasClass('namespace-collapsed') ? `${n.data('namespace')}: click to expand` : n.id();
    const p = ev.renderedPosition;
    tip.style.left = `${p.x + 12}px`;
    tip.style.top = `${p.y + 12}px`;
    tip.hidden = false;
  });
  cy.on('mouseout', 'node', () => {
    tip.hidden = true;
  });

  const ready = render();
  return {
    cy,
    ready,
    has: (key) => graph.peers.some((p) => p.key === key),
    /** Marks a workload as selected (expanding its namespace when collapsed); its edges' labels come first. */
    async select(key, { center = false } = {}) {
      selected = key;
      await ready;
      const peer = graph.peers.find((p) => p.key === key);
      const ns = peer && groupOf(peer);
      if (ns !== undefined && collapsed.has(ns)) {
        collapsed.delete(ns);
        await render();
      }
      cy.elements().unselect();
      cy.edges().removeClass('hl');
      const node = cy.getElementById(key);
      node.select();
      node.connectedEdges().addClass('hl');
      if (center && node.nonempty()) {
        // Only when it is out of sight: moving the picture under the reader's pointer is disorienting.
        const b = node.boundingBox();
        const x = cy.extent();
        if (b.x1 < x.x1 || b.x2 > x.x2 || b.y1 < x.y1 || b.y2 > x.y2) cy.center(node);
      }
      relabel();
    },
    highlight(keys) {
      cy.batch(() => {
        for (const n of cy.nodes()) n.toggleClass('match', keys.has(n.id()));
      });
    },
    /** Shows only the workload and its neighbours, fitted to the view. */
    async focus(key) {
      await this.select(key);
      if (applyFocus(key)) relabel();
    },
    showAll() {
      focused = undefined;
      cy.elements().style('display', 'element');
      cy.fit(undefined, 30);
      relabel();
    },
    fit() {
      cy.fit(cy.elements(':visible'), 30);
    },
    async expandAll() {
      collapsed.clear();
      await render();
    },
    destroy() {
      cy.destroy();
      tip.remove();
    },
  };
}
