package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	nethttp "net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/jackc/pgx/v5"
	"github.com/tack-ipfs/tack/internal/miniotest"
	"github.com/tack-ipfs/tack/internal/pgtest"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// clusterNode is one `tack serve` process of a test cluster.
type clusterNode struct {
	dir, addr string
	flags     []string
	env       []string
	cmd       *exec.Cmd
	log       *syncBuffer // what the process logs, read while it writes
	id        string      // its peer ID, read from its log
}

var peerInLog = regexp.MustCompile(`tack is serving.* peer=(\S+)`)

// start starts the node's process and waits until it serves.
func (n *clusterNode) start(t testing.TB, bin string) {
	t.Helper()
	n.log = &syncBuffer{}
	n.cmd = exec.Command(bin, append([]string{"serve", "--data", n.dir, "--listen", n.addr}, n.flags...)...)
	n.cmd.Env = n.env
	n.cmd.Stdout = io.MultiWriter(testWriter{t}, n.log)
	n.cmd.Stderr = io.MultiWriter(testWriter{t}, n.log)
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := n.cmd
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, time.Minute, "a node to serve", func() bool {
		m := peerInLog.FindStringSubmatch(n.log.String())
		if m != nil {
			n.id = m[1]
		}
		return m != nil
	})
}

// client returns an API client of the node.
func (n *clusterNode) client(token string) *pinclient.Client {
	return pinclient.NewClient("http://"+n.addr, token)
}

