package blockstore

import (
	"context"
	"errors"
	"net"
	"syscall"

	"github.com/tack-ipfs/tack"
)

// Prober is a Store with a cheap real request to the service behind it,
// for readiness: the S3 store asks its bucket. A Store on the local disk
// has nothing to ask.
type Prober interface {
	// Probe returns nil if the service answers as it should, before ctx
	// is done.
	Probe(ctx context.Context) error
}

// Unavailable turns the errors of a block store that cannot take a write
// or answer now, but may later, into tack.Unavailable errors: no room on
// the disk (ENOSPC, EDQUOT), and a bucket that refuses or drops the
// connection or does not answer in time. A cancelled context, and any
// other error, is returned as it is.
func Unavailable(err error) error {
	switch {
	case err == nil || errors.As(err, new(*tack.Error)) || errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		return tack.Unavailable(tack.MsgDiskFull, err)
	case errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.DeadlineExceeded) || errors.As(err, new(net.Error)):
		return tack.Unavailable(tack.MsgBlockstoreUnavailable, err)
	}
	return err
}
