-- The scheduler: fair turns between accounts, retries of content that
-- cannot be found yet, per-account limits, and counters that make queue
-- positions, pending caps, usage and `service ls --stat` cost O(log n).

-- turn is the request's start tag in start-time fair queueing: an
-- account's new request takes the turn after its previous one, but never
-- one before the queue's virtual time (queue_state.vtime), so an account
-- with a long backlog only delays itself. Ready requests are claimed in
-- (turn, created, id) order.
-- retry_at is 0 for a ready request; a queued request waiting to be tried
-- again holds the time (µs) of its next attempt. attempts counts the
-- attempts that ended without the DAG. progress_at is when the request
-- last made progress (created, or a block received): a request fails only
-- after --pin-timeout without progress.
ALTER TABLE pins ADD COLUMN turn        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pins ADD COLUMN retry_at    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pins ADD COLUMN attempts    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pins ADD COLUMN progress_at INTEGER NOT NULL DEFAULT 0;
UPDATE pins SET progress_at = created;

-- last_turn is the turn of the account's newest queued request.
-- max_pending and max_bytes are the account's limits: NULL for the
-- server's defaults, 0 for none.
ALTER TABLE accounts ADD COLUMN last_turn   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN max_pending INTEGER;
ALTER TABLE accounts ADD COLUMN max_bytes   INTEGER;

-- One row: vtime is the largest turn claimed so far.
CREATE TABLE queue_state (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	vtime INTEGER NOT NULL
);
INSERT INTO queue_state (id, vtime) VALUES (1, 0);

-- The ready queue, the same queue per account (for the approximate
-- position of a request deep in it), and the requests waiting to retry.
-- Each index covers one status, so that the planner never walks a
-- status-wide index and sorts: claims, positions and lease checks are
-- index range scans whatever the queue's length.
DROP INDEX pins_queue_idx;
DROP INDEX pins_lease_idx;
CREATE INDEX pins_lease_idx ON pins (lease_until) WHERE status = 'pinning';
CREATE INDEX pins_ready_idx ON pins (turn, created, id) WHERE status = 'queued' AND retry_at = 0;
CREATE INDEX pins_ready_account_idx ON pins (account_id, turn) WHERE status = 'queued' AND retry_at = 0;
CREATE INDEX pins_retry_idx ON pins (retry_at) WHERE status = 'queued' AND retry_at > 0;

-- How many requests each account has in each status, kept by triggers.
CREATE TABLE pin_counts (
	account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	status     TEXT    NOT NULL,
	n          INTEGER NOT NULL,
	PRIMARY KEY (account_id, status)
);
INSERT INTO pin_counts (account_id, status, n)
	SELECT account_id, status, count(*) FROM pins GROUP BY account_id, status;

-- The distinct DAGs each account has pinned, with how many of its pinned
-- requests hold each, and their bytes summed per account in stored_bytes.
-- A DAG's size is the same for every request that pins it.
ALTER TABLE accounts ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;
CREATE TABLE account_dags (
	account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	key        TEXT    NOT NULL,
	bytes      INTEGER NOT NULL,
	refs       INTEGER NOT NULL,
	PRIMARY KEY (account_id, key)
);
INSERT INTO account_dags (account_id, key, bytes, refs)
	SELECT account_id, key, max(bytes), count(*) FROM pins WHERE status = 'pinned' GROUP BY account_id, key;
UPDATE accounts SET stored_bytes = coalesce((SELECT sum(bytes) FROM account_dags d WHERE d.account_id = accounts.id), 0);

CREATE TRIGGER pins_count_insert AFTER INSERT ON pins BEGIN
	INSERT INTO pin_counts (account_id, status, n) VALUES (new.account_id, new.status, 1)
		ON CONFLICT (account_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER pins_count_delete AFTER DELETE ON pins BEGIN
	UPDATE pin_counts SET n = n - 1 WHERE account_id = old.account_id AND status = old.status;
END;

CREATE TRIGGER pins_count_update AFTER UPDATE OF status ON pins WHEN old.status <> new.status BEGIN
	UPDATE pin_counts SET n = n - 1 WHERE account_id = old.account_id AND status = old.status;
	INSERT INTO pin_counts (account_id, status, n) VALUES (new.account_id, new.status, 1)
		ON CONFLICT (account_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER pins_dag_pinned_insert AFTER INSERT ON pins WHEN new.status = 'pinned' BEGIN
	UPDATE accounts SET stored_bytes = stored_bytes + new.bytes
		WHERE id = new.account_id
		AND NOT EXISTS (SELECT 1 FROM account_dags WHERE account_id = new.account_id AND key = new.key);
	INSERT INTO account_dags (account_id, key, bytes, refs) VALUES (new.account_id, new.key, new.bytes, 1)
		ON CONFLICT (account_id, key) DO UPDATE SET refs = refs + 1;
END;

CREATE TRIGGER pins_dag_pinned_update AFTER UPDATE OF status ON pins
	WHEN new.status = 'pinned' AND old.status <> 'pinned' BEGIN
	UPDATE accounts SET stored_bytes = stored_bytes + new.bytes
		WHERE id = new.account_id
		AND NOT EXISTS (SELECT 1 FROM account_dags WHERE account_id = new.account_id AND key = new.key);
	INSERT INTO account_dags (account_id, key, bytes, refs) VALUES (new.account_id, new.key, new.bytes, 1)
		ON CONFLICT (account_id, key) DO UPDATE SET refs = refs + 1;
END;

CREATE TRIGGER pins_dag_unpinned_update AFTER UPDATE OF status ON pins
	WHEN old.status = 'pinned' AND new.status <> 'pinned' BEGIN
	UPDATE account_dags SET refs = refs - 1 WHERE account_id = old.account_id AND key = old.key;
	UPDATE accounts SET stored_bytes = stored_bytes -
		coalesce((SELECT bytes FROM account_dags WHERE account_id = old.account_id AND key = old.key AND refs = 0), 0)
		WHERE id = old.account_id;
	DELETE FROM account_dags WHERE account_id = old.account_id AND key = old.key AND refs = 0;
END;

CREATE TRIGGER pins_dag_unpinned_delete AFTER DELETE ON pins WHEN old.status = 'pinned' BEGIN
	UPDATE account_dags SET refs = refs - 1 WHERE account_id = old.account_id AND key = old.key;
	UPDATE accounts SET stored_bytes = stored_bytes -
		coalesce((SELECT bytes FROM account_dags WHERE account_id = old.account_id AND key = old.key AND refs = 0), 0)
		WHERE id = old.account_id;
	DELETE FROM account_dags WHERE account_id = old.account_id AND key = old.key AND refs = 0;
END;
