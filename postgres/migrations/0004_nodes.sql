-- Secrets every node shares (the token signing key), the nodes that share
-- the store, the garbage collection one of them runs (at most one row, id
-- 1), and the blocks that nodes joining it hold (the collector's 64-bit
-- hashes, stored as signed integers).
CREATE TABLE secrets (
	name    text COLLATE "C" PRIMARY KEY,
	value   bytea NOT NULL,
	created bigint NOT NULL
);
CREATE TABLE nodes (
	id         text COLLATE "C" PRIMARY KEY,
	addrs      jsonb NOT NULL,
	blocks     text NOT NULL,
	started    bigint NOT NULL,
	seen       bigint NOT NULL,
	collection bigint NOT NULL
);
CREATE TABLE collections (
	id      integer PRIMARY KEY CHECK (id = 1),
	epoch   bigint NOT NULL,
	node    text NOT NULL,
	started bigint NOT NULL,
	until   bigint NOT NULL,
	running boolean NOT NULL
);
CREATE TABLE collection_keeps (
	epoch bigint NOT NULL,
	key   bigint NOT NULL,
	PRIMARY KEY (epoch, key)
);