// Three tack nodes share one PostgreSQL database and one MinIO bucket:
// requests made through any node are pinned by whichever claims them and
// are answered by every node; a node's blocks are served over bitswap by
// another; a token made on one node's web pages is revoked on another's;
// a node killed mid-fetch loses nothing, its claim passing to another node
// within the lease; and a collection run by one node frees deleted pins'
// blocks without harming any pin, while another node fetches.
func TestThreeNodes(t *testing.T) {
	// Not parallel: three nodes, MinIO and PostgreSQL are too heavy to
	// share two cores with other tests.
	if testing.Short() {
		t.Skip("builds and runs three tack processes, PostgreSQL and MinIO")
	}
	store := pgtest.NewDatabase(t)
	srv := miniotest.Start(t)
	bin := buildBinary(t)
	ctx := t.Context()
	nodes, token := startCluster(t, bin, 3, store, srv, "tack/blocks",
		"--rate-limit", "off", "--pin-lease", "5s", "--pin-stall", "3s", "--pin-retry", "500ms", "--gc-interval", "0")
	for _, n := range nodes[1:] {
		if _, err := os.Stat(filepath.Join(n.dir, "admin.token")); err == nil {
			t.Errorf("node %s made another admin account", n.id)
		}
	}
	clients := make([]*pinclient.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = n.client(token)
	}
	peer := testpeer.New(t)
	origins := pinclient.PinOpts.WithOrigins(Origins(t, peer)...)

	// Round robin: each request through the next node, each status read
	// through another one.
	roots := addSmallDAGs(t, peer, 24, 8<<10)
	roots = append(roots, peer.AddFile(t, 4<<20, 64<<10, 1), peer.AddDAGCBOR(t, 40))
	ids := make([]string, len(roots))
	for i, root := range roots {
		ps, err := clients[i%3].Add(ctx, root, origins, pinclient.PinOpts.WithName(fmt.Sprintf("rr-%d", i)))
		if err != nil {
			t.Fatalf("pin %d through node %d: %v", i, i%3, err)
		}
		ids[i] = ps.GetRequestId()
	}
	for i, id := range ids {
		WaitStatus(t, clients[(i+1)%3], id, pinclient.StatusPinned, time.Minute)
	}
	for i, c := range clients {
		_, n, err := c.LsBatchSync(ctx, pinclient.PinOpts.FilterStatus(pinclient.StatusPinned))
		if err != nil || n != len(roots) {
			t.Fatalf("node %d lists %d pinned (%v), want %d", i, n, err, len(roots))
		}
	}
	// Pins were fetched by whichever node claimed them: by more than one.
	fetched := 0
	var per []int
	for _, n := range nodes {
		k := n.pinned(t, token)
		per = append(per, k)
		if k > 0 {
			fetched++
		}
	}
	t.Logf("requests pinned per node: %v", per)
	if fetched < 2 {
		t.Errorf("requests pinned per node %v: one node did all the fetching", per)
	}

	// Delegates name the node answering first, then the others.
	ps, err := clients[2].GetStatusByID(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if ds := ps.GetDelegates(); len(ds) == 0 || !strings.HasSuffix(ds[0].String(), nodes[2].id) || !namesAll(ds, nodes) {
		t.Errorf("delegates through node 3 = %v, want node 3's first and every node's", ds)
	}

	// Content pinned through node 1 (and fetched by any node) comes back
	// over bitswap from node 3, which reads the shared bucket.
	fetcher := testpeer.New(t)
	big := roots[24]
	want, err := testpeer.AllCIDs(ctx, peer.Blockstore(), big)
	if err != nil {
		t.Fatal(err)
	}
	var node3 []string
	for _, d := range ps.GetDelegates() {
		if strings.HasSuffix(d.String(), nodes[2].id) {
			node3 = append(node3, d.String())
		}
	}
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	n, err := fetcher.FetchDAG(fctx, big, node3)
	cancel()
	if err != nil || n != len(want) {
		t.Fatalf("bitswap from node 3 of the DAG pinned through node 1: %d blocks (%v), want %d", n, err, len(want))
	}

	// A token made on node 2's web pages is revoked on node 3's: the web
	// session and the key that signs forms and tokens are the store's.
	password, err := os.ReadFile(filepath.Join(nodes[0].dir, "admin.password"))
	if err != nil {
		t.Fatal(err)
	}
	web := newWebClient(t)
	web.signIn(t, nodes[1].addr, "admin", strings.TrimSpace(string(password)))
	made, tokenID := web.createToken(t, nodes[1].addr, "made-on-node-2")
	if _, _, err := nodes[0].client(made).LsBatchSync(ctx); err != nil {
		t.Fatalf("the token made on node 2, used on node 1: %v", err)
	}
	web.revokeToken(t, nodes[2].addr, tokenID)
	for i, node := range nodes {
		_, _, err := node.client(made).LsBatchSync(ctx)
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("the token revoked on node 3, used on node %d: %v, want 401", i+1, err)
		}
	}

	// kill -9, then SIGTERM, of the node that is fetching: the origin
	// withholds a few leaves, so the fetch is surely under way when the
	// signal lands. After kill -9 another node takes the request over
	// once the lease runs out; after SIGTERM at once, since the node
	// gives its claims back as it drains.
	var slow cid.Cid
	var slowCIDs []cid.Cid
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		slow = peer.AddFile(t, 8<<20, 16<<10, 1)
		slowCIDs, err = testpeer.AllCIDs(ctx, peer.Blockstore(), slow)
		if err != nil {
			t.Fatal(err)
		}
		held := withhold(t, peer, slowCIDs, 5)
		slowPS, err := clients[0].Add(ctx, slow, origins, pinclient.PinOpts.WithName("stopped-mid-fetch"))
		if err != nil {
			t.Fatal(err)
		}
		victim := -1
		waitFor(t, time.Minute, "a node to fetch most of the DAG", func() bool {
			ps, err := clients[1].GetStatusByID(ctx, slowPS.GetRequestId())
			if err != nil {
				t.Fatal(err)
			}
			if ps.GetStatus() != pinclient.StatusPinning || !strings.Contains(ps.GetInfo()["status_details"], strconv.Itoa(len(slowCIDs)-5)+" blocks") {
				return false
			}
			owner := claim(t, store, slowPS.GetRequestId())
			for i, n := range nodes {
				if n.id == owner {
					victim = i
				}
			}
			return victim >= 0
		})
		if err := nodes[victim].cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if err := nodes[victim].cmd.Wait(); sig == syscall.SIGTERM && err != nil {
			t.Errorf("a node after SIGTERM: %v, want a clean exit", err)
		}
		// A drained node gave its claim back before it exited; a killed
		// one still holds it until the lease runs out.
		if owner := claim(t, store, slowPS.GetRequestId()); sig == syscall.SIGTERM && owner == nodes[victim].id {
			t.Errorf("the node still held its claim after SIGTERM: it did not give it back as it drained")
		}
		stopped := time.Now()
		if err := peer.Blockstore().PutMany(ctx, held); err != nil {
			t.Fatal(err)
		}
		survivor := clients[(victim+1)%3]
		WaitStatus(t, survivor, slowPS.GetRequestId(), pinclient.StatusPinned, time.Minute)
		took := time.Since(stopped)
		t.Logf("after %s: pinned by another node %s later", sig, took.Round(100*time.Millisecond))
		if owner := claim(t, store, slowPS.GetRequestId()); owner == nodes[victim].id {
			t.Errorf("the stopped node %s is still the request's owner", owner)
		}
		_, count, err := survivor.LsBatchSync(ctx, pinclient.PinOpts.FilterCIDs(slow))
		if err != nil || count != 1 {
			t.Errorf("%d requests for the stopped fetch's CID (%v), want the one", count, err)
		}
		mustServeDAG(t, nodes[(victim+2)%3].addr, slow, slowCIDs)
		// The node comes back: same data directory, same identity.
		nodes[victim].start(t, bin)
		waitUp(t, clients[victim])
	}

	// A collection on one node, while another fetches content that
	// shares blocks with deleted pins, frees what no pin needs and nothing
	// else.
	for i := 0; i < 12; i++ {
		if err := clients[i%3].DeleteByID(ctx, ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	repin := make([]string, 0, 6)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; i < 6; i++ { // half the deleted roots come back, through node 3
			ps, err := clients[2].Add(ctx, roots[i], origins, pinclient.PinOpts.WithName(fmt.Sprintf("again-%d", i)))
			if err != nil {
				t.Errorf("pin again: %v", err)
				return
			}
			repin = append(repin, ps.GetRequestId())
		}
	})
	var out, errOut bytes.Buffer
	gcErr := run(ctx, []string{"gc", "--data", nodes[1].dir}, strings.NewReader(""), &out, &errOut, os.Getenv)
	wg.Wait()
	if gcErr != nil {
		t.Fatalf("tack gc on node 2: %v\n%s%s", gcErr, out.String(), errOut.String())
	}
	t.Logf("tack gc on node 2: %s", strings.TrimSpace(out.String()))
	if !regexp.MustCompile(`freed [1-9]\d* blocks`).MatchString(out.String()) {
		t.Errorf("tack gc freed nothing: %s", out.String())
	}
	for _, id := range repin {
		WaitStatus(t, clients[0], id, pinclient.StatusPinned, time.Minute)
	}
	// Every DAG a request still holds is whole, read through a node other
	// than the one that collected.
	for i, root := range roots {
		if i >= 6 && i < 12 {
			continue // deleted and not pinned again
		}
		all, err := testpeer.AllCIDs(ctx, peer.Blockstore(), root)
		if err != nil {
			t.Fatal(err)
		}
		mustServeDAG(t, nodes[2].addr, root, all)
	}
	mustServeDAG(t, nodes[0].addr, slow, slowCIDs)
}

