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

// EnsureSecret stores value under name unless a secret of that name
// exists, and returns the stored secret. Returns EINVALID for an empty
// name or value.
func (db *DB) EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	if err := tack.CheckSecret(name, value); err != nil {
		return nil, err
	}
	var stored []byte
	// ON CONFLICT DO UPDATE with no change, so that RETURNING gives the
	// stored row in either case, in one round trip.
	err := db.pool.QueryRow(ctx, `
		INSERT INTO secrets (name, value, created) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET name = excluded.name
		RETURNING value`, name, value, db.now()).Scan(&stored)
	if err != nil {
		return nil, fmt.Errorf("ensure secret %s: %w", name, err)
	}
	return stored, nil
}

// SaveNode stores n, replacing the record of the same ID, and sets Seen.
// Returns EINVALID without an ID.
func (db *DB) SaveNode(ctx context.Context, n *tack.Node) error {
	if err := tack.CheckNodeID(n.ID); err != nil {
		return err
	}
	addrs := n.Addrs
	if addrs == nil {
		addrs = []string{}
	}
	js, err := json.Marshal(addrs)
	if err != nil {
		return err
	}
	seen := db.now()
	_, err = db.pool.Exec(ctx, `
		INSERT INTO nodes (id, addrs, blocks, started, seen, collection)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET addrs = excluded.addrs, blocks = excluded.blocks,
			started = excluded.started, seen = excluded.seen, collection = excluded.collection`,
		n.ID, string(js), n.Blocks, micros(n.Started), seen, n.Collection)
	if err != nil {
		return fmt.Errorf("save node: %w", err)
	}
	n.Seen = timeOf(seen)
	return nil
}

// FindNodes returns the nodes seen at or after since, by ID.
func (db *DB) FindNodes(ctx context.Context, since time.Time) ([]*tack.Node, error) {
	nodes, err := queryAll(ctx, db.pool, sqlrow.ScanNode, `
		SELECT id, addrs::text, blocks, started, seen, collection FROM nodes
		WHERE seen >= $1 ORDER BY id`, micros(since))
	if err != nil {
		return nil, fmt.Errorf("find nodes: %w", err)
	}
	return nodes, nil
}

// DeleteNode removes a node's record.
func (db *DB) DeleteNode(ctx context.Context, id string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM nodes WHERE id = $1`, id); err != nil {
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
	err := db.write(ctx, func(tx pgx.Tx) error {
		// The row exists from the first collection on; before that,
		// concurrent inserts conflict on the key and one of them retries.
		if _, err := tx.Exec(ctx, `
			INSERT INTO collections (id, epoch, node, started, until, running)
			VALUES (1, 0, '', 0, 0, false) ON CONFLICT (id) DO NOTHING`); err != nil {
			return err
		}
		var epoch, leased int64
		var running bool
		if err := tx.QueryRow(ctx, `SELECT epoch, until, running FROM collections WHERE id = 1 FOR UPDATE`).
			Scan(&epoch, &leased, &running); err != nil {
			return err
		}
		if running && leased > now {
			return tack.Errorf(tack.ECONFLICT, "a garbage collection is running")
		}
		c.Epoch = epoch + 1
		_, err := tx.Exec(ctx, `
			UPDATE collections SET epoch = $1, node = $2, started = $3, until = $4, running = true WHERE id = 1`,
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
	tag, err := db.pool.Exec(ctx, `
		UPDATE collections SET until = $1 WHERE id = 1 AND epoch = $2 AND node = $3 AND running AND until > $4`,
		micros(until), epoch, node, db.now())
	if err != nil {
		return fmt.Errorf("renew collection: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return tack.Errorf(tack.ENOTFOUND, "collection %d is not running", epoch)
	}
	return nil
}

// EndCollection ends node's collection epoch, and forgets the keys kept
// for it and for every epoch before.
func (db *DB) EndCollection(ctx context.Context, node string, epoch int64) error {
	err := db.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			UPDATE collections SET running = false WHERE id = 1 AND epoch = $1 AND node = $2`, epoch, node); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM collection_keeps WHERE epoch <= $1`, epoch)
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
	c, err := sqlrow.ScanCollection(db.pool.QueryRow(ctx, `
		SELECT `+sqlrow.CollectionColumns+` FROM collections
		WHERE id = 1 AND running AND until > $1`, micros(now)))
	if errors.Is(err, pgx.ErrNoRows) {
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
	if err := db.readHashes(ctx, "collection_keeps", "key", "epoch = $1", []any{epoch}, fn); err != nil {
		return fmt.Errorf("collection keeps: %w", err)
	}
	return nil
}
