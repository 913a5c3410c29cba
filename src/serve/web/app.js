// The review page: loads the graph for the chosen window and namespace, lets the reader find a
// workload, shows its ingress and egress evidence, the proposal for it (each file downloadable) and
// the diff against the existing policies. Every name and label is inserted as text, never as HTML.
import { drawGraph, filterGraph, peerName, portFilter } from './graph.js';

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
  state.health = health;
  const wouldDeny = health.rollout ? await rolloutWouldDeny() : undefined;
  state.wouldDeny = wouldDeny && ((e) => wouldDeny.get(edgeKey(e)) ?? 0);
  if ($('changed').checked) await loadChanged();
  await draw();
}

const edgeKey = (e) => `${e.src} ${e.dst} ${e.protocol} ${e.port}`;

/** Draws the loaded graph through the verdict, port and "changed" filters (the window and namespace are the API's). */
async function draw() {
  const graph = filterGraph(state.graph, {
    verdict: $('verdict').value || undefined,
    ports: portFilter($('ports').value),
    changed: $('changed').checked ? state.changed : undefined,
    wouldDeny: state.wouldDeny,
  });
  state.view?.destroy();
  state.view = drawGraph($('graph'), graph, {
    onWorkload: (key) => selectWorkload(key),
    onEdge: (m) => explain(m.edges.map((e) => ({ src: e.src, dst: e.dst, protocol: e.protocol, port: e.port }))),
    onStatus: graphNote,
    wouldDeny: state.wouldDeny,
  });
  await state.view.ready;
  const workloads = graph.peers.filter((p) => p.type === 'workload').length;
  const sources = state.health.sources.map((src) => `${src.name}: ${src.state}`).join(', ');
  const filtered = graph !== state.graph ? ` (filtered from ${fmt(state.graph.edges.length)})` : '';
  setStatus(
    `${fmt(workloads)} workloads, ${fmt(graph.edges.length)} edges${filtered}${sources ? ` · ${sources}` : ''}`,
  );
  if (state.workload && state.view.has(state.workload)) state.view.select(state.workload);
}

/** The connections whose verdict the proposal changes against the existing policies (the NetworkPolicy diff). */
async function loadChanged() {
  const q = new URLSearchParams();
  if ($('window').value) q.set('since', $('window').value);
  const d = await api('diff', q);
  state.changed = new Set([...d.newlyAllowed, ...d.newlyDenied].map(edgeKey));
}

async function onChangedFilter() {
  if ($('changed').checked) {
    try {
      await loadChanged();
    } catch (err) {
      $('changed').checked = false;
      setStatus(err.message, true);
      return;
    }
  }
  await draw();
}

/**
 * The rollout hook: when /api/v1/health has a `rollout` field, the service offers GET /api/v1/rollout with `wouldDeny: [{src, dst, protocol, port,
 * flows}]` (flows of observed connections the candidate policy would deny), those edges are drawn amber.
 * Without it, no edge is amber.
 */
async function rolloutWouldDeny() {
  const headers = state.token ? { Authorization: `Bearer ${state.token}` } : {};
  const res = await fetch('api/v1/rollout', { headers }).catch(() => undefined);
  if (!res?.ok) return undefined;
  const body = await res.json().catch(() => ({}));
  if (!Array.isArray(body.wouldDeny)) return undefined;
  return new Map(body.wouldDeny.map((w) => [`${w.src} ${w.dst} ${w.protocol} ${w.port}`, Number(w.flows) || 0]));
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
          id: `match-${i}`,
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

const TABS = ['workload', 'proposal', 'diff', 'explain'];

function namespaceOf(key) {
  return state.graph?.peers.find((p) => p.key === key)?.namespace ?? key.split('/')[0].split(':').pop();
}

function showTab(name) {
  for (const t of TABS) {
    $(`tab-${t}`).setAttribute('aria-selected', String(t === name));
    $(`tab-${t}`).tabIndex = t === name ? 0 : -1;
    $(`view-${t}`).hidden = t !== name;
  }
  if (name === 'proposal') renderProposal();
  if (name === 'diff') renderDiff();
  if (name === 'explain' && !state.explaining)
    $('view-explain').replaceChildren(
      h(
        'p',
        { class: 'empty' },
        'Click an edge in the graph, or a row of a workload’s ingress or egress, to explain it.',
      ),
    );
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
    edgeTable(w.ingress, 'from', wl.key),
    h('h3', {}, `Egress (${w.egress.length})`),
    edgeTable(w.egress, 'to', wl.key),
    h('p', { class: 'detail' }, 'Click a row, or focus it and press Enter, to explain its verdict.'),
  ];
}

