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

// CreateInvite stores i and sets Created. UsedBy and Used are stored as
// given (0 and the zero time for a new invitation). Returns EINVALID if the
// ID is empty, ECONFLICT if it exists.
func (db *DB) CreateInvite(ctx context.Context, i *tack.Invite) error {
	if err := tack.CheckNewInvite(i); err != nil {
		return err
	}
	created := db.now()
	tag, err := db.pool.Exec(ctx, `
		INSERT INTO invites (id, created_by, created, expires, used_by, used)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO NOTHING`,
		i.ID, i.CreatedBy, created, micros(i.Expires), i.UsedBy, micros(i.Used))
	if err != nil {
		return fmt.Errorf("insert invitation: %w", err)
	} else if tag.RowsAffected() == 0 {
		return tack.ErrIDExists("invitation")
	}
	i.Created = timeOf(created)
	return nil
}

// FindInvites returns the invitations that are unused and expire after
// now, newest first.
func (db *DB) FindInvites(ctx context.Context, now time.Time) ([]*tack.Invite, error) {
	invites, err := queryAll(ctx, db.pool, sqlrow.ScanInvite, `
		SELECT id, created_by, created, expires, used_by, used FROM invites
		WHERE used_by = 0 AND expires > $1
		ORDER BY created DESC, id DESC`, micros(now))
	if err != nil {
		return nil, fmt.Errorf("find invitations: %w", err)
	}
	return invites, nil
}

// CreateAccountWithInvite creates a as CreateAccount does and, in the same
// transaction, marks the invitation used by it at its creation time. The
// invitation's row is locked first, so that two sign-ups cannot use one
// invitation. Returns ENOTFOUND, creating nothing, if the invitation does
// not exist, is used, or expires at or before a's creation time;
// ECONFLICT, leaving the invitation unused, if the email is taken;
// EINVALID as CreateAccount.
func (db *DB) CreateAccountWithInvite(ctx context.Context, a *tack.Account, inviteID string) error {
	stored, err := db.newAccount(a)
	if err != nil {
		return err
	}
	created := micros(stored.Created)
	err = db.write(ctx, func(tx pgx.Tx) error {
		var ok bool
		err := tx.QueryRow(ctx, `
			SELECT true FROM invites
			WHERE id = $1 AND used_by = 0 AND expires > $2 FOR UPDATE`, inviteID, created).Scan(&ok)
		if errors.Is(err, pgx.ErrNoRows) {
			return tack.Errorf(tack.ENOTFOUND, "invitation not found, used or expired")
		} else if err != nil {
			return fmt.Errorf("find invitation: %w", err)
		}
		if err := insertAccount(ctx, tx, &stored); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE invites SET used_by = $1, used = $2
			WHERE id = $3`, stored.ID, created, inviteID); err != nil {
			return fmt.Errorf("use invitation: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	*a = stored
	return nil
}
