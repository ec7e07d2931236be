package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// CreatePasswordReset stores r and sets Created. Returns EINVALID if the
// ID is empty, ENOTFOUND if the account does not exist, ECONFLICT if the ID
// does.
func (db *DB) CreatePasswordReset(ctx context.Context, r *tack.PasswordReset) error {
	if err := tack.CheckNewPasswordReset(r); err != nil {
		return err
	}
	created := db.now()
	err := db.write(ctx, func(tx pgx.Tx) error {
		if err := accountExists(ctx, tx, r.AccountID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO password_resets (id, account_id, created_by, created, expires)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO NOTHING`,
			r.ID, r.AccountID, r.CreatedBy, created, micros(r.Expires))
		if err != nil {
			return fmt.Errorf("insert password reset: %w", err)
		} else if tag.RowsAffected() == 0 {
			return tack.ErrIDExists("password reset")
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.Created = timeOf(created)
	return nil
}

// FindPasswordReset returns ENOTFOUND if there is no such link; an expired
// one is returned as it is.
func (db *DB) FindPasswordReset(ctx context.Context, id string) (*tack.PasswordReset, error) {
	r, err := sqlrow.ScanPasswordReset(db.pool.QueryRow(ctx, `
		SELECT `+sqlrow.PasswordResetColumns+` FROM password_resets WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, tack.ErrNotFound("password reset link")
	} else if err != nil {
		return nil, fmt.Errorf("find password reset: %w", err)
	}
	return r, nil
}

// ResetPassword sets the link's account's password hash, deletes every
// reset link and session of the account and, if revokeTokens, revokes its
// API tokens, in one transaction; the link's row is locked first, so that
// it works once. Returns ENOTFOUND, changing nothing, if the link does not
// exist or expires at or before now.
func (db *DB) ResetPassword(ctx context.Context, id, hash string, revokeTokens bool) (*tack.Account, error) {
	now := db.now()
	var acct *tack.Account
	err := db.write(ctx, func(tx pgx.Tx) error {
		var accountID int64
		err := tx.QueryRow(ctx, `
			SELECT account_id FROM password_resets
			WHERE id = $1 AND expires > $2 FOR UPDATE`, id, now).Scan(&accountID)
		if errors.Is(err, pgx.ErrNoRows) {
			return tack.Errorf(tack.ENOTFOUND, "password reset link not found, used or expired")
		} else if err != nil {
			return fmt.Errorf("find password reset: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET password = $1 WHERE id = $2`, hash, accountID); err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM password_resets WHERE account_id = $1`, accountID); err != nil {
			return fmt.Errorf("delete password resets: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE account_id = $1`, accountID); err != nil {
			return fmt.Errorf("delete sessions: %w", err)
		}
		if revokeTokens {
			if _, err := tx.Exec(ctx, `UPDATE tokens SET revoked = $1 WHERE account_id = $2 AND revoked = 0`, now, accountID); err != nil {
				return fmt.Errorf("revoke tokens: %w", err)
			}
		}
		acct, err = sqlrow.ScanAccount(tx.QueryRow(ctx, `SELECT `+sqlrow.AccountColumns+` FROM accounts WHERE id = $1`, accountID))
		if err != nil {
			return fmt.Errorf("reset password: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return acct, nil
}
