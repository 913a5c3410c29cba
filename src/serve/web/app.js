// The review page: loads the graph for the chosen window and namespace, lets the reader find a
// workload, shows its ingress and egress evidence, the proposal for it (each file downloadable) and
// the diff against the existing policies. Every name and label is inserted as text, never as HTML.
import { drawGraph, peerName } from './graph.js';

const $ = (id) => document.getElementById(id);
const state = {
  graph: undefined,
  view: undefined,
  workload: undefined,
  kinds: [],
  kind: 'networkpolicy',
  token: sessionStorage.getItem('flowwright-token') ?? undefined,
};

/** Builds an element: h('td', {class: 'num'}, 'text', child...). Strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return node;
}

function setStatus(text, error = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
}

function query() {
  const q = new URLSearchParams();
  const w = $('window').value;
  if (w) q.set('since', w);
  const ns = $('namespace').value;
  if (ns) q.set('namespace', ns);
  return q;
}

async function api(path, params = new URLSearchParams()) {
  const headers = state.token ? { Authorization: `Bearer ${state.token}` } : {};
  const qs = params.toString();
  const res = await fetch(`api/v1/${path}${qs ? `?${qs}` : ''}`, { headers });
  if (res.status === 401) {
    await askToken();
    return api(path, params);
  }
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) throw new Error(body.error ?? `${res.status}`);
  return body;
}

function askToken() {
  return new Promise((resolve) => {
    const dialog = $('login');
    dialog.addEventListener(
      'close',
      () => {
        state.token = $('token').value.trim();
        sessionStorage.setItem('flowwright-token', state.token);
        resolve();
      },
      { once: true },
    );
    dialog.showModal();
  });
}

function fmt(n) {
  return Number(n).toLocaleString('en-US');
}

async function loadGraph() {
  setStatus('loading…');
  const q = new URLSearchParams();
  const w = $('window').value;
  if (w) q.set('since', w);
  const [graph, proposals, health] = await Promise.all([api('graph', query()), api('proposals'), api('health')]);
  state.graph = graph;
  state.kinds = proposals.kinds;
  if (!state.kinds.includes(state.kind)) state.kind = state.kinds[0];
  // Namespaces for the selector come from the whole window, not only the filtered part.
  const all = $('namespace').value ? await api('workloads', q) : undefined;
  fillNamespaces(
    all
      ? all.workloads.map((w) => w.namespace)
      : graph.peers.filter((p) => p.type === 'workload').map((p) => p.namespace),
  );
  state.view?.destroy();
  state.view = drawGraph($('graph'), graph, {
    onWorkload: (key) => selectWorkload(key),
    onStatus: graphNote,
  });
  await state.view.ready;
  const workloads = graph.peers.filter((p) => p.type === 'workload').length;
  const sources = health.sources.map((src) => `${src.name}: ${src.state}`).join(', ');
  setStatus(`${fmt(workloads)} workloads, ${fmt(graph.edges.length)} edges${sources ? ` · ${sources}` : ''}`);
  if (state.workload && state.view.has(state.workload)) selectWorkload(state.workload);
}

/** The legend's note: what the graph leaves out and how to see it. */
function graphNote(s) {
  const parts = [];
  if (s.collapsed) parts.push(`${s.collapsed} of ${s.namespaces} namespaces collapsed: click one to expand it`);
  if (s.hiddenLabels) parts.push(`${s.hiddenLabels} port labels hidden where they would overlap: hover an edge`);
  if (s.focused) parts.push(`showing ${s.focused} and its neighbours`);
  $('graph-note').textContent = parts.length
    ? parts.join(' · ')
    : 'drag to pan, wheel to zoom, click a workload or an edge';
  $('expand-all').hidden = s.collapsed === 0;
  $('show-all').hidden = !s.focused;
}

function fillNamespaces(list) {
  const select = $('namespace');
  const current = select.value;
  const names = [...new Set(list)].sort();
  select.replaceChildren(h('option', { value: '' }, 'all'), ...names.map((n) => h('option', { value: n }, n)));
  select.value = names.includes(current) ? current : '';
}

// --- search --------------------------------------------------------------------------------------

function searchMatches(text) {
  const t = text.trim().toLowerCase();
  if (!t || !state.graph) return [];
  return state.graph.peers
    .filter((p) => p.type === 'workload' && p.key.toLowerCase().includes(t))
    .sort((a, b) => a.name.length - b.name.length || a.key.localeCompare(b.key));
}

