package blockstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ipfs/boxo/datastore/dshelp"
	blocks "github.com/ipfs/go-block-format"
	flatfs "github.com/ipfs/go-ds-flatfs"
)

// files writes large blocks in flatfs's layout (the one Kubo uses), which
// flatfs then reads, lists and deletes: a block is a file named by its
// key in a shard directory, written to a temporary file and renamed into
// place, so that a crash never leaves a partly written block under its
// name.
//
// It does what flatfs's Put does, with fewer system calls and fewer
// locks: flatfs makes the shard directory on every put (an mkdir(2) that
// fails with EEXIST but first takes the top directory's lock exclusively,
// and waits on any mkdir held up by a journal commit), and stats the
// destination before and after the rename to keep its disk usage count;
// its batches add a temporary directory per batch and a goroutine per
// block. Under a syncfs(2) from the write-behind, those mkdirs took
// 1 s of a 2.5 s trace of BenchmarkManyPins (in cmd/tack). files makes
// each shard directory once, and counts the bytes it wrote itself.
type files struct {
	root  string // flatfs's directory
	temp  string // flatfs's .temp, which flatfs empties when it opens
	shard flatfs.ShardFunc
	// made holds the shard directories known to exist.
	made sync.Map
	// name and seq name temporary files: a random prefix per open, and a
	// counter.
	name string
	seq  atomic.Uint64
	// added counts the bytes of the blocks written, for DiskUsage.
	added atomic.Int64
}

// blockPerm is the mode of a block's file: flatfs's, as os.CreateTemp
// makes them.
const blockPerm = 0o600

func newFiles(root string, shard *flatfs.ShardIdV1) (*files, error) {
	var r [6]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, err
	}
	return &files{root: root, temp: filepath.Join(root, ".temp"), shard: shard.Func(), name: "put-" + hex.EncodeToString(r[:]) + "-"}, nil
}

// put writes one block's file, replacing any file of the same block (the
// same bytes, since the name is the block's hash).
func (f *files) put(b blocks.Block) error {
	key := dshelp.MultihashToDsKey(b.Cid().Hash()).String()[1:]
	dir := filepath.Join(f.root, f.shard(key))
	if _, ok := f.made.Load(dir); !ok {
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("blockstore: %w", err)
		}
		f.made.Store(dir, struct{}{})
	}
	tmp := filepath.Join(f.temp, f.name+strconv.FormatUint(f.seq.Add(1), 10))
	if err := writeFile(tmp, b.RawData()); err != nil {
		return fmt.Errorf("blockstore: put %s: %w", b.Cid(), err)
	}
	path := filepath.Join(dir, key+".data")
	err := os.Rename(tmp, path)
	if errors.Is(err, fs.ErrNotExist) {
		// The shard directory went away since it was made: make it
		// again.
		f.made.Delete(dir)
		if err = os.Mkdir(dir, 0o755); err == nil || errors.Is(err, fs.ErrExist) {
			f.made.Store(dir, struct{}{})
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("blockstore: put %s: %w", b.Cid(), err)
	}
	f.added.Add(int64(len(b.RawData())))
	return nil
}

// putMany writes blocks' files, up to fileWriters at once: the page
// cache takes a block's bytes faster than one writer makes, names and
// renames its file. It stops early, with ctx's error, once ctx ends.
func (f *files) putMany(ctx context.Context, bs []blocks.Block) error {
	if len(bs) == 1 {
		return f.put(bs[0])
	}
	var (
		wg    sync.WaitGroup
		next  atomic.Int64
		errMu sync.Mutex
		first error
	)
	for range min(fileWriters, len(bs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bs) || ctx.Err() != nil {
					return
				}
				if err := f.put(bs[i]); err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// fileWriters is how many files one putMany writes at once.
const fileWriters = 4

// writeFile creates name, which must not exist, and writes data to it.
func writeFile(name string, data []byte) error {
	fl, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, blockPerm)
	if err != nil {
		return err
	}
	if _, err := fl.Write(data); err != nil {
		fl.Close()
		os.Remove(name)
		return err
	}
	if err := fl.Close(); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}
