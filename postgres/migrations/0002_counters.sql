-- Counters that make the pending cap, usage, the storage cap and
-- `service ls --stat` cost O(1): how many requests each account has in
-- each status, and the distinct DAGs each account has pinned (with how
-- many of its pinned requests hold each), their bytes summed in
-- accounts.stored_bytes. Statement-level triggers with transition tables
-- keep them: one trigger run per statement however many rows it changes,
-- the counter rows updated in (account, status) and (account, key) order
-- so that concurrent statements take their locks in the same order.
ALTER TABLE accounts ADD COLUMN stored_bytes bigint NOT NULL DEFAULT 0;

CREATE TABLE pin_counts (
	account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	status     text   NOT NULL,
	n          bigint NOT NULL,
	PRIMARY KEY (account_id, status)
);

CREATE TABLE account_dags (
	account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	key        text   COLLATE "C" NOT NULL,
	bytes      bigint NOT NULL,
	refs       bigint NOT NULL,
	PRIMARY KEY (account_id, key)
);

-- The counters of the rows already there, from a database made before.
INSERT INTO pin_counts (account_id, status, n)
	SELECT account_id, status, count(*) FROM pins GROUP BY account_id, status;
INSERT INTO account_dags (account_id, key, bytes, refs)
	SELECT account_id, key, max(bytes), count(*) FROM pins WHERE status = 'pinned' GROUP BY account_id, key;
UPDATE accounts SET stored_bytes = d.bytes
	FROM (SELECT account_id, sum(bytes) AS bytes FROM account_dags GROUP BY account_id) d
	WHERE accounts.id = d.account_id;

-- tack_pin_deltas applies changes to the counters: c_* are +1/-1 per
-- request entering or leaving a status, g_* per pinned request appearing
-- or going away, with its DAG's bytes.
CREATE FUNCTION tack_pin_deltas(
	c_account bigint[], c_status text[], c_d bigint[],
	g_account bigint[], g_key text[], g_bytes bigint[], g_d bigint[]
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF c_account IS NOT NULL THEN
		INSERT INTO pin_counts AS c (account_id, status, n)
			SELECT a, s, sum(d) FROM unnest(c_account, c_status, c_d) AS u(a, s, d)
			GROUP BY a, s HAVING sum(d) <> 0 ORDER BY a, s
			ON CONFLICT (account_id, status) DO UPDATE SET n = c.n + excluded.n;
	END IF;
	IF g_account IS NOT NULL THEN
		WITH d AS (
			SELECT a AS account_id, k COLLATE "C" AS key, max(b) AS bytes, sum(x) AS delta
			FROM unnest(g_account, g_key, g_bytes, g_d) AS u(a, k, b, x)
			GROUP BY a, k HAVING sum(x) <> 0
		), up AS (
			INSERT INTO account_dags AS ad (account_id, key, bytes, refs)
				SELECT account_id, key, bytes, delta FROM d ORDER BY account_id, key
				ON CONFLICT (account_id, key) DO UPDATE SET refs = ad.refs + excluded.refs
				RETURNING ad.account_id, ad.key, ad.bytes, ad.refs
		), change AS (
			-- A DAG counts for the account while any of its requests pins it.
			SELECT up.account_id, sum(CASE
				WHEN up.refs > 0 AND up.refs - d.delta <= 0 THEN up.bytes
				WHEN up.refs <= 0 AND up.refs - d.delta > 0 THEN -up.bytes
				ELSE 0 END) AS bytes
			FROM up JOIN d ON d.account_id = up.account_id AND d.key = up.key
			GROUP BY up.account_id
		)
		UPDATE accounts SET stored_bytes = stored_bytes + change.bytes
			FROM change WHERE accounts.id = change.account_id AND change.bytes <> 0;
		DELETE FROM account_dags ad
			USING unnest(g_account, g_key) AS u(a, k)
			WHERE ad.account_id = u.a AND ad.key = u.k AND ad.refs <= 0;
	END IF;
END $$;

CREATE FUNCTION tack_pins_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	c_account bigint[]; c_status text[]; c_d bigint[];
	g_account bigint[]; g_key text[]; g_bytes bigint[]; g_d bigint[];
BEGIN
	SELECT array_agg(account_id), array_agg(status), array_agg(1::bigint)
		INTO c_account, c_status, c_d FROM new_rows;
	SELECT array_agg(account_id), array_agg(key), array_agg(bytes), array_agg(1::bigint)
		INTO g_account, g_key, g_bytes, g_d FROM new_rows WHERE status = 'pinned';
	PERFORM tack_pin_deltas(c_account, c_status, c_d, g_account, g_key, g_bytes, g_d);
	RETURN NULL;
END $$;

CREATE FUNCTION tack_pins_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	c_account bigint[]; c_status text[]; c_d bigint[];
	g_account bigint[]; g_key text[]; g_bytes bigint[]; g_d bigint[];
BEGIN
	SELECT array_agg(account_id), array_agg(status), array_agg(-1::bigint)
		INTO c_account, c_status, c_d FROM old_rows;
	SELECT array_agg(account_id), array_agg(key), array_agg(bytes), array_agg(-1::bigint)
		INTO g_account, g_key, g_bytes, g_d FROM old_rows WHERE status = 'pinned';
	PERFORM tack_pin_deltas(c_account, c_status, c_d, g_account, g_key, g_bytes, g_d);
	RETURN NULL;
END $$;

CREATE FUNCTION tack_pins_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	c_account bigint[]; c_status text[]; c_d bigint[];
	g_account bigint[]; g_key text[]; g_bytes bigint[]; g_d bigint[];
BEGIN
	SELECT array_agg(a), array_agg(s), array_agg(d) INTO c_account, c_status, c_d FROM (
		SELECT o.account_id AS a, o.status AS s, -1::bigint AS d
			FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.status <> n.status
		UNION ALL
		SELECT n.account_id, n.status, 1
			FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.status <> n.status) x;
	SELECT array_agg(a), array_agg(k), array_agg(b), array_agg(d) INTO g_account, g_key, g_bytes, g_d FROM (
		SELECT o.account_id AS a, o.key AS k, o.bytes AS b, -1::bigint AS d
			FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.status = 'pinned' AND n.status <> 'pinned'
		UNION ALL
		SELECT n.account_id, n.key, n.bytes, 1
			FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.status = 'pinned' AND o.status <> 'pinned') x;
	PERFORM tack_pin_deltas(c_account, c_status, c_d, g_account, g_key, g_bytes, g_d);
	RETURN NULL;
END $$;

CREATE TRIGGER pins_inserted AFTER INSERT ON pins
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tack_pins_inserted();
CREATE TRIGGER pins_deleted AFTER DELETE ON pins
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tack_pins_deleted();
CREATE TRIGGER pins_updated AFTER UPDATE ON pins
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tack_pins_updated();
