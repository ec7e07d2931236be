package main

import (
	"bytes"
	"io"
	nethttp "net/http"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack/internal/cartest"
	"github.com/tack-ipfs/tack/internal/miniotest"
)

// A gateway read of a block that only a frozen bucket holds (MinIO
// stopped with SIGSTOP) ends within the bucket's read-timeout, not at
// --gateway-timeout: a CAR stream is cut off (the connection ends without
// the chunked response's end, which a client cannot take for the whole),
// and a response not yet started is a 503 with Retry-After.
func TestGatewayFrozenBucket(t *testing.T) {
	srv := miniotest.Start(t)
	m := mustOpenMainS3(t, tempData(t), srv, srv.URL("tack/frozen")+"&read-timeout=1s",
		"--blocks-cache", "0", "--gateway-timeout", "10m")
	root, all := cartest.DAG(t, 8, 64<<10)
	status, _, body := postCAR(t, m.HTTPAddr(), m.AdminToken, "", bytes.NewReader(cartest.CAR(t, []cid.Cid{root.Cid()}, all...)), 0)
	if status != 200 {
		t.Fatalf("upload: %d %s", status, body)
	}

	srv.Pause(t)
	defer srv.Resume(t)
	type result struct {
		status int
		n      int64
		err    error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		resp, err := nethttp.Get("http://" + m.HTTPAddr() + "/ipfs/" + root.Cid().String() + "?format=car&dag-scope=all")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		done <- result{resp.StatusCode, n, err}
	}()
	// The guard is far above the read timeout, far below the gateway's.
	const guard = 30 * time.Second
	select {
	case r := <-done:
		t.Logf("the CAR read ended after %s: status %d, %d bytes, %v", time.Since(start).Round(time.Millisecond), r.status, r.n, r.err)
		if r.status == 200 && r.err == nil {
			t.Errorf("the CAR read of blocks only a frozen bucket holds ended as if whole (%d bytes)", r.n)
		}
	case <-time.After(guard):
		t.Fatalf("the CAR read still hangs after %s, with the bucket's read-timeout 1s", guard)
	}

	client := &nethttp.Client{Timeout: guard}
	resp, err := client.Get("http://" + m.HTTPAddr() + "/ipfs/" + all[1].Cid().String() + "?format=raw")
	if err != nil {
		t.Fatalf("a raw block from the frozen bucket: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a raw block from the frozen bucket: %d Retry-After %q %s, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
}
