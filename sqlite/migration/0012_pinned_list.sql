-- An account's pinned requests (the API's default listing) newest first,
-- each with its whole record as FindPins reads it (pinRecord in pin.go,
-- which this expression must match for SQLite to read it from here): the
-- listing reads this index alone, neither the table nor the expression
-- evaluated. A request enters it once, when pinned, and pinned requests
-- do not change.
CREATE INDEX pins_pinned_list_idx ON pins (account_id, created,
	concat_ws(char(31), id, account_id, cid, key, origins, meta, status, created,
		blocks, bytes, attempts, retry_at, progress_at, turn, octet_length(name), name, details))
	WHERE status = 'pinned';
