-- Accounts. last_created is the created time (µs) of the account's newest
-- pin request, kept so that every request of an account gets a unique,
-- increasing created even across deletes and concurrent inserts.
CREATE TABLE accounts (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	email        TEXT    NOT NULL UNIQUE,
	admin        INTEGER NOT NULL DEFAULT 0,
	access       TEXT    NOT NULL,
	created      INTEGER NOT NULL,
	last_created INTEGER NOT NULL DEFAULT 0
);

-- API tokens: only the JWT's id is stored. Times are µs since the epoch,
-- 0 for "never".
CREATE TABLE tokens (
	id         TEXT    PRIMARY KEY,
	account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	name       TEXT    NOT NULL,
	created    INTEGER NOT NULL,
	last_used  INTEGER NOT NULL DEFAULT 0,
	revoked    INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX tokens_account_idx ON tokens (account_id, created);

-- Pin requests and their queue. name_lower is strings.ToLower(name),
-- computed in Go so that every backend lowers text the same way. origins
-- and meta are JSON text; pin_meta holds meta again, one row per pair, for
-- the meta filter. lease_owner is '' and lease_until 0 unless pinning.
CREATE TABLE pins (
	id          TEXT    PRIMARY KEY,
	account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	cid         TEXT    NOT NULL,
	key         TEXT    NOT NULL,
	name        TEXT    NOT NULL,
	name_lower  TEXT    NOT NULL,
	origins     TEXT    NOT NULL,
	meta        TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	created     INTEGER NOT NULL,
	details     TEXT    NOT NULL DEFAULT '',
	blocks      INTEGER NOT NULL DEFAULT 0,
	bytes       INTEGER NOT NULL DEFAULT 0,
	lease_owner TEXT    NOT NULL DEFAULT '',
	lease_until INTEGER NOT NULL DEFAULT 0,
	UNIQUE (account_id, created)
);

-- UNIQUE (account_id, created) above is the index for an account's listing.
CREATE INDEX pins_account_status_idx ON pins (account_id, status, created);
CREATE INDEX pins_key_idx            ON pins (key, status);
-- The queue: queued requests oldest first, and expired leases.
CREATE INDEX pins_queue_idx          ON pins (status, created, id);
CREATE INDEX pins_lease_idx          ON pins (status, lease_until);

CREATE TABLE pin_meta (
	pin_id TEXT NOT NULL REFERENCES pins (id) ON DELETE CASCADE,
	key    TEXT NOT NULL,
	value  TEXT NOT NULL,
	PRIMARY KEY (pin_id, key)
);

CREATE INDEX pin_meta_pair_idx ON pin_meta (key, value);

-- DAGs held whole in the blockstore.
CREATE TABLE dags (
	key    TEXT    PRIMARY KEY,
	blocks INTEGER NOT NULL,
	bytes  INTEGER NOT NULL
);
