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

-- tack_create_pin (0003) counts the kept bytes against the storage limit
-- when it pins a held DAG at once.
CREATE OR REPLACE FUNCTION tack_create_pin(
	p_id text, p_account bigint, p_cid text, p_key text, p_name text, p_name_lower text,
	p_origins text, p_meta jsonb, p_details text, p_blocks bigint, p_bytes bigint,
	p_now bigint, p_max_pending bigint, p_max_bytes bigint,
	OUT o_result text, OUT o_created bigint, OUT o_status text, OUT o_blocks bigint, OUT o_bytes bigint,
	OUT o_details text, OUT o_turn bigint, OUT o_limit bigint, OUT o_stored bigint
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	a accounts%ROWTYPE;
	d dags%ROWTYPE;
	lim bigint;
	stored bigint;
	pending bigint;
	vtime bigint;
BEGIN
	o_created := 0; o_status := ''; o_blocks := 0; o_bytes := 0; o_details := ''; o_turn := 0;
	PERFORM pg_advisory_xact_lock(hashtextextended(p_key, 1953391467));
	SELECT * INTO a FROM accounts WHERE id = p_account FOR UPDATE;
	IF NOT FOUND THEN
		o_result := 'no account';
		RETURN;
	END IF;
	o_created := GREATEST(p_now, a.last_created + 1);
	o_status := 'queued'; o_blocks := p_blocks; o_bytes := p_bytes; o_details := p_details; o_turn := 0;
	SELECT * INTO d FROM dags WHERE key = p_key;
	IF FOUND THEN
		-- Held whole: pinned at once, if the account has room for it.
		lim := coalesce(a.max_bytes, p_max_bytes);
		-- What the account's incomplete uploads keep counts too, but for
		-- this DAG's own blocks.
		stored := a.stored_bytes + a.kept_bytes - (SELECT coalesce(sum(size), 0) FROM upload_keeps
			WHERE key = p_key AND account_id = p_account);
		IF lim > 0 AND stored + d.bytes > lim
			AND NOT EXISTS (SELECT 1 FROM account_dags WHERE account_id = p_account AND key = p_key) THEN
			o_result := 'over bytes'; o_limit := lim; o_stored := stored; o_bytes := d.bytes;
			RETURN;
		END IF;
		o_status := 'pinned'; o_blocks := d.blocks; o_bytes := d.bytes; o_details := '';
	ELSE
		lim := coalesce(a.max_pending, p_max_pending);
		IF lim > 0 THEN
			SELECT coalesce(sum(n), 0) INTO pending FROM pin_counts
				WHERE account_id = p_account AND status IN ('queued', 'pinning');
			IF pending >= lim THEN
				o_result := 'over pending'; o_limit := lim;
				RETURN;
			END IF;
		END IF;
		SELECT q.vtime INTO vtime FROM queue_state q;
		o_turn := GREATEST(a.last_turn + 1, vtime + 1);
		a.last_turn := o_turn;
	END IF;
	UPDATE accounts SET last_created = o_created, last_turn = a.last_turn WHERE id = p_account;
	INSERT INTO pins (id, account_id, cid, key, name, name_lower, origins, meta,
	                  status, created, details, blocks, bytes, turn, progress_at)
	VALUES (p_id, p_account, p_cid, p_key, p_name, p_name_lower, p_origins, p_meta,
	        o_status, o_created, o_details, o_blocks, o_bytes, o_turn, o_created);
	o_result := 'ok';
END $$;
