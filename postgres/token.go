package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// CreateToken stores t and sets Created. Returns EINVALID if the ID is
// empty, ECONFLICT if it exists, ENOTFOUND if the account does not,
// EQUOTA if the account holds tack.MaxTokens tokens that are not revoked
// (counted under the account's row lock, so that concurrent creates
// cannot pass the limit together).
func (db *DB) CreateToken(ctx context.Context, t *tack.Token) error {
	if err := tack.CheckNewToken(t); err != nil {
		return err
	}
	created := db.now()
	err := db.write(ctx, func(tx pgx.Tx) error {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT true FROM accounts WHERE id = $1 FOR UPDATE`, t.AccountID).Scan(&ok); errors.Is(err, pgx.ErrNoRows) {
			return tack.ErrAccountNotFound()
		} else if err != nil {
			return fmt.Errorf("find account: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tokens WHERE account_id = $1 AND revoked = 0`, t.AccountID).Scan(&n); err != nil {
			return fmt.Errorf("count tokens: %w", err)
		} else if err := tack.CheckTokenCount(n); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO tokens (id, account_id, name, created, last_used, revoked, scope)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (id) DO NOTHING`,
			t.ID, t.AccountID, t.Name, created, micros(t.LastUsed), micros(t.Revoked), string(t.Scope),
		)
		if err != nil {
			return fmt.Errorf("insert token: %w", err)
		} else if tag.RowsAffected() == 0 {
			return tack.ErrIDExists("token")
		}
		return nil
	})
	if err != nil {
		return err
	}
	t.Created = timeOf(created)
	return nil
}

// FindTokenByID returns ENOTFOUND if there is no such token. Revoked
// tokens are returned with Revoked set.
func (db *DB) FindTokenByID(ctx context.Context, id string) (*tack.Token, error) {
	t, err := sqlrow.ScanToken(db.pool.QueryRow(ctx, `SELECT `+sqlrow.TokenColumns+` FROM tokens WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, tack.ErrNotFound("token")
	} else if err != nil {
		return nil, fmt.Errorf("find token: %w", err)
	}
	return t, nil
}

var _ tack.TokenAccountFinder = (*DB)(nil)

// FindTokenAndAccount returns a token and its account in one round trip,
// as tack.TokenAccountFinder says. Returns ENOTFOUND if there is no such
// token.
func (db *DB) FindTokenAndAccount(ctx context.Context, id string) (*tack.Token, *tack.Account, error) {
	var t tack.Token
	var a tack.Account
	var tCreated, lastUsed, revoked, aCreated int64
	var access, scope string
	err := db.pool.QueryRow(ctx, `
		SELECT t.id, t.account_id, t.name, t.created, t.last_used, t.revoked, t.scope,
		       a.id, a.email, a.admin, a.access, a.created, a.blocked, a.password, a.max_pending, a.max_bytes
		FROM tokens t JOIN accounts a ON a.id = t.account_id
		WHERE t.id = $1`, id).Scan(
		&t.ID, &t.AccountID, &t.Name, &tCreated, &lastUsed, &revoked, &scope,
		&a.ID, &a.Email, &a.Admin, &access, &aCreated, &a.Blocked, &a.PasswordHash, &a.MaxPending, &a.MaxBytes)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, tack.ErrNotFound("token")
	} else if err != nil {
		return nil, nil, fmt.Errorf("find token: %w", err)
	}
	t.Created, t.LastUsed, t.Revoked = timeOf(tCreated), timeOf(lastUsed), timeOf(revoked)
	a.Access, a.Created = tack.Access(access), timeOf(aCreated)
	t.Scope = tack.Scope(scope)
	return &t, &a, nil
}

// FindTokens returns an account's tokens, revoked ones included, oldest
// first.
func (db *DB) FindTokens(ctx context.Context, accountID int64) ([]*tack.Token, error) {
	tokens, err := queryAll(ctx, db.pool, sqlrow.ScanToken, `
		SELECT `+sqlrow.TokenColumns+` FROM tokens
		WHERE account_id = $1
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
	tag, err := db.pool.Exec(ctx, `
		UPDATE tokens SET revoked = CASE WHEN revoked = 0 THEN $1 ELSE revoked END
		WHERE id = $2 AND account_id = $3`, now, id, accountID)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	} else if tag.RowsAffected() == 0 {
		return tack.ErrNotFound("token")
	}
	return nil
}

// RevokeTokens marks every token of the account that is not revoked
// revoked, and returns how many it marked. An unknown account has none.
func (db *DB) RevokeTokens(ctx context.Context, accountID int64) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE tokens SET revoked = $1 WHERE account_id = $2 AND revoked = 0`, db.now(), accountID)
	if err != nil {
		return 0, fmt.Errorf("revoke tokens: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// TouchToken records that the token was used at t. The recorded time never
// goes back. Returns ENOTFOUND if there is no such token.
func (db *DB) TouchToken(ctx context.Context, id string, t time.Time) error {
	tag, err := db.pool.Exec(ctx, `
		UPDATE tokens SET last_used = GREATEST(last_used, $1)
		WHERE id = $2`, micros(t), id)
	if err != nil {
		return fmt.Errorf("touch token: %w", err)
	} else if tag.RowsAffected() == 0 {
		return tack.ErrNotFound("token")
	}
	return nil
}
