// A one-line progress display on stderr, redrawn at most a few times per second, shown only on a terminal.

export interface Progress {
  update(flows: number, detail?: string): void;
  done(): void;
}

export function createProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!enabled || !stream.isTTY) return { update() {}, done() {} };
  const started = Date.now();
  let last = 0;
  let drawn = false;
  return {
    update(flows, detail = '') {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      const secs = Math.max((now - started) / 1000, 0.001);
      const line = `  ${formatCount(flows)} flows  ${formatCount(Math.round(flows / secs))}/s  ${detail}`;
      const width = stream.columns ?? 100;
      stream.write(`\r${line.slice(0, width - 1).padEnd(width - 1)}`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write(`\r${' '.repeat((stream.columns ?? 100) - 1)}\r`);
    },
  };
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${Math.round((ms % 60_000) / 1000)}s`;
}
