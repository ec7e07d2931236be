-- The pack index of the S3 blockstore (blockstore.PackIndex): packs are
-- objects that hold many blocks end to end, and pack_blocks says where
-- each block is. A multihash has one entry; a pack row is removed only
-- once no entry points into it. seq is the position of the entry's last
-- write or touch, from pack_seq (see PackIndex.Seq).
CREATE TABLE packs (
	id      bigserial PRIMARY KEY,
	name    text COLLATE "C" NOT NULL UNIQUE,
	size    bigint NOT NULL,
	created bigint NOT NULL
);
CREATE TABLE pack_blocks (
	hash bytea PRIMARY KEY,
	pack bigint NOT NULL REFERENCES packs (id),
	off  bigint NOT NULL,
	len  bigint NOT NULL,
	seq  bigint NOT NULL
);
CREATE INDEX pack_blocks_pack_idx ON pack_blocks (pack, off);
CREATE SEQUENCE pack_seq;
-- Called once, so that last_value is a position that was handed out.
SELECT nextval('pack_seq');
