-- Calico reports a connection from each end (`src`, `dst`), and real exports often hold only one of the
-- two. `edge_hours` holds the combined count (see src/model/reports.ts); this table keeps each end's
-- counts per edge and hour, so that reports of the same hour written by a later delta (another node's
-- log, a later flush) combine with the stored ones instead of adding to them.
CREATE TABLE edge_hour_reports (
  edge_id INTEGER NOT NULL REFERENCES edges (id) ON DELETE CASCADE,
  hour INTEGER NOT NULL,
  reporter TEXT NOT NULL CHECK (reporter IN ('src', 'dst')),
  forwarded INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0,
  audit INTEGER NOT NULL DEFAULT 0,
  error INTEGER NOT NULL DEFAULT 0,
  redirected INTEGER NOT NULL DEFAULT 0,
  traced INTEGER NOT NULL DEFAULT 0,
  translated INTEGER NOT NULL DEFAULT 0,
  unknown INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (edge_id, hour, reporter)
) WITHOUT ROWID;
CREATE INDEX edge_hour_reports_by_hour ON edge_hour_reports (hour);
