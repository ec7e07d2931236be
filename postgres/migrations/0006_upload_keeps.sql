-- The blocks that incomplete uploads stored toward a DAG, so that a
-- collection on any node keeps them: the collector's 64-bit hashes,
-- stored as signed integers. id names a row for tack store copy.
CREATE TABLE upload_keeps (
	id    bigserial PRIMARY KEY,
	key   text COLLATE "C" NOT NULL,
	hash  bigint NOT NULL,
	added bigint NOT NULL,
	UNIQUE (key, hash)
);