function onSearch() {
  const matches = searchMatches($('search').value);
  state.view?.highlight(new Set(matches.map((m) => m.key)));
  const list = $('matches');
  list.replaceChildren(
    ...matches.slice(0, 20).map((m, i) =>
      h(
        'li',
        {
          role: 'option',
          'aria-selected': i === 0 ? 'true' : 'false',
          'data-key': m.key,
          onmousedown: () => pick(m.key),
        },
        `${m.namespace}/${m.name}`,
        h('span', { class: 'detail' }, ` ${m.kind}`),
      ),
    ),
  );
  list.hidden = matches.length === 0;
}

function pick(key) {
  $('matches').hidden = true;
  state.view?.highlight(new Set());
  selectWorkload(key);
}

// --- panels --------------------------------------------------------------------------------------

function namespaceOf(key) {
  return state.graph?.peers.find((p) => p.key === key)?.namespace ?? key.split('/')[0].split(':').pop();
}

function showTab(name) {
  for (const t of ['workload', 'proposal', 'diff']) {
    $(`tab-${t}`).setAttribute('aria-selected', String(t === name));
    $(`view-${t}`).hidden = t !== name;
  }
  if (name === 'proposal') renderProposal();
  if (name === 'diff') renderDiff();
}

async function selectWorkload(key) {
  state.workload = key;
  state.view?.select(key, { center: true });
  $('focus').disabled = false;
  const panel = $('view-workload');
  panel.replaceChildren(h('p', { class: 'empty' }, 'loading…'));
  showTab('workload');
  try {
    const q = new URLSearchParams();
    if ($('window').value) q.set('since', $('window').value);
    const w = await api(`workloads/${key.split('/').map(encodeURIComponent).join('/')}`, q);
    panel.replaceChildren(...workloadView(w));
  } catch (err) {
    panel.replaceChildren(h('p', { class: 'empty' }, `Cannot load ${key}: ${err.message}`));
  }
}

function workloadView(w) {
  const wl = w.workload;
  const selector = wl.selector
    ? Object.entries(wl.selector)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')
    : `none (${wl.selectorReason ?? 'no stable labels'})`;
  return [
    h('h2', { id: 'workload-title' }, `${wl.namespace}/${wl.name}`),
    h(
      'p',
      { class: 'detail' },
      `${wl.kind} · ${w.pods.length} pods · selector ${selector}`,
      wl.serviceAccounts.length ? ` · service accounts ${wl.serviceAccounts.join(', ')}` : '',
    ),
    h(
      'p',
      {},
      h('button', { id: 'open-proposal', onclick: () => showTab('proposal') }, 'Proposal'),
      ' ',
      h('button', { id: 'open-diff', onclick: () => showTab('diff') }, 'Diff'),
    ),
    h('h3', {}, `Ingress (${w.ingress.length})`),
    edgeTable(w.ingress, 'from'),
    h('h3', {}, `Egress (${w.egress.length})`),
    edgeTable(w.egress, 'to'),
  ];
}

function edgeTable(edges, dir) {
  if (edges.length === 0) return h('p', { class: 'empty' }, 'none observed');
  return h(
    'table',
    { class: `edges ${dir}` },
    h(
      'tr',
      {},
      h('th', {}, dir),
      h('th', {}, 'port'),
      h('th', {}, 'flows'),
      h('th', {}, 'dropped'),
      h('th', {}, 'last seen'),
    ),
    edges.map((e) => {
      const details = [
        ...e.http.map((x) => `${x.method} ${x.path} ×${fmt(x.count)}`),
        ...e.dnsNames.map((n) => `dns ${n}`),
        ...e.dropReasons.map((r) => `drop: ${r}`),
        ...e.services.map((s) => `via ${s}`),
        ...e.policies.map((p) => `policy ${p}`),
      ];
      return h(
        'tr',
        { class: e.allowedFlows === 0 && e.droppedFlows > 0 ? 'dropped' : undefined },
        h(
          'td',
          {},
          e.peerLabel,
          e.peerNames.length ? h('div', { class: 'detail' }, e.peerNames.slice(0, 3).join(', ')) : undefined,
          details.length ? h('div', { class: 'detail' }, details.slice(0, 6).join(' · ')) : undefined,
        ),
        h('td', {}, e.port ? `${e.port}/${e.protocol}` : e.protocol),
        h('td', { class: 'num' }, fmt(e.allowedFlows)),
        h('td', { class: 'num' }, e.droppedFlows ? fmt(e.droppedFlows) : ''),
        h('td', {}, e.lastSeen),
      );
    }),
  );
}

