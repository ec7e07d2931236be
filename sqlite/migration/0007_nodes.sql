-- The nodes that share the store, and the garbage collection that one of
-- them runs (at most one row, id 1).
CREATE TABLE nodes (
	id         TEXT PRIMARY KEY,
	addrs      TEXT NOT NULL,      -- JSON array of multiaddrs
	blocks     TEXT NOT NULL,
	started    INTEGER NOT NULL,
	seen       INTEGER NOT NULL,
	collection INTEGER NOT NULL
);
CREATE TABLE collections (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	epoch   INTEGER NOT NULL,
	node    TEXT NOT NULL,
	started INTEGER NOT NULL,
	until   INTEGER NOT NULL,
	running INTEGER NOT NULL
);
