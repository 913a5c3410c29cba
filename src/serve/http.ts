// The HTTP side of the service (node:http, no framework): a read-only JSON API under /api/v1, the
// health endpoints, /metrics, and the web page's static files. Only GET and HEAD are served; requests
// with bodies, long URLs or large headers are refused before any work is done; with a token configured
// every /api and /metrics request must carry `Authorization: Bearer <token>` (compared in constant time,
// never logged).
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assignSelectors } from '../identity/index.js';
import { describeError, FlowwrightError, type Graph } from '../model/index.js';
import type { DiffMode } from '../review/index.js';
import { DEFAULT_POLICIES_OPTIONS, type L7Level, type PoliciesOptions, type PolicyKind } from '../synthesize/index.js';
import type { ServeConfig } from './config.js';
import { type Family, PROMETHEUS_CONTENT_TYPE, renderMetrics } from './metrics.js';
import { DIFF_MODES, diffView, explainView, POLICIES_HINT, verifyView } from './review.js';
import type { Log, Service } from './service.js';
import { graphView, proposalView, propose, workloadsView, workloadView } from './views.js';

const HOUR_MS = 3_600_000;

export interface HttpOptions {
  config: ServeConfig;
  service: Service;
  log: Log;
}

export interface HttpServer {
  server: Server;
  /** `http://host:port` as bound. */
  url: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The web page's files: next to this module under tsx (src/serve/web), or in the package's src/serve/web from dist. */
export function webDir(): string {
  for (const rel of ['./web/', '../../../src/serve/web/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  throw new FlowwrightError('internal', `web page files not found near ${fileURLToPath(import.meta.url)}`);
}

const STATIC: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/graph.js': 'graph.js',
  '/style.css': 'style.css',
};
// The graph libraries, served from the installed packages so the page works offline under its CSP.
const VENDOR: Record<string, string> = {
  '/vendor/cytoscape.min.js': 'cytoscape/dist/cytoscape.min.js',
  '/vendor/elk.bundled.js': 'elkjs/lib/elk.bundled.js',
  '/vendor/cytoscape-elk.js': 'cytoscape-elk/dist/cytoscape-elk.js',
};
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'Cache-Control': 'no-store',
};

const DURATION = /^(\d+(?:\.\d+)?)(m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { m: 60e3, h: HOUR_MS, d: 24 * HOUR_MS, w: 7 * 24 * HOUR_MS };

/** `since`/`until` query values: RFC 3339, or a duration before now (`24h`, `7d`); `all` = no limit. */
function parseWhen(raw: string | null, name: string, now: number): number | undefined {
  if (raw === null || raw === '' || raw === 'all') return undefined;
  const d = DURATION.exec(raw);
  if (d) return now - Number(d[1]) * UNIT_MS[d[2]];
  const t = Date.parse(raw);
  if (Number.isNaN(t))
    throw new HttpError(400, `${name}: expected an RFC 3339 time or a duration like 24h, got '${raw}'`);
  return t;
}

function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export async function startHttp(opts: HttpOptions): Promise<HttpServer> {
  const { config, service, log } = opts;
  const dir = webDir();
  // Read once: the page is small and does not change while the process runs.
  const files = new Map<string, Buffer>();
  for (const name of new Set(Object.values(STATIC))) files.set(name, readFileSync(join(dir, name)));
  const require = createRequire(import.meta.url);
  for (const [path, module] of Object.entries(VENDOR)) files.set(path, readFileSync(require.resolve(module)));
  const expected = config.token !== undefined ? tokenDigest(config.token) : undefined;
  const byStatus = new Map<number, number>();

  // Graphs and proposals are cached per flush generation: reading them again is the costly part.
  let cacheGeneration = -1;
  const cache = new Map<string, unknown>();
  const cached = <T>(key: string, make: () => T): T => {
    if (cacheGeneration !== service.generation()) {
      cache.clear();
      cacheGeneration = service.generation();
    }
    if (cache.has(key)) return cache.get(key) as T;
    const value = make();
    if (cache.size >= 64) cache.delete(cache.keys().next().value as string);
    cache.set(key, value);
    return value;
  };

  const windowOf = (q: URLSearchParams) => {
    const now = Date.now();
    const defaultSince = config.windowMs !== undefined ? now - config.windowMs : undefined;
    const since = q.has('since') ? parseWhen(q.get('since'), 'since', now) : defaultSince;
    const until = parseWhen(q.get('until'), 'until', now);
    if (since !== undefined && until !== undefined && since >= until)
      throw new HttpError(400, 'since must be before until');
    // Round to the minute so that repeated requests share the cache.
    const round = (t: number | undefined) => (t === undefined ? undefined : Math.floor(t / 60_000) * 60_000);
    return { since: round(since), until: round(until) };
  };
  // Selectors are a pure function of the graph; a cached graph gets them once.
  const withSelectors = new WeakSet<Graph>();
  const assignSelectorsOnce = (graph: Graph) => {
    if (withSelectors.has(graph)) return;
    assignSelectors(graph);
    withSelectors.add(graph);
  };
  const loadGraph = (q: URLSearchParams): Graph => {
    const w = windowOf(q);
    return cached(`graph|${w.since}|${w.until}`, () => service.store.loadGraph(w));
  };
  const proposalOptions: PoliciesOptions = {
    ...DEFAULT_POLICIES_OPTIONS,
    minFlows: config.minFlows,
    defaultDeny: config.defaultDeny,
    includeSystemNamespaces: config.includeSystemNamespaces,
    systemNamespaces: config.systemNamespaces
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    nodeCidrs: config.nodeCidr
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    allowDropped: config.allowDropped,
    cidrPrefixV4: config.cidrPrefix,
    cidrPrefixV6: config.cidrPrefixV6,
    trustDomain: config.trustDomain,
    l7: config.l7 as L7Level,
    tenantLabel: config.tenantLabel,
  };
  const kinds: readonly string[] = config.kinds;
  const proposalFor = (graph: Graph, kind: PolicyKind) =>
    cached(`proposal|${kind}|${graph.window.since}|${graph.window.until}`, () => {
      assignSelectorsOnce(graph);
      return propose(graph, kind, proposalOptions);
    });

  const health = () => {
    const sources = service.sources.map((s) => ({
      name: s.name,
      type: s.type,
      state: s.state,
      connections: s.connections,
      reconnects: s.reconnects,
      flows: s.stats.flows,
      malformed: s.stats.malformed,
      lastError: s.lastError ?? null,
      lastConnectedAt: s.lastConnectedAt ? new Date(s.lastConnectedAt).toISOString() : null,
    }));
    return sources;
  };

  const metrics = (): Family[] => {
    const src = service.sources;
    const per = (value: (s: (typeof src)[number]) => number) =>
      src.map((s) => ({ labels: { source: s.name, type: s.type }, value: value(s) }));
    const counts = service.store.counts();
    const lag = src.flatMap((s) =>
      [...(s.kafka?.lag.values() ?? [])].map((l) => ({
        labels: { source: s.name, topic: l.topic, partition: String(l.partition) },
        value: l.lag,
      })),
    );
    const families: Family[] = [
      {
        name: 'flowwright_flows_ingested_total',
        type: 'counter',
        help: 'Flow records received from the source (replies included).',
        samples: per((s) => s.stats.flows),
      },
      {
        name: 'flowwright_records_total',
        type: 'counter',
        help: 'Records received from the source, flows or not.',
        samples: per((s) => s.stats.records),
      },
      {
        name: 'flowwright_records_malformed_total',
        type: 'counter',
        help: 'Records that could not be read, counted and skipped.',
        samples: per((s) => s.stats.malformed),
      },
      {
        name: 'flowwright_records_nonflow_total',
        type: 'counter',
        help: 'Valid records that are not flows (node status, lost events).',
        samples: per((s) => s.stats.nonFlow),
      },
      {
        name: 'flowwright_events_lost_total',
        type: 'counter',
        help: 'Events the source reported as lost before they reached flowwright.',
        samples: per((s) => s.stats.lostEvents),
      },
      {
        name: 'flowwright_flows_duplicate_total',
        type: 'counter',
        help: 'Flows a resumed stream sent again, recognized and skipped.',
        samples: per((s) => s.duplicates),
      },
      {
        name: 'flowwright_replies_skipped_total',
        type: 'counter',
        help: 'Reply flows skipped: they are not dependencies.',
        samples: [{ value: service.counters.replies() }],
      },
      {
        name: 'flowwright_replies_unknown_total',
        type: 'counter',
        help: 'Flows that did not tell request from reply, counted as requests.',
        samples: [{ value: service.counters.unknownReply() }],
      },
      {
        name: 'flowwright_source_connected',
        type: 'gauge',
        help: '1 while the source is connected, 0 otherwise.',
        samples: per((s) => (s.state === 'connected' ? 1 : 0)),
      },
      {
        name: 'flowwright_source_reconnects_total',
        type: 'counter',
        help: 'Times the source was lost and retried.',
        samples: per((s) => s.reconnects),
      },
      {
        name: 'flowwright_edges',
        type: 'gauge',
        help: 'Edges in the stored graph.',
        samples: [{ value: counts.edges }],
      },
      {
        name: 'flowwright_workloads',
        type: 'gauge',
        help: 'Workloads in the stored graph.',
        samples: [{ value: counts.workloads }],
      },
      {
        name: 'flowwright_pending_flows',
        type: 'gauge',
        help: 'Flows received and not yet written to the database.',
        samples: [{ value: service.counters.pendingFlows() }],
      },
      {
        name: 'flowwright_flush_duration_seconds',
        type: 'histogram',
        help: 'Time taken by each write of the aggregate to the database.',
        samples: service.counters.flushSeconds.samples(),
      },
      {
        name: 'flowwright_flush_errors_total',
        type: 'counter',
        help: 'Writes to the database that failed (retried at the next flush).',
        samples: [{ value: service.counters.flushErrors }],
      },
      {
        name: 'flowwright_retention_pruned_total',
        type: 'counter',
        help: 'Hourly buckets deleted because they were older than the retention window.',
        samples: [{ value: service.counters.pruned }],
      },
      {
        name: 'flowwright_http_requests_total',
        type: 'counter',
        help: 'HTTP requests answered, by status code.',
        samples: [...byStatus]
          .sort((a, b) => a[0] - b[0])
          .map(([code, n]) => ({ labels: { code: String(code) }, value: n })),
      },
    ];
    const kafka = src.flatMap((s) => (s.kafka ? [{ name: s.name, counters: s.kafka }] : []));
    const perKafka = (key: 'poison' | 'rebalances' | 'batches') =>
      kafka.map((s) => ({ labels: { source: s.name }, value: s.counters[key] }));
    if (kafka.length > 0)
      families.push(
        {
          name: 'flowwright_kafka_poison_messages_total',
          type: 'counter',
          help: 'Kafka messages with nothing readable, skipped (and copied to the dead-letter topic when set).',
          samples: perKafka('poison'),
        },
        {
          name: 'flowwright_kafka_rebalances_total',
          type: 'counter',
          help: 'Partition assignments received by the Kafka consumer.',
          samples: perKafka('rebalances'),
        },
        {
          name: 'flowwright_kafka_batches_total',
          type: 'counter',
          help: 'Kafka batches written to the database, each in one transaction with its offsets.',
          samples: perKafka('batches'),
        },
      );
    if (lag.length > 0)
      families.push({
        name: 'flowwright_kafka_consumer_lag',
        type: 'gauge',
        help: 'Messages in the partition not yet consumed.',
        samples: lag,
      });
    return families;
  };

  const authorized = (req: IncomingMessage): boolean => {
    if (!expected) return true;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer (.+)$/i.exec(header);
    // Hashing both sides gives equal lengths, so the comparison time does not depend on the token.
    return m !== null && timingSafeEqual(tokenDigest(m[1].trim()), expected);
  };

  const send = (res: ServerResponse, status: number, body: string | Buffer, type: string, extra = {}) => {
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
      ...extra,
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };
  const json = (res: ServerResponse, status: number, body: unknown) =>
    send(res, status, `${JSON.stringify(body)}\n`, 'application/json; charset=utf-8');

  const api = async (path: string, q: URLSearchParams, res: ServerResponse) => {
    const namespace = q.get('namespace') || undefined;
    if (path === 'workloads') return json(res, 200, workloadsView(loadGraph(q), namespace));
    if (path.startsWith('workloads/')) {
      const key = path.slice('workloads/'.length);
      const graph = loadGraph(q);
      assignSelectorsOnce(graph);
      const view = workloadView(graph, key);
      if (!view) throw new HttpError(404, `no workload '${key}' in the learning window`);
      return json(res, 200, view);
    }
    if (path === 'graph') return json(res, 200, graphView(loadGraph(q), namespace));
    if (path === 'proposals') return json(res, 200, { kinds });
    const pm = /^proposals\/([a-z-]+)(?:\/files\/(.+))?$/.exec(path);
    if (pm) {
      const kind = pm[1] as PolicyKind;
      if (!kinds.includes(kind))
        throw new HttpError(404, `no proposal kind '${kind}' (available: ${kinds.join(', ')})`);
      const graph = loadGraph(q);
      const proposal = proposalFor(graph, kind);
      if (pm[2] !== undefined) {
        const file = proposal.files.find((f) => f.path === pm[2]);
        if (!file) throw new HttpError(404, `no file '${pm[2]}' in the ${kind} proposal`);
        const view = proposalView(graph, kind, { ...proposal, files: [file] }, {});
        const name = file.path.replace(/[^A-Za-z0-9._-]+/g, '_');
        return send(res, 200, view.files[0].yaml, 'application/yaml; charset=utf-8', {
          'Content-Disposition': `attachment; filename="${name}"`,
        });
      }
      return json(
        res,
        200,
        proposalView(graph, kind, proposal, { namespace, workload: q.get('workload') || undefined }),
      );
    }
    if (path === 'explain') {
      const need = (name: string) => {
        const v = q.get(name);
        if (!v) throw new HttpError(400, `${name}: required`);
        return v;
      };
      const port = Number(need('port'));
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new HttpError(400, `port: expected 0-65535, got '${q.get('port')}'`);
      const graph = loadGraph(q);
      assignSelectorsOnce(graph);
      const target = { src: need('src'), dst: need('dst'), protocol: need('protocol').toUpperCase(), port };
      for (const end of ['src', 'dst'] as const)
        if (!graph.peers.has(target[end]))
          throw new HttpError(404, `${end}: no peer '${target[end]}' in the learning window`);
      return json(res, 200, explainView(graph, proposalFor(graph, 'networkpolicy'), config.policiesDir, target));
    }
    if (path === 'verify' || path === 'diff') {
      if (config.policiesDir === undefined)
        throw new HttpError(404, `${path} needs the existing policies: ${POLICIES_HINT}`);
      const graph = loadGraph(q);
      assignSelectorsOnce(graph);
      if (path === 'verify') return json(res, 200, verifyView(graph, config.policiesDir));
      const mode = (q.get('mode') ?? 'additive') as DiffMode;
      if (!DIFF_MODES.includes(mode)) throw new HttpError(400, `mode: expected one of ${DIFF_MODES.join(', ')}`);
      const unusedFor = q.get('unusedFor');
      let unusedForMs: number | undefined;
      if (unusedFor) {
        const d = DURATION.exec(unusedFor);
        if (!d) throw new HttpError(400, `unusedFor: expected a duration like 30d, got '${unusedFor}'`);
        unusedForMs = Number(d[1]) * UNIT_MS[d[2]];
      }
      const proposal = proposalFor(graph, 'networkpolicy');
      return json(res, 200, diffView(graph, proposal, config.policiesDir, mode, unusedForMs));
    }
    throw new HttpError(404, `no such endpoint: /api/v1/${path}`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if ((req.url ?? '').length > config.limits.maxUrlBytes) throw new HttpError(414, 'URL too long');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      throw new HttpError(405, 'this service is read-only: only GET and HEAD are accepted');
    }
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > config.limits.maxBodyBytes || (req.headers['transfer-encoding'] && config.limits.maxBodyBytes === 0))
      throw new HttpError(413, 'request bodies are not accepted');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const sources = health();
      const ready = !service.stopping() && (sources.length === 0 || sources.some((s) => s.state === 'connected'));
      return json(res, ready ? 200 : 503, {
        status: ready ? 'ready' : service.stopping() ? 'stopping' : 'no source connected',
        sources,
      });
    }
    if (path === '/favicon.ico') {
      res.writeHead(204, SECURITY_HEADERS);
      return res.end();
    }
    const staticFile = STATIC[path];
    if (staticFile) return send(res, 200, files.get(staticFile)!, CONTENT_TYPES[extname(staticFile)]);
    if (VENDOR[path])
      return send(res, 200, files.get(path)!, CONTENT_TYPES['.js'], { 'Cache-Control': 'max-age=86400' });
    if (path === '/metrics' || path.startsWith('/api/')) {
      if (!authorized(req)) throw new HttpError(401, 'missing or wrong bearer token');
      if (path === '/metrics') return send(res, 200, renderMetrics(metrics()), PROMETHEUS_CONTENT_TYPE);
      if (path === '/api/v1/health') return json(res, 200, { sources: health(), generation: service.generation() });
      if (path.startsWith('/api/v1/')) {
        let rest: string;
        try {
          rest = decodeURIComponent(path.slice('/api/v1/'.length));
        } catch {
          throw new HttpError(400, 'bad percent-encoding in the path');
        }
        return api(rest, url.searchParams, res);
      }
    }
    throw new HttpError(404, `not found: ${path}`);
  };

  const server = createServer(
    {
      maxHeaderSize: config.limits.maxHeaderBytes,
      requestTimeout: config.limits.requestTimeoutMs,
      headersTimeout: Math.min(config.limits.requestTimeoutMs, 20_000),
    },
    (req, res) => {
      // A body we will not read is left on the socket: close the connection after answering.
      handle(req, res).catch((err) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (err instanceof HttpError) {
          if (err.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
          if (err.status === 413) res.setHeader('Connection', 'close');
          return json(res, err.status, { error: err.message });
        }
        // The path and method only: query strings and headers may carry secrets.
        log('error', 'request failed', {
          method: req.method,
          path: (req.url ?? '').split('?')[0],
          error: describeError(err),
        });
        const status = err instanceof FlowwrightError && err.code === 'store' ? 503 : 500;
        json(res, status, { error: status === 503 ? 'the database is not available' : 'internal error' });
      });
    },
  );
  server.maxRequestsPerSocket = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new FlowwrightError(
          'usage',
          `cannot listen on ${config.listen.host}:${config.listen.port}: ${err.code ?? err.message}`,
        ),
      ),
    );
    server.listen(config.listen.port, config.listen.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `http://${host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
