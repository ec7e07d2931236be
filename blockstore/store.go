package blockstore

import (
	"context"

	"github.com/ipfs/boxo/blockstore"
)

// Store is what tack needs of a blockstore beyond boxo's: durability on
// demand, the listing and deletion that garbage collection sweeps with,
// and its space. Local and the S3 store (package blockstore/s3) are
// Stores; cmd/tack holds one without knowing which.
type Store interface {
	blockstore.Blockstore

	// Sync makes every block written before the call durable. tack
	// records a pin as pinned only after it returns nil.
	Sync(ctx context.Context) error

	// ForEachBlock calls fn for every stored block, with its size, until
	// fn returns an error. Blocks written meanwhile may or may not be
	// seen.
	ForEachBlock(ctx context.Context, fn func(Stored) error) error

	// DeleteStored deletes blocks that ForEachBlock found. Deleting a
	// block that is not there is not an error.
	DeleteStored(ctx context.Context, bs []Stored) error

	// Compact gives back the space of deleted blocks now rather than
	// later.
	Compact(ctx context.Context) error

	// DiskUsage returns the bytes the store uses: on the local disk for
	// Local, in the bucket for S3.
	DiskUsage(ctx context.Context) (uint64, error)

	// Close flushes and closes the store. Calling it again does nothing.
	Close() error
}

var _ Store = (*Local)(nil)
