package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// RequestAccess stores r as the account's access request, replacing any
// earlier one and clearing its answer, and sets the account's access to
// requested, in one transaction. It sets r.Requested, and clears
// r.Message and r.Decided as it does in the store. Returns ENOTFOUND if the
// account does not exist.
func (db *DB) RequestAccess(ctx context.Context, r *tack.AccessRequest) error {
	cids := r.CIDs
	if cids == nil {
		cids = []string{}
	}
	buf, err := json.Marshal(cids)
	if err != nil {
		return fmt.Errorf("marshal cids: %w", err)
	}
	requested := db.now()
	err = db.write(ctx, func(tx pgx.Tx) error {
		if err := updateAccount(ctx, tx, "access", string(tack.AccessRequested), r.AccountID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO access_requests (account_id, what, volume, cids, requested, message, decided)
			VALUES ($1, $2, $3, $4, $5, '', 0)
			ON CONFLICT (account_id) DO UPDATE SET
				what = excluded.what, volume = excluded.volume, cids = excluded.cids,
				requested = excluded.requested, message = '', decided = 0`,
			r.AccountID, r.What, r.Volume, string(buf), requested)
		if err != nil {
			return fmt.Errorf("store access request: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.Requested, r.Message, r.Decided = timeOf(requested), "", time.Time{}
	return nil
}

// FindAccessRequest returns the account's access request, with the
// account's email. Returns ENOTFOUND if it has none.
func (db *DB) FindAccessRequest(ctx context.Context, accountID int64) (*tack.AccessRequest, error) {
	r, err := sqlrow.ScanAccessRequest(db.pool.QueryRow(ctx, `
		SELECT `+sqlrow.AccessRequestColumns+` FROM `+sqlrow.AccessRequestFrom+`
		WHERE r.account_id = $1`, accountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, tack.ErrNotFound("access request")
	} else if err != nil {
		return nil, fmt.Errorf("find access request: %w", err)
	}
	return r, nil
}

// FindAccessRequests returns the requests of the accounts whose access is
// access, oldest request first. An unknown access matches nothing.
func (db *DB) FindAccessRequests(ctx context.Context, access tack.Access) ([]*tack.AccessRequest, error) {
	reqs, err := queryAll(ctx, db.pool, sqlrow.ScanAccessRequest, `
		SELECT `+sqlrow.AccessRequestColumns+` FROM `+sqlrow.AccessRequestFrom+`
		WHERE a.access = $1
		ORDER BY r.requested, r.account_id`, string(access))
	if err != nil {
		return nil, fmt.Errorf("find access requests: %w", err)
	}
	return reqs, nil
}
