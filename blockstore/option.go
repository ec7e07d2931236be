package blockstore

import "log/slog"

// An Option configures OpenLocal and OpenCache.
type Option func(*options)

type options struct {
	log        *slog.Logger
	onDiskFull func()
	room       func() error
	// onFatal, if set, is told when Pebble cannot go on after the open,
	// and the goroutine Pebble called from waits forever, rather than
	// the process exiting: for the cache, which can do without its store.
	onFatal func(error)
	// noWAL opens Pebble without its write-ahead log: for the cache, which
	// promises no durability. Pebble's log is what it cannot survive a
	// full disk on: a failed log write panics holding its commit lock
	// (DB.commitWrite), and a failed close of the log when the memtable
	// rotates panics with DB.mu unlocked under a deferred Unlock
	// (DB.rotateWAL), a fatal error no recover catches.
	noWAL bool
}

// WithLogger sends the store's log lines to log. Without it, or with nil,
// they go to slog.Default() as it is when the store opens.
func WithLogger(log *slog.Logger) Option {
	return func(o *options) { o.log = log }
}

func newOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	return o
}

// WithDiskFull calls onFull when the disk has no room left for a write
// (or, at open, too little for the open), and then tries once more: a
// caller that keeps a reserve releases it there. Writes wait while
// onFull runs, so it must be quick.
func WithDiskFull(onFull func()) Option {
	return func(o *options) { o.onDiskFull = onFull }
}

// WithRoom has the store call room before it writes new blocks, and
// refuse them with its error: a caller whose disk is short stops new
// blocks there, and keeps the room left for deletions.
func WithRoom(room func() error) Option {
	return func(o *options) { o.room = room }
}
