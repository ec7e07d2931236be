package blockstore

import "context"

// Prober is a Store with a cheap real request to the service behind it,
// for readiness: the S3 store asks its bucket. A Store on the local disk
// has nothing to ask.
type Prober interface {
	// Probe returns nil if the service answers as it should, before ctx
	// is done.
	Probe(ctx context.Context) error
}