function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/yaml' }));
  const a = h('a', { href: url, download: name.replace(/\//g, '_') });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function fileBlock(path, text, extra) {
  return h(
    'div',
    { class: 'file', 'data-path': path },
    h(
      'div',
      { class: 'file-head' },
      h('code', {}, path),
      extra,
      h('button', { class: 'download', onclick: () => download(path, text) }, 'Download YAML'),
    ),
    h('pre', {}, text),
  );
}

function chooseKind(kind) {
  state.kind = kind;
  renderProposal();
}

async function renderProposal() {
  const panel = $('view-proposal');
  if (!state.workload) {
    panel.replaceChildren(h('p', { class: 'empty' }, 'Select a workload first.'));
    return;
  }
  panel.replaceChildren(h('p', { class: 'empty' }, 'loading…'));
  const ns = namespaceOf(state.workload);
  const kindSelect = h(
    'select',
    { id: 'kind', 'aria-label': 'policy kind', onchange: (e) => chooseKind(e.target.value) },
    state.kinds.map((k) => h('option', { value: k, selected: k === state.kind }, k)),
  );
  try {
    const q = new URLSearchParams();
    if ($('window').value) q.set('since', $('window').value);
    const p = await api(`proposals/${state.kind}`, q);
    // The workload's own files first, then what applies to its whole namespace (default deny).
    const own = p.files.filter((f) => f.workload === state.workload);
    // Cluster-wide files (tenant baselines) have no namespace.
    const shared = p.files.filter((f) => f.workload === null && (f.namespace === ns || f.namespace === ''));
    const s = p.summary;
    panel.replaceChildren(
      h('h2', {}, `Proposal for ${state.workload}`),
      h('p', {}, 'Kind ', kindSelect, ` · ${s.policies} policies, ${s.rules} rules in the whole proposal`),
      own.length ? '' : h('p', { class: 'empty' }, 'No policy of its own (see the summary for why).'),
      ...own.map((f) => fileBlock(f.path, f.yaml)),
      ...shared.map((f) =>
        fileBlock(f.path, f.yaml, h('span', { class: 'badge' }, f.namespace ? 'namespace-wide' : 'cluster-wide')),
      ),
      summaryList(s),
    );
  } catch (err) {
    panel.replaceChildren(h('p', {}, 'Kind ', kindSelect), h('p', { class: 'empty' }, `No proposal: ${err.message}`));
  }
}

function summaryList(s) {
  const items = [
    ...s.observedButDenied.map(
      (d) => `observed but denied: ${d.src} → ${d.dst} ${d.port}/${d.protocol} (${fmt(d.flows)} dropped)`,
    ),
    ...s.unsupported.map((u) => `not expressible: ${u.src} → ${u.dst} ${u.port}/${u.protocol}: ${u.why}`),
    ...s.needsLabels.map((n) => `needs labels: ${n.workload}: ${n.why}`),
    ...s.notes,
  ];
  if (items.length === 0) return '';
  return h(
    'details',
    {},
    h('summary', {}, `Summary notes (${items.length})`),
    h(
      'ul',
      {},
      items.slice(0, 200).map((t) => h('li', {}, t)),
    ),
  );
}

/** A line diff (longest common subsequence), enough for policy files of a few hundred lines. */
export function lineDiff(before, after) {
  const a = before ? before.split('\n') : [];
  const b = after ? after.split('\n') : [];
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push([' ', a[i++]]);
      j++;
    } else if (j < m && (i >= n || lcs[i][j + 1] >= lcs[i + 1][j])) out.push(['+', b[j++]]);
    else out.push(['-', a[i++]]);
  }
  return out;
}

