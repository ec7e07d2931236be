package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// CreateSession stores s and sets Created, after deleting every session
// that expired before now (the expires index makes that cheap). Returns
// EINVALID if the ID is empty, ENOTFOUND if the account does not exist,
// ECONFLICT if the ID does.
func (db *DB) CreateSession(ctx context.Context, s *tack.Session) error {
	if err := tack.CheckNewSession(s); err != nil {
		return err
	}
	created := db.now()
	err := db.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires < $1`, created); err != nil {
			return fmt.Errorf("delete expired sessions: %w", err)
		}
		if err := accountExists(ctx, tx, s.AccountID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO sessions (id, account_id, created, expires)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO NOTHING`,
			s.ID, s.AccountID, created, micros(s.Expires))
		if err != nil {
			return fmt.Errorf("insert session: %w", err)
		} else if tag.RowsAffected() == 0 {
			return tack.ErrIDExists("session")
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.Created = timeOf(created)
	return nil
}

// FindSession returns ENOTFOUND if there is no such session. An expired
// session is returned until a CreateSession deletes it: callers check
// Expires.
func (db *DB) FindSession(ctx context.Context, id string) (*tack.Session, error) {
	s, err := sqlrow.ScanSession(db.pool.QueryRow(ctx, `
		SELECT `+sqlrow.SessionColumns+` FROM sessions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, tack.ErrNotFound("session")
	} else if err != nil {
		return nil, fmt.Errorf("find session: %w", err)
	}
	return s, nil
}

// DeleteSession deletes a session; deleting a missing one is not an error.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteSessions deletes every session of the account. An unknown account
// has none: that is not an error.
func (db *DB) DeleteSessions(ctx context.Context, accountID int64) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE account_id = $1`, accountID); err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	return nil
}
