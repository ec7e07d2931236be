package tack

import (
	"context"
	"time"
)

// Node is one `tack serve` process of an installation, as the store knows
// it. Several nodes may share one store (PostgreSQL) and one bucket; each
// saves itself every few seconds, so that the others know it is alive.
type Node struct {
	ID      string    // its libp2p peer ID, which also owns its claims
	Addrs   []string  // the multiaddrs peers dial it at, each ending in /p2p/ID
	Blocks  string    // where it keeps blocks: "local", or the bucket (no credentials)
	Started time.Time // set by the caller
	Seen    time.Time // set by SaveNode: the store's time of the last save
	// Collection is the epoch of the last collection the node joined (see
	// CollectionStore), 0 for none.
	Collection int64
}

// NodeStore is the registry of the nodes that share a store.
type NodeStore interface {
	// SaveNode stores n, replacing the record of the same ID, and sets
	// Seen. Returns EINVALID without an ID.
	SaveNode(ctx context.Context, n *Node) error
	// FindNodes returns the nodes seen at or after since, by ID.
	FindNodes(ctx context.Context, since time.Time) ([]*Node, error)
	// DeleteNode removes a node's record, as it stops. Deleting a node that
	// is not there is not an error.
	DeleteNode(ctx context.Context, id string) error
}

// Collection is a garbage collection in progress, which every live node
// joins (see gc.Guard) before the collecting node sweeps.
type Collection struct {
	Epoch   int64     // increases with each collection begun
	Node    string    // the node that collects
	Started time.Time // set by BeginCollection
	Until   time.Time // its lease: past it, another node may begin one
}

// CollectionStore makes sure that at most one node of an installation
// collects garbage at a time, and tells the others that it does.
type CollectionStore interface {
	// BeginCollection starts a collection by node, leased until until,
	// with an epoch greater than any before. Returns ECONFLICT while
	// another collection's lease runs.
	BeginCollection(ctx context.Context, node string, until time.Time) (*Collection, error)
	// RenewCollection extends the lease of node's collection epoch.
	// Returns ENOTFOUND when it is no longer the running one, or its lease
	// ran out: the other nodes have left it.
	RenewCollection(ctx context.Context, node string, epoch int64, until time.Time) error
	// EndCollection ends node's collection epoch, and forgets the keys
	// kept for it and for every epoch before; ending one that is not
	// running is not an error.
	EndCollection(ctx context.Context, node string, epoch int64) error
	// RunningCollection returns the collection whose lease runs at now,
	// or nil.
	RunningCollection(ctx context.Context, now time.Time) (*Collection, error)
	// KeepForCollection records blocks that a node joining collection
	// epoch needs kept: those its open fetches and uploads hold. keys are
	// the collector's hashes of the blocks' multihashes (gc.Guard's).
	KeepForCollection(ctx context.Context, epoch int64, keys []uint64) error
	// CollectionKeeps calls fn with every key kept for epoch, a page at a
	// time, until fn returns an error.
	CollectionKeeps(ctx context.Context, epoch int64, fn func(keys []uint64) error) error
}

// KeptUpload is a DAG toward which incomplete uploads stored blocks (see
// UploadKeepStore): its content key and when blocks were last added.
type KeptUpload struct {
	Key   string
	Added time.Time
}

// KeptBlock is a block that an upload stored toward a DAG it did not hold
// whole: the collector's 64-bit hash of its multihash (gc.Guard's), and
// its size in bytes (0 if unknown).
type KeptBlock struct {
	Hash uint64
	Size int64
}

// UploadKeepStore keeps, per content key, the blocks that uploads stored
// toward a DAG they did not hold whole (the shards of a large upload come
// in any order), so that garbage collection keeps them while a request for
// that DAG is queued or pinning, whichever node collects. Blocks are named
// by the collector's 64-bit hashes of their multihashes (gc.Guard's).
//
// The blocks an account's uploads kept count against its storage limit
// (Usage.Kept, each block once per DAG) while the account has a queued or
// pinning request for the DAG. When its last such request leaves those
// statuses (pinned: the DAG's size counts instead; failed, deleted or
// replaced: given up), the store forgets the account's blocks for that
// DAG in the same transaction.
type UploadKeepStore interface {
	// KeepUpload records blocks that the account's upload stored toward
	// the DAG key, now. Account 0 is none: the blocks count for nobody.
	KeepUpload(ctx context.Context, accountID int64, key string, blocks []KeptBlock) error
	// FindKeptUploads returns every key with kept blocks, by key.
	FindKeptUploads(ctx context.Context) ([]KeptUpload, error)
	// KeptUploadHashes calls fn with the blocks kept for key, a page at a
	// time, until fn returns an error.
	KeptUploadHashes(ctx context.Context, key string, fn func(hashes []uint64) error) error
	// ForgetKeptUpload forgets the blocks kept for key that were added
	// before before.
	ForgetKeptUpload(ctx context.Context, key string, before time.Time) error
}
