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
-- The blocks that nodes joining a collection hold in open fetches and
-- uploads: the collector's 64-bit hashes, stored as signed integers.
CREATE TABLE collection_keeps (
	epoch INTEGER NOT NULL,
	key   INTEGER NOT NULL,
	PRIMARY KEY (epoch, key)
) WITHOUT ROWID;