// startCluster starts n tack processes on one store and one bucket of
// srv, with flags, and returns them with the admin's token once every one
// serves. The first makes the admin account; the others find it.
func startCluster(tb testing.TB, bin string, n int, store string, srv *miniotest.Server, bucket string, flags ...string) ([]*clusterNode, string) {
	tb.Helper()
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey)
	flags = append([]string{"--store", store, "--blocks", srv.URL(bucket), "--blocks-cache", "64MiB",
		"--p2p-listen", "/ip4/127.0.0.1/tcp/0", "--bootstrap", "none", "--dht", "off", "--allow-private-origins"}, flags...)
	nodes := make([]*clusterNode, n)
	for i := range nodes {
		nodes[i] = &clusterNode{dir: tempData(tb), addr: freeAddr(tb), flags: flags, env: env}
	}
	nodes[0].start(tb, bin)
	token := readToken(tb, nodes[0].dir)
	for _, node := range nodes[1:] {
		node.start(tb, bin)
	}
	for _, node := range nodes {
		waitUp(tb, node.client(token))
	}
	return nodes, token
}

// BenchmarkCluster pins, through one node or spread round robin over three
// that share one PostgreSQL database and one MinIO bucket, 1000 small DAGs
// and one 256 MiB DAG from an in-process peer. The nodes share this
// machine's cores with each other, PostgreSQL, MinIO and the peer: the
// point is that coordinating costs little, not that three nodes on one
// machine are faster.
//
//	TACK_POSTGRES_TESTS=required TACK_S3_TESTS=required go test ./cmd/tack -run '^$' -bench Cluster -benchtime 1x
func BenchmarkCluster(b *testing.B) {
	bin := buildBinary(b)
	srv := miniotest.Start(b)
	for _, dags := range []struct {
		name        string
		n           int
		size, chunk int
	}{
		{"1000x8KiB", 1000, 8 << 10, 8 << 10},
		{"256MiB-in-256KiB", 1, 256 << 20, 256 << 10},
	} {
		for _, nodes := range []int{1, 3} {
			b.Run(fmt.Sprintf("%s/nodes=%d", dags.name, nodes), func(b *testing.B) {
				peer := testpeer.New(b)
				ctx := context.Background()
				var secs, pins, mb, objects float64
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					roots := make([]cid.Cid, dags.n)
					for j := range roots {
						roots[j] = peer.AddFile(b, dags.size, dags.chunk, 1)
					}
					store := pgtest.NewDatabase(b)
					prefix := fmt.Sprintf("%s-%d-%s", dags.name, nodes, rand.Text()) // each run its own
					cluster, token := startCluster(b, bin, nodes, store, srv, "bench/"+prefix, "--rate-limit", "off")
					clients := make([]*pinclient.Client, nodes)
					for k, n := range cluster {
						clients[k] = n.client(token)
					}
					origins := pinclient.PinOpts.WithOrigins(Origins(b, peer)...)
					b.StartTimer()

					start := time.Now()
					var wg sync.WaitGroup
					work := make(chan int)
					for w := range 8 {
						wg.Go(func() {
							for j := range work {
								if _, err := clients[(j+w)%nodes].Add(ctx, roots[j], origins); err != nil {
									b.Error(err)
								}
							}
						})
					}
					for j := range roots {
						work <- j
					}
					close(work)
					wg.Wait()
					for k := 0; ; k++ {
						_, n, err := clients[k%nodes].LsBatchSync(ctx, pinclient.PinOpts.FilterStatus(pinclient.StatusPinned), pinclient.PinOpts.Limit(1))
						if err != nil {
							b.Fatal(err)
						}
						if n >= len(roots) {
							break
						}
						if time.Since(start) > 10*time.Minute {
							b.Fatalf("%d of %d pinned after 10 minutes", n, len(roots))
						}
						time.Sleep(20 * time.Millisecond)
					}
					elapsed := time.Since(start)
					b.StopTimer()
					secs += elapsed.Seconds()
					pins += float64(len(roots))
					mb += float64(len(roots)*dags.size) / 1e6
					for _, n := range cluster {
						n.cmd.Process.Kill()
						n.cmd.Wait()
					}
					// Nothing was deleted: every pack PUT is still there.
					objects += float64(srv.Objects(b, "bench", prefix+"/"))
				}
				b.ReportMetric(pins/secs, "pins/s")
				b.ReportMetric(mb/secs, "MB/s")
				b.ReportMetric(objects/pins, "objects/pin")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// namesAll reports whether the delegates name every node.
func namesAll[T fmt.Stringer](ds []T, nodes []*clusterNode) bool {
	for _, n := range nodes {
		found := false
		for _, d := range ds {
			found = found || strings.HasSuffix(d.String(), "/p2p/"+n.id)
		}
		if !found {
			return false
		}
	}
	return true
}

// withhold deletes the last n leaves of a DAG from the peer and returns
// them.
func withhold(t *testing.T, peer *testpeer.Peer, all []cid.Cid, n int) []blocks.Block {
	t.Helper()
	var leaves []cid.Cid
	for _, c := range all {
		if c.Prefix().Codec == cid.Raw {
			leaves = append(leaves, c)
		}
	}
	var held []blocks.Block
	for _, c := range leaves[len(leaves)-n:] {
		b, err := peer.Blockstore().Get(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, b)
		if err := peer.Blockstore().DeleteBlock(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	return held
}

// claim reads which node holds a request's claim from the shared store.
func claim(t *testing.T, store, id string) (owner string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), store)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(t.Context(), `SELECT lease_owner FROM pins WHERE id = $1`, id).Scan(&owner); err != nil {
		t.Fatal(err)
	}
	return owner
}

var pinnedMetric = regexp.MustCompile(`(?m)^tack_pinner_outcomes_total\{outcome="pinned"\} (\d+)$`)

// pinned returns how many requests the node's pinner recorded pinned, from
// its metrics.
func (n *clusterNode) pinned(t *testing.T, token string) int {
	t.Helper()
	req, _ := nethttp.NewRequest("GET", "http://"+n.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != nethttp.StatusOK {
		t.Fatalf("metrics of %s: %s", n.addr, resp.Status)
	}
	m := pinnedMetric.FindSubmatch(b)
	if m == nil {
		return 0
	}
	k, _ := strconv.Atoi(string(m[1]))
	return k
}

// mustServeDAG reads the whole DAG as a CAR from the node's gateway and
// checks that it holds every block of want.
func mustServeDAG(t *testing.T, addr string, root cid.Cid, want []cid.Cid) {
	t.Helper()
	resp, err := nethttp.Get("http://" + addr + "/ipfs/" + root.String() + "?format=car&dag-scope=all")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != nethttp.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("CAR of %s from %s: %s %s", root, addr, resp.Status, b)
	}
	r, err := carv2.NewBlockReader(resp.Body)
	if err != nil {
		t.Fatalf("CAR of %s: %v", root, err)
	}
	got := map[string]bool{}
	for {
		b, err := r.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("CAR of %s from %s: %v after %d blocks", root, addr, err, len(got))
		}
		got[string(b.Cid().Hash())] = true
	}
	for _, c := range want {
		if !got[string(c.Hash())] {
			t.Fatalf("CAR of %s from %s lacks block %s (%d of %d blocks)", root, addr, c, len(got), len(want))
		}
	}
}

// webClient signs in to the web pages like a browser: its cookies go to
// every node, which all share the store's sessions.
type webClient struct {
	c *nethttp.Client
}

func newWebClient(t *testing.T) *webClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &webClient{c: &nethttp.Client{Jar: jar, Timeout: 30 * time.Second}}
}

var (
	csrfField  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	tokenValue = regexp.MustCompile(`id="token-value"[^>]*value="([^"]+)"`)
)

// page GETs a page and returns its body and the CSRF token of its forms.
func (w *webClient) page(t *testing.T, addr, path string) (string, string) {
	t.Helper()
	resp, err := w.c.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := csrfField.FindSubmatch(b)
	if resp.StatusCode != nethttp.StatusOK || m == nil {
		t.Fatalf("GET %s on %s: %s, no form", path, addr, resp.Status)
	}
	return string(b), string(m[1])
}

// post sends a form and returns the final page.
func (w *webClient) post(t *testing.T, addr, path string, form url.Values) string {
	t.Helper()
	resp, err := w.c.PostForm("http://"+addr+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != nethttp.StatusOK {
		t.Fatalf("POST %s on %s: %s\n%s", path, addr, resp.Status, b)
	}
	return string(b)
}

func (w *webClient) signIn(t *testing.T, addr, email, password string) {
	t.Helper()
	_, csrf := w.page(t, addr, "/signin")
	w.post(t, addr, "/signin", url.Values{"email": {email}, "password": {password}, "csrf": {csrf}})
}

// createToken makes a token on the node's tokens page and returns it with
// its ID.
func (w *webClient) createToken(t *testing.T, addr, name string) (token, id string) {
	t.Helper()
	_, csrf := w.page(t, addr, "/tokens")
	body := w.post(t, addr, "/tokens", url.Values{"name": {name}, "csrf": {csrf}})
	m := tokenValue.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no new token on the tokens page of %s", addr)
	}
	// Its row in the list: its name's cell, then its revoke form.
	row := regexp.MustCompile(`data-label="Name">` + regexp.QuoteMeta(name) + `</td>(?s:[^<]|<[^/]|</[^t]|</t[^r])*?action="/tokens/([0-9a-f]+)/revoke"`).FindStringSubmatch(body)
	if row == nil {
		t.Fatalf("no revoke form for %s on %s", name, addr)
	}
	return m[1], row[1]
}

// revokeToken revokes a token on the node's tokens page.
func (w *webClient) revokeToken(t *testing.T, addr, id string) {
	t.Helper()
	_, csrf := w.page(t, addr, "/tokens")
	w.post(t, addr, "/tokens/"+id+"/revoke", url.Values{"csrf": {csrf}})
}
