-- The cluster inventory (model/inventory.ts): Kubernetes objects learned from an --inventory file or the
-- API server, one row per incarnation (metadata.uid) with the interval it existed, so that an address
-- seen at time t resolves to the pod that held it at t (pod IPs are reused). Times are ms since the epoch.
CREATE TABLE inventory_objects (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  -- '' for cluster-scoped objects (Namespaces)
  namespace TEXT NOT NULL,
  name TEXT NOT NULL,
  uid TEXT NOT NULL,
  -- JSON of the model object
  data TEXT NOT NULL,
  -- creation time (0 when unknown) and deletion time (NULL while it exists)
  valid_from INTEGER NOT NULL,
  valid_until INTEGER,
  -- last time a file or the API server showed it
  seen_at INTEGER NOT NULL,
  UNIQUE (kind, uid)
);
CREATE INDEX inventory_objects_by_name ON inventory_objects (kind, namespace, name);
