// Applying a GraphDelta: every count is added with an UPSERT, sets are merged, and the source checkpoints
// are written last in the SAME transaction, so a crash or a failure anywhere leaves both the counts and
// the positions as they were and a restart re-reads exactly the records that were not stored.
import {
  type Checkpoint,
  combineReports,
  type DetailCount,
  type EdgeDelta,
  FlowwrightError,
  type GraphDelta,
  MAX_DETAILS_PER_EDGE,
  type PeerSighting,
  type PodRecord,
  totalOf,
  VERDICTS,
  type VerdictCounts,
} from '../model/index.js';
import { type Db, storeError } from './open.js';

/** The verdict columns of `edges` and `edge_hours`, in VERDICTS order. */
const VERDICT_COLUMNS = VERDICTS.join(', ');
const VERDICT_PLACEHOLDERS = VERDICTS.map(() => '?').join(', ');
const VERDICT_SUMS = VERDICTS.map((v) => `${v} = ${v} + excluded.${v}`).join(', ');

function verdictValues(v: VerdictCounts): number[] {
  return VERDICTS.map((name) => v[name] ?? 0);
}

// Simple details share one shape: (edge_id, <column>, count, first_seen, last_seen).
const DETAIL_TABLES = {
  kafkaTopics: ['edge_kafka', 'topic'],
  dropReasons: ['edge_drop_reasons', 'reason'],
  policies: ['edge_policies', 'policy'],
  services: ['edge_services', 'service'],
} as const;

function detailUpsert(table: string, column: string): string {
  return `INSERT INTO ${table} (edge_id, ${column}, count, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (edge_id, ${column}) DO UPDATE SET count = count + excluded.count,
      first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`;
}

/** Applies a delta; with `expected`, only if every listed checkpoint is still at that position (false otherwise). */
export type DeltaWriter = (delta: GraphDelta, expected?: ExpectedCheckpoint[]) => boolean;

/** A checkpoint position a conditional write requires; `position: undefined` means "none stored yet". */
export interface ExpectedCheckpoint {
  source: string;
  position: string | undefined;
}

