-- The learned dependency graph. Applied in one transaction together with `PRAGMA user_version = 1`.
-- Times are milliseconds since the Unix epoch; hours are Math.floor(ms / 3600000).
-- Counts are flow records (Hubble) or num_flows (Calico), excluding replies.

-- A workload, reserved entity, external address or network set. `key` is model/graph.ts peerKey().
CREATE TABLE peers (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL CHECK (type IN ('workload', 'reserved', 'external', 'networkset')),
  cluster TEXT,
  namespace TEXT,
  kind TEXT,
  name TEXT,
  entity TEXT,
  cidr TEXT,
  -- JSON object of the namespace's labels, latest seen; NULL when no source reported them.
  namespace_labels TEXT,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
);

CREATE TABLE peer_names (
  peer_id INTEGER NOT NULL REFERENCES peers (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  PRIMARY KEY (peer_id, name)
) WITHOUT ROWID;

CREATE TABLE peer_ips (
  peer_id INTEGER NOT NULL REFERENCES peers (id) ON DELETE CASCADE,
  ip TEXT NOT NULL,
  PRIMARY KEY (peer_id, ip)
) WITHOUT ROWID;

CREATE TABLE peer_service_accounts (
  peer_id INTEGER NOT NULL REFERENCES peers (id) ON DELETE CASCADE,
  service_account TEXT NOT NULL,
  PRIMARY KEY (peer_id, service_account)
) WITHOUT ROWID;

-- Pods as observed, the input to selector choice. Labels and service account: latest seen.
CREATE TABLE pods (
  id INTEGER PRIMARY KEY,
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  workload_id INTEGER NOT NULL REFERENCES peers (id),
  labels TEXT NOT NULL,
  service_account TEXT,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  UNIQUE (namespace, name)
);
CREATE INDEX pods_by_workload ON pods (workload_id);

CREATE TABLE pod_ips (
  pod_id INTEGER NOT NULL REFERENCES pods (id) ON DELETE CASCADE,
  ip TEXT NOT NULL,
  PRIMARY KEY (pod_id, ip)
) WITHOUT ROWID;

-- One dependency: source peer to destination peer on protocol/port. One column per verdict.
CREATE TABLE edges (
  id INTEGER PRIMARY KEY,
  src_id INTEGER NOT NULL REFERENCES peers (id),
  dst_id INTEGER NOT NULL REFERENCES peers (id),
  protocol TEXT NOT NULL,
  port INTEGER NOT NULL,
  flows INTEGER NOT NULL DEFAULT 0,
  forwarded INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0,
  audit INTEGER NOT NULL DEFAULT 0,
  error INTEGER NOT NULL DEFAULT 0,
  redirected INTEGER NOT NULL DEFAULT 0,
  traced INTEGER NOT NULL DEFAULT 0,
  translated INTEGER NOT NULL DEFAULT 0,
  unknown INTEGER NOT NULL DEFAULT 0,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  http_overflow INTEGER NOT NULL DEFAULT 0,
  dns_overflow INTEGER NOT NULL DEFAULT 0,
  UNIQUE (src_id, dst_id, protocol, port)
);
CREATE INDEX edges_by_dst ON edges (dst_id);
CREATE INDEX edges_by_last_seen ON edges (last_seen);

-- The same counts per clock hour, so learning windows and retention are queries.
CREATE TABLE edge_hours (
  edge_id INTEGER NOT NULL REFERENCES edges (id) ON DELETE CASCADE,
  hour INTEGER NOT NULL,
  flows INTEGER NOT NULL DEFAULT 0,
  forwarded INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0,
  audit INTEGER NOT NULL DEFAULT 0,
  error INTEGER NOT NULL DEFAULT 0,
  redirected INTEGER NOT NULL DEFAULT 0,
  traced INTEGER NOT NULL DEFAULT 0,
  translated INTEGER NOT NULL DEFAULT 0,
  unknown INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (edge_id, hour)
) WITHOUT ROWID;
CREATE INDEX edge_hours_by_hour ON edge_hours (hour);

-- Layer 7 and policy evidence per edge. status 0: the record carried no HTTP status.
CREATE TABLE edge_http (
  edge_id INTEGER NOT NULL REFERENCES edges (id) ON DELETE CASCADE,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  status INTEGER NOT NULL,
  count INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (edge_id, method, path, status)
) WITHOUT ROWID;

CREATE TABLE edge_dns (
  edge_id INTEGER NOT NULL REFERENCES edges (id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (edge_id, name)
) WITHOUT ROWID;

CREATE TABLE edge_kafka (
  edge_id INTEGER NOT NULL REFERENCES edges (id) ON DELETE CASCADE,
  topic TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (edge_id, topic)
) WITHOUT ROWID;

CREATE TABLE edge_drop_reasons (
  edge_id INTEGER NOT NULL REFERENCES edges (id) ON DELETE CASCADE,
  reason TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (edge_id, reason)
) WITHOUT ROWID;

CREATE TABLE edge_policies (
  edge_id INTEGER NOT NULL REFERENCES edges (id) ON DELETE CASCADE,
  policy TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (edge_id, policy)
) WITHOUT ROWID;

CREATE TABLE edge_services (
  edge_id INTEGER NOT NULL REFERENCES edges (id) ON DELETE CASCADE,
  service TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (edge_id, service)
) WITHOUT ROWID;

-- How far each source has been consumed; written in the same transaction as the counts it covers.
CREATE TABLE checkpoints (
  source TEXT PRIMARY KEY,
  position TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0,
  label TEXT,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
