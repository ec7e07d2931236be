// Package blockstore holds the blockstores tack keeps the blocks of pinned
// DAGs in: Local, on the local disk (the default), and the conformance
// suite in blockstoretest that every implementation passes.
//
// All of them are boxo blockstore.Blockstore values and key blocks by
// multihash, so a CIDv0 and its CIDv1 twin (or the same bytes under two
// codecs) share one stored block.
package blockstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/ipfs/boxo/blockstore"
	flatfs "github.com/ipfs/go-ds-flatfs"
	"golang.org/x/sys/unix"
)

// Local is a blockstore on the local disk: one file per block in a flatfs
// directory sharded by next-to-last/2, as Kubo lays out its blocks.
//
// Blocks are written without fsync, which makes fetching fast; Sync makes
// every block written so far durable, once per pin rather than once per
// block.
type Local struct {
	blockstore.Blockstore

	ds  *flatfs.Datastore
	dir *os.File // held open for syncfs(2)

	mu      sync.Mutex
	pending *syncCall // the sync that callers arriving now will share
	syncing bool      // whether syncLoop is running
	loops   sync.WaitGroup
	closed  bool
}

var _ blockstore.Blockstore = (*Local)(nil)

// syncCall is one syncfs(2) shared by every Sync caller waiting for it.
type syncCall struct {
	done chan struct{}
	err  error
}

// OpenLocal opens the blockstore in dir, creating the directory and the
// flatfs layout on first use.
func OpenLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("blockstore: %w", err)
	}
	ds, err := flatfs.CreateOrOpen(dir, flatfs.NextToLast(2), false)
	if err != nil {
		return nil, fmt.Errorf("blockstore: open %s: %w", dir, err)
	}
	f, err := os.Open(dir)
	if err != nil {
		ds.Close()
		return nil, fmt.Errorf("blockstore: %w", err)
	}
	return &Local{
		// Write through: the pinner looks for a block before it fetches
		// one, so checking again on every write would only cost a stat.
		Blockstore: blockstore.NewBlockstore(ds, blockstore.NoPrefix(), blockstore.WriteThrough(true)),
		ds:         ds,
		dir:        f,
	}, nil
}

// Sync makes every block written before the call durable. It flushes the
// whole filesystem that holds the blockstore with syncfs(2): flatfs' own
// Sync does nothing when it was opened without sync. Concurrent callers
// share flushes (a group commit), so many pins finishing at once cost
// about one flush.
func (l *Local) Sync(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errors.New("blockstore: sync of a closed blockstore")
	}
	c := l.pending
	if c == nil {
		c = &syncCall{done: make(chan struct{})}
		l.pending = c
		if !l.syncing {
			l.syncing = true
			l.loops.Add(1)
			go l.syncLoop()
		}
	}
	l.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// syncLoop runs pending flushes one after another until none is left. A
// call that arrived while a flush was running waits for the next one, so
// that it covers every write the caller made before calling Sync.
func (l *Local) syncLoop() {
	defer l.loops.Done()
	for {
		l.mu.Lock()
		c := l.pending
		l.pending = nil
		if c == nil {
			l.syncing = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		if err := unix.Syncfs(int(l.dir.Fd())); err != nil {
			c.err = fmt.Errorf("blockstore: syncfs %s: %w", l.dir.Name(), err)
		}
		close(c.done)
	}
}

// DiskUsage returns the bytes the blockstore uses on disk, as flatfs
// accounts them.
func (l *Local) DiskUsage(ctx context.Context) (uint64, error) {
	return l.ds.DiskUsage(ctx)
}

// Close flushes and closes the blockstore. Calling it again does nothing.
func (l *Local) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	// A last flush, so that a clean shutdown loses nothing.
	err := l.Sync(context.Background())
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.loops.Wait() // syncLoop has let go of the directory
	return errors.Join(err, l.ds.Close(), l.dir.Close())
}
