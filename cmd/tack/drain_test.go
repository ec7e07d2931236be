package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	nethttp "net/http"
	"syscall"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack/http"
	"github.com/tack-ipfs/tack/internal/cartest"
)

// heldUpload is a POST /car whose body the test writes as it likes.
type heldUpload struct {
	body *io.PipeWriter
	done chan uploadAnswer
}

type uploadAnswer struct {
	status     int
	retryAfter string
	body       []byte
	err        error
}

// startUpload posts a CAR to addr's /car, its body written through the
// returned upload's pipe.
func startUpload(t *testing.T, addr, token string) *heldUpload {
	return startUploadTo(t, addr, token, "/car", "application/vnd.ipld.car")
}

// startUploadTo is startUpload to path, with the body's content type.
func startUploadTo(t *testing.T, addr, token, path, contentType string) *heldUpload {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := nethttp.NewRequest("POST", "http://"+addr+path, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	u := &heldUpload{body: pw, done: make(chan uploadAnswer, 1)}
	go func() {
		resp, err := nethttp.DefaultClient.Do(req)
		if err != nil {
			u.done <- uploadAnswer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		u.done <- uploadAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: b, err: err}
	}()
	return u
}

func (u *heldUpload) write(t *testing.T, b []byte) {
	t.Helper()
	if _, err := u.body.Write(b); err != nil {
		t.Fatal(err)
	}
}

func (u *heldUpload) answer(t *testing.T, within time.Duration) uploadAnswer {
	t.Helper()
	select {
	case a := <-u.done:
		return a
	case <-time.After(within):
		t.Fatalf("no answer to the upload within %s", within)
		return uploadAnswer{}
	}
}

// SIGTERM drains uploads as docs/operating.md says: an upload that ends
// within --drain-timeout is answered and its pin kept; one that does not
// gets 503 SERVICE_UNAVAILABLE with Retry-After, in the API's error
// format, rather than a reset connection, and nothing of it is kept.
func TestSIGTERMDrainsUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dir, addr := tempData(t), freeAddr(t)
	flags := []string{"--drain-timeout", "3s"}
	proc := startProcess(t, bin, dir, addr, flags...)
	token := readToken(t, dir)
	c := pinclient.NewClient("http://"+addr, token)
	waitUp(t, c)

	// A slow upload: 2 MiB of a 64 MiB CAR, then nothing more.
	slow := startUpload(t, addr, token)
	stream, slowRoot := cartest.NewStream(t, 256, 256<<10, 1)
	first := make([]byte, 2<<20)
	if _, err := io.ReadFull(stream, first); err != nil {
		t.Fatal(err)
	}
	slow.write(t, first)
	// A slow file upload: a file's first 2 MiB, then nothing more.
	slowFiles := startUploadTo(t, addr, token, "/files", "multipart/form-data; boundary=b0undary")
	slowFiles.write(t, []byte("--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"))
	slowFiles.write(t, first)
	// A short one: half of its CAR now, the rest after the SIGTERM.
	root, all := cartest.DAG(t, 8, 64<<10)
	car := cartest.CAR(t, []cid.Cid{root.Cid()}, all...)
	short := startUpload(t, addr, token)
	short.write(t, car[:len(car)/2])
	time.Sleep(300 * time.Millisecond) // both handlers are reading

	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	short.write(t, car[len(car)/2:])
	short.body.Close()

	a := short.answer(t, 30*time.Second)
	if a.err != nil || a.status != 200 {
		t.Errorf("the short upload during the drain: %d %v %s, want 200", a.status, a.err, a.body)
	}
	for _, u := range []struct {
		name string
		*heldUpload
	}{{"the slow CAR upload", slow}, {"the slow file upload", slowFiles}} {
		a = u.answer(t, 30*time.Second)
		u.body.Close()
		var failure http.Failure
		if a.err != nil {
			t.Fatalf("%s at the end of the drain: %v, want 503", u.name, a.err)
		}
		if err := json.Unmarshal(a.body, &failure); a.status != 503 || err != nil || failure.Error.Reason != "SERVICE_UNAVAILABLE" {
			t.Errorf("%s at the end of the drain: %d %s, want 503 SERVICE_UNAVAILABLE", u.name, a.status, a.body)
		}
		if a.retryAfter != "10" {
			t.Errorf("%s: Retry-After %q, want 10, the shutdown's", u.name, a.retryAfter)
		}
		t.Logf("%s: %d Retry-After %s %s", u.name, a.status, a.retryAfter, a.body)
	}
	if err := proc.Wait(); err != nil {
		t.Fatalf("tack after SIGTERM: %v, want a clean exit", err)
	}

	// After a restart: the short upload's pin is there, the slow one's
	// is not.
	startProcess(t, bin, dir, addr, flags...)
	waitUp(t, c)
	ctx := context.Background()
	for _, tt := range []struct {
		root cid.Cid
		want int
	}{{root.Cid(), 1}, {slowRoot, 0}} {
		got, err := c.LsSync(ctx, pinclient.PinOpts.FilterCIDs(tt.root), pinclient.PinOpts.FilterStatus(pinclient.StatusQueued, pinclient.StatusPinning, pinclient.StatusPinned, pinclient.StatusFailed))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tt.want {
			t.Errorf("pins of %s after the restart: %d, want %d", tt.root, len(got), tt.want)
		}
	}
}

// Main.Close lets a gateway download in flight go on to its end within
// --drain-timeout, while the server takes no new connections.
func TestCloseDrainsGatewayStreams(t *testing.T) {
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.DrainTimeout = 20 * time.Second })
	root, all := cartest.DAG(t, 512, 64<<10) // 32 MiB: more than the sockets buffer
	status, _, body := postCAR(t, m.HTTPAddr(), m.AdminToken, "", bytes.NewReader(cartest.CAR(t, []cid.Cid{root.Cid()}, all...)), 0)
	if status != 200 {
		t.Fatalf("upload: %d %s", status, body)
	}
	resp, err := nethttp.Get("http://" + m.HTTPAddr() + "/ipfs/" + root.Cid().String() + "?format=car&dag-scope=all")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 1024)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	time.Sleep(300 * time.Millisecond) // Close has begun
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("the download was cut off during the drain: %v", err)
	}
	if n, whole := readCAR(t, append(first, rest...)); !whole || n != len(all) {
		t.Errorf("the download during the drain: %d blocks, whole %v; want %d, whole", n, whole, len(all))
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
}
