// The review page's first render in headless Chromium (Debian's, through playwright-core) with the service in
// this process: the bundled sample (the baseline) and a synthetic cluster of 1,000 workloads and about 5,000
// edges, whose namespaces start collapsed; then the same cluster with every namespace expanded (the whole
// graph through ELK). "First render" is from navigation to the graph laid out with its labels placed. The JS
// heap is Chromium's after the render. Nothing is asserted; the rows go to BENCHMARKS.md between the
// bench:page markers. Run: npm run bench -- --page, or node --import tsx bench/page.ts [--runs 3] [--no-record]
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import { runIngest } from '../src/cli/ingest.js';
import { loadServeConfig } from '../src/serve/index.js';
import { sharedConfig, startServing, syntheticClusterDb } from '../test/serve/helpers.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'no-record': { type: 'boolean', default: false },
    'expand-timeout': { type: 'string', default: '180' },
  },
});
const CHROMIUM = process.env.FLOWWRIGHT_CHROMIUM ?? '/usr/bin/chromium';
const root = new URL('..', import.meta.url).pathname;
const runs = Math.max(1, Number(values.runs));
const dir = mkdtempSync(join(tmpdir(), 'flowwright-bench-page-'));

interface View {
  ready: Promise<void>;
  expandAll(): Promise<void>;
  cy: { nodes(): { length: number }; edges(): { length: number } };
}
type PageWindow = { flowwright: { view(): View | undefined }; __name?: unknown };

async function firstRender(browser: Browser, url: string) {
  const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
  // tsx compiles the functions handed to page.evaluate with calls to its __name helper.
  await page.addInitScript('window.__name = (f) => f');
  const started = Date.now();
  await page.goto(`${url}/?since=all`);
  await page.waitForFunction(() => (window as unknown as PageWindow).flowwright?.view());
  await page.evaluate(() => (window as unknown as PageWindow).flowwright.view()!.ready);
  const ms = Date.now() - started;
  const drawn = await page.evaluate(() => {
    const cy = (window as unknown as PageWindow).flowwright.view()!.cy;
    return { nodes: cy.nodes().length, edges: cy.edges().length };
  });
  return { page, ms, drawn, heapMb: await heapMb(page) };
}

async function heapMb(page: Page): Promise<number> {
  const bytes = await page.evaluate(
    () => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0,
  );
  return Math.round(bytes / 1e6);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function measure(browser: Browser, db: string, expand: boolean) {
  const config = loadServeConfig({ text: 'listen: 127.0.0.1:0', file: 'bench.yaml', shared: sharedConfig(db) });
  const serving = startServing(config, () => undefined);
  try {
    const { url } = await serving.listening();
    const times: number[] = [];
    let last: Awaited<ReturnType<typeof firstRender>> | undefined;
    for (let i = 0; i < runs; i++) {
      await last?.page.close();
      last = await firstRender(browser, url);
      times.push(last.ms);
    }
    const result = { ms: median(times), times, drawn: last!.drawn, heapMb: last!.heapMb, expand: undefined as unknown };
    if (expand) {
      const page = last!.page;
      const started = Date.now();
      const timeoutMs = Number(values['expand-timeout']) * 1000;
      const done = await Promise.race([
        page.evaluate(() => (window as unknown as PageWindow).flowwright.view()!.expandAll()).then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), timeoutMs)),
      ]);
      const drawn = done
        ? await page.evaluate(() => {
            const cy = (window as unknown as PageWindow).flowwright.view()!.cy;
            return { nodes: cy.nodes().length, edges: cy.edges().length };
          })
        : undefined;
      result.expand = { done, ms: Date.now() - started, drawn, heapMb: done ? await heapMb(page) : undefined };
    }
    await last!.page.close();
    return result;
  } finally {
    await serving.stop();
  }
}

if (!existsSync(CHROMIUM)) {
  console.error(`bench/page: no browser at ${CHROMIUM}`);
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
try {
  const sampleDb = join(dir, 'sample.db');
  await runIngest({ inputs: [join(root, 'samples/shop-hubble.jsonl.gz')], db: sampleDb, progress: false });
  const largeDb = join(dir, 'large.db');
  const { edges } = syntheticClusterDb(largeDb, 1000, 5);
  const sample = await measure(browser, sampleDb, false);
  console.log(`sample: ${sample.drawn.nodes} nodes, ${sample.drawn.edges} edges drawn, ${sample.times.join(', ')} ms`);
  const large = await measure(browser, largeDb, true);
  const expand = large.expand as {
    done: boolean;
    ms: number;
    drawn?: { nodes: number; edges: number };
    heapMb?: number;
  };
  console.log(
    `1,000 workloads, ${edges} edges: collapsed to ${large.drawn.nodes} nodes, ${large.drawn.edges} edges, ${large.times.join(', ')} ms; ` +
      `expand all: ${expand.done ? `${expand.drawn!.nodes} nodes, ${expand.drawn!.edges} edges in ${expand.ms} ms` : `not done in ${expand.ms} ms`}`,
  );
  if (!values['no-record']) {
    const date = new Date().toISOString().slice(0, 10);
    const machine = `${cpus().length} cores, Chromium ${browser.version()}`;
    const ratio = (ms: number) => (ms / sample.ms).toFixed(1);
    const rows = [
      '| date | case | drawn | first render (median) | ratio to the sample | JS heap | machine |',
      '|---|---|---|---|---|---|---|',
      `| ${date} | sample shop (baseline) | ${sample.drawn.nodes} nodes, ${sample.drawn.edges} edges | ${sample.ms} ms | 1.0 | ${sample.heapMb} MB | ${machine} |`,
      `| ${date} | 1,000 workloads, ${edges.toLocaleString('en-US')} edges, namespaces collapsed | ${large.drawn.nodes} nodes, ${large.drawn.edges} edges | ${large.ms} ms | ${ratio(large.ms)} | ${large.heapMb} MB | ${machine} |`,
      expand.done
        ? `| ${date} | the same, every namespace expanded (after the first render) | ${expand.drawn!.nodes} nodes, ${expand.drawn!.edges} edges | ${expand.ms} ms | ${ratio(expand.ms)} | ${expand.heapMb} MB | ${machine} |`
        : `| ${date} | the same, every namespace expanded (after the first render) | not finished | > ${expand.ms} ms | | | ${machine} |`,
    ];
    const path = join(root, 'BENCHMARKS.md');
    const START = '<!-- bench:page:start -->';
    const END = '<!-- bench:page:end -->';
    const text = readFileSync(path, 'utf8');
    const a = text.indexOf(START);
    const b = text.indexOf(END);
    if (a < 0 || b < a) console.error(`BENCHMARKS.md has no ${START} … ${END} block; not recorded`);
    else {
      writeFileSync(path, `${text.slice(0, a + START.length)}\n${rows.join('\n')}\n${text.slice(b)}`);
      console.log('recorded in BENCHMARKS.md');
    }
  }
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
