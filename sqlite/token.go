package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// CreateToken stores t and sets Created. Returns EINVALID if the ID is
// empty, ECONFLICT if it exists, ENOTFOUND if the account does not,
// EQUOTA if the account holds tack.MaxTokens tokens that are not revoked.
func (db *DB) CreateToken(ctx context.Context, t *tack.Token) error {
	if err := tack.CheckNewToken(t); err != nil {
		return err
	}
	created := db.now()
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		if err := accountExists(ctx, tx, t.AccountID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE account_id = ? AND revoked = 0`, t.AccountID).Scan(&n); err != nil {
			return fmt.Errorf("count tokens: %w", err)
		} else if err := tack.CheckTokenCount(n); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO tokens (id, account_id, name, created, last_used, revoked, scope)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.AccountID, t.Name, created, micros(t.LastUsed), micros(t.Revoked), string(t.Scope),
		)
		if isUniqueViolation(err) {
			return tack.ErrIDExists("token")
		} else if err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	t.Created = timeOf(created)
	return nil
}

// accountExists returns ENOTFOUND unless the account exists.
func accountExists(ctx context.Context, tx *txn, id int64) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE id = ?`, id).Scan(&n); err != nil {
		return fmt.Errorf("find account: %w", err)
	} else if n == 0 {
		return tack.ErrAccountNotFound()
	}
	return nil
}

// FindTokenByID returns ENOTFOUND if there is no such token. Revoked
// tokens are returned with Revoked set.
func (db *DB) FindTokenByID(ctx context.Context, id string) (*tack.Token, error) {
	t, err := sqlrow.ScanToken(db.pool().QueryRowContext(ctx, `SELECT `+sqlrow.TokenColumns+` FROM tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tack.ErrNotFound("token")
	} else if err != nil {
		return nil, fmt.Errorf("find token: %w", err)
	}
	return t, nil
}

var _ tack.TokenAccountFinder = (*DB)(nil)

// FindTokenAndAccount returns a token and its account in one statement,
// as tack.TokenAccountFinder says. Returns ENOTFOUND if there is no such
// token.
func (db *DB) FindTokenAndAccount(ctx context.Context, id string) (*tack.Token, *tack.Account, error) {
	var t tack.Token
	var created, lastUsed, revoked int64
	var scope string
	row := db.pool().QueryRowContext(ctx, `
		SELECT t.id, t.account_id, t.name, t.created, t.last_used, t.revoked, t.scope, a.*
		FROM tokens t JOIN (SELECT `+sqlrow.AccountColumns+` FROM accounts) a ON a.id = t.account_id
		WHERE t.id = ?`, id)
	a, err := sqlrow.ScanAccount(prefixedRow{row, []any{&t.ID, &t.AccountID, &t.Name, &created, &lastUsed, &revoked, &scope}})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, tack.ErrNotFound("token")
	} else if err != nil {
		return nil, nil, fmt.Errorf("find token: %w", err)
	}
	t.Created, t.LastUsed, t.Revoked, t.Scope = timeOf(created), timeOf(lastUsed), timeOf(revoked), tack.Scope(scope)
	return &t, a, nil
}

// prefixedRow scans a row's first columns into prefix, and the rest into
// what its caller asks for: a scan function of one table reads a joined
// row.
type prefixedRow struct {
	row    row
	prefix []any
}

// Scan scans the row into prefix and then dest.
func (r prefixedRow) Scan(dest ...any) error {
	return r.row.Scan(append(r.prefix, dest...)...)
}

// FindTokens returns an account's tokens, revoked ones included, oldest
// first.
func (db *DB) FindTokens(ctx context.Context, accountID int64) ([]*tack.Token, error) {
	tokens, err := queryAll(ctx, db.pool(), sqlrow.ScanToken, `
		SELECT `+sqlrow.TokenColumns+` FROM tokens
		WHERE account_id = ?
		ORDER BY created, id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("find tokens: %w", err)
	}
	return tokens, nil
}

// RevokeToken marks the account's token revoked. Revoking a revoked token
// keeps its first revocation time. Returns ENOTFOUND if the account has no
// such token.
func (db *DB) RevokeToken(ctx context.Context, accountID int64, id string) error {
	now := db.now()
	return db.write(ctx, func(ctx context.Context, tx *txn) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE tokens SET revoked = CASE WHEN revoked = 0 THEN ? ELSE revoked END
			WHERE id = ? AND account_id = ?`, now, id, accountID)
		if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("revoke token: %w", err)
		} else if n == 0 {
			return tack.ErrNotFound("token")
		}
		return nil
	})
}

// RevokeTokens marks every token of the account that is not revoked
// revoked, and returns how many it marked. An unknown account has none.
func (db *DB) RevokeTokens(ctx context.Context, accountID int64) (int, error) {
	now := db.now()
	var n int64
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		res, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked = ? WHERE account_id = ? AND revoked = 0`, now, accountID)
		if err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		return nil
	})
	return int(n), err
}

// TouchToken records that the token was used at t. The recorded time never
// goes back. Returns ENOTFOUND if there is no such token.
func (db *DB) TouchToken(ctx context.Context, id string, t time.Time) error {
	return db.write(ctx, func(ctx context.Context, tx *txn) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE tokens SET last_used = max(last_used, ?)
			WHERE id = ?`, micros(t), id)
		if err != nil {
			return fmt.Errorf("touch token: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("touch token: %w", err)
		} else if n == 0 {
			return tack.ErrNotFound("token")
		}
		return nil
	})
}
