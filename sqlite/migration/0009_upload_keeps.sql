-- The blocks that incomplete uploads stored toward a DAG (until now the
-- files DATA/keep/<key>.keep of the node that took the upload), so that a
-- collection on any node keeps them: the collector's 64-bit hashes,
-- stored as signed integers. id names a row for tack store copy.
CREATE TABLE upload_keeps (
	id    INTEGER PRIMARY KEY,
	key   TEXT NOT NULL,
	hash  INTEGER NOT NULL,
	added INTEGER NOT NULL,
	UNIQUE (key, hash)
);