function edgeTable(edges, dir, workload) {
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
      const target =
        dir === 'to'
          ? { src: workload, dst: e.peer, protocol: e.protocol, port: e.port }
          : { src: e.peer, dst: workload, protocol: e.protocol, port: e.port };
      return h(
        'tr',
        {
          class: e.allowedFlows === 0 && e.droppedFlows > 0 ? 'dropped edge-row' : 'edge-row',
          tabindex: 0,
          onclick: () => explain([target]),
          onkeydown: (ev) => {
            if (ev.key === 'Enter') explain([target]);
            if (ev.key === 'ArrowDown') ev.currentTarget.nextElementSibling?.focus();
            if (ev.key === 'ArrowUp') ev.currentTarget.previousElementSibling?.focus();
          },
        },
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

function fileBlock(path, text, extra, rules) {
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
    rulesList(rules),
  );
}

function rulesList(rules) {
  if (!rules?.length) return '';
  return h(
    'details',
    { class: 'rules', open: true },
    h('summary', {}, `Rules and the flows they act on (${rules.length})`),
    h(
      'ul',
      {},
      rules.map((r) =>
        h(
          'li',
          {},
          h('code', {}, r.path || 'the file'),
          r.document > 0 ? ` (document ${r.document + 1})` : '',
          h(
            'ul',
            {},
            r.evidence.map((line) => h('li', { class: 'evidence' }, line)),
          ),
        ),
      ),
    ),
  );
}

async function renderProposal() {
  const panel = $('view-proposal');
  if (!state.workload) {
    panel.replaceChildren(h('p', { class: 'empty' }, 'Select a workload first.'));
    return;
  }
  panel.replaceChildren(h('p', { class: 'empty' }, 'loading…'));
  const ns = namespaceOf(state.workload);
  const workload = state.workload;
  const q = new URLSearchParams();
  if ($('window').value) q.set('since', $('window').value);
  // Every configured kind, one section each: the workload's own files first, then what applies to its whole
  // namespace (default deny) or the cluster (tenant baselines, no namespace).
  const sections = await Promise.all(
    state.kinds.map(async (kind) => {
      try {
        const p = await api(`proposals/${kind}`, q);
        const own = p.files.filter((f) => f.workload === workload);
        const shared = p.files.filter((f) => f.workload === null && (f.namespace === ns || f.namespace === ''));
        const s = p.summary;
        return h(
          'section',
          { class: 'kind', 'data-kind': kind },
          h('h3', {}, kind),
          h('p', { class: 'detail' }, `${s.policies} policies, ${s.rules} rules in the whole proposal`),
          own.length ? '' : h('p', { class: 'empty' }, 'No policy of its own (see the summary for why).'),
          ...own.map((f) => fileBlock(f.path, f.yaml, undefined, f.rules)),
          ...shared.map((f) =>
            fileBlock(
              f.path,
              f.yaml,
              h('span', { class: 'badge' }, f.namespace ? 'namespace-wide' : 'cluster-wide'),
              f.rules,
            ),
          ),
          summaryList(s),
        );
      } catch (err) {
        return h(
          'section',
          { class: 'kind', 'data-kind': kind },
          h('h3', {}, kind),
          h('p', { class: 'empty' }, `No proposal: ${err.message}`),
        );
      }
    }),
  );
  if (state.workload !== workload) return;
  panel.replaceChildren(h('h2', {}, `Proposal for ${workload}`), ...sections);
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
    // Unused rules of the existing policies in the workload's namespace (files are <namespace>/...).
    const unused = d.unusedRules.filter((u) => u.file.split('/').slice(0, -1).includes(ns));
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
      h('h3', {}, `Unused existing rules in ${ns} (${unused.length})`),
      unused.length
        ? h(
            'table',
            { class: 'unused' },
            unused.map((u) =>
              h(
                'tr',
                {},
                h('td', {}, u.policy),
                h('td', {}, `${u.direction}[${u.rule}]`),
                h('td', {}, u.description),
                h('td', {}, u.lastSeen ? `last matched ${u.lastSeen}` : 'never matched in the window'),
                h('td', {}, u.removed ? 'removed by this mode' : 'kept'),
              ),
            ),
          )
        : h('p', { class: 'empty' }, 'every existing rule there matched observed traffic'),
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

// --- explain -------------------------------------------------------------------------------------

function verdictBlock(title, r) {
  if (r.configured === false)
    return h(
      'div',
      { class: 'verdict' },
      h('h3', {}, title),
      h('p', { class: 'empty hint' }, `Not configured: ${r.hint}.`),
    );
  if (!r.evaluated) return h('div', { class: 'verdict' }, h('h3', {}, title), h('p', { class: 'empty' }, r.why));
  return h(
    'div',
    { class: `verdict ${r.allowed ? 'allowed' : 'denied'}` },
    h(
      'h3',
      {},
      `${title}: `,
      h('span', { class: r.allowed ? 'badge' : 'badge warn' }, r.allowed ? 'ALLOWED' : 'DENIED'),
    ),
    h('p', {}, r.summary),
    h('details', {}, h('summary', {}, 'Every policy and rule'), h('pre', {}, r.text)),
  );
}

/** Explains connections (one drawn edge may stand for several ports or, collapsed, several workloads). */
async function explain(targets) {
  showTab('explain');
  const panel = $('view-explain');
  state.explaining = targets;
  const list = targets.slice(0, 50);
  const pickers =
    targets.length > 1
      ? h(
          'ul',
          { class: 'connections' },
          list.map((t, i) =>
            h(
              'li',
              {},
              h(
                'button',
                { type: 'button', class: 'link', onclick: () => explainOne(list[i]) },
                `${t.src} → ${t.dst} ${t.port ? `${t.port}/` : ''}${t.protocol}`,
              ),
            ),
          ),
          targets.length > list.length ? h('li', { class: 'detail' }, `and ${targets.length - list.length} more`) : '',
        )
      : '';
  panel.replaceChildren(
    h('h2', {}, targets.length > 1 ? `${targets.length} connections on this edge` : 'Explain'),
    pickers,
    h('div', { id: 'explain-one' }),
  );
  await explainOne(list[0]);
}

async function explainOne(t) {
  const out = $('explain-one');
  if (!out) return;
  out.replaceChildren(h('p', { class: 'empty' }, 'loading…'));
  const q = new URLSearchParams({ src: t.src, dst: t.dst, protocol: t.protocol, port: String(t.port) });
  if ($('window').value) q.set('since', $('window').value);
  try {
    const r = await api('explain', q);
    const c = r.connection;
    const o = r.observed;
    const dropped = o ? (o.verdicts.dropped ?? 0) + (o.verdicts.error ?? 0) : 0;
    out.replaceChildren(
      h('h3', { id: 'explain-title' }, `${c.srcName} → ${c.dstName} ${c.port ? `${c.port}/` : ''}${c.protocol}`),
      o
        ? h(
            'p',
            { class: 'detail' },
            `observed: ${fmt(o.flows)} flows${dropped ? `, ${fmt(dropped)} dropped` : ''}, first ${o.firstSeen}, last ${o.lastSeen}`,
            o.dropReasons.length ? ` · drop reasons ${o.dropReasons.join(', ')}` : '',
            o.policies.length ? ` · policies reported ${o.policies.join(', ')}` : '',
          )
        : h('p', { class: 'detail' }, 'never observed'),
      verdictBlock('Proposed NetworkPolicies', r.proposed),
      verdictBlock('Existing policies', r.existing),
    );
  } catch (err) {
    out.replaceChildren(h('p', { class: 'empty' }, `Cannot explain: ${err.message}`));
  }
}

// --- wiring --------------------------------------------------------------------------------------

function init() {
  $('window').value = new URLSearchParams(location.search).get('since') ?? '';
  $('window').addEventListener('change', () => loadGraph().catch((e) => setStatus(e.message, true)));
  $('namespace').addEventListener('change', () => loadGraph().catch((e) => setStatus(e.message, true)));
  $('search').addEventListener('input', onSearch);
  $('verdict').addEventListener('change', () => draw().catch((e) => setStatus(e.message, true)));
  $('changed').addEventListener('change', () => onChangedFilter().catch((e) => setStatus(e.message, true)));
  let typing;
  $('ports').addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => draw().catch((e) => setStatus(e.message, true)), 300);
  });
  $('search').addEventListener('keydown', (ev) => {
    const items = [...$('matches').querySelectorAll('li')];
    const at = items.findIndex((li) => li.getAttribute('aria-selected') === 'true');
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      if (items.length === 0) return;
      const next = (at + (ev.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
      items.forEach((li, i) => {
        li.setAttribute('aria-selected', String(i === next));
      });
      items[next].scrollIntoView({ block: 'nearest' });
      $('search').setAttribute('aria-activedescendant', items[next].id);
    }
    if (ev.key === 'Enter') {
      const chosen = items[at]?.dataset.key ?? searchMatches($('search').value)[0]?.key;
      if (chosen) pick(chosen);
    }
    if (ev.key === 'Escape') $('matches').hidden = true;
  });
  $('search').addEventListener('blur', () => setTimeout(() => ($('matches').hidden = true), 150));
  for (const t of TABS) $(`tab-${t}`).addEventListener('click', () => showTab(t));
  // The tab list is one stop for Tab; the arrow keys move between tabs.
  document.querySelector('.tabs').addEventListener('keydown', (ev) => {
    const i = TABS.findIndex((t) => $(`tab-${t}`).getAttribute('aria-selected') === 'true');
    const step = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    const next = TABS[(i + step + TABS.length) % TABS.length];
    showTab(next);
    $(`tab-${next}`).focus();
  });
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
