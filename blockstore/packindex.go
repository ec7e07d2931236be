package blockstore

import (
	"context"
	"errors"
)

// A pack is one object in a bucket that holds many blocks end to end, so
// that storing a small block does not cost an object of its own. The
// PackIndex says, for every stored block, which pack holds it and where.
// It lives in the metadata store, so that several tack nodes sharing one
// bucket and one database find every block any of them stored.

// Pack is one pack object.
type Pack struct {
	Name string // the object's key in the bucket
	Size int64  // the object's length in bytes
}

// PackEntry is where one block is: Length bytes at Offset of the pack
// Pack. Hash is the block's multihash.
type PackEntry struct {
	Hash   []byte
	Pack   string
	Offset int64
	Length int64
}

// PackUsage is how much of a pack is still needed.
type PackUsage struct {
	Pack
	LiveBlocks int64 // blocks the index points at in this pack
	LiveBytes  int64 // their bytes
}

// ErrNoBlock is returned by PackIndex.Lookup for a multihash the index
// does not hold.
var ErrNoBlock = errors.New("blockstore: no such block in the pack index")

// PackIndex is the index of packed blocks: multihash to (pack, offset,
// length), and the packs themselves. Every method is safe for concurrent
// use, from one process or many sharing the index. A multihash has at
// most one entry; a pack is recorded with all its entries at once.
//
// The contract is written so that compaction (rewriting the live blocks
// of mostly dead packs into new ones) never loses a block that is written
// or deleted meanwhile: AddPack always wins, a move (From set) only
// applies where the entry still points at From, and DeletePack only
// removes a pack no entry points at.
type PackIndex interface {
	// AddPack records pack p and its entries in one transaction. Entries
	// whose From is empty point their multihash at p whatever it pointed
	// at before (a block written again lives in its newest pack). An
	// entry whose From is set is a move: it applies only if the multihash
	// still points at the pack From, and is dropped otherwise (the block
	// was deleted, or written again elsewhere, meanwhile). The Pack
	// field of entries is ignored: it is p.Name.
	AddPack(ctx context.Context, p Pack, entries []PackMove) error

	// Lookup returns where the block with multihash h is, or ErrNoBlock.
	Lookup(ctx context.Context, h []byte) (PackEntry, error)

	// DeleteBlocks removes the entries of the multihashes hs; those not
	// there are skipped. The bytes stay in their packs until compaction.
	DeleteBlocks(ctx context.Context, hs [][]byte) error

	// Blocks returns up to limit entries in multihash order (bytewise)
	// after the multihash after (nil: from the first).
	Blocks(ctx context.Context, after []byte, limit int) ([]PackEntry, error)

	// PackBlocks returns every entry that points into the pack name, in
	// offset order.
	PackBlocks(ctx context.Context, name string) ([]PackEntry, error)

	// Packs returns every recorded pack with its live blocks and bytes,
	// in name order.
	Packs(ctx context.Context) ([]PackUsage, error)

	// DeletePack forgets the pack name if no entry points into it, and
	// tells whether it did (or the pack was not recorded). Once it
	// returns true the object may be deleted.
	DeletePack(ctx context.Context, name string) (bool, error)

	// Garbage collection when several nodes share the index (see
	// gc.Shared): every entry carries the position, in one increasing
	// sequence, of the last AddPack that wrote it (not a move) or Touch
	// that touched it.

	// Seq returns a position at or after that of every AddPack and Touch
	// that returned before it was called, and before that of every one
	// called after it returns.
	Seq(ctx context.Context) (int64, error)

	// Touch moves the entries of hs to a new position, and returns the
	// multihashes among hs that have no entry.
	Touch(ctx context.Context, hs [][]byte) (missing [][]byte, err error)

	// DeleteUnchanged removes the entries of hs whose position is at or
	// before seq, and returns how many it removed and their bytes. Per
	// entry, it and Touch are atomic: an entry touched after seq stays,
	// and a Touch after its removal reports it missing.
	DeleteUnchanged(ctx context.Context, hs [][]byte, seq int64) (int, int64, error)
}

// PackMove is an entry of AddPack: the block with multihash Hash is at
// Offset, Length bytes, of the new pack. From, if set, makes it a move
// out of the pack From (see AddPack).
type PackMove struct {
	PackEntry
	From string
}
