// The review page in headless Chromium (Debian's chromium, driven by playwright-core): it loads the
// graph, finds a known workload by search, shows its evidence, opens its proposal (downloadable YAML)
// and its diff against an existing policy directory, and keeps a screenshot in test-artifacts/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { createAggregator } from '../../src/aggregate/index.js';
import { readFlowFiles } from '../../src/collect/index.js';
import { assignSelectors } from '../../src/identity/index.js';
import { emptyStats, type Flow } from '../../src/model/index.js';
import { loadServeConfig } from '../../src/serve/index.js';
import { openStore } from '../../src/store/index.js';
import { DEFAULT_PROPOSAL_OPTIONS, proposeNetworkPolicies, renderProposalFile } from '../../src/synthesize/index.js';
import {
  loadGraph,
  type ShopExport,
  sharedConfig,
  shopExport,
  startServing,
  syntheticClusterDb,
} from '../serve/helpers.js';

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

describe('the review page', { skip: existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM}` }, () => {
  it('finds a workload, shows its evidence, proposal and diff, and downloads the YAML', async (t) => {
    const config = loadServeConfig({
      text: ['listen: 127.0.0.1:0', `policies: { dir: ${policiesDir} }`].join('\n'),
      file: 'test.yaml',
      shared: sharedConfig(shop.db, { flushEvery: 1000 }),
    });
    const serving = startServing(config);
    let browser: Browser | undefined;
    try {
      const http = await serving.listening();
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      const page = await browser.newPage({ viewport: { width: 1500, height: 900 }, acceptDownloads: true });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      const started = Date.now();
      await page.goto(`${http.url}/?since=all`);
      await page.waitForFunction(() => document.querySelectorAll('#graph .node').length > 0);
      t.diagnostic(
        `${shop.graph.peers.size} peers, ${shop.graph.edges.length} edges: drawn in ${Date.now() - started} ms`,
      );
      const nodes = await page.locator('#graph .node').count();
      assert.equal(nodes, shop.graph.peers.size, 'every peer is drawn');
      assert.ok((await page.locator('#graph .ns').count()) >= 3, 'namespaces are groups');
      assert.match((await page.locator('#status').textContent()) ?? '', /workloads, \d+ edges/);

      // Search, pick the first match with Enter.
      await page.fill('#search', 'frontend');
      await page.waitForSelector('#matches li');
      assert.equal(await page.locator(`#graph .node.match[data-key="${frontend}"]`).count(), 1);
      await page.press('#search', 'Enter');
      await page.waitForSelector('#workload-title');
      assert.match((await page.locator('#workload-title').textContent()) ?? '', /\/frontend$/);
      const egressRows = await page.locator('#view-workload table.to tr').count();
      const expectedEgress = shop.graph.edges.filter((e) => e.src === frontend).length;
      assert.equal(egressRows - 1, expectedEgress, 'one row per egress edge (plus the header)');
      assert.equal(await page.locator('#graph .node.selected').getAttribute('data-key'), frontend);

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

      // The diff against the existing directory: the frontend's policy is new.
      await page.click('#tab-diff');
      const added = page.locator(`#view-diff .file[data-path="${frontendFile}"]`);
      await added.waitFor();
      assert.equal(await added.locator('.badge').textContent(), 'added');
      assert.ok((await added.locator('.diff .add').count()) > 5, 'added lines are marked');
      assert.ok((await page.locator('#view-diff table.changes tr').count()) > 0, 'connections newly allowed');

      // Markup in names stays text.
      await page.fill('#search', 'onerror');
      await page.press('#search', 'Enter');
      await page.waitForFunction(() => document.querySelector('#workload-title')?.textContent?.includes('onerror'));
      assert.match((await page.locator('#workload-title').textContent()) ?? '', /<img src=x onerror=/);
      assert.equal(await page.locator('#panel img, #graph img').count(), 0);
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
      await page.click('#tab-workload');
      await page.fill('#search', 'frontend');
      await page.press('#search', 'Enter');
      await page.waitForFunction(() => document.querySelector('#workload-title')?.textContent?.endsWith('/frontend'));
      await page.click('#open-diff');
      await page.locator(`#view-diff .file[data-path="${frontendFile}"]`).waitFor();

      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'serve-page.png') });
      assert.deepEqual(errors, []);
    } finally {
      await browser?.close();
      await serving.stop();
    }
  });

  it('stays usable at 500 workloads', async (t) => {
    const db = join(dir, 'large.db');
    const { edges } = syntheticClusterDb(db, 500);
    const config = loadServeConfig({ text: 'listen: 127.0.0.1:0', file: 'test.yaml', shared: sharedConfig(db) });
    const serving = startServing(config, () => undefined);
    let browser: Browser | undefined;
    try {
      const http = await serving.listening();
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
      const started = Date.now();
      await page.goto(`${http.url}/?since=all`);
      await page.waitForFunction(() => document.querySelectorAll('#graph .node').length >= 500);
      const drawnMs = Date.now() - started;
      assert.equal(await page.locator('#graph .node').count(), 500);
      assert.equal(await page.locator('#graph .ns').count(), 25);
      assert.equal(await page.locator('#graph path.edge').count(), edges);
      assert.ok((await page.locator('#graph path.edge.dropped').count()) > 0, 'dropped edges stand out');
      // Too many edges for every port label: only the selected workload's show.
      assert.equal(await page.locator('#graph').getAttribute('class'), 'dense');
      const searchStarted = Date.now();
      await page.fill('#search', 'svc-250');
      await page.press('#search', 'Enter');
      await page.waitForFunction(() => document.querySelector('#workload-title')?.textContent === 'team-12/svc-250');
      const selectMs = Date.now() - searchStarted;
      const labelled = await page.locator('#graph .port.hl').count();
      assert.ok(labelled >= 4, 'the selected workload keeps its port labels');
      assert.ok(await page.locator('#graph .port.hl').first().isVisible());
      assert.equal(await page.locator('#graph .port:not(.hl)').first().isVisible(), false);
      await page.click('#open-proposal');
      await page.locator('#view-proposal .file').first().waitFor();
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'serve-page-500.png') });
      t.diagnostic(`500 workloads, ${edges} edges: drawn in ${drawnMs} ms, search and select in ${selectMs} ms`);
    } finally {
      await browser?.close();
      await serving.stop();
    }
  });
});
