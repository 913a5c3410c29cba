// The review page in headless Chromium (Debian's chromium, driven by playwright-core): the graph (drawn
// by Cytoscape.js, laid out by ELK) has every peer, namespaces as groups, arrowheads, and port labels
// that overlap neither nodes nor each other (measured from the boxes Cytoscape reports); search, select
// and focus change what is shown; the proposal of every kind, the diff against an existing policy
// directory and the explanation of an edge match what the CLI prints for the same workload; lists work
// from the keyboard; markup in names stays text. Screenshots go to test-artifacts/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { createAggregator } from '../../src/aggregate/index.js';
import { readFlowFiles } from '../../src/collect/index.js';
import { assignSelectors } from '../../src/identity/index.js';
import { emptyStats, type Flow } from '../../src/model/index.js';
import { loadServeConfig } from '../../src/serve/index.js';
import { openStore } from '../../src/store/index.js';
import { DEFAULT_PROPOSAL_OPTIONS, proposeNetworkPolicies, renderProposalFile } from '../../src/synthesize/index.js';
import { loadGraph, type ShopExport, sharedConfig, shopExport, startServing, syntheticClusterDb } from './helpers.js';

const CHROMIUM = process.env.FLOWWRIGHT_CHROMIUM ?? '/usr/bin/chromium';
const root = new URL('../..', import.meta.url).pathname;
const artifacts = join(root, 'test-artifacts');
const dir = mkdtempSync(join(tmpdir(), 'flowwright-serve-browser-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let shop: ShopExport;
let frontend: string;
let frontendFile: string;
const policiesDir = join(dir, 'policies');

const HOSTILE = '<img src=x onerror="window.__pwned=1">';

before(async () => {
  shop = await shopExport(dir, 3000, 3);
  // A workload whose name and pod are markup: the page must show it as text and never run it.
  const flows: Flow[] = [];
  for await (const batch of readFlowFiles([shop.file], { strict: false, stats: emptyStats() }))
    flows.push(...batch.flows);
  const model = flows.find((f) => f.reply === false && f.source.workload && f.destination.workload)!;
  const hostile: Flow = {
    ...model,
    source: {
      ...model.source,
      pod: `${HOSTILE}-1`,
      workload: { kind: 'Deployment', name: HOSTILE },
      labels: { app: HOSTILE },
    },
  };
  const aggregator = createAggregator();
  aggregator.add([hostile]);
  const store = openStore(shop.db);
  store.applyDelta(aggregator.take());
  store.close();
  shop.graph = loadGraph(shop.db);
  const graph = shop.graph;
  assignSelectors(graph);
  frontend = [...graph.peers.keys()].find((k) => k.endsWith('/Deployment/frontend'))!;
  assert.ok(frontend, 'the shop has a frontend');
  // The existing policies: the proposal for everything except the frontend, whose policy is then "added".
  const proposal = proposeNetworkPolicies(graph, { ...DEFAULT_PROPOSAL_OPTIONS });
  for (const f of proposal.files) {
    if (f.workload === frontend) {
      frontendFile = f.path;
      continue;
    }
    const path = join(policiesDir, f.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, renderProposalFile(f));
  }
  assert.ok(frontendFile);
});

type Box = { x1: number; y1: number; x2: number; y2: number; what: string };
interface GraphState {
  nodes: { id: string; label: string; classes: string[]; shape: string; visible: boolean; selected: boolean }[];
  parents: string[];
  edges: {
    source: string;
    target: string;
    arrow: string;
    color: string;
    verdict: string;
    labelled: boolean;
    label: string;
    visible: boolean;
  }[];
  nodeBoxes: Box[];
  titleBoxes: Box[];
  labelBoxes: Box[];
}

/** What Cytoscape shows, read in the page: nodes, edges with their style, and every visible label's box. */
function graphState(page: Page): Promise<GraphState> {
  return page.evaluate((): GraphState => {
    // biome-ignore lint/suspicious/noExplicitAny: the page's Cytoscape instance
    const cy = (window as any).flowwright.view().cy;
    const opts = {
      includeNodes: false,
      includeEdges: false,
      includeLabels: true,
      includeMainLabels: true,
      includeSourceLabels: false,
      includeTargetLabels: false,
      includeOverlays: false,
    };
    const box = (b: { x1: number; y1: number; x2: number; y2: number }, what: string) => ({
      x1: b.x1,
      y1: b.y1,
      x2: b.x2,
      y2: b.y2,
      what,
    });
    // biome-ignore lint/suspicious/noExplicitAny: Cytoscape elements
    const visible = (e: any) => e.visible();
    const nodes = cy.nodes().filter((n: { isParent: () => boolean }) => !n.isParent());
    const parents = cy.nodes().filter((n: { isParent: () => boolean }) => n.isParent());
    return {
      // biome-ignore lint/suspicious/noExplicitAny: Cytoscape elements
      nodes: nodes.map((n: any) => ({
        id: n.id(),
        label: n.data('label'),
        classes: n.classes(),
        shape: n.style('shape'),
        visible: visible(n),
        selected: n.selected(),
      })),
      parents: parents.map((n: { id: () => string }) => n.id()),
      // biome-ignore lint/suspicious/noExplicitAny: Cytoscape elements
      edges: cy.edges().map((e: any) => ({
        source: e.source().id(),
        target: e.target().id(),
        arrow: e.style('target-arrow-shape'),
        color: e.style('line-color'),
        verdict: e.data('verdict'),
        labelled: e.hasClass('labelled'),
        label: e.data('label'),
        visible: visible(e),
      })),
      nodeBoxes: nodes
        .filter(visible)
        // biome-ignore lint/suspicious/noExplicitAny: Cytoscape elements
        .map((n: any) => box(n.boundingBox({ includeLabels: true, includeOverlays: false }), `node ${n.id()}`)),
      titleBoxes: parents
        .filter(visible)
        // biome-ignore lint/suspicious/noExplicitAny: Cytoscape elements
        .map((n: any) => box(n.boundingBox(opts), `namespace ${n.id()}`)),
      labelBoxes: cy
        .edges('.labelled')
        .filter(visible)
        // biome-ignore lint/suspicious/noExplicitAny: Cytoscape elements
        .map((e: any) =>
          box(e.boundingBox(opts), `label ${e.data('label')} of ${e.source().id()}->${e.target().id()}`),
        ),
    };
  });
}

/** WCAG contrast ratio of two `#rrggbb` colours. */
function contrast(a: string, b: string): number {
  const lum = (hex: string) => {
    const [r, g, bl] = [1, 3, 5].map((i) => {
      const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [x, y] = [lum(a), lum(b)].sort((m, n) => n - m);
  return (x + 0.05) / (y + 0.05);
}

function overlapping(boxes: Box[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      if (a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2) out.push(`${a.what} / ${b.what}`);
    }
  return out;
}

async function graphReady(page: Page) {
  await page.waitForFunction(() => (window as unknown as { flowwright?: { view(): unknown } }).flowwright?.view());
  await page.evaluate(
    () => (window as unknown as { flowwright: { view(): { ready: Promise<void> } } }).flowwright.view().ready,
  );
}

/** Runs the CLI (as a user would) and returns its stdout. */
function cli(args: string[]): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `flowwright ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/** A page; tsx compiles the functions handed to page.evaluate with calls to its `__name` helper, defined here. */
async function newPage(browser: Browser, opts: Parameters<Browser['newPage']>[0]) {
  const page = await browser.newPage(opts);
  await page.addInitScript('window.__name = (f) => f');
  return page;
}

describe('the review page', { skip: existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM}` }, () => {
  it('draws the sample with arrowheads and port labels that overlap nothing', async (t) => {
    const config = loadServeConfig({
      text: ['listen: 127.0.0.1:0', `policies: { dir: ${policiesDir} }`].join('\n'),
      file: 'test.yaml',
      shared: sharedConfig(shop.db, { flushEvery: 1000 }),
    });
    const serving = startServing(config);
    let browser: Browser | undefined;
    try {
      const http = await serving.listening();
      browser = await launch();
      for (const colorScheme of ['light', 'dark'] as const) {
        const page = await newPage(browser, { viewport: { width: 1500, height: 900 }, colorScheme });
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        // Nothing but the service itself: the libraries come from the package, not a CDN.
        const outside: string[] = [];
        page.on('request', (r) => {
          if (!r.url().startsWith(http.url)) outside.push(r.url());
        });
        await page.goto(`${http.url}/?since=all`);
        await graphReady(page);
        const g = await graphState(page);
        assert.equal(g.nodes.length, shop.graph.peers.size, 'every peer is drawn');
        assert.deepEqual(
          new Set(g.parents),
          new Set(
            [...shop.graph.peers.values()].flatMap((p) =>
              p.peer.type === 'workload' ? [`ns:${p.peer.namespace}`] : [],
            ),
          ),
          'one group per namespace',
        );
        assert.ok(g.edges.length > 0);
        assert.ok(
          g.edges.every((e) => e.arrow === 'triangle'),
          'every edge ends in an arrowhead',
        );
        // Direction: each drawn edge is an observed src → dst.
        const observed = new Set(shop.graph.edges.map((e) => `${e.src} ${e.dst}`));
        assert.ok(g.edges.every((e) => observed.has(`${e.source} ${e.target}`)));
        const dropped = g.edges.filter((e) => e.verdict === 'dropped');
        const allowed = g.edges.filter((e) => e.verdict === 'allowed');
        assert.ok(dropped.length > 0 && allowed.length > 0, 'the sample has dropped and allowed edges');
        assert.ok(dropped.every((e) => e.color === dropped[0].color));
        assert.ok(
          allowed.every((e) => e.color !== dropped[0].color),
          'dropped edges have their own colour',
        );
        assert.equal(g.nodes.find((n) => n.id === 'reserved:kube-apiserver')?.shape, 'hexagon');
        assert.ok(g.nodes.filter((n) => n.classes.includes('external')).length > 0, 'external peers styled');
        // Labels: most are shown, and none overlaps a node, a namespace title or another label.
        const labelled = g.edges.filter((e) => e.labelled).length;
        assert.ok(labelled >= g.edges.length / 2, `${labelled} of ${g.edges.length} labels shown`);
        assert.equal(g.labelBoxes.length, labelled);
        assert.ok(
          g.labelBoxes.every((b) => b.x2 - b.x1 > 20 && b.y2 - b.y1 > 8),
          'label boxes are measured',
        );
        assert.deepEqual(overlapping([...g.labelBoxes, ...g.nodeBoxes, ...g.titleBoxes]), []);
        const note = (await page.locator('#graph-note').textContent()) ?? '';
        if (labelled < g.edges.length) assert.match(note, /port labels hidden where they would overlap: hover an edge/);
        t.diagnostic(`${colorScheme}: ${labelled} of ${g.edges.length} port labels shown`);
        // A hidden label's ports show on hover, as text.
        // Readable colours in this scheme: text 4.5:1 against its background, edges and borders 3:1.
        const v = await page.evaluate(() => {
          const css = getComputedStyle(document.documentElement);
          const names = ['bg', 'panel', 'fg', 'muted', 'ok', 'dropped', 'would-deny', 'accent', 'group', 'node-bg'];
          return Object.fromEntries(names.map((n) => [n, css.getPropertyValue(`--${n}`).trim()]));
        });
        for (const [fg, bg, min] of [
          ['fg', 'bg', 4.5],
          ['fg', 'panel', 4.5],
          ['muted', 'panel', 4.5],
          ['muted', 'group', 4.5],
          ['fg', 'node-bg', 4.5],
          ['dropped', 'bg', 3],
          ['would-deny', 'bg', 3],
          ['ok', 'bg', 3],
          ['ok', 'group', 3],
          ['accent', 'panel', 3],
        ] as const)
          assert.ok(
            contrast(v[fg], v[bg]) >= min,
            `${colorScheme}: --${fg} on --${bg} is ${contrast(v[fg], v[bg]).toFixed(2)}:1`,
          );
        mkdirSync(artifacts, { recursive: true });
        await page.screenshot({ path: join(artifacts, `serve-page-graph-${colorScheme}.png`) });
        assert.deepEqual(errors, []);
        assert.deepEqual(outside, []);
        // The measure can fail: with every label forced on, the sample's labels do overlap.
        if (labelled < g.edges.length) {
          // biome-ignore lint/suspicious/noExplicitAny: the page's Cytoscape instance
          await page.evaluate(() => (window as any).flowwright.view().cy.edges().addClass('labelled'));
          const all = await graphState(page);
          assert.notDeepEqual(overlapping([...all.labelBoxes, ...all.nodeBoxes, ...all.titleBoxes]), []);
        }
        await page.close();
      }
    } finally {
      await browser?.close();
      await serving.stop();
    }
  });

  it('finds a workload, focuses it, shows its evidence, proposal, diff and explanations as the CLI does', async (t) => {
    const config = loadServeConfig({
      text: ['listen: 127.0.0.1:0', `policies: { dir: ${policiesDir} }`].join('\n'),
      file: 'test.yaml',
      shared: sharedConfig(shop.db, { flushEvery: 1000, kinds: 'networkpolicy,cilium' }),
    });
    const serving = startServing(config);
    let browser: Browser | undefined;
    try {
      const http = await serving.listening();
      browser = await launch();
      const page = await newPage(browser, { viewport: { width: 1500, height: 900 }, acceptDownloads: true });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      const started = Date.now();
      await page.goto(`${http.url}/?since=all`);
      await graphReady(page);
      t.diagnostic(
        `${shop.graph.peers.size} peers, ${shop.graph.edges.length} edges: drawn in ${Date.now() - started} ms`,
      );
      assert.match((await page.locator('#status').textContent()) ?? '', /workloads, \d+ edges/);

      // Search, pick the first match with Enter.
      await page.fill('#search', 'frontend');
      await page.waitForSelector('#matches li');
      const matched = (await graphState(page)).nodes.filter((n) => n.classes.includes('match')).map((n) => n.id);
      assert.ok(matched.includes(frontend), 'the match is marked in the graph');
      await page.press('#search', 'Enter');
      await page.waitForSelector('#workload-title');
      assert.match((await page.locator('#workload-title').textContent()) ?? '', /\/frontend$/);
      const egressRows = await page.locator('#view-workload table.to tr').count();
      const expectedEgress = shop.graph.edges.filter((e) => e.src === frontend).length;
      assert.equal(egressRows - 1, expectedEgress, 'one row per egress edge (plus the header)');
      await page.waitForFunction(
        (key) =>
          // biome-ignore lint/suspicious/noExplicitAny: the page's Cytoscape instance
          (window as any).flowwright
            .view()
            .cy.$(':selected')
            .map((n: { id(): string }) => n.id())
            .join() === key,
        frontend,
      );

      // Focus: only the frontend and its neighbours stay; Show all brings everything back.
      await page.click('#focus');
      await page.locator('#show-all').waitFor({ state: 'visible' });
      const neighbours = new Set([frontend]);
      for (const e of shop.graph.edges) {
        if (e.src === frontend) neighbours.add(e.dst);
        if (e.dst === frontend) neighbours.add(e.src);
      }
      const focused = await graphState(page);
      assert.deepEqual(new Set(focused.nodes.filter((n) => n.visible).map((n) => n.id)), neighbours);
      assert.ok(neighbours.size < shop.graph.peers.size);
      assert.deepEqual(overlapping([...focused.labelBoxes, ...focused.nodeBoxes, ...focused.titleBoxes]), []);
      await page.screenshot({ path: join(artifacts, 'serve-page-focus.png') });
      await page.click('#show-all');
      assert.equal((await graphState(page)).nodes.filter((n) => n.visible).length, shop.graph.peers.size);

      // The proposal: the frontend's own file, downloadable.
      await page.click('#open-proposal');
      const file = page.locator(`#view-proposal .file[data-path="${frontendFile}"]`);
      await file.waitFor();
      const yaml = (await file.locator('pre').textContent()) ?? '';
      assert.match(yaml, /kind: NetworkPolicy/);
      assert.match(yaml, /name: frontend/);
      const [download] = await Promise.all([page.waitForEvent('download'), file.locator('button.download').click()]);
      const saved = join(dir, 'download.yaml');
      await download.saveAs(saved);
      assert.equal(readFileSync(saved, 'utf8'), yaml, 'the download is the YAML shown');
      assert.equal(download.suggestedFilename(), frontendFile.replace(/\//g, '_'));
      // Every kind, each file exactly as `flowwright propose` writes it, with its rules' evidence listed.
      const cliOut = join(dir, 'cli-proposal');
      cli(['propose', '--db', shop.db, '--kinds', 'networkpolicy,cilium', '--out', cliOut]);
      for (const kind of ['networkpolicy', 'cilium']) {
        const files = page.locator(`#view-proposal section[data-kind="${kind}"] .file`);
        assert.ok((await files.count()) >= 1, kind);
        for (const f of await files.all()) {
          const path = (await f.getAttribute('data-path'))!;
          assert.equal(await f.locator('pre').textContent(), readFileSync(join(cliOut, path), 'utf8'), path);
        }
      }
      const evidence = await file.locator('.rules .evidence').allTextContents();
      assert.ok(
        evidence.some((l) => /-> .*: [\d,]+ flows, first \S+Z, last \S+Z/.test(l)),
        'per-rule evidence',
      );

      // The diff against the existing directory: the frontend's policy is new.
      await page.click('#tab-diff');
      const added = page.locator(`#view-diff .file[data-path="${frontendFile}"]`);
      await added.waitFor();
      assert.equal(await added.locator('.badge').textContent(), 'added');
      assert.ok((await added.locator('.diff .add').count()) > 5, 'added lines are marked');
      assert.ok((await page.locator('#view-diff table.changes tr').count()) > 0, 'connections newly allowed');
      // The same connection changes and unused rules as `flowwright diff --format json`.
      const cliDiff = JSON.parse(cli(['diff', '--db', shop.db, '--existing', policiesDir, '--format', 'json']));
      const port = (c: { port: number; protocol: string }) => (c.port ? `${c.port}/${c.protocol}` : c.protocol);
      type Change = { src: string; dst: string; srcName: string; dstName: string; port: number; protocol: string };
      const mine = (c: Change) => c.src === frontend || c.dst === frontend;
      const expected = [
        ...cliDiff.newlyAllowed
          .filter(mine)
          .map((c: Change) => ['newly allowed', `${c.srcName} → ${c.dstName}`, port(c)]),
        ...cliDiff.newlyDenied
          .filter(mine)
          .map((c: Change) => ['newly denied', `${c.srcName} → ${c.dstName}`, port(c)]),
      ];
      const shown = await page
        .locator('#view-diff table.changes tr')
        .evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent)));
      assert.ok(expected.length > 0);
      assert.deepEqual(shown.sort(), expected.sort());
      const unusedInShop = cliDiff.unusedRules.filter((u: { file: string }) =>
        relative(policiesDir, u.file).startsWith('shop/'),
      ).length;
      assert.equal(await page.locator('#view-diff table.unused tr').count(), unusedInShop);

      // Explain: a click on the graph's frontend → cart edge gives both verdicts, as `flowwright explain` does.
      const toCart = shop.graph.edges.find((e) => e.src === frontend && e.dst.endsWith('/Deployment/cartservice'))!;
      await page.evaluate(
        ([src, dst]) =>
          // biome-ignore lint/suspicious/noExplicitAny: the page's Cytoscape instance
          (window as any).flowwright
            .view()
            .cy.edges()
            .filter(
              (e: { source(): { id(): string }; target(): { id(): string } }) =>
                e.source().id() === src && e.target().id() === dst,
            )
            .emit('tap'),
        [frontend, toCart.dst],
      );
      await page.waitForSelector('#explain-title');
      assert.equal(
        await page.locator('#explain-title').textContent(),
        `shop/frontend → shop/cartservice ${toCart.port}/TCP`,
      );
      const verdicts = await page.locator('#view-explain .verdict .badge').allTextContents();
      const cliExplain = (policies: string) =>
        /^Result: (ALLOWED|DENIED)/m.exec(
          cli([
            'explain',
            'shop/deployment/frontend',
            `shop/deployment/cartservice:${toCart.port}`,
            '--policies',
            policies,
            '--db',
            shop.db,
          ]),
        )![1];
      assert.deepEqual(verdicts, [cliExplain(cliOut), cliExplain(policiesDir)]);
      assert.deepEqual(verdicts, ['ALLOWED', 'DENIED'], 'the existing set has no policy for the frontend yet');

      // Keyboard: the tabs with the arrow keys, an edge row with Enter.
      await page.focus('#tab-explain');
      await page.keyboard.press('ArrowLeft');
      assert.equal(await page.locator('#tab-diff').getAttribute('aria-selected'), 'true');
      await page.click('#tab-workload');
      await page.locator('#view-workload tr.edge-row').first().focus();
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.querySelector('#explain-title'));
      assert.equal(await page.locator('#tab-explain').getAttribute('aria-selected'), 'true');

      // Markup in names stays text: in the panel, in the graph (drawn on a canvas) and in the tooltip.
      await page.fill('#search', 'onerror');
      await page.press('#search', 'Enter');
      await page.waitForFunction(() => document.querySelector('#workload-title')?.textContent?.includes('onerror'));
      assert.match((await page.locator('#workload-title').textContent()) ?? '', /<img src=x onerror=/);
      const hostileNode = (await graphState(page)).nodes.find((n) => n.label === HOSTILE);
      assert.ok(hostileNode, 'the name is the node label as it was written');
      assert.equal(await page.locator('img').count(), 0);
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
      // The search list with the arrow keys: the third match.
      await page.click('#tab-workload');
      await page.fill('#search', 'service');
      await page.press('#search', 'ArrowDown');
      await page.press('#search', 'ArrowDown');
      const third = (await page.locator('#matches li').nth(2).getAttribute('data-key'))!;
      assert.equal(await page.locator('#matches li[aria-selected="true"]').getAttribute('data-key'), third);
      await page.press('#search', 'Enter');
      const [ns, , name] = third.split('/');
      await page.waitForFunction((t) => document.querySelector('#workload-title')?.textContent === t, `${ns}/${name}`);
      await page.fill('#search', 'frontend');
      await page.press('#search', 'Enter');
      await page.waitForFunction(() => document.querySelector('#workload-title')?.textContent?.endsWith('/frontend'));
      await page.click('#open-diff');
      await page.locator(`#view-diff .file[data-path="${frontendFile}"]`).waitFor();

      await page.screenshot({ path: join(artifacts, 'serve-page.png') });
      assert.deepEqual(errors, []);
    } finally {
      await browser?.close();
      await serving.stop();
    }
  });

  it('filters by verdict, port or protocol, changes since the applied policy, and namespace', async () => {
    const config = loadServeConfig({
      text: ['listen: 127.0.0.1:0', `policies: { dir: ${policiesDir} }`].join('\n'),
      file: 'test.yaml',
      shared: sharedConfig(shop.db, { flushEvery: 1000 }),
    });
    const serving = startServing(config);
    let browser: Browser | undefined;
    try {
      const http = await serving.listening();
      browser = await launch();
      const page = await newPage(browser, { viewport: { width: 1500, height: 900 } });
      await page.goto(`${http.url}/?since=all`);
      await graphReady(page);
      const total = shop.graph.edges.length;
      type E = (typeof shop.graph.edges)[number];
      /** Waits for the redraw, then compares the drawn (source, target) pairs with the edges expected. */
      const shows = async (what: string, expected: E[]) => {
        assert.ok(expected.length > 0 && expected.length < total, `${what}: a filter that leaves some out`);
        await page.waitForFunction(
          (n) => document.querySelector('#status')?.textContent?.includes(`, ${n} edges (filtered from`),
          expected.length,
        );
        await graphReady(page);
        const g = await graphState(page);
        assert.deepEqual(
          new Set(g.edges.map((e) => `${e.source} ${e.target}`)),
          new Set(expected.map((e) => `${e.src} ${e.dst}`)),
          what,
        );
        assert.deepEqual(overlapping([...g.labelBoxes, ...g.nodeBoxes, ...g.titleBoxes]), [], what);
      };
      const dropped = (e: E) => (e.verdicts.dropped ?? 0) + (e.verdicts.error ?? 0);
      await page.selectOption('#verdict', 'dropped');
      await shows(
        'dropped',
        shop.graph.edges.filter((e) => dropped(e) > 0),
      );
      await page.selectOption('#verdict', 'allowed');
      await shows(
        'allowed',
        shop.graph.edges.filter((e) => e.flows > dropped(e)),
      );
      await page.selectOption('#verdict', '');
      await page.fill('#ports', '53/udp');
      await shows(
        '53/udp',
        shop.graph.edges.filter((e) => e.port === 53 && e.protocol === 'UDP'),
      );
      await page.fill('#ports', 'udp, 7070');
      await shows(
        'udp, 7070',
        shop.graph.edges.filter((e) => e.protocol === 'UDP' || e.port === 7070),
      );
      await page.fill('#ports', '');
      // Changed: what the diff against the existing policies says the proposal newly allows or denies.
      const diff = (await (await fetch(`${http.url}/api/v1/diff`)).json()) as {
        newlyAllowed: { src: string; dst: string; protocol: string; port: number }[];
        newlyDenied: { src: string; dst: string; protocol: string; port: number }[];
      };
      const changed = new Set(
        [...diff.newlyAllowed, ...diff.newlyDenied].map((c) => `${c.src} ${c.dst} ${c.protocol} ${c.port}`),
      );
      await page.check('#changed');
      await shows(
        'changed',
        shop.graph.edges.filter((e) => changed.has(`${e.src} ${e.dst} ${e.protocol} ${e.port}`)),
      );
      await page.screenshot({ path: join(artifacts, 'serve-page-changed.png') });
      await page.uncheck('#changed');
      // The namespace is the API's filter: the edges with an end in it.
      await page.selectOption('#namespace', 'data');
      const inData = (k: string) => k.startsWith('data/') || k.includes(':data/');
      const expected = shop.graph.edges.filter((e) => inData(e.src) || inData(e.dst));
      await page.waitForFunction(
        (n) => document.querySelector('#status')?.textContent?.startsWith(`${n.w} workloads, ${n.e} edges`),
        {
          e: expected.length,
          w: new Set(
            expected.flatMap((e) => [e.src, e.dst]).filter((k) => shop.graph.peers.get(k)?.peer.type === 'workload'),
          ).size,
        },
      );
      await graphReady(page);
      assert.deepEqual(
        new Set((await graphState(page)).edges.map((e) => `${e.source} ${e.target}`)),
        new Set(expected.map((e) => `${e.src} ${e.dst}`)),
      );
    } finally {
      await browser?.close();
      await serving.stop();
    }
  });

  it('collapses the namespaces of 500 workloads and expands one on click', async (t) => {
    const db = join(dir, 'large.db');
    syntheticClusterDb(db, 500);
    const config = loadServeConfig({ text: 'listen: 127.0.0.1:0', file: 'test.yaml', shared: sharedConfig(db) });
    const serving = startServing(config, () => undefined);
    let browser: Browser | undefined;
    try {
      const http = await serving.listening();
      browser = await launch();
      const page = await newPage(browser, { viewport: { width: 1500, height: 900 } });
      const started = Date.now();
      await page.goto(`${http.url}/?since=all`);
      await graphReady(page);
      const drawnMs = Date.now() - started;
      const collapsed = await graphState(page);
      assert.equal(collapsed.nodes.length, 25, 'one node per namespace');
      assert.ok(collapsed.nodes.every((n) => n.classes.includes('namespace-collapsed')));
      assert.ok(collapsed.edges.every((e) => e.arrow === 'triangle'));
      assert.match((await page.locator('#graph-note').textContent()) ?? '', /25 of 25 namespaces collapsed/);
      assert.deepEqual(overlapping([...collapsed.labelBoxes, ...collapsed.nodeBoxes]), []);
      // The overview needs no ELK: the page loads it only once a namespace is expanded.
      assert.equal(await page.evaluate(() => typeof (window as { ELK?: unknown }).ELK), 'undefined');
      // Selecting a workload expands its namespace.
      const searchStarted = Date.now();
      await page.fill('#search', 'svc-250');
      await page.press('#search', 'Enter');
      await page.waitForFunction(() => document.querySelector('#workload-title')?.textContent === 'team-12/svc-250');
      await page.waitForFunction(() =>
        // biome-ignore lint/suspicious/noExplicitAny: the page's Cytoscape instance
        (window as any).flowwright.view().cy.getElementById('default:team-12/Deployment/svc-250').selected(),
      );
      const selectMs = Date.now() - searchStarted;
      assert.equal(await page.evaluate(() => typeof (window as { ELK?: unknown }).ELK), 'function');
      const expanded = await graphState(page);
      // Without existing policies, the diff and explain views say which flag to set.
      await page.click('#tab-diff');
      await page.waitForFunction(() => document.querySelector('#view-diff')?.textContent?.includes('--policies DIR'));
      await page.click('#tab-workload');
      await page.locator('#view-workload tr.edge-row').first().click();
      await page.waitForSelector('#view-explain .hint');
      assert.match(
        (await page.locator('#view-explain .hint').textContent()) ?? '',
        /^Not configured: start serve with --policies DIR/,
      );
      await page.click('#tab-workload');
      const inTeam12 = expanded.nodes.filter((n) => n.id.includes(':team-12/'));
      assert.equal(inTeam12.length, 20, 'the namespace shows its workloads');
      assert.equal(expanded.nodes.length, 24 + 20);
      assert.deepEqual(overlapping([...expanded.labelBoxes, ...expanded.nodeBoxes, ...expanded.titleBoxes]), []);
      await page.click('#open-proposal');
      await page.locator('#view-proposal .file').first().waitFor();
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'serve-page-500.png') });
      t.diagnostic(`500 workloads collapsed: drawn in ${drawnMs} ms, search, expand and select in ${selectMs} ms`);
    } finally {
      await browser?.close();
      await serving.stop();
    }
  });
});
