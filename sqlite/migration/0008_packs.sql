-- The pack index of the S3 blockstore (blockstore.PackIndex): packs are
-- objects that hold many blocks end to end, and pack_blocks says where
-- each block is. A multihash has one entry; a pack row is removed only
-- once no entry points into it.
CREATE TABLE packs (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	size INTEGER NOT NULL,
	created INTEGER NOT NULL
);
CREATE TABLE pack_blocks (
	hash BLOB PRIMARY KEY,
	pack INTEGER NOT NULL REFERENCES packs (id),
	off INTEGER NOT NULL,
	len INTEGER NOT NULL,
	seq INTEGER NOT NULL -- position of the last write or touch (see PackIndex.Seq)
) WITHOUT ROWID;
CREATE INDEX pack_blocks_pack_idx ON pack_blocks (pack, off);
-- The sequence of positions of writes and touches: one row.
CREATE TABLE pack_seq (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	seq INTEGER NOT NULL
);
INSERT INTO pack_seq (id, seq) VALUES (1, 0);
