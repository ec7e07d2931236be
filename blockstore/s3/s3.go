// Package s3 is a tack blockstore on S3-compatible object storage, for
// several tack nodes that share one bucket and one metadata store.
//
// Blocks are packed: a write goes to an open pack buffer in memory, and a
// pack object holds many blocks end to end (PackSize bytes, or what was
// written when Sync is called or FlushAfter has passed). Where each block
// is — pack, offset, length — is in a blockstore.PackIndex in the
// metadata store, so every node finds every block; a read is a ranged GET
// of the pack. A local Cache holds hot blocks, filled on write and on
// read. Deleted blocks leave dead bytes in their packs until Compact
// rewrites the mostly dead packs.
package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	boxobs "github.com/ipfs/boxo/blockstore"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tack-ipfs/tack/blockstore"
)

// Store is the S3 blockstore.
type Store struct {
	client     *minio.Client
	secure     bool
	bucket     string
	prefix     string
	index      blockstore.PackIndex
	cache      *blockstore.Cache
	packSize   int64
	flushAfter time.Duration
	slots      chan struct{} // one per pack uploading
	log        *slog.Logger
	// readTimeout bounds a block's read from the bucket, retries
	// included; writeTimeout each request of a whole pack.
	readTimeout, writeTimeout time.Duration

	// commitMu orders a pack's commit to the index against deletions, so
	// that a block deleted while its pack uploads stays deleted, and
	// against Touch (see there).
	commitMu sync.Mutex

	mu       sync.Mutex
	open     *pack            // being filled; nil when empty
	pending  map[string]*slot // blocks written but not yet in the index
	inflight []*pack          // sealed, not yet in the index
	closed   bool
	// Syncs commit in groups: writes counts the blocks appended to packs,
	// sealed how many of them were in packs when the last one was sealed,
	// and syncing is the pack a Sync sealed and is uploading, if any. A
	// Sync that comes meanwhile waits for it, and then seals at once
	// everything written since, for every Sync that waited: one PUT for
	// many pins that end together, rather than one each.
	writes, sealed int64
	syncing        *pack

	// Blocks written wait in fills for the cache, so that a Put does not
	// wait for the local disk; past fillBytes queued, they are not cached.
	// A block deleted while it waits is not cached: unless no deletion
	// came since it was queued (delGen), the filler caches a block only
	// while it is still pending, holding fillMu, which a deletion takes
	// to drop blocks from the cache.
	fills   chan fillReq
	delGen  atomic.Uint64
	queued  atomic.Int64
	fillsWG sync.WaitGroup
	fillMu  sync.Mutex

	stop chan struct{}
	wg   sync.WaitGroup

	// beforeMove, if set, runs in Compact between copying the live
	// blocks of old packs and recording the moves (tests).
	beforeMove func()
}

var _ blockstore.Store = (*Store)(nil)

// Open opens the store, creating the bucket if it does not exist.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Index == nil {
		return nil, errors.New("s3: no pack index")
	}
	client, err := minio.New(o.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(o.AccessKey, o.SecretKey, o.SessionToken),
		Secure:    o.Secure,
		Region:    o.Region,
		Transport: o.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	readTimeout := orDefault(o.ReadTimeout, DefaultReadTimeout)
	// A bucket that does not answer fails the start rather than hang it.
	bctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	ok, err := client.BucketExists(bctx, o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3: bucket %s at %s: %w", o.Bucket, o.Endpoint, timedOut(bctx, err, readTimeout))
	}
	if !ok {
		if err := client.MakeBucket(bctx, o.Bucket, minio.MakeBucketOptions{Region: o.Region}); err != nil {
			return nil, fmt.Errorf("s3: creating bucket %s: %w", o.Bucket, timedOut(bctx, err, readTimeout))
		}
	}
	s := &Store{
		client:     client,
		secure:     o.Secure,
		bucket:     o.Bucket,
		prefix:     o.Prefix,
		index:      o.Index,
		cache:      o.Cache,
		packSize:   orDefault(o.PackSize, DefaultPackSize),
		flushAfter: orDefault(o.FlushAfter, DefaultFlushAfter),
		slots:      make(chan struct{}, orDefault(o.Uploads, DefaultUploads)),
		pending:    map[string]*slot{},
		stop:       make(chan struct{}),
		log:        o.Log,

		readTimeout:  readTimeout,
		writeTimeout: orDefault(o.WriteTimeout, DefaultWriteTimeout),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.wg.Add(1)
	go s.flusher()
	if s.cache != nil {
		s.fills = make(chan fillReq, 4096)
		s.fillsWG.Add(1)
		go s.filler()
	}
	return s, nil
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// errNoAnswer is the cause of a request to the bucket that ran out of
// time.
var errNoAnswer = errors.New("the bucket did not answer in time")

// timedOut explains err, the failure of a request under ctx, if ctx ran
// out of its timeout d.
func timedOut(ctx context.Context, err error, d time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (within %s): %w", errNoAnswer, d, err)
	}
	return err
}

// DiskUsage returns the bytes of the packs in the bucket, dead or live.
func (s *Store) DiskUsage(ctx context.Context) (uint64, error) {
	ps, err := s.index.Packs(ctx)
	if err != nil {
		return 0, fmt.Errorf("s3: %w", err)
	}
	var n uint64
	for _, p := range ps {
		n += uint64(p.Size)
	}
	return n, nil
}

// Close uploads what was written and closes the store. Calling it again
// does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := s.Sync(ctx)
	cancel()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	if s.cache != nil {
		close(s.fills)
		s.fillsWG.Wait()
		err = errors.Join(err, s.cache.Close())
	}
	return err
}

var _ boxobs.Blockstore = (*Store)(nil)
