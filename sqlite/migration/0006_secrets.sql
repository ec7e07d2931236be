-- Secrets that every node of an installation shares, such as the key that
-- signs API tokens (until now the file DATA/jwt.key).
CREATE TABLE secrets (
	name    TEXT PRIMARY KEY,
	value   BLOB NOT NULL,
	created INTEGER NOT NULL
);
