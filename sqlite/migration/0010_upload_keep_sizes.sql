-- Keep lists name the account whose upload stored each block, and its
-- size, so that what an account's incomplete uploads keep counts against
-- its storage limit (accounts.kept_bytes) while it has a queued or pinning
-- request for the DAG. When its last such request leaves those statuses
-- (pinned, failed, deleted, replaced), its rows for the DAG go, and stop
-- counting. Rows from before name no account (0) and count for none.
CREATE TABLE upload_keeps_new (
	id         INTEGER PRIMARY KEY,
	key        TEXT NOT NULL,
	hash       INTEGER NOT NULL,
	added      INTEGER NOT NULL,
	account_id INTEGER NOT NULL DEFAULT 0,
	size       INTEGER NOT NULL DEFAULT 0,
	UNIQUE (key, account_id, hash)
);
INSERT INTO upload_keeps_new (id, key, hash, added) SELECT id, key, hash, added FROM upload_keeps;
DROP TABLE upload_keeps;
ALTER TABLE upload_keeps_new RENAME TO upload_keeps;
-- A collection reads a key's hashes in order.
CREATE INDEX upload_keeps_hash_idx ON upload_keeps (key, hash);

ALTER TABLE accounts ADD COLUMN kept_bytes INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER upload_keeps_count_insert AFTER INSERT ON upload_keeps WHEN new.size <> 0 BEGIN
	UPDATE accounts SET kept_bytes = kept_bytes + new.size WHERE id = new.account_id;
END;

CREATE TRIGGER upload_keeps_count_delete AFTER DELETE ON upload_keeps WHEN old.size <> 0 BEGIN
	UPDATE accounts SET kept_bytes = kept_bytes - old.size WHERE id = old.account_id;
END;

CREATE TRIGGER pins_keeps_delete AFTER DELETE ON pins WHEN old.status IN ('queued', 'pinning') BEGIN
	DELETE FROM upload_keeps WHERE key = old.key AND account_id = old.account_id
		AND NOT EXISTS (SELECT 1 FROM pins WHERE key = old.key AND status IN ('queued', 'pinning') AND account_id = old.account_id);
END;

CREATE TRIGGER pins_keeps_update AFTER UPDATE OF status ON pins
	WHEN old.status IN ('queued', 'pinning') AND new.status NOT IN ('queued', 'pinning') BEGIN
	DELETE FROM upload_keeps WHERE key = old.key AND account_id = old.account_id
		AND NOT EXISTS (SELECT 1 FROM pins WHERE key = old.key AND status IN ('queued', 'pinning') AND account_id = old.account_id);
END;
