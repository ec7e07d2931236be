package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/blockstore/s3"
	"github.com/tack-ipfs/tack/gc"
	"github.com/tack-ipfs/tack/internal/diskspace"
)

// The S3 store is shared by every node of the same bucket, and collects
// garbage with them.
var _ gc.Shared = (*s3.Store)(nil)

// openBlocks opens the blockstore that --blocks names: the local one in
// <data>/blocks, or S3 with its pack index in the metadata store and a
// cache of --blocks-cache bytes in <data>/blocks-cache. The store logs to
// log; nil: slog.Default(). opts are the local blockstore's (and the
// cache's) further options. A cache the disk has no room to open is left
// out, with a warning.
func openBlocks(ctx context.Context, c Config, store tack.Store, getenv func(string) string, log *slog.Logger, opts ...blockstore.Option) (blockstore.Store, error) {
	opts = append([]blockstore.Option{blockstore.WithLogger(log)}, opts...)
	if c.Blocks == "" {
		l, err := blockstore.OpenLocalContext(ctx, c.path("blocks"), opts...)
		if err != nil {
			return nil, err // not a nil *Local in a non-nil Store
		}
		return l, nil
	}
	o, err := s3.ParseURL(c.Blocks)
	if err != nil {
		return nil, fmt.Errorf("--blocks: %w", err)
	}
	if err := o.CredentialsFromEnv(getenv); err != nil {
		return nil, err
	}
	index, ok := store.(blockstore.PackIndex)
	if !ok {
		return nil, fmt.Errorf("--blocks: the metadata store %T cannot hold the S3 blockstore's index", store)
	}
	o.Index, o.Log = index, log
	if c.BlocksCache > 0 {
		o.Cache, err = blockstore.OpenCache(c.path("blocks-cache"), c.BlocksCache, opts...)
		if diskspace.IsFull(err) {
			// The cache is optional: tack starts without it rather than
			// not at all.
			warn := log
			if warn == nil {
				warn = slog.Default()
			}
			warn.Warn("the disk is too full to open the blocks cache: running without it until a restart with room", "err", err)
			o.Cache, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	s, err := s3.Open(ctx, o)
	if err != nil {
		if o.Cache != nil {
			o.Cache.Close()
		}
		return nil, err
	}
	return s, nil
}
