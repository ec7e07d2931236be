-- Password reset links that an operator makes for a user who forgot their
-- password: id is the hash of the link's code. A link is deleted when used.
CREATE TABLE password_resets (
	id         TEXT    PRIMARY KEY,
	account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	created_by INTEGER NOT NULL,
	created    INTEGER NOT NULL,
	expires    INTEGER NOT NULL
);

CREATE INDEX password_resets_account_idx ON password_resets (account_id);
