package s3_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
	"github.com/tack-ipfs/tack/sqlite/sqlitetest"
)

// failFirstAdd is a pack index whose first AddPack fails.
type failFirstAdd struct {
	blockstore.PackIndex
	failed atomic.Bool
}

func (f *failFirstAdd) AddPack(ctx context.Context, p blockstore.Pack, entries []blockstore.PackMove) error {
	if f.failed.CompareAndSwap(false, true) {
		return errors.New("the index is down")
	}
	return f.PackIndex.AddPack(ctx, p, entries)
}

// The store logs through the logger of its Options, in that logger's
// format: a failed upload of a pack comes out as a JSON line of it.
func TestLogger(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Written by the upload before its pack is done, and so before Sync
	// returns.
	var logs bytes.Buffer
	o := e.options(newPrefix(), &failFirstAdd{PackIndex: sqlitetest.MustOpen(t)})
	o.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	s := MustOpen(t, o)
	b := blockstoretest.RandomBlocks(t, 1, 100)[0]
	if err := s.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil { // the second attempt succeeds
		t.Fatal(err)
	}
	var line struct {
		Level, Msg, Err string
		Attempt         int
	}
	if err := json.Unmarshal(bytes.SplitN(logs.Bytes(), []byte("\n"), 2)[0], &line); err != nil {
		t.Fatalf("the log holds no JSON line: %v\n%s", err, logs.Bytes())
	}
	if line.Level != "ERROR" || line.Msg != "s3: storing a pack" || line.Attempt != 1 || line.Err == "" {
		t.Errorf("logged %+v, want the failed first attempt to store a pack", line)
	}
	blockstoretest.MustGetEqual(t, s, b)
}
