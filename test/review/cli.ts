// Running the real command line for the verify, diff and explain tests: one process per command
// (through tsx), a temporary directory as working directory, and the sample shop learned once.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runIngest } from '../../src/cli/ingest.js';
import { ROOT, SAMPLE } from './shop.js';

/** tsx by absolute URL: the working directory is a temporary one without node_modules. */
const TSX = import.meta.resolve('tsx');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function flowwright(cwd: string, args: string[]): Run {
  const r = spawnSync(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, FLOWWRIGHT_DB: '', NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A temp directory holding `shop.db` (the learned sample) and a copy of the existing policy set. */
export async function workspace(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'flowwright-review-cli-'));
  await runIngest({ inputs: [SAMPLE], db: join(dir, 'shop.db'), progress: false });
  cpSync(join(import.meta.dirname, 'fixtures/existing'), join(dir, 'existing'), { recursive: true });
  return dir;
}

export function removeWorkspace(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
