package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"

	"github.com/tack-ipfs/tack/internal/diskspace/diskspacetest"
	"github.com/tack-ipfs/tack/internal/miniotest"
	"github.com/tack-ipfs/tack/internal/pgtest"
)

// faultFiles is how many files Kubo holds for the fault suite to pin,
// each faultFileSize bytes in 4 KiB chunks: a root and 4 raw leaves.
const (
	faultFiles     = 1000
	faultFileSize  = 16 << 10
	faultDAGBlocks = 5
)

// faultLoad posts pin requests to a tack process, one new CID each, from
// a few clients at once, and records every answer under the phase it
// came in.
type faultLoad struct {
	addr, token string
	origins     []string
	phase       atomic.Pointer[string]

	mu       sync.Mutex
	answers  map[string]map[string]int // phase → answer → count
	accepted map[string]cid.Cid        // request ID → CID, for each 202
	refused  []cid.Cid                 // CIDs answered with an HTTP error
}

func (l *faultLoad) setPhase(p string) { l.phase.Store(&p) }

// run posts a pin of each CID of work until it is closed.
func (l *faultLoad) run(work <-chan cid.Cid) {
	client := &nethttp.Client{Timeout: 10 * time.Second}
	for c := range work {
		phase := *l.phase.Load()
		answer, id := l.post(client, c)
		l.mu.Lock()
		if l.answers[phase] == nil {
			l.answers[phase] = map[string]int{}
		}
		l.answers[phase][answer]++
		switch {
		case answer == "202":
			l.accepted[id] = c
		case answer[0] >= '4' && answer[0] <= '5':
			l.refused = append(l.refused, c)
		}
		l.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
}

// post posts one pin and returns the answer's status, or what happened
// instead of one, and the request ID of a 202.
func (l *faultLoad) post(client *nethttp.Client, c cid.Cid) (answer, id string) {
	body, _ := json.Marshal(map[string]any{"cid": c.String(), "origins": l.origins})
	req, _ := nethttp.NewRequest("POST", "http://"+l.addr+"/pins", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return "connection refused", ""
		case os.IsTimeout(err):
			return "no answer in 10s", ""
		}
		return "connection error", ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ps struct{ RequestID string }
	if resp.StatusCode == 202 {
		if err := json.Unmarshal(b, &ps); err != nil || ps.RequestID == "" {
			return "202 without a request ID", ""
		}
	}
	if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
		return "503 without Retry-After", ""
	}
	return strconv.Itoa(resp.StatusCode), ps.RequestID
}

