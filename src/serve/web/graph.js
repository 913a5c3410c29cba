// The dependency graph as SVG, without a library: namespaces are boxes laid out in rows, their
// workloads on a grid inside; peers outside any namespace (external addresses, the host, the API
// server) share one box. Edges between the same two peers are drawn once, labelled with every port.
// All text goes through textContent, so no name or label can become markup.

const SVG = 'http://www.w3.org/2000/svg';
const CELL_W = 150;
const CELL_H = 44;
const PAD = 24;
const TITLE_H = 22;
const GAP = 30;
const OUTSIDE = '(outside the namespaces)';
/** Above this many drawn edges, port labels show only for the selected workload. */
const LABEL_LIMIT = 300;

function el(name, attrs = {}, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

export function groupOf(peer) {
  if (peer.type === 'workload' || (peer.type === 'networkset' && peer.namespace)) return peer.namespace;
  return OUTSIDE;
}

export function peerName(peer) {
  switch (peer.type) {
    case 'workload':
      return peer.name;
    case 'reserved':
      return peer.entity;
    case 'external':
      return peer.names?.length ? `${peer.cidr} (${peer.names[0]})` : peer.cidr;
    case 'networkset':
      return peer.name;
    default:
      return peer.key;
  }
}

function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Positions for every peer: { nodes: Map(key → {x, y, peer}), groups: [{name, x, y, w, h}] , width, height }. */
export function layout(peers) {
  const byGroup = new Map();
  for (const p of peers) {
    const g = groupOf(p);
    if (!byGroup.has(g)) byGroup.set(g, []);
    byGroup.get(g).push(p);
  }
  const names = [...byGroup.keys()].sort((a, b) => (a === OUTSIDE) - (b === OUTSIDE) || a.localeCompare(b));
  const boxes = names.map((name) => {
    const members = byGroup.get(name).sort((a, b) => peerName(a).localeCompare(peerName(b)));
    const cols = Math.max(1, Math.ceil(Math.sqrt(members.length * 1.5)));
    const rows = Math.ceil(members.length / cols);
    return { name, members, cols, w: cols * CELL_W + PAD, h: rows * CELL_H + TITLE_H + PAD / 2 };
  });
  // Shelf packing: fill rows up to a width that keeps the whole picture roughly 16:10.
  const area = boxes.reduce((s, b) => s + (b.w + GAP) * (b.h + GAP), 0);
  const maxW = Math.max(Math.sqrt(area * 1.6), ...boxes.map((b) => b.w));
  const nodes = new Map();
  const groups = [];
  let x = 0;
  let y = 0;
  let rowH = 0;
  let width = 0;
  for (const b of boxes) {
    if (x > 0 && x + b.w > maxW) {
      x = 0;
      y += rowH + GAP;
      rowH = 0;
    }
    groups.push({ name: b.name, x, y, w: b.w, h: b.h });
    b.members.forEach((p, i) => {
      const cx = x + PAD / 2 + (i % b.cols) * CELL_W + 10;
      const cy = y + TITLE_H + Math.floor(i / b.cols) * CELL_H + CELL_H / 2;
      nodes.set(p.key, { x: cx, y: cy, peer: p });
    });
    x += b.w + GAP;
    rowH = Math.max(rowH, b.h);
    width = Math.max(width, x);
  }
  return { nodes, groups, width: Math.max(width, 200), height: Math.max(y + rowH, 100) };
}

/** Edges merged per (src, dst): ports, flows, and whether any or all flows were dropped. */
export function mergeEdges(edges) {
  const merged = new Map();
  for (const e of edges) {
    const id = `${e.src}\u0000${e.dst}`;
    let m = merged.get(id);
    if (!m) {
      m = { src: e.src, dst: e.dst, ports: [], allowed: 0, dropped: 0 };
      merged.set(id, m);
    }
    const dropped = (e.verdicts.dropped ?? 0) + (e.verdicts.error ?? 0);
    m.dropped += dropped;
    m.allowed += Math.max(0, e.flows - dropped);
    m.ports.push({ text: e.port ? `${e.port}/${e.protocol}` : e.protocol, dropped: dropped > 0 && dropped >= e.flows });
  }
  return [...merged.values()];
}

/**
 * Draws the graph into `svg`. Returns { select(key), highlight(keys), focus(key) }. `onSelect(key)` is
 * called when a workload is clicked.
 */
export function drawGraph(svg, graph, onSelect) {
  svg.replaceChildren();
  const { nodes, groups, width, height } = layout(graph.peers);
  const view = { x: -GAP, y: -GAP, w: width + 2 * GAP, h: height + 2 * GAP };
  const setView = () => svg.setAttribute('viewBox', `${view.x} ${view.y} ${view.w} ${view.h}`);
  setView();
  const root = el('g', {}, svg);
  const groupLayer = el('g', {}, root);
  const edgeLayer = el('g', {}, root);
  const labelLayer = el('g', {}, root);
  const nodeLayer = el('g', {}, root);

  for (const g of groups) {
    const box = el('g', { class: 'ns' }, groupLayer);
    el('rect', { x: g.x, y: g.y, width: g.w, height: g.h }, box);
    const title = el('text', { class: 'ns-title', x: g.x + 8, y: g.y + 15 }, box);
    title.textContent = g.name;
  }

  const merged = mergeEdges(graph.edges);
  svg.classList.toggle('dense', merged.length > LABEL_LIMIT);
  const edgesOf = new Map();
  const drawn = [];
  for (const m of merged) {
    const a = nodes.get(m.src);
    const b = nodes.get(m.dst);
    if (!a || !b) continue;
    const onlyDropped = m.allowed === 0 && m.dropped > 0;
    const cls = m.dropped > 0 ? 'edge dropped' : 'edge';
    // A gentle curve, so that A→B and B→A do not overlap.
    const mx = (a.x + b.x) / 2 + (b.y - a.y) * 0.12;
    const my = (a.y + b.y) / 2 - (b.x - a.x) * 0.12;
    const d = a === b ? `M${a.x},${a.y} c 30,-40 60,0 0,8` : `M${a.x},${a.y} Q${mx},${my} ${b.x},${b.y}`;
    const path = el('path', { class: cls, d }, edgeLayer);
    path.dataset.src = m.src;
    path.dataset.dst = m.dst;
    const tip = el('title', {}, path);
    tip.textContent = `${m.src} → ${m.dst}: ${m.ports.map((p) => p.text).join(', ')}${m.dropped ? ` (${m.dropped} dropped)` : ''}`;
    const label = el('text', { class: onlyDropped ? 'port dropped' : 'port', x: mx, y: my }, labelLayer);
    label.textContent = truncate(m.ports.map((p) => p.text).join(', '), 40);
    const item = { path, label };
    drawn.push(item);
    for (const k of [m.src, m.dst]) {
      if (!edgesOf.has(k)) edgesOf.set(k, []);
      edgesOf.get(k).push(item);
    }
  }

  const nodeEls = new Map();
  for (const [key, n] of nodes) {
    const external = n.peer.type !== 'workload';
    const g = el('g', { class: external ? 'node external' : 'node', transform: `translate(${n.x},${n.y})` }, nodeLayer);
    g.dataset.key = key;
    el('circle', { r: 6 }, g);
    const text = el('text', { x: 10, y: 4 }, g);
    text.textContent = truncate(peerName(n.peer), 20);
    const tip = el('title', {}, g);
    tip.textContent = key;
    if (n.peer.type === 'workload') g.addEventListener('click', () => onSelect(key));
    nodeEls.set(key, g);
  }

  // Pan by dragging, zoom with the wheel around the pointer.
  let drag;
  svg.onpointerdown = (ev) => {
    if (ev.target.closest?.('.node')) return;
    drag = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y };
    svg.classList.add('panning');
    svg.setPointerCapture(ev.pointerId);
  };
  svg.onpointermove = (ev) => {
    if (!drag) return;
    const scale = view.w / svg.clientWidth;
    view.x = drag.vx - (ev.clientX - drag.x) * scale;
    view.y = drag.vy - (ev.clientY - drag.y) * scale;
    setView();
  };
  svg.onpointerup = () => {
    drag = undefined;
    svg.classList.remove('panning');
  };
  svg.onwheel = (ev) => {
    ev.preventDefault();
    const factor = ev.deltaY > 0 ? 1.15 : 1 / 1.15;
    const rect = svg.getBoundingClientRect();
    const px = view.x + ((ev.clientX - rect.left) / rect.width) * view.w;
    const py = view.y + ((ev.clientY - rect.top) / rect.height) * view.h;
    view.x = px - (px - view.x) * factor;
    view.y = py - (py - view.y) * factor;
    view.w *= factor;
    view.h *= factor;
    setView();
  };

  let selected;
  return {
    has: (key) => nodes.has(key),
    select(key) {
      if (selected) {
        nodeEls.get(selected)?.classList.remove('selected');
        for (const item of edgesOf.get(selected) ?? []) {
          item.path.classList.remove('hl');
          item.label.classList.remove('hl');
        }
      }
      selected = key;
      svg.classList.toggle('focus', key !== undefined);
      if (key === undefined) return;
      nodeEls.get(key)?.classList.add('selected');
      for (const item of edgesOf.get(key) ?? []) {
        item.path.classList.add('hl');
        item.label.classList.add('hl');
      }
    },
    highlight(keys) {
      for (const [key, g] of nodeEls) g.classList.toggle('match', keys.has(key));
    },
    /** Centers the view on a peer, zooming in when the whole graph is shown. */
    focus(key) {
      const n = nodes.get(key);
      if (!n) return;
      const w = Math.min(view.w, 1200);
      const h = (view.h / view.w) * w;
      view.x = n.x - w / 2;
      view.y = n.y - h / 2;
      view.w = w;
      view.h = h;
      setView();
    },
  };
}
