package blockstore_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
)

// TestUnavailable checks which errors of a block store are an outage
// (503) and which stay what they were.
func TestUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	for _, tc := range []struct {
		err  error
		want string // the message, or "" for no outage
	}{
		{fmt.Errorf("storing blocks: %w", &fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}), tack.MsgDiskFull},
		{fmt.Errorf("put: %w", syscall.EDQUOT), tack.MsgDiskFull},
		{fmt.Errorf("put object: %w", refused), tack.MsgBlockstoreUnavailable},
		{fmt.Errorf("put object: %w", context.DeadlineExceeded), tack.MsgBlockstoreUnavailable},
		{fmt.Errorf("put object: %w", context.Canceled), ""},
		{errors.New("checksum mismatch"), ""},
		{tack.Errorf(tack.EINVALID, "bad block"), ""},
	} {
		err := blockstore.Unavailable(tc.err)
		if got := tack.IsOutage(err); got != (tc.want != "") {
			t.Errorf("%v: outage %v, want %v", tc.err, got, tc.want != "")
			continue
		}
		if tc.want != "" {
			if msg := tack.ErrorMessage(err); msg != tc.want {
				t.Errorf("%v: message %q, want %q", tc.err, msg, tc.want)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("%v: the fault is not kept", tc.err)
			}
		} else if err != tc.err {
			t.Errorf("%v: changed into %v", tc.err, err)
		}
	}
}
