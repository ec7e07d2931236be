-- Garbage collection. prev_key is the content key of the request that a
-- replace deleted ('' for none): while the new request is queued or
-- pinning, the old DAG's blocks stay, so that blocks the two share are
-- never gone in between.
ALTER TABLE pins ADD COLUMN prev_key TEXT NOT NULL DEFAULT '';
CREATE INDEX pins_prev_key_idx ON pins (prev_key) WHERE prev_key <> '';
