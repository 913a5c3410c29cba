// The in-cluster service: live collectors → one aggregator → the store, and a read-only HTTP API, metrics
// and web page over the same store. `runServe` is the whole life of the process: start, serve until the
// signal aborts, then stop the sources, write everything received, close.
import { describeError } from '../model/index.js';
import type { ServeConfig } from './config.js';
import { type HttpServer, startHttp } from './http.js';
import { type Log, type Service, startService } from './service.js';

export * from './config.js';
export { type HttpServer, startHttp, webDir } from './http.js';
export { type Family, renderMetrics } from './metrics.js';
export {
  type Log,
  type Service,
  type SourceOpener,
  type SourceStatus,
  sourceCheckpointKey,
  startService,
} from './service.js';

export interface RunServeOptions {
  config: ServeConfig;
  log: Log;
  signal: AbortSignal;
  openers?: Parameters<typeof startService>[0]['openers'];
  /** Called once the HTTP server listens (tests read the URL from here). */
  onListening?: (http: HttpServer, service: Service) => void;
}

/** One JSON object per line on stderr: the service log. */
export function jsonLog(write: (line: string) => void = (l) => process.stderr.write(l)): Log {
  return (level, msg, fields) =>
    write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
}

export async function runServe(opts: RunServeOptions): Promise<void> {
  const { config, log } = opts;
  const service = startService({ config, log, openers: opts.openers });
  let http: HttpServer;
  try {
    http = await startHttp({ config, service, log });
  } catch (err) {
    await service.stop().catch(() => undefined);
    throw err;
  }
  // What was configured, never the token itself.
  log('info', 'serving', {
    url: http.url,
    db: config.db,
    auth: config.token !== undefined ? 'bearer token' : 'none',
    sources: config.sources.map((s) => s.name),
    flushIntervalMs: config.flushIntervalMs,
    retentionMs: config.retentionMs ?? null,
  });
  opts.onListening?.(http, service);
  await new Promise<void>((resolve) => {
    if (opts.signal.aborted) return resolve();
    opts.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  log('info', 'stopping: writing what was received');
  const guard = setTimeout(() => {
    log('error', 'stopping takes too long; giving up', { shutdownTimeoutMs: config.shutdownTimeoutMs });
    process.exit(1);
  }, config.shutdownTimeoutMs);
  guard.unref();
  try {
    await service.stop();
    const received = service.sources.reduce((n, s) => n + s.stats.flows, 0);
    log('info', 'stopped', {
      flowsReceived: received,
      repliesSkipped: service.counters.replies(),
      dependencies: service.counters.dependencies(),
      flushes: service.counters.flushes,
      sources: service.sources.map((s) => ({ name: s.name, flows: s.stats.flows, duplicates: s.duplicates })),
    });
  } catch (err) {
    log('error', 'stopped with unwritten data', { error: describeError(err) });
    throw err;
  } finally {
    clearTimeout(guard);
    await http.close();
  }
}
