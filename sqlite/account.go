package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// CreateAccount stores a new account and sets its ID, Created and the
// stored (trimmed, lower-cased) Email. An empty Access becomes AccessNone.
// Blocked and PasswordHash are stored as given. Returns ECONFLICT if the
// email is taken, EINVALID if it is empty or Access is unknown.
func (db *DB) CreateAccount(ctx context.Context, a *tack.Account) error {
	stored, err := db.newAccount(a)
	if err != nil {
		return err
	}
	err = db.write(ctx, func(ctx context.Context, tx *txn) error {
		return insertAccount(ctx, tx, &stored)
	})
	if err != nil {
		return err
	}
	*a = stored
	return nil
}

// newAccount checks a new account and returns it as it will be stored:
// email normalized, access defaulted, created now.
func (db *DB) newAccount(a *tack.Account) (tack.Account, error) {
	stored := *a
	if err := tack.CheckNewAccount(&stored); err != nil {
		return stored, err
	}
	stored.Created = timeOf(db.now())
	return stored, nil
}

// insertAccount inserts a, as newAccount returned it, inside tx and sets
// its ID. Returns ECONFLICT if the email is taken.
func insertAccount(ctx context.Context, tx *txn, a *tack.Account) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE email = ?`, a.Email).Scan(&n); err != nil {
		return fmt.Errorf("find account: %w", err)
	} else if n != 0 {
		return tack.ErrEmailExists()
	}
	err := tx.QueryRowContext(ctx, `
		INSERT INTO accounts (email, admin, access, created, blocked, password)
		VALUES (?, ?, ?, ?, ?, ?)
		RETURNING id`,
		a.Email, a.Admin, string(a.Access), micros(a.Created), a.Blocked, a.PasswordHash,
	).Scan(&a.ID)
	if isUniqueViolation(err) {
		return tack.ErrEmailExists()
	} else if err != nil {
		return fmt.Errorf("insert account: %w", err)
	}
	return nil
}

// FindAccountByID returns ENOTFOUND if there is no such account.
func (db *DB) FindAccountByID(ctx context.Context, id int64) (*tack.Account, error) {
	a, err := sqlrow.ScanAccount(db.pool().QueryRowContext(ctx, `SELECT `+sqlrow.AccountColumns+` FROM accounts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tack.ErrAccountNotFound()
	} else if err != nil {
		return nil, fmt.Errorf("find account: %w", err)
	}
	return a, nil
}

// FindAccountByEmail returns ENOTFOUND if there is no such account. The
// email is compared case-insensitively, ignoring surrounding space.
func (db *DB) FindAccountByEmail(ctx context.Context, email string) (*tack.Account, error) {
	a, err := sqlrow.ScanAccount(db.pool().QueryRowContext(ctx, `SELECT `+sqlrow.AccountColumns+` FROM accounts WHERE email = ?`, tack.NormalizeEmail(email)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tack.ErrAccountNotFound()
	} else if err != nil {
		return nil, fmt.Errorf("find account: %w", err)
	}
	return a, nil
}

// FindAccounts returns all accounts, oldest first.
func (db *DB) FindAccounts(ctx context.Context) ([]*tack.Account, error) {
	accounts, err := queryAll(ctx, db.pool(), sqlrow.ScanAccount, `SELECT `+sqlrow.AccountColumns+` FROM accounts ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find accounts: %w", err)
	}
	return accounts, nil
}

// SetAccountAccess changes an account's pinning access and, if the account
// has an access request, records message and the current time as its
// answer, whatever access is. Returns ENOTFOUND if there is no such
// account, EINVALID if access is unknown.
func (db *DB) SetAccountAccess(ctx context.Context, id int64, access tack.Access, message string) error {
	if err := tack.CheckAccess(access); err != nil {
		return err
	}
	now := db.now()
	return db.write(ctx, func(ctx context.Context, tx *txn) error {
		if err := updateAccount(ctx, tx, "access", string(access), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE access_requests SET message = ?, decided = ?
			WHERE account_id = ?`, message, now, id); err != nil {
			return fmt.Errorf("answer access request: %w", err)
		}
		return nil
	})
}

// SetAccountBlocked blocks or unblocks an account. Returns ENOTFOUND if
// there is no such account.
func (db *DB) SetAccountBlocked(ctx context.Context, id int64, blocked bool) error {
	return db.write(ctx, func(ctx context.Context, tx *txn) error {
		if err := updateAccount(ctx, tx, "blocked", blocked, id); err != nil {
			return err
		}
		if blocked {
			_, err := tx.ExecContext(ctx, `
				UPDATE pins SET retry_at = `+retryHeld+` WHERE account_id = ? AND status = 'queued'`, id)
			return err
		}
		return unhold(ctx, tx, id)
	})
}

// unhold makes the account's held requests ready, oldest first, each
// taking the account's next turn as a new request would.
func unhold(ctx context.Context, tx *txn, accountID int64) error {
	var n int64
	if err := tx.QueryRowContext(ctx, `
		SELECT count(*) FROM pins
		WHERE account_id = ? AND status = 'queued' AND retry_at = `+retryHeld, accountID).Scan(&n); err != nil || n == 0 {
		return err
	}
	first, err := takeTurns(ctx, tx, accountID, n)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `
		WITH held AS (
			SELECT id, row_number() OVER (ORDER BY created) AS n FROM pins
			WHERE account_id = ? AND status = 'queued' AND retry_at = `+retryHeld+`)
		UPDATE pins SET retry_at = 0, turn = ? - 1 + (SELECT n FROM held WHERE held.id = pins.id)
		WHERE id IN (SELECT id FROM held)`, accountID, first)
	return err
}

// SetAccountLimits sets the account's own limits; nil returns a limit to
// the server's default (DB.Limits). Returns ENOTFOUND if there is no such
// account, EINVALID for a negative limit.
func (db *DB) SetAccountLimits(ctx context.Context, id int64, maxPending, maxBytes *int64) error {
	if err := tack.CheckLimits(maxPending, maxBytes); err != nil {
		return err
	}
	return db.write(ctx, func(ctx context.Context, tx *txn) error {
		if err := updateAccount(ctx, tx, "max_pending", maxPending, id); err != nil {
			return err
		}
		return updateAccount(ctx, tx, "max_bytes", maxBytes, id)
	})
}

// SetAccountPassword replaces an account's password hash. Returns
// ENOTFOUND if there is no such account.
func (db *DB) SetAccountPassword(ctx context.Context, id int64, hash string) error {
	return db.write(ctx, func(ctx context.Context, tx *txn) error {
		return updateAccount(ctx, tx, "password", hash, id)
	})
}

// updateAccount sets the account's column to value inside tx. column is
// one of the constant names above, never user input. Returns ENOTFOUND if
// there is no such account.
func updateAccount(ctx context.Context, tx *txn, column string, value any, id int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE accounts SET `+column+` = ? WHERE id = ?`, value, id)
	if err != nil {
		return fmt.Errorf("set account %s: %w", column, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set account %s: %w", column, err)
	} else if n == 0 {
		return tack.ErrAccountNotFound()
	}
	return nil
}

// CountAccounts returns how many accounts exist.
func (db *DB) CountAccounts(ctx context.Context) (int, error) {
	var n int
	if err := db.pool().QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count accounts: %w", err)
	}
	return n, nil
}