// TestFaults breaks what a running tack stands on while it pins under
// load, one fault after another: PostgreSQL stopped and started again,
// MinIO frozen (SIGSTOP, SIGCONT), MinIO killed and started again, and
// the data directory's disk full (a tmpfs, where the machine lets the
// test mount one). tack runs as its own process, on a PostgreSQL of the
// test's own, MinIO, and Kubo as the content's provider. Afterwards every
// request answered 202 must reach pinned, every pinned DAG must read back
// whole from the gateway (every block rehashed), and no request answered
// with an error may exist. It logs the figures: the requests accepted,
// pinned, lost, the DAGs checked whole, and the answers seen in each
// phase.
//
// During a fault tack answers 202, or 503 with Retry-After: any other
// 5xx, or a 503 without Retry-After, fails the test. The S3 store runs
// with its local cache, as by default, on the same full disk: a cache
// write that fails turns the cache off, and reads go to the bucket.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tack, PostgreSQL, MinIO and Kubo and breaks them")
	}
	pg := pgtest.StartPrivate(t)
	s3 := miniotest.Start(t)
	k := startKubo(t, kuboBin(t))
	bin := buildBinary(t)
	ctx := context.Background()

	// The content: faultFiles files in Kubo.
	files := filepath.Join(t.TempDir(), "files")
	if err := os.Mkdir(files, 0o700); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, faultFileSize)
	for i := range faultFiles {
		rand.Read(buf)
		if err := os.WriteFile(filepath.Join(files, fmt.Sprintf("f%04d", i)), buf, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Fields(k.Run(t, "add", "-r", "-q", "--cid-version=1", "--chunker=size-4096", files))
	if len(lines) != faultFiles+1 {
		t.Fatalf("ipfs add gave %d CIDs, want %d", len(lines), faultFiles+1)
	}
	var roots []cid.Cid
	for _, s := range lines[:faultFiles] { // the last is the folder
		c, err := cid.Decode(s)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, c)
	}
	var origins []string
	for _, a := range strings.Fields(k.Run(t, "id", "-f", "<addrs>\n")) {
		if strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") {
			origins = append(origins, a)
		}
	}

	// The data directory, on a tmpfs if one can be mounted.
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	tmpfs := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", data).Run() == nil
	if tmpfs {
		t.Cleanup(func() { exec.Command("umount", "-l", data).Run() })
	} else {
		t.Log("cannot mount a tmpfs here: the full disk is left out")
	}
	addr, pprof := freeAddr(t), freeAddr(t)
	proc := exec.Command(bin, "serve", "--data", data, "--listen", addr, "--p2p-listen", "/ip4/127.0.0.1/tcp/0",
		"--bootstrap", "none", "--dht", "off", "--allow-private-origins",
		"--store", pg.URL(), "--blocks", s3.URL("tack/faults")+"&read-timeout=2s&write-timeout=2s",
		"--rate-limit", "off", "--pin-stall", "1s", "--pin-retry", "500ms", "--pin-backoff", "2s", "--drain-timeout", "2s", "--pprof", pprof)
	proc.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+s3.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3.SecretKey)
	proc.Stdout, proc.Stderr = testWriter{t}, testWriter{t}
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Process.Kill(); proc.Wait() })
	token := readToken(t, data)
	c := pinclient.NewClient("http://"+addr, token)
	waitUp(t, c)

	load := &faultLoad{addr: addr, token: token, origins: origins, answers: map[string]map[string]int{}, accepted: map[string]cid.Cid{}}
	work := make(chan cid.Cid)
	var clients sync.WaitGroup
	for range 3 {
		clients.Go(func() { load.run(work) })
	}
	feed := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		defer close(work)
		for _, r := range roots {
			select {
			case work <- r:
			case <-feed:
				return
			}
		}
	}()
	var phases []string
	phase := func(name string, d time.Duration, begin, end func()) {
		t.Helper()
		phases = append(phases, name)
		load.setPhase(name)
		t.Logf("phase: %s", name)
		if begin != nil {
			begin()
		}
		time.Sleep(d)
		if end != nil {
			end()
		}
	}
	phase("steady", 3*time.Second, nil, nil)
	phase("minio frozen 5s", 5*time.Second, func() { s3.Pause(t) }, func() { s3.Resume(t) })
	phase("after minio frozen", 3*time.Second, nil, nil)
	phase("minio killed 3s", 3*time.Second, s3.Stop, func() { s3.Restart(t) })
	phase("after minio killed", 3*time.Second, nil, nil)
	phase("postgres stopped 5s", 5*time.Second, func() { pg.Stop(t) }, func() { pg.Start(t) })
	phase("after postgres", 3*time.Second, nil, nil)
	if tmpfs {
		filler := filepath.Join(data, "filler")
		phase("disk full 5s", 5*time.Second, func() { diskspacetest.MustFill(t, filler) }, func() { os.Remove(filler) })
		phase("after disk full", 3*time.Second, nil, nil)
	}
	close(feed)
	<-fed
	clients.Wait()

	load.mu.Lock()
	defer load.mu.Unlock()
	for _, p := range phases {
		var counts []string
		for a, n := range load.answers[p] {
			counts = append(counts, fmt.Sprintf("%s ×%d", a, n))
		}
		sort.Strings(counts)
		t.Logf("answers to POST /pins, %s: %s", p, strings.Join(counts, ", "))
		for a, n := range load.answers[p] {
			if a[0] == '5' && a != "503" {
				t.Errorf("%s: %d answers %q, want 202 or 503 with Retry-After", p, n, a)
			}
		}
	}

	// Every 202 reaches pinned.
	pinned := map[string]bool{}
	deadline := time.Now().Add(90 * time.Second)
	for {
		ps, err := c.LsSync(ctx, pinclient.PinOpts.FilterStatus(pinclient.StatusPinned))
		if err == nil {
			for _, p := range ps {
				pinned[p.GetRequestId()] = true
			}
		}
		waiting := 0
		for id := range load.accepted {
			if !pinned[id] {
				waiting++
			}
		}
		if waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			// What tack is doing, in the test's log.
			if resp, err := nethttp.Get("http://" + pprof + "/debug/pprof/goroutine?debug=1"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Logf("tack's goroutines:\n%s", b)
			}
			for id, r := range load.accepted {
				if !pinned[id] {
					ps, err := c.GetStatusByID(ctx, id)
					if err != nil {
						t.Errorf("request %s (%s), answered 202, is lost: %v", id, r, err)
					} else {
						t.Errorf("request %s (%s), answered 202, is %s: %v", id, r, ps.GetStatus(), ps.GetInfo())
					}
				}
			}
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	lost := 0
	for id := range load.accepted {
		if _, err := c.GetStatusByID(ctx, id); err != nil {
			lost++
		}
	}

	// No error answer left a request behind.
	ghosts := 0
	for i := 0; i < len(load.refused); i += 10 {
		batch := load.refused[i:min(i+10, len(load.refused))]
		ps, err := c.LsSync(ctx, pinclient.PinOpts.FilterCIDs(batch...),
			pinclient.PinOpts.FilterStatus(pinclient.StatusQueued, pinclient.StatusPinning, pinclient.StatusPinned, pinclient.StatusFailed))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			ghosts++
			t.Errorf("request %s for %s exists, though its POST was answered with an error", p.GetRequestId(), p.GetPin().GetCid())
		}
	}

	// Every pinned DAG reads back whole from the gateway.
	whole := 0
	for id, r := range load.accepted {
		if !pinned[id] {
			continue
		}
		if err := wholeDAG(addr, r, faultDAGBlocks); err != nil {
			t.Errorf("the DAG of %s: %v", r, err)
			continue
		}
		whole++
	}

	t.Logf("requests accepted (202): %d; pinned: %d; lost: %d; answered with an error: %d, of which exist: %d; DAGs checked whole (%d blocks each, rehashed): %d",
		len(load.accepted), len(pinned), lost, len(load.refused), ghosts, faultDAGBlocks, whole)
	if len(load.accepted) == 0 {
		t.Fatal("no request was accepted")
	}
}

// wholeDAG reads root's DAG as a CAR from the gateway at addr and checks
// that it ends whole with n blocks, each matching its CID.
func wholeDAG(addr string, root cid.Cid, n int) error {
	client := &nethttp.Client{Timeout: 30 * time.Second}
	resp, err := client.Get("http://" + addr + "/ipfs/" + root.String() + "?format=car&dag-scope=all")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("the CAR was cut off: %w", err)
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("the gateway answered %d %s", resp.StatusCode, body)
	}
	r, err := carv2.NewBlockReader(bytes.NewReader(body))
	if err != nil {
		return err
	}
	got := 0
	for {
		b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("after %d blocks: %w", got, err)
		}
		if c, err := b.Cid().Prefix().Sum(b.RawData()); err != nil || !c.Equals(b.Cid()) {
			return fmt.Errorf("block %s does not match its bytes", b.Cid())
		}
		got++
	}
	if got != n {
		return fmt.Errorf("%d blocks, want %d", got, n)
	}
	return nil
}
