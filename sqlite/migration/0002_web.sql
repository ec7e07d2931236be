-- The web pages: blocked accounts and sign-in passwords, access requests,
-- sessions and invitations. Times are µs since the epoch, 0 for "never".

-- password is the argon2id hash in the PHC string format, '' for none.
ALTER TABLE accounts ADD COLUMN blocked  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN password TEXT    NOT NULL DEFAULT '';

-- An account's one access request and the operator's answer: message and
-- decided stay '' and 0 until then. cids is a JSON array of strings.
CREATE TABLE access_requests (
	account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
	what       TEXT    NOT NULL,
	volume     TEXT    NOT NULL,
	cids       TEXT    NOT NULL,
	requested  INTEGER NOT NULL,
	message    TEXT    NOT NULL DEFAULT '',
	decided    INTEGER NOT NULL DEFAULT 0
);

-- Web sessions: id is the hash of the cookie's secret.
CREATE TABLE sessions (
	id         TEXT    PRIMARY KEY,
	account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL
);

-- Signing out everywhere, and purging the expired sessions.
CREATE INDEX sessions_account_idx ON sessions (account_id);
CREATE INDEX sessions_expires_idx ON sessions (expires);

-- Invitations: id is the hash of the code. used_by is the account that
-- signed up with it, 0 until then.
CREATE TABLE invites (
	id         TEXT    PRIMARY KEY,
	created_by INTEGER NOT NULL,
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	used_by    INTEGER NOT NULL DEFAULT 0,
	used       INTEGER NOT NULL DEFAULT 0
);