/** Prepares the statements once per open store; returns the function that applies one delta. */
export function createWriter(db: Db, path: string): DeltaWriter {
  const upsertPeer = db.prepare<unknown[], { id: number }>(
    `INSERT INTO peers (key, type, cluster, namespace, kind, name, entity, cidr, namespace_labels, first_seen, last_seen)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET
       first_seen = min(first_seen, excluded.first_seen),
       last_seen = max(last_seen, excluded.last_seen),
       -- the most recently observed labels win, also when an older file is ingested later
       namespace_labels = CASE WHEN excluded.namespace_labels IS NOT NULL
         AND (namespace_labels IS NULL OR excluded.last_seen >= last_seen)
         THEN excluded.namespace_labels ELSE namespace_labels END
     RETURNING id`,
  );
  const peerIdByKey = db.prepare<[string], { id: number }>('SELECT id FROM peers WHERE key = ?');
  const addPeerName = db.prepare('INSERT OR IGNORE INTO peer_names (peer_id, name) VALUES (?, ?)');
  const addPeerIp = db.prepare('INSERT OR IGNORE INTO peer_ips (peer_id, ip) VALUES (?, ?)');
  const addPeerSa = db.prepare('INSERT OR IGNORE INTO peer_service_accounts (peer_id, service_account) VALUES (?, ?)');

  const upsertPod = db.prepare<unknown[], { id: number }>(
    `INSERT INTO pods (namespace, name, workload_id, labels, service_account, first_seen, last_seen)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (namespace, name) DO UPDATE SET
       workload_id = CASE WHEN excluded.last_seen >= last_seen THEN excluded.workload_id ELSE workload_id END,
       labels = CASE WHEN excluded.last_seen >= last_seen THEN excluded.labels ELSE labels END,
       service_account = CASE WHEN excluded.service_account IS NOT NULL
         AND (service_account IS NULL OR excluded.last_seen >= last_seen)
         THEN excluded.service_account ELSE service_account END,
       first_seen = min(first_seen, excluded.first_seen),
       last_seen = max(last_seen, excluded.last_seen)
     RETURNING id`,
  );
  const addPodIp = db.prepare('INSERT OR IGNORE INTO pod_ips (pod_id, ip) VALUES (?, ?)');

  const upsertEdge = db.prepare<unknown[], { id: number }>(
    `INSERT INTO edges (src_id, dst_id, protocol, port, flows, ${VERDICT_COLUMNS}, first_seen, last_seen,
       http_overflow, dns_overflow)
     VALUES (?, ?, ?, ?, ?, ${VERDICT_PLACEHOLDERS}, ?, ?, ?, ?)
     ON CONFLICT (src_id, dst_id, protocol, port) DO UPDATE SET
       flows = flows + excluded.flows, ${VERDICT_SUMS},
       first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen),
       http_overflow = http_overflow + excluded.http_overflow, dns_overflow = dns_overflow + excluded.dns_overflow
     RETURNING id`,
  );
  const upsertHour = db.prepare(
    `INSERT INTO edge_hours (edge_id, hour, flows, ${VERDICT_COLUMNS}) VALUES (?, ?, ?, ${VERDICT_PLACEHOLDERS})
     ON CONFLICT (edge_id, hour) DO UPDATE SET flows = flows + excluded.flows, ${VERDICT_SUMS}`,
  );
  // Calico's per-end counts of an hour (migration 003) and the correction of the edge's totals when
  // they combine with stored ones. Prepared on first use: only deltas with Calico reports need them.
  let reportStatements: ReturnType<typeof prepareReportStatements> | undefined;
  const reportsSql = () => {
    reportStatements ??= prepareReportStatements(db);
    return reportStatements;
  };

  // HTTP and DNS rows are capped per edge: update an existing row, else insert while under the cap,
  // else only count the overflow on the edge.
  const updateHttp = db.prepare(
    `UPDATE edge_http SET count = count + ?, first_seen = min(first_seen, ?), last_seen = max(last_seen, ?)
     WHERE edge_id = ? AND method = ? AND path = ? AND status = ?`,
  );
  const insertHttp = db.prepare(
    'INSERT INTO edge_http (edge_id, method, path, status, count, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const countHttp = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM edge_http WHERE edge_id = ?');
  const addHttpOverflow = db.prepare('UPDATE edges SET http_overflow = http_overflow + ? WHERE id = ?');
  const updateDns = db.prepare(
    `UPDATE edge_dns SET count = count + ?, first_seen = min(first_seen, ?), last_seen = max(last_seen, ?)
     WHERE edge_id = ? AND name = ?`,
  );
  const insertDns = db.prepare(
    'INSERT INTO edge_dns (edge_id, name, count, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)',
  );
  const countDns = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM edge_dns WHERE edge_id = ?');
  const addDnsOverflow = db.prepare('UPDATE edges SET dns_overflow = dns_overflow + ? WHERE id = ?');

  const upsertDetail = {
    kafkaTopics: db.prepare(detailUpsert(...DETAIL_TABLES.kafkaTopics)),
    dropReasons: db.prepare(detailUpsert(...DETAIL_TABLES.dropReasons)),
    policies: db.prepare(detailUpsert(...DETAIL_TABLES.policies)),
    services: db.prepare(detailUpsert(...DETAIL_TABLES.services)),
  };

  const upsertCheckpoint = db.prepare(
    `INSERT INTO checkpoints (source, position, done, label, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (source) DO UPDATE SET position = excluded.position, done = excluded.done,
       label = coalesce(excluded.label, label), updated_at = excluded.updated_at`,
  );

  // Ids of the peers written by the current transaction; rebuilt each time so that a rolled-back
  // transaction cannot leave ids behind that do not exist.
  let peerIds = new Map<string, number>();

  function peerId(key: string, usedBy: string): number {
    let id = peerIds.get(key);
    if (id === undefined) {
      id = peerIdByKey.get(key)?.id;
      if (id === undefined)
        throw storeError(path, `${usedBy} refers to peer ${key}, which is neither in the delta nor stored`);
      peerIds.set(key, id);
    }
    return id;
  }

  function writePeer(p: PeerSighting): void {
    const peer = p.peer;
    const row = upsertPeer.get(
      p.key,
      peer.type,
      peer.type === 'workload' ? (peer.cluster ?? null) : null,
      peer.type === 'workload' || peer.type === 'networkset' ? (peer.namespace ?? null) : null,
      peer.type === 'workload' ? peer.kind : null,
      peer.type === 'workload' || peer.type === 'networkset' ? peer.name : null,
      peer.type === 'reserved' ? peer.entity : null,
      peer.type === 'external' ? peer.cidr : null,
      p.namespaceLabels ? JSON.stringify(sortedObject(p.namespaceLabels)) : null,
      p.firstSeen,
      p.lastSeen,
    )!;
    peerIds.set(p.key, row.id);
    for (const name of p.names) addPeerName.run(row.id, name);
    for (const ip of p.ips) addPeerIp.run(row.id, ip);
    for (const sa of p.serviceAccounts) addPeerSa.run(row.id, sa);
  }

  function writePod(pod: PodRecord): void {
    const workloadId = peerId(pod.workload, `pod ${pod.namespace}/${pod.name}`);
    const row = upsertPod.get(
      pod.namespace,
      pod.name,
      workloadId,
      JSON.stringify(sortedObject(pod.labels)),
      pod.serviceAccount ?? null,
      pod.firstSeen,
      pod.lastSeen,
    )!;
    for (const ip of pod.ips) addPodIp.run(row.id, ip);
  }

  function writeEdge(e: EdgeDelta): void {
    const what = `edge ${e.src} -> ${e.dst} ${e.protocol}/${e.port}`;
    const edgeId = upsertEdge.get(
      peerId(e.src, what),
      peerId(e.dst, what),
      e.protocol,
      e.port,
      e.flows,
      ...verdictValues(e.verdicts),
      e.firstSeen,
      e.lastSeen,
      e.httpOverflow,
      e.dnsOverflow,
    )!.id;
    const correction = VERDICTS.map(() => 0);
    for (const h of e.hours) {
      if (h.reports === undefined) {
        upsertHour.run(edgeId, h.hour, h.flows, ...verdictValues(h.verdicts));
        continue;
      }
      // The delta combined its own reports; combined with the stored ones of the hour the count is
      // different (a second report of the same connections adds nothing): correct by the difference.
      const { storedReports, upsertReports } = reportsSql();
      const stored: { src: VerdictCounts; dst: VerdictCounts } = { src: {}, dst: {} };
      for (const row of storedReports.all(edgeId, h.hour)) stored[row.reporter] = verdictsOfRow(row);
      const before = combineReports(stored.src, stored.dst);
      const after = combineReports(addCounts(stored.src, h.reports.src), addCounts(stored.dst, h.reports.dst));
      const ownDelta = combineReports(h.reports.src, h.reports.dst);
      let flowsDiff = 0;
      const verdicts = VERDICTS.map((v, i) => {
        const diff = (after[v] ?? 0) - (before[v] ?? 0) - (ownDelta[v] ?? 0);
        correction[i]! += diff;
        flowsDiff += diff;
        return (h.verdicts[v] ?? 0) + diff;
      });
      upsertHour.run(edgeId, h.hour, h.flows + flowsDiff, ...verdicts);
      for (const reporter of ['src', 'dst'] as const)
        if (totalOf(h.reports[reporter]) > 0)
          upsertReports.run(edgeId, h.hour, reporter, ...verdictValues(h.reports[reporter]));
    }
    if (correction.some((n) => n !== 0))
      reportsSql().correctEdge.run(
        correction.reduce((a, b) => a + b, 0),
        ...correction,
        edgeId,
      );

    let httpRows = -1; // counted lazily: most flushes only update rows that exist
    let httpOverflow = 0;
    for (const h of e.http) {
      if (updateHttp.run(h.count, h.firstSeen, h.lastSeen, edgeId, h.method, h.path, h.status).changes > 0) continue;
      if (httpRows < 0) httpRows = countHttp.get(edgeId)!.n;
      if (httpRows < MAX_DETAILS_PER_EDGE) {
        insertHttp.run(edgeId, h.method, h.path, h.status, h.count, h.firstSeen, h.lastSeen);
        httpRows++;
      } else httpOverflow += h.count;
    }
    if (httpOverflow > 0) addHttpOverflow.run(httpOverflow, edgeId);

    let dnsRows = -1;
    let dnsOverflow = 0;
    for (const d of e.dnsNames) {
      if (updateDns.run(d.count, d.firstSeen, d.lastSeen, edgeId, d.value).changes > 0) continue;
      if (dnsRows < 0) dnsRows = countDns.get(edgeId)!.n;
      if (dnsRows < MAX_DETAILS_PER_EDGE) {
        insertDns.run(edgeId, d.value, d.count, d.firstSeen, d.lastSeen);
        dnsRows++;
      } else dnsOverflow += d.count;
    }
    if (dnsOverflow > 0) addDnsOverflow.run(dnsOverflow, edgeId);

    writeDetails(upsertDetail.kafkaTopics, edgeId, e.kafkaTopics);
    writeDetails(upsertDetail.dropReasons, edgeId, e.dropReasons);
    writeDetails(upsertDetail.policies, edgeId, e.policies);
    writeDetails(upsertDetail.services, edgeId, e.services);
  }

  function writeDetails(stmt: { run(...args: unknown[]): unknown }, edgeId: number, rows: DetailCount[]): void {
    for (const d of rows) stmt.run(edgeId, d.value, d.count, d.firstSeen, d.lastSeen);
  }

  function writeCheckpoint(cp: Checkpoint, now: number): void {
    upsertCheckpoint.run(cp.source, cp.position, cp.done ? 1 : 0, cp.label ?? null, now);
  }

  const storedPosition = db.prepare<[string], { position: string }>(
    'SELECT position FROM checkpoints WHERE source = ?',
  );

  const apply = db.transaction((delta: GraphDelta, expected?: ExpectedCheckpoint[]): boolean => {
    // Checked inside the (IMMEDIATE) transaction: no other writer can move a checkpoint in between.
    for (const e of expected ?? []) if (storedPosition.get(e.source)?.position !== e.position) return false;
    peerIds = new Map();
    for (const p of delta.peers) writePeer(p);
    for (const pod of delta.pods) writePod(pod);
    for (const e of delta.edges) writeEdge(e);
    const now = Date.now();
    for (const cp of delta.checkpoints) writeCheckpoint(cp, now);
    return true;
  });

  return (delta, expected) => {
    try {
      // IMMEDIATE takes the write lock up front, so busy_timeout applies instead of a lock-upgrade failure.
      return apply.immediate(delta, expected);
    } catch (err) {
      if (err instanceof FlowwrightError) throw err;
      throw storeError(path, 'cannot write the flows', err);
    } finally {
      peerIds = new Map();
    }
  };
}

