package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/cartest"
	"github.com/tack-ipfs/tack/internal/diskspace"
	"github.com/tack-ipfs/tack/internal/diskspace/diskspacetest"
)

// maxFullDiskLog is the most a tack process may log about a full disk in
// one of these tests: a few dozen lines. Before the log was rate-limited,
// a restart on a full disk wrote 1,300 lines a second.
const maxFullDiskLog = 32 << 10

// processLog keeps what a tack process writes to stdout and stderr.
type processLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *processLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *processLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *processLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// fullDiskProcess is a tack command run on a full disk.
type fullDiskProcess struct {
	cmd    *exec.Cmd
	log    processLog
	exited chan struct{}
	err    error // the exit, once exited is closed
}

func runFullDisk(t *testing.T, bin string, args ...string) *fullDiskProcess {
	t.Helper()
	p := &fullDiskProcess{cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.log, &p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%s %s:\n%s", filepath.Base(bin), strings.Join(args, " "), p.log.String())
		}
	})
	return p
}

// stop sends SIGTERM and fails the test unless the process exits within
// half a minute (a hang detector: a process that ignores SIGTERM never
// exits).
func (p *fullDiskProcess) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the process did not obey SIGTERM in 30 s")
	}
}

// pinCARs starts tack on dir, uploads each CAR, and returns the requests.
func pinCARs(t *testing.T, bin, dir string, cars ...[]byte) (addr, token string, ids []string, serving *exec.Cmd) {
	t.Helper()
	addr = freeAddr(t)
	serving = startProcess(t, bin, dir, addr)
	token = readToken(t, dir)
	c := pinclient.NewClient("http://"+addr, token)
	waitUp(t, c)
	for _, body := range cars {
		status, res, out := postCAR(t, addr, token, "", bytes.NewReader(body), 0)
		if status != 200 || res.Results[0].Status != tack.StatusPinned {
			t.Fatalf("upload: %d %s", status, out)
		}
		ids = append(ids, res.Results[0].RequestID)
	}
	return addr, token, ids, serving
}

