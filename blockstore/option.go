package blockstore

import "log/slog"

// An Option configures OpenLocal and OpenCache.
type Option func(*options)

type options struct {
	log *slog.Logger
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