function prepareReportStatements(db: Db) {
  return {
    storedReports: db.prepare<[number, number], { reporter: 'src' | 'dst'; [verdict: string]: unknown }>(
      `SELECT reporter, ${VERDICT_COLUMNS} FROM edge_hour_reports WHERE edge_id = ? AND hour = ?`,
    ),
    upsertReports: db.prepare(
      `INSERT INTO edge_hour_reports (edge_id, hour, reporter, ${VERDICT_COLUMNS})
       VALUES (?, ?, ?, ${VERDICT_PLACEHOLDERS})
       ON CONFLICT (edge_id, hour, reporter) DO UPDATE SET ${VERDICT_SUMS}`,
    ),
    correctEdge: db.prepare(
      `UPDATE edges SET flows = flows + ?, ${VERDICTS.map((v) => `${v} = ${v} + ?`).join(', ')} WHERE id = ?`,
    ),
  };
}

function verdictsOfRow(row: Record<string, unknown>): VerdictCounts {
  const out: VerdictCounts = {};
  for (const v of VERDICTS) if (typeof row[v] === 'number' && (row[v] as number) > 0) out[v] = row[v] as number;
  return out;
}

function addCounts(a: VerdictCounts, b: VerdictCounts): VerdictCounts {
  const out: VerdictCounts = {};
  for (const v of VERDICTS) {
    const n = (a[v] ?? 0) + (b[v] ?? 0);
    if (n > 0) out[v] = n;
  }
  return out;
}

/** Labels as JSON with sorted keys, so equal label sets are equal strings. */
function sortedObject(o: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k]!;
  return out;
}
