-- tack_create_pin stores a new pin request in one round trip, as the Go
-- code of the SQLite store does in one write transaction: under the
-- content key's advisory lock (see lockKeys) and the account's row lock,
-- it gives the request a created time unique for the account, pins it at
-- once if the DAG is held (and the account has room), or queues it at the
-- back of the account's turns if the account is under its pending limit.
-- Each statement of this VOLATILE function sees what was committed before
-- it ran, so the record of the DAG is read after the key's lock is held.
--
-- o_result is 'ok', 'no account', 'over pending' (o_limit) or 'over bytes'
-- (o_limit, o_stored, o_bytes); an id that exists raises unique_violation.
-- p_max_pending and p_max_bytes are the server's defaults, for accounts
-- without limits of their own.
CREATE FUNCTION tack_create_pin(
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
		IF lim > 0 AND a.stored_bytes + d.bytes > lim
			AND NOT EXISTS (SELECT 1 FROM account_dags WHERE account_id = p_account AND key = p_key) THEN
			o_result := 'over bytes'; o_limit := lim; o_stored := a.stored_bytes; o_bytes := d.bytes;
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