async function renderDiff() {
  const panel = $('view-diff');
  if (!state.workload) {
    panel.replaceChildren(h('p', { class: 'empty' }, 'Select a workload first.'));
    return;
  }
  panel.replaceChildren(h('p', { class: 'empty' }, 'loading…'));
  const modeSelect = h(
    'select',
    { id: 'mode', 'aria-label': 'diff mode' },
    ['additive', 'tighten', 'replace'].map((m) => h('option', { value: m, selected: m === state.mode }, m)),
  );
  state.mode = state.mode ?? 'additive';
  modeSelect.value = state.mode;
  modeSelect.onchange = (e) => {
    state.mode = e.target.value;
    renderDiff();
  };
  try {
    const q = new URLSearchParams({ mode: state.mode });
    if ($('window').value) q.set('since', $('window').value);
    const d = await api('diff', q);
    const mine = (c) => c.src === state.workload || c.dst === state.workload;
    const ns = namespaceOf(state.workload);
    // Proposal paths are <namespace>/<file>, under the cluster's name when flows named one.
    const files = d.files.filter((f) => f.path.split('/').slice(0, -1).includes(ns));
    const changes = [
      ...d.newlyAllowed.filter(mine).map((c) => ['newly allowed', c]),
      ...d.newlyDenied.filter(mine).map((c) => ['newly denied', c]),
    ];
    panel.replaceChildren(
      h('h2', {}, `Diff for ${state.workload}`),
      h('p', {}, 'Mode ', modeSelect, ` · ${d.existing.networkPolicies} existing NetworkPolicies`),
      h('h3', {}, `Connection changes (${changes.length})`),
      changes.length
        ? h(
            'table',
            { class: 'changes' },
            changes.map(([what, c]) =>
              h(
                'tr',
                { class: what === 'newly denied' ? 'dropped' : undefined },
                h('td', {}, what),
                h('td', {}, `${c.srcName} → ${c.dstName}`),
                h('td', {}, c.port ? `${c.port}/${c.protocol}` : c.protocol),
                h('td', {}, c.observed ? `observed, ${fmt(c.observed.allowedFlows)} flows` : 'never observed'),
              ),
            ),
          )
        : h('p', { class: 'empty' }, 'none for this workload'),
      h('h3', {}, `Files in ${ns} (${files.length})`),
      ...files.map((f) => {
        const lines = lineDiff(f.before, f.after);
        const pre = h(
          'pre',
          { class: 'diff' },
          lines.map(([op, text]) =>
            h('span', { class: op === '+' ? 'add' : op === '-' ? 'del' : 'ctx' }, `${op} ${text}`),
          ),
        );
        const block = h(
          'div',
          { class: 'file', 'data-path': f.path },
          h(
            'div',
            { class: 'file-head' },
            h('code', {}, f.path),
            h('span', { class: f.status === 'deleted' ? 'badge warn' : 'badge' }, f.status),
            f.after !== null
              ? h('button', { class: 'download', onclick: () => download(f.path, f.after) }, 'Download YAML')
              : '',
          ),
          pre,
        );
        return block;
      }),
      d.notes.length
        ? h(
            'ul',
            {},
            d.notes.map((n) => h('li', {}, n)),
          )
        : '',
    );
  } catch (err) {
    panel.replaceChildren(h('p', {}, 'Mode ', modeSelect), h('p', { class: 'empty' }, `No diff: ${err.message}`));
  }
}

// --- wiring --------------------------------------------------------------------------------------

function init() {
  $('window').value = new URLSearchParams(location.search).get('since') ?? '';
  $('window').addEventListener('change', () => loadGraph().catch((e) => setStatus(e.message, true)));
  $('namespace').addEventListener('change', () => loadGraph().catch((e) => setStatus(e.message, true)));
  $('search').addEventListener('input', onSearch);
  $('search').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      const first = searchMatches($('search').value)[0];
      if (first) pick(first.key);
    }
    if (ev.key === 'Escape') $('matches').hidden = true;
  });
  $('search').addEventListener('blur', () => setTimeout(() => ($('matches').hidden = true), 150));
  for (const t of ['workload', 'proposal', 'diff']) $(`tab-${t}`).addEventListener('click', () => showTab(t));
  $('fit').addEventListener('click', () => state.view?.fit());
  $('focus').addEventListener('click', () => state.workload && state.view?.focus(state.workload));
  $('show-all').addEventListener('click', () => state.view?.showAll());
  $('expand-all').addEventListener('click', () => state.view?.expandAll());
  loadGraph().catch((e) => setStatus(e.message, true));
}

init();
// For the browser test and the console: names as the graph shows them.
// The view holds the Cytoscape instance (`flowwright.view().cy`), which the browser tests measure.
window.flowwright = { peerName, view: () => state.view };
