// Reading the graph back: all of it, a learning window (summed from the hourly buckets), or the edges
// not used since a given time. Every list comes out in a fixed order (SQL ORDER BY on keys), so
// the graph, and every YAML built from it, is the same on every run.
import {
  type Checkpoint,
  type Edge,
  type Graph,
  type HttpEvidence,
  type Peer,
  type PeerNode,
  type PodRecord,
  type Protocol,
  VERDICTS,
  type VerdictCounts,
  type WorkloadKind,
} from '../model/index.js';
import type { Db } from './open.js';

const HOUR_MS = 3_600_000;

export interface TimeWindow {
  since?: number;
  until?: number;
}

interface EdgeRow {
  id: number;
  src: string;
  dst: string;
  protocol: string;
  port: number;
  flows: number;
  first_seen: number;
  last_seen: number;
  http_overflow: number;
  dns_overflow: number;
  /** Windowed queries only: the first and last hour with flows. */
  min_hour?: number;
  max_hour?: number;
  [verdict: string]: unknown;
}

interface PeerRow {
  id: number;
  key: string;
  type: Peer['type'];
  cluster: string | null;
  namespace: string | null;
  kind: string | null;
  name: string | null;
  entity: string | null;
  cidr: string | null;
  namespace_labels: string | null;
  first_seen: number;
  last_seen: number;
}

const EDGE_COLUMNS = `e.id, s.key AS src, d.key AS dst, e.protocol, e.port, e.http_overflow, e.dns_overflow`;
const EDGE_ORDER = 'ORDER BY s.key, d.key, e.protocol, e.port';
const EDGE_JOINS = 'JOIN peers s ON s.id = e.src_id JOIN peers d ON d.id = e.dst_id';