// TestRestartOnFullDisk: a tack killed with small blocks in Pebble's log,
// restarted on a disk that is full, starts (its reserve gives it the
// room to) within seconds, obeys SIGTERM, loses nothing and logs little;
// with no reserve to give, it exits at once with an error that names the
// directory and how much to free.
func TestRestartOnFullDisk(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	mnt := diskspacetest.MustMount(t, 64<<20)
	dir := filepath.Join(mnt, "data")
	// Small blocks (in Pebble, whose log a restart replays) and large
	// ones (files).
	small, smallBlocks := cartest.DAG(t, 300, 4<<10)
	large, largeBlocks := cartest.DAG(t, 12, 256<<10)
	_, token, ids, serving := pinCARs(t, bin, dir,
		cartest.CAR(t, []cid.Cid{small.Cid()}, smallBlocks...),
		cartest.CAR(t, []cid.Cid{large.Cid()}, largeBlocks...))
	serving.Process.Kill()
	serving.Wait()
	diskspacetest.MustFill(t, filepath.Join(mnt, "filler"))

	addr := freeAddr(t)
	p := runFullDisk(t, bin, "serve", "--data", dir, "--listen", addr, "--p2p-listen", "/ip4/127.0.0.1/tcp/0",
		"--bootstrap", "none", "--dht", "off")
	c := pinclient.NewClient("http://"+addr, token)
	waitFor(t, 30*time.Second, "tack to serve on a full disk", func() bool {
		select {
		case <-p.exited:
			t.Fatalf("tack exited on a full disk with its reserve to release: %v\n%s", p.err, p.log.String())
		default:
		}
		_, _, err := c.LsBatchSync(context.Background(), pinclient.PinOpts.Limit(1))
		return err == nil
	})
	for _, id := range ids {
		WaitStatus(t, c, id, pinclient.StatusPinned, 10*time.Second)
	}
	time.Sleep(2 * time.Second) // let a spinning store log
	p.stop(t)
	if !strings.Contains(p.log.String(), "released the reserve") {
		t.Errorf("the log does not say that the reserve was released:\n%s", p.log.String())
	}
	if n := p.log.Len(); n > maxFullDiskLog {
		t.Errorf("tack logged %d bytes on a full disk, want at most %d", n, maxFullDiskLog)
	}

	// With no reserve to give (an older tack's data directory, or one
	// whose disk filled before the reserve was made), tack exits at once,
	// and says what to free.
	if err := os.Remove(filepath.Join(dir, reserveFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	diskspacetest.MustFill(t, filepath.Join(mnt, "filler2"))
	p = runFullDisk(t, bin, "serve", "--data", dir, "--listen", freeAddr(t), "--p2p-listen", "/ip4/127.0.0.1/tcp/0",
		"--bootstrap", "none", "--dht", "off")
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.stop(t)
		t.Fatalf("tack neither served nor exited on a full disk without a reserve:\n%s", p.log.String())
	}
	out := p.log.String()
	var exit *exec.ExitError
	if !errors.As(p.err, &exit) || !strings.Contains(out, "the disk holding "+dir) || !strings.Contains(out, "free at least") {
		t.Errorf("tack on a full disk: %v, want an exit that names %s and what to free:\n%s", p.err, dir, out)
	}
	if n := len(out); n > maxFullDiskLog {
		t.Errorf("tack logged %d bytes on a full disk, want at most %d", n, maxFullDiskLog)
	}
}

// TestDeleteAndGCOnFullDisk: while tack serves, the disk fills; tack
// releases its reserve, a pin is deleted (the request answers 202), a
// collection frees its blocks, the reserve is made again; then, stopped,
// 'tack gc' on a full disk frees what a deletion left, and both obey
// SIGTERM and log little.
func TestDeleteAndGCOnFullDisk(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	// Room for the blocks, Pebble's preallocated logs (the blocks' and
	// the provider's) and the reserve.
	mnt := diskspacetest.MustMount(t, 128<<20)
	dir := filepath.Join(mnt, "data")
	// 20 MiB: the collection frees enough to make the 8 MiB reserve again
	// (room for it twice over) even if the filler took the reserve's room
	// when tack released it while the filler was still writing.
	a, aBlocks := cartest.DAG(t, 80, 256<<10)
	b, bBlocks := cartest.DAG(t, 40, 256<<10+1)
	keep, keepBlocks := cartest.DAG(t, 100, 4<<10)
	addr := freeAddr(t)
	p := runFullDisk(t, bin, "serve", "--data", dir, "--listen", addr, "--p2p-listen", "/ip4/127.0.0.1/tcp/0",
		"--bootstrap", "none", "--dht", "off", "--gc-interval", "0")
	token := readToken(t, dir)
	c := pinclient.NewClient("http://"+addr, token)
	waitUp(t, c)
	var ids []string
	for _, car := range [][]byte{
		cartest.CAR(t, []cid.Cid{a.Cid()}, aBlocks...),
		cartest.CAR(t, []cid.Cid{b.Cid()}, bBlocks...),
		cartest.CAR(t, []cid.Cid{keep.Cid()}, keepBlocks...),
	} {
		status, res, out := postCAR(t, addr, token, "", bytes.NewReader(car), 0)
		if status != 200 || res.Results[0].Status != tack.StatusPinned {
			t.Fatalf("upload: %d %s", status, out)
		}
		ids = append(ids, res.Results[0].RequestID)
	}

	diskspacetest.MustFill(t, filepath.Join(mnt, "filler"))
	// tack looks at its disk every second: within a few, a DELETE is
	// accepted.
	var deleteErr error
	deadline := time.Now().Add(10 * time.Second)
	for deleteErr = c.DeleteByID(context.Background(), ids[0]); deleteErr != nil && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		deleteErr = c.DeleteByID(context.Background(), ids[0])
	}
	if deleteErr != nil {
		t.Fatalf("DELETE on a full disk, for 10 s: %v", deleteErr)
	}
	waitLog(t, p, "released the reserve")
	before := free(t, mnt)
	out, err := exec.Command(bin, "gc", "--data", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("tack gc on a full disk, serving: %v\n%s", err, out)
	}
	if freed(t, string(out)) != len(aBlocks) {
		t.Errorf("tack gc freed %q, want the %d blocks of the deleted pin", out, len(aBlocks))
	}
	after := free(t, mnt)
	if fi, err := os.Stat(filepath.Join(dir, reserveFile)); err == nil {
		after += uint64(fi.Size()) // made again already: room all the same
	}
	if after < before+16<<20 {
		t.Errorf("the collection left %d bytes free (from %d), want 20 MiB more", after, before)
	}
	waitLog(t, p, "made the reserve")
	if err := c.DeleteByID(context.Background(), ids[1]); err != nil {
		t.Fatal(err)
	}
	p.stop(t)
	if n := p.log.Len(); n > maxFullDiskLog {
		t.Errorf("tack serve logged %d bytes on a full disk, want at most %d", n, maxFullDiskLog)
	}

	// Stopped, with the disk full again: tack gc releases the reserve,
	// frees the deleted pin's blocks, and makes the reserve again.
	diskspacetest.MustFill(t, filepath.Join(mnt, "filler2"))
	gc := runFullDisk(t, bin, "gc", "--data", dir)
	select {
	case <-gc.exited:
	case <-time.After(time.Minute):
		gc.stop(t)
		t.Fatalf("tack gc did not end on a full disk in a minute:\n%s", gc.log.String())
	}
	if gc.err != nil || freed(t, gc.log.String()) != len(bBlocks) {
		t.Errorf("tack gc on a full disk: %v, want the %d blocks of the deleted pin freed:\n%s", gc.err, len(bBlocks), gc.log.String())
	}
	if n := gc.log.Len(); n > maxFullDiskLog {
		t.Errorf("tack gc logged %d bytes on a full disk, want at most %d", n, maxFullDiskLog)
	}
	if _, err := os.Stat(filepath.Join(dir, reserveFile)); err != nil {
		t.Errorf("after tack gc freed room, the reserve: %v", err)
	}
}

// free returns the bytes free on dir's disk.
func free(t *testing.T, dir string) uint64 {
	t.Helper()
	r, err := diskspace.Of(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r.Free
}

// waitLog fails the test, and goes on, unless p logs what within 10 s.
func waitLog(t *testing.T, p *fullDiskProcess, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.log.String(), what); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("tack did not log %q in 10 s", what)
			return
		}
	}
}
