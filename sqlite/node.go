package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/sqlrow"
)

// SaveNode stores n, replacing the record of the same ID, and sets Seen.
// Returns EINVALID without an ID.
func (db *DB) SaveNode(ctx context.Context, n *tack.Node) error {
	if err := tack.CheckNodeID(n.ID); err != nil {
		return err
	}
	addrs, err := json.Marshal(n.Addrs)
	if err != nil {
		return err
	}
	seen := db.now()
	err = db.write(ctx, func(ctx context.Context, tx *txn) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO nodes (id, addrs, blocks, started, seen, collection)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET addrs = excluded.addrs, blocks = excluded.blocks,
				started = excluded.started, seen = excluded.seen, collection = excluded.collection`,
			n.ID, string(addrs), n.Blocks, micros(n.Started), seen, n.Collection)
		return err
	})
	if err != nil {
		return fmt.Errorf("save node: %w", err)
	}
	n.Seen = timeOf(seen)
	return nil
}

// FindNodes returns the nodes seen at or after since, by ID.
func (db *DB) FindNodes(ctx context.Context, since time.Time) ([]*tack.Node, error) {
	nodes, err := queryAll(ctx, db.pool(), sqlrow.ScanNode, `
		SELECT id, addrs, blocks, started, seen, collection FROM nodes
		WHERE seen >= ? ORDER BY id`, micros(since))
	if err != nil {
		return nil, fmt.Errorf("find nodes: %w", err)
	}
	return nodes, nil
}

// DeleteNode removes a node's record.
func (db *DB) DeleteNode(ctx context.Context, id string) error {
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete node: %w", err)
	}
	return nil
}

// BeginCollection starts a collection by node, leased until until.
// Returns ECONFLICT while another collection's lease runs.
func (db *DB) BeginCollection(ctx context.Context, node string, until time.Time) (*tack.Collection, error) {
	if err := tack.CheckNodeID(node); err != nil {
		return nil, err
	}
	now := db.now()
	c := &tack.Collection{Node: node, Started: timeOf(now), Until: until}
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		var epoch, leased int64
		var running bool
		err := tx.QueryRowContext(ctx, `SELECT epoch, until, running FROM collections WHERE id = 1`).Scan(&epoch, &leased, &running)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if running && leased > now {
			return tack.Errorf(tack.ECONFLICT, "a garbage collection is running")
		}
		c.Epoch = epoch + 1
		_, err = tx.ExecContext(ctx, `
			INSERT INTO collections (id, epoch, node, started, until, running) VALUES (1, ?, ?, ?, ?, 1)
			ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch, node = excluded.node,
				started = excluded.started, until = excluded.until, running = 1`,
			c.Epoch, node, now, micros(until))
		return err
	})
	if tack.ErrorCode(err) == tack.ECONFLICT {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("begin collection: %w", err)
	}
	return c, nil
}

// RenewCollection extends the lease of node's collection epoch. Returns
// ENOTFOUND when it is no longer the running one.
func (db *DB) RenewCollection(ctx context.Context, node string, epoch int64, until time.Time) error {
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE collections SET until = ? WHERE id = 1 AND epoch = ? AND node = ? AND running = 1 AND until > ?`,
			micros(until), epoch, node, db.now())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tack.Errorf(tack.ENOTFOUND, "collection %d is not running", epoch)
		}
		return nil
	})
	if err != nil && tack.ErrorCode(err) != tack.ENOTFOUND {
		return fmt.Errorf("renew collection: %w", err)
	}
	return err
}

// EndCollection ends node's collection epoch.
func (db *DB) EndCollection(ctx context.Context, node string, epoch int64) error {
	err := db.write(ctx, func(ctx context.Context, tx *txn) error {
		if _, err := tx.ExecContext(ctx, `
			UPDATE collections SET running = 0 WHERE id = 1 AND epoch = ? AND node = ?`, epoch, node); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM collection_keeps WHERE epoch <= ?`, epoch)
		return err
	})
	if err != nil {
		return fmt.Errorf("end collection: %w", err)
	}
	return nil
}

// RunningCollection returns the collection whose lease runs at now, or
// nil.
func (db *DB) RunningCollection(ctx context.Context, now time.Time) (*tack.Collection, error) {
	c, err := sqlrow.ScanCollection(db.pool().QueryRowContext(ctx, `
		SELECT `+sqlrow.CollectionColumns+` FROM collections
		WHERE id = 1 AND running = 1 AND until > ?`, micros(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("running collection: %w", err)
	}
	return c, nil
}

// KeepForCollection records blocks a node joining collection epoch needs
// kept.
func (db *DB) KeepForCollection(ctx context.Context, epoch int64, keys []uint64) error {
	if err := db.insertHashes(ctx, "collection_keeps (epoch, key)", []any{epoch}, keys, "ON CONFLICT DO NOTHING"); err != nil {
		return fmt.Errorf("keep for collection: %w", err)
	}
	return nil
}

// CollectionKeeps calls fn with every key kept for epoch, a page at a
// time.
func (db *DB) CollectionKeeps(ctx context.Context, epoch int64, fn func(keys []uint64) error) error {
	if err := db.readHashes(ctx, "collection_keeps", "key", "epoch = ?", []any{epoch}, fn); err != nil {
		return fmt.Errorf("collection keeps: %w", err)
	}
	return nil
}
