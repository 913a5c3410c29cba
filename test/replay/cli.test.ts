// `flowwright replay` as the CLI runs it (runReplay): files in, a listening server out, with malformed
// lines reported and bad arguments refused.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_START, hubbleLines } from '../../samples/hubble.js';
import { shopScenario } from '../../samples/shop.js';
import { runReplay } from '../../src/cli/replay.js';
import { streamRelayFlows } from '../../src/collect/hubble/relay.js';
import { emptyStats, FlowwrightError } from '../../src/model/index.js';

const dir = mkdtempSync(join(tmpdir(), 'flowwright-replay-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const lines = [
  ...hubbleLines(shopScenario(), {
    flows: 200,
    seed: 2,
    startMs: Date.parse(DEFAULT_START),
    spanMs: 60_000,
    l7: false,
  }),
];
const flowCount = lines.filter((l) => l.startsWith('{"flow"')).length;

describe('runReplay', () => {
  it('serves the flows of a file, reporting malformed lines by file and line', async () => {
    const file = join(dir, 'flows.json');
    writeFileSync(file, `${lines.slice(0, 50).join('\n')}\n{"flow": broken\n${lines.slice(50).join('\n')}\n`);
    const log: string[] = [];
    const server = await runReplay({ inputs: [file], listen: '127.0.0.1:0', log: (l) => log.push(l) });
    try {
      assert.match(log[0], new RegExp(`^  malformed: ${file.replaceAll('.', '\\.')}:51: not valid JSON$`));
      assert.match(
        log.at(-1)!,
        new RegExp(
          `^serving ${flowCount} flows \\(${lines.length} records, 1 malformed skipped\\) on 127\\.0\\.0\\.1:\\d+; Ctrl-C to stop$`,
        ),
      );
      const stats = emptyStats();
      for await (const _ of streamRelayFlows({ address: server.address, follow: false }, stats)) {
        // counted in stats
      }
      assert.equal(stats.flows, flowCount);
    } finally {
      await server.close();
    }
  });

  it('refuses an input without flows, a bad listen address and unreadable TLS files', async () => {
    const empty = join(dir, 'empty.json');
    writeFileSync(empty, '\n');
    await assert.rejects(
      runReplay({ inputs: [empty], listen: '127.0.0.1:0' }),
      (err: unknown) => err instanceof FlowwrightError && err.code === 'input' && /no Hubble flows/.test(err.message),
    );
    await assert.rejects(
      runReplay({ inputs: [empty], listen: '127.0.0.1:http' }),
      (err: unknown) => err instanceof FlowwrightError && err.code === 'usage' && /--listen/.test(err.message),
    );
    await assert.rejects(
      runReplay({
        inputs: [empty],
        listen: '127.0.0.1:0',
        tls: { cert: join(dir, 'missing.crt'), key: join(dir, 'missing.key') },
      }),
      (err: unknown) =>
        err instanceof FlowwrightError && err.code === 'input' && err.location?.file === join(dir, 'missing.crt'),
    );
  });
});
