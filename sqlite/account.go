package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/tack-ipfs/tack"
)

// normalizeEmail is the stored form of an email: trimmed and lower-cased.
func normalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// CreateAccount stores a new account and sets its ID, Created and the
// stored (trimmed, lower-cased) Email. An empty Access becomes AccessNone.
// Returns ECONFLICT if the email is taken, EINVALID if it is empty or
// Access is unknown.
func (db *DB) CreateAccount(ctx context.Context, a *tack.Account) error {
	email := normalizeEmail(a.Email)
	if email == "" {
		return tack.Errorf(tack.EINVALID, "email is required")
	}
	access := a.Access
	if access == "" {
		access = tack.AccessNone
	}
	if !access.Valid() {
		return tack.Errorf(tack.EINVALID, "unknown access %q", a.Access)
	}
	created := db.now()
	var id int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE email = ?`, email).Scan(&n); err != nil {
			return fmt.Errorf("find account: %w", err)
		} else if n != 0 {
			return tack.Errorf(tack.ECONFLICT, "an account with this email already exists")
		}
		err := tx.QueryRowContext(ctx, `
			INSERT INTO accounts (email, admin, access, created)
			VALUES (?, ?, ?, ?)
			RETURNING id`,
			email, a.Admin, string(access), created,
		).Scan(&id)
		if isUniqueViolation(err) {
			return tack.Errorf(tack.ECONFLICT, "an account with this email already exists")
		} else if err != nil {
			return fmt.Errorf("insert account: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.ID, a.Email, a.Access, a.Created = id, email, access, timeOf(created)
	return nil
}

const accountColumns = `id, email, admin, access, created`

func scanAccount(row interface{ Scan(...any) error }) (*tack.Account, error) {
	var a tack.Account
	var access string
	var created int64
	if err := row.Scan(&a.ID, &a.Email, &a.Admin, &access, &created); err != nil {
		return nil, err
	}
	a.Access, a.Created = tack.Access(access), timeOf(created)
	return &a, nil
}

// FindAccountByID returns ENOTFOUND if there is no such account.
func (db *DB) FindAccountByID(ctx context.Context, id int64) (*tack.Account, error) {
	a, err := scanAccount(db.db.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tack.Errorf(tack.ENOTFOUND, "account not found")
	} else if err != nil {
		return nil, fmt.Errorf("find account: %w", err)
	}
	return a, nil
}

// FindAccountByEmail returns ENOTFOUND if there is no such account. The
// email is compared case-insensitively, ignoring surrounding space.
func (db *DB) FindAccountByEmail(ctx context.Context, email string) (*tack.Account, error) {
	a, err := scanAccount(db.db.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE email = ?`, normalizeEmail(email)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tack.Errorf(tack.ENOTFOUND, "account not found")
	} else if err != nil {
		return nil, fmt.Errorf("find account: %w", err)
	}
	return a, nil
}

// FindAccounts returns all accounts, oldest first.
func (db *DB) FindAccounts(ctx context.Context) ([]*tack.Account, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find accounts: %w", err)
	}
	defer rows.Close()
	accounts := []*tack.Account{}
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("scan account: %w", err)
		}
		accounts = append(accounts, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find accounts: %w", err)
	}
	return accounts, nil
}

// SetAccountAccess changes an account's pinning access. Returns ENOTFOUND
// if there is no such account, EINVALID if access is unknown.
func (db *DB) SetAccountAccess(ctx context.Context, id int64, access tack.Access) error {
	if !access.Valid() {
		return tack.Errorf(tack.EINVALID, "unknown access %q", access)
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET access = ? WHERE id = ?`, string(access), id)
		if err != nil {
			return fmt.Errorf("set access: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("set access: %w", err)
		} else if n == 0 {
			return tack.Errorf(tack.ENOTFOUND, "account not found")
		}
		return nil
	})
}

// CountAccounts returns how many accounts exist.
func (db *DB) CountAccounts(ctx context.Context) (int, error) {
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count accounts: %w", err)
	}
	return n, nil
}