/** The read queries, prepared once per open store. */
export function createReader(db: Db) {
  const allEdges = db.prepare<[], EdgeRow>(
    `SELECT ${EDGE_COLUMNS}, e.flows, ${VERDICTS.map((v) => `e.${v}`).join(', ')}, e.first_seen, e.last_seen
     FROM edges e ${EDGE_JOINS} ${EDGE_ORDER}`,
  );
  const edgesLastSeenBefore = db.prepare<[number], EdgeRow>(
    `SELECT ${EDGE_COLUMNS}, e.flows, ${VERDICTS.map((v) => `e.${v}`).join(', ')}, e.first_seen, e.last_seen
     FROM edges e ${EDGE_JOINS} WHERE e.last_seen < ? ${EDGE_ORDER}`,
  );
  const windowEdges = db.prepare<[number, number], EdgeRow>(
    `SELECT ${EDGE_COLUMNS}, sum(h.flows) AS flows, ${VERDICTS.map((v) => `sum(h.${v}) AS ${v}`).join(', ')},
       e.first_seen, e.last_seen, min(h.hour) AS min_hour, max(h.hour) AS max_hour
     FROM edge_hours h JOIN edges e ON e.id = h.edge_id ${EDGE_JOINS}
     WHERE h.hour >= ? AND h.hour < ?
     GROUP BY e.id HAVING sum(h.flows) > 0 ${EDGE_ORDER}`,
  );

  // Details whose [first_seen, last_seen] overlaps [since, until).
  const detail = (table: string, column: string) =>
    db.prepare<[number, number], { edge_id: number; value: string }>(
      `SELECT edge_id, ${column} AS value FROM ${table} WHERE first_seen < ? AND last_seen >= ? ORDER BY edge_id, ${column}`,
    );
  const details = {
    dnsNames: detail('edge_dns', 'name'),
    kafkaTopics: detail('edge_kafka', 'topic'),
    dropReasons: detail('edge_drop_reasons', 'reason'),
    policies: detail('edge_policies', 'policy'),
    services: detail('edge_services', 'service'),
  };
  const http = db.prepare<
    [number, number],
    {
      edge_id: number;
      method: string;
      path: string;
      status: number;
      count: number;
      first_seen: number;
      last_seen: number;
    }
  >(
    `SELECT edge_id, method, path, status, count, first_seen, last_seen FROM edge_http
     WHERE first_seen < ? AND last_seen >= ? ORDER BY edge_id, path, method, status`,
  );

  const peers = db.prepare<[], PeerRow>('SELECT * FROM peers ORDER BY key');
  const peerSets = {
    names: db.prepare<[], { peer_id: number; value: string }>(
      'SELECT peer_id, name AS value FROM peer_names ORDER BY peer_id, name',
    ),
    ips: db.prepare<[], { peer_id: number; value: string }>(
      'SELECT peer_id, ip AS value FROM peer_ips ORDER BY peer_id, ip',
    ),
    serviceAccounts: db.prepare<[], { peer_id: number; value: string }>(
      'SELECT peer_id, service_account AS value FROM peer_service_accounts ORDER BY peer_id, service_account',
    ),
  };
  const pods = db.prepare<
    [number, number],
    {
      id: number;
      namespace: string;
      name: string;
      workload: string;
      labels: string;
      service_account: string | null;
      first_seen: number;
      last_seen: number;
    }
  >(
    `SELECT p.id, p.namespace, p.name, w.key AS workload, p.labels, p.service_account, p.first_seen, p.last_seen
     FROM pods p JOIN peers w ON w.id = p.workload_id
     WHERE p.first_seen < ? AND p.last_seen >= ? ORDER BY p.namespace, p.name`,
  );
  const podIps = db.prepare<[], { pod_id: number; ip: string }>('SELECT pod_id, ip FROM pod_ips ORDER BY pod_id, ip');

  const checkpoint = db.prepare<[string], CheckpointRow>(
    'SELECT source, position, done, label FROM checkpoints WHERE source = ?',
  );
  const checkpoints = db.prepare<[], CheckpointRow>(
    'SELECT source, position, done, label FROM checkpoints ORDER BY source',
  );
  const counts = db.prepare<[], { peers: number; workloads: number; edges: number; pods: number; flows: number }>(
    `SELECT (SELECT count(*) FROM peers) AS peers,
       (SELECT count(*) FROM peers WHERE type = 'workload') AS workloads,
       (SELECT count(*) FROM edges) AS edges,
       (SELECT count(*) FROM pods) AS pods,
       (SELECT coalesce(sum(flows), 0) FROM edges) AS flows`,
  );

  /** Edges with their evidence; details limited to those seen within [since, until). */
  function edgesWithEvidence(rows: EdgeRow[], since: number, until: number): Edge[] {
    const byId = new Map<number, Edge>();
    const edges = rows.map((r) => {
      const e = edgeFromRow(r);
      byId.set(r.id, e);
      return e;
    });
    for (const [field, stmt] of Object.entries(details) as [keyof typeof details, (typeof details)['dnsNames']][]) {
      for (const row of stmt.iterate(until, since)) byId.get(row.edge_id)?.[field].push(row.value);
    }
    // One HttpEvidence per method + path; statuses are the distinct ones seen (0 = none recorded).
    let last: { edgeId: number; ev: HttpEvidence } | undefined;
    for (const row of http.iterate(until, since)) {
      const edge = byId.get(row.edge_id);
      if (!edge) continue;
      if (last && last.edgeId === row.edge_id && last.ev.method === row.method && last.ev.path === row.path) {
        last.ev.count += row.count;
        last.ev.firstSeen = Math.min(last.ev.firstSeen, row.first_seen);
        last.ev.lastSeen = Math.max(last.ev.lastSeen, row.last_seen);
      } else {
        const ev: HttpEvidence = {
          method: row.method,
          path: row.path,
          count: row.count,
          statuses: [],
          firstSeen: row.first_seen,
          lastSeen: row.last_seen,
        };
        edge.http.push(ev);
        last = { edgeId: row.edge_id, ev };
      }
      if (row.status !== 0) last.ev.statuses.push(row.status);
    }
    return edges;
  }

  return {
    loadGraph(window: TimeWindow = {}): Graph {
      const since = window.since ?? Number.MIN_SAFE_INTEGER;
      const until = window.until ?? Number.MAX_SAFE_INTEGER;
      const windowed = window.since !== undefined || window.until !== undefined;

      let rows: EdgeRow[];
      if (windowed) {
        // Hour h covers [h, h+1) hours; it overlaps [since, until) when h >= floor(since) and h < ceil(until).
        const fromHour = window.since === undefined ? Number.MIN_SAFE_INTEGER : Math.floor(since / HOUR_MS);
        const toHour = window.until === undefined ? Number.MAX_SAFE_INTEGER : Math.ceil(until / HOUR_MS);
        rows = windowEdges.all(fromHour, toHour).map((r) => clampToWindow(r, since, until));
      } else rows = allEdges.all();
      const edges = edgesWithEvidence(rows, since, until);

      // Peers: the ends of the returned edges, plus every workload seen in the window (a workload that
      // talks to nothing still needs a default-deny policy).
      const onEdge = new Set<string>();
      for (const e of edges) onEdge.add(e.src).add(e.dst);
      const nodes = new Map<string, PeerNode>();
      const nodeById = new Map<number, PeerNode>();
      for (const row of peers.iterate()) {
        const seen = row.type === 'workload' && row.first_seen < until && row.last_seen >= since;
        if (!onEdge.has(row.key) && !seen) continue;
        const node = peerNodeFromRow(row);
        nodes.set(row.key, node);
        nodeById.set(row.id, node);
      }
      for (const [field, stmt] of Object.entries(peerSets) as [keyof typeof peerSets, (typeof peerSets)['names']][]) {
        for (const row of stmt.iterate()) nodeById.get(row.peer_id)?.[field].push(row.value);
      }

      const podList: PodRecord[] = [];
      const podById = new Map<number, PodRecord>();
      for (const row of pods.iterate(until, since)) {
        const pod: PodRecord = {
          namespace: row.namespace,
          name: row.name,
          workload: row.workload,
          labels: JSON.parse(row.labels) as Record<string, string>,
          ips: [],
          firstSeen: row.first_seen,
          lastSeen: row.last_seen,
        };
        if (row.service_account !== null) pod.serviceAccount = row.service_account;
        podList.push(pod);
        podById.set(row.id, pod);
      }
      for (const row of podIps.iterate()) podById.get(row.pod_id)?.ips.push(row.ip);

      const graphWindow: Graph['window'] = {};
      if (window.since !== undefined) graphWindow.since = window.since;
      if (window.until !== undefined) graphWindow.until = window.until;
      return { peers: nodes, pods: podList, edges, window: graphWindow };
    },

    edgesUnusedSince(time: number): Edge[] {
      return edgesWithEvidence(edgesLastSeenBefore.all(time), Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    },

    getCheckpoint(source: string): Checkpoint | undefined {
      const row = checkpoint.get(source);
      return row && checkpointFromRow(row);
    },

    listCheckpoints(): Checkpoint[] {
      return checkpoints.all().map(checkpointFromRow);
    },

    counts() {
      return counts.get()!;
    },
  };
}

/**
 * Windowed first/last seen: the edge's own times, narrowed to the hours that had flows in the window
 * and to the window itself. Precise to the hour, like the counts.
 */
function clampToWindow(r: EdgeRow, since: number, until: number): EdgeRow {
  const clamp = (t: number) => Math.min(Math.max(t, since), until - 1);
  const first = clamp(Math.max(r.first_seen, r.min_hour! * HOUR_MS));
  const last = clamp(Math.min(r.last_seen, (r.max_hour! + 1) * HOUR_MS - 1));
  return { ...r, first_seen: first, last_seen: Math.max(first, last) };
}

function edgeFromRow(r: EdgeRow): Edge {
  const verdicts: VerdictCounts = {};
  for (const v of VERDICTS) {
    const n = r[v] as number;
    if (n > 0) verdicts[v] = n;
  }
  const edge: Edge = {
    src: r.src,
    dst: r.dst,
    protocol: r.protocol as Protocol,
    port: r.port,
    flows: r.flows,
    verdicts,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    http: [],
    dnsNames: [],
    kafkaTopics: [],
    dropReasons: [],
    policies: [],
    services: [],
  };
  if (r.http_overflow > 0) edge.httpOverflow = r.http_overflow;
  if (r.dns_overflow > 0) edge.dnsOverflow = r.dns_overflow;
  return edge;
}

function peerFromRow(r: PeerRow): Peer {
  switch (r.type) {
    case 'workload': {
      const p: Peer = {
        type: 'workload',
        namespace: r.namespace ?? '',
        kind: r.kind as WorkloadKind,
        name: r.name ?? '',
      };
      if (r.cluster !== null) p.cluster = r.cluster;
      return p;
    }
    case 'reserved':
      return { type: 'reserved', entity: r.entity as Extract<Peer, { type: 'reserved' }>['entity'] };
    case 'external':
      return { type: 'external', cidr: r.cidr ?? '' };
    case 'networkset': {
      const p: Peer = { type: 'networkset', name: r.name ?? '' };
      if (r.namespace !== null) p.namespace = r.namespace;
      return p;
    }
  }
}

function peerNodeFromRow(r: PeerRow): PeerNode {
  const node: PeerNode = {
    key: r.key,
    peer: peerFromRow(r),
    names: [],
    ips: [],
    serviceAccounts: [],
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
  };
  if (r.namespace_labels !== null) node.namespaceLabels = JSON.parse(r.namespace_labels) as Record<string, string>;
  return node;
}

interface CheckpointRow {
  source: string;
  position: string;
  done: number;
  label: string | null;
}

function checkpointFromRow(r: CheckpointRow): Checkpoint {
  const cp: Checkpoint = { source: r.source, position: r.position };
  if (r.done) cp.done = true;
  if (r.label !== null) cp.label = r.label;
  return cp;
}
