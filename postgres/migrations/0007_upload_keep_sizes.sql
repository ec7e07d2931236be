-- Keep lists name the account whose upload stored each block, and its
-- size, so that what an account's incomplete uploads keep counts against
-- its storage limit (accounts.kept_bytes) while it has a queued or pinning
-- request for the DAG. When its last such request leaves those statuses
-- (pinned, failed, deleted, replaced), its rows for the DAG go, and stop
-- counting. Rows from before name no account (0) and count for none.
ALTER TABLE upload_keeps ADD COLUMN account_id bigint NOT NULL DEFAULT 0;
ALTER TABLE upload_keeps ADD COLUMN size bigint NOT NULL DEFAULT 0;
ALTER TABLE upload_keeps DROP CONSTRAINT upload_keeps_key_hash_key;
ALTER TABLE upload_keeps ADD UNIQUE (key, account_id, hash);
-- A collection reads a key's hashes in order.
CREATE INDEX upload_keeps_hash_idx ON upload_keeps (key, hash);

ALTER TABLE accounts ADD COLUMN kept_bytes bigint NOT NULL DEFAULT 0;

CREATE FUNCTION tack_keeps_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		UPDATE accounts a SET kept_bytes = a.kept_bytes + d.bytes
			FROM (SELECT account_id, sum(size) AS bytes FROM new_keeps GROUP BY account_id ORDER BY account_id) d
			WHERE a.id = d.account_id AND d.bytes <> 0;
	ELSE
		UPDATE accounts a SET kept_bytes = a.kept_bytes - d.bytes
			FROM (SELECT account_id, sum(size) AS bytes FROM old_keeps GROUP BY account_id ORDER BY account_id) d
			WHERE a.id = d.account_id AND d.bytes <> 0;
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER upload_keeps_inserted AFTER INSERT ON upload_keeps
	REFERENCING NEW TABLE AS new_keeps FOR EACH STATEMENT EXECUTE FUNCTION tack_keeps_changed();
CREATE TRIGGER upload_keeps_deleted AFTER DELETE ON upload_keeps
	REFERENCING OLD TABLE AS old_keeps FOR EACH STATEMENT EXECUTE FUNCTION tack_keeps_changed();

-- tack_pins_keeps_done forgets an account's kept blocks for a DAG once it
-- has no queued or pinning request for it left: the requests in gone
-- (account, key) left those statuses.
CREATE FUNCTION tack_pins_keeps_done(gone_account bigint[], gone_key text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF gone_account IS NULL THEN
		RETURN;
	END IF;
	DELETE FROM upload_keeps k
		USING (SELECT DISTINCT a, kk COLLATE "C" AS kk FROM unnest(gone_account, gone_key) AS u(a, kk)) g
		WHERE k.account_id = g.a AND k.key = g.kk
		AND NOT EXISTS (SELECT 1 FROM pins p WHERE p.key = g.kk AND p.account_id = g.a AND p.status IN ('queued', 'pinning'));
END $$;

CREATE FUNCTION tack_pins_keeps_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	a bigint[]; k text[];
BEGIN
	SELECT array_agg(account_id), array_agg(key) INTO a, k FROM old_rows WHERE status IN ('queued', 'pinning');
	PERFORM tack_pins_keeps_done(a, k);
	RETURN NULL;
END $$;

CREATE FUNCTION tack_pins_keeps_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	a bigint[]; k text[];
BEGIN
	SELECT array_agg(o.account_id), array_agg(o.key) INTO a, k
		FROM old_rows o JOIN new_rows n ON n.id = o.id
		WHERE o.status IN ('queued', 'pinning') AND n.status NOT IN ('queued', 'pinning');
	PERFORM tack_pins_keeps_done(a, k);
	RETURN NULL;
END $$;

CREATE TRIGGER pins_keeps_deleted AFTER DELETE ON pins
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tack_pins_keeps_deleted();
CREATE TRIGGER pins_keeps_updated AFTER UPDATE ON pins
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tack_pins_keeps_updated();
