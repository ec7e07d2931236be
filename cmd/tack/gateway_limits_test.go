package main

import (
	"bytes"
	"context"
	"io"
	nethttp "net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/multiformats/go-multicodec"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore/blockstoretest"
)

// Tests of the gateway's limits (issue 15): every request's work is
// bounded and ends when its client goes away, hostile DAGs included.

// buildDiamond stores a UnixFS file of levels+1 blocks in which every
// node links twice to the same child: some 7 KB of blocks for 40 levels,
// whose file is 2^levels KiB long.
func buildDiamond(b *builder, levels int) cid.Cid {
	b.tb.Helper()
	leaf := blocks.NewBlock(bytes.Repeat([]byte("d"), 1024))
	leafCid, _ := cid.V1Builder{Codec: cid.Raw, MhType: 0x12}.Sum(leaf.RawData())
	leaf, _ = blocks.NewBlockWithCid(leaf.RawData(), leafCid)
	if err := b.bs.Put(context.Background(), leaf); err != nil {
		b.tb.Fatal(err)
	}
	child, size := leafCid, uint64(1024)
	for range levels {
		fsn := unixfs.NewFSNode(unixfs.TFile)
		fsn.AddBlockSize(size)
		fsn.AddBlockSize(size)
		data, err := fsn.GetBytes()
		if err != nil {
			b.tb.Fatal(err)
		}
		nd := merkledag.NodeWithData(data)
		nd.SetCidBuilder(merkledag.V1CidPrefix())
		for range 2 {
			if err := nd.AddRawLink("", &ipld.Link{Cid: child, Size: size}); err != nil {
				b.tb.Fatal(err)
			}
		}
		b.add(nd)
		child, size = nd.Cid(), size*2
	}
	return child
}

// buildChain stores a dag-cbor chain of depth links, {"n": link} all the
// way down to {}, and returns its blocks from the root down.
func buildChain(b *builder, depth int) []blocks.Block {
	b.tb.Helper()
	chain := make([]blocks.Block, depth+1)
	bottom, err := qp.BuildMap(basicnode.Prototype.Any, 0, func(datamodel.MapAssembler) {})
	if err != nil {
		b.tb.Fatal(err)
	}
	chain[depth] = blockstoretest.MustNodeBlock(b.tb, multicodec.DagCbor, bottom)
	for i := depth - 1; i >= 0; i-- {
		below := chain[i+1].Cid()
		nd, err := qp.BuildMap(basicnode.Prototype.Any, 1, func(ma datamodel.MapAssembler) {
			qp.MapEntry(ma, "n", qp.Link(cidlink.Link{Cid: below}))
		})
		if err != nil {
			b.tb.Fatal(err)
		}
		chain[i] = blockstoretest.MustNodeBlock(b.tb, multicodec.DagCbor, nd)
	}
	if err := b.bs.PutMany(context.Background(), chain); err != nil {
		b.tb.Fatal(err)
	}
	return chain
}

// buildPBChain stores a dag-pb chain of depth links (UnixFS directories,
// each holding the next as "n") and returns its root.
func buildPBChain(b *builder, depth int) cid.Cid {
	b.tb.Helper()
	c := b.dir().Cid()
	for range depth {
		c = b.dir(entry{"n", c}).Cid()
	}
	return c
}

// cpuTime returns the CPU time this process has used.
func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// mustIdle fails unless the process uses less than 0.25 CPU-seconds over
// the 2 s after a 1 s grace: what a server that stopped working does.
// It measures the whole process, so the tests of this file stay serial:
// no t.Parallel, and the parallel tests start only after them.
func mustIdle(t *testing.T, what string) {
	t.Helper()
	time.Sleep(time.Second)
	before := cpuTime(t)
	time.Sleep(2 * time.Second)
	if used := cpuTime(t) - before; used > 250*time.Millisecond {
		t.Fatalf("%s: the server used %v of CPU in the 2 s from 1 s after, want it idle", what, used)
	}
}

// hangUp sends a GET, reads n bytes of its response (or until the
// response ends) and closes the connection.
func hangUp(t *testing.T, url string, n int64) {
	t.Helper()
	tr := &nethttp.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&nethttp.Client{Transport: tr}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	io.CopyN(io.Discard, resp.Body, n)
	resp.Body.Close()
}

// Finding 1: a diamond-shaped file (41 blocks, 1 TiB long) made the
// gateway read on for minutes after its clients had gone, each holding
// a gateway slot.
func TestGatewayDiamondClientGone(t *testing.T) {
	m := MustOpenMain(t, tempData(t), func(c *Config) {
		c.GatewayMaxInFlight = 2
		localPathGateway(c)
	})
	b := newBuilder(t)
	root := buildDiamond(b, 40)
	loadFixture(t, m, b.car(root))
	api, browsers := "http://"+m.HTTPAddr(), localGatewayURL(m)
	for _, tc := range []struct{ name, url string }{
		{"entity CAR", api + "/ipfs/" + root.String() + "?format=car&dag-scope=entity"},
		{"entity CAR with dups", api + "/ipfs/" + root.String() + "?format=car&dag-scope=entity&car-dups=y"},
		{"whole CAR with dups", api + "/ipfs/" + root.String() + "?format=car&car-dups=y"},
		{"entity-bytes CAR", api + "/ipfs/" + root.String() + "?format=car&dag-scope=entity&entity-bytes=1:*"},
		{"deserialized file", browsers + "/ipfs/" + root.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Two clients read 2 KB each and hang up: both gateway slots.
			hangUp(t, tc.url, 2048)
			hangUp(t, tc.url, 2048)
			mustIdle(t, "after both clients hung up")
			// Their slots are free again.
			for _, base := range []string{api, browsers} {
				resp, _ := get(t, "GET", base+"/ipfs/"+root.String()+"?format=raw")
				mustStatus(t, resp, 200)
			}
		})
	}
	// The whole CAR and the file's entity without dups are its 41
	// blocks, each read once.
	for _, q := range []string{"?format=car", "?format=car&dag-scope=entity", "?format=car&dag-scope=entity&entity-bytes=0:*"} {
		resp, body := get(t, "GET", api+"/ipfs/"+root.String()+q)
		mustStatus(t, resp, 200)
		if _, got := carCIDs(t, body); len(got) != 41 {
			t.Fatalf("%s of the diamond: %d blocks, want 41", q, len(got))
		}
	}
}

// Finding 2: deep paths cost more than linear time in their length, and
// went on after the client had gone.
func TestGatewayDeepPath(t *testing.T) {
	m := MustOpenMain(t, tempData(t))
	b := newBuilder(t)
	chain := buildChain(b, 3000)
	// The chain is deeper than tack.MaxDAGDepth: put it straight into
	// the blockstore, as if pinned before the rule.
	if err := m.Blocks.PutMany(context.Background(), chain); err != nil {
		t.Fatal(err)
	}
	root := chain[0].Cid()
	path := func(n int) string {
		return "/ipfs/" + root.String() + strings.Repeat("/n", n)
	}

	t.Run("client gone", func(t *testing.T) {
		client := &nethttp.Client{Timeout: 300 * time.Millisecond}
		for range 2 {
			if resp, err := client.Get("http://" + m.HTTPAddr() + path(1000) + "?format=car"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		mustIdle(t, "after a 1000-segment path's client timed out")
	})

	t.Run("1000 segments", func(t *testing.T) {
		resp, body := get(t, "GET", "http://"+m.HTTPAddr()+path(1000)+"?format=car&dag-scope=block")
		mustStatus(t, resp, 200)
		roots, got := carCIDs(t, body)
		if len(roots) != 1 || !roots[0].Equals(chain[1000].Cid()) {
			t.Fatalf("CAR roots %v, want %s", roots, chain[1000].Cid())
		}
		want := make([]cid.Cid, 1001)
		for i := range want {
			want[i] = chain[i].Cid()
		}
		mustBlocks(t, got, want, true)
		xroots := strings.Split(resp.Header.Get("X-Ipfs-Roots"), ",")
		if len(xroots) != 1001 || xroots[0] != root.String() || xroots[1000] != chain[1000].Cid().String() {
			t.Fatalf("X-Ipfs-Roots has %d CIDs, want the 1001 from the root down", len(xroots))
		}
	})

	t.Run("too many segments", func(t *testing.T) {
		for _, p := range []string{path(1025), path(2000) + "?format=car"} {
			resp, body := get(t, "GET", "http://"+m.HTTPAddr()+p)
			mustStatus(t, resp, nethttp.StatusRequestURITooLong)
			if !strings.Contains(string(body), "segments") {
				t.Fatalf("414 body %q does not say why", body)
			}
			mustNotCached(t, resp)
		}
	})
}

// A whole CAR follows tack.MaxDAGDepth in links, whatever the codec: a
// chain exactly that deep streams whole; one link deeper ends in error.
func TestGatewayCARMaxDepth(t *testing.T) {
	m := MustOpenMain(t, tempData(t))
	b := newBuilder(t)
	cbor := buildChain(b, tack.MaxDAGDepth)
	pb := buildPBChain(b, tack.MaxDAGDepth)
	for _, root := range []cid.Cid{cbor[0].Cid(), pb} {
		loadFixture(t, m, b.car(root))
		resp, body := get(t, "GET", "http://"+m.HTTPAddr()+"/ipfs/"+root.String()+"?format=car")
		mustStatus(t, resp, 200)
		_, got := carCIDs(t, body)
		mustBlocks(t, got, b.dfs(root, false), true)
	}
	// One link deeper: put straight into the blockstore, since POST /car
	// refuses it.
	deeper := buildChain(b, tack.MaxDAGDepth+1)
	if err := m.Blocks.PutMany(context.Background(), deeper); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, "GET", "http://"+m.HTTPAddr()+"/ipfs/"+deeper[0].Cid().String()+"?format=car")
	mustStatus(t, resp, 200)
	n, whole := readCAR(t, body)
	if whole {
		t.Fatalf("the CAR of a chain deeper than tack.MaxDAGDepth ended cleanly after %d blocks", n)
	}
	if n != tack.MaxDAGDepth+1 {
		t.Fatalf("the CAR of a too-deep chain has %d blocks before its error, want %d", n, tack.MaxDAGDepth+1)
	}
}

// Finding 3: error responses must never be cached, least of all as
// immutable.
func TestGatewayErrorsNotCached(t *testing.T) {
	g := openGateway(t, localPathGateway)
	file := "/ipfs/" + g.subdir.ascii.String()
	for _, tc := range []struct {
		base, path string
		headers    []string
		want       int
	}{
		{g.url(""), file + "?format=raw", []string{"Range: bytes=x-y"}, 0},
		{g.url(""), file + "?format=raw", []string{"Range: bytes=100000-"}, 416},
		{g.url(""), file, nil, 406},
		{g.url(""), file + "/nope?format=car", nil, 404},
		{g.url(""), "/ipfs/not-a-cid?format=raw", nil, 400},
		{g.url(""), file + "?format=car&dag-scope=nope", nil, 400},
		{localGatewayURL(g.m), file, []string{"Range: bytes=x-y"}, 0},
		{localGatewayURL(g.m), file, []string{"Range: bytes=100000-"}, 416},
		{localGatewayURL(g.m), file + "/nope", nil, 404},
		{localGatewayURL(g.m), "/ipfs/" + g.missing.root.String(), nil, 0},
	} {
		resp, body := get(t, "GET", tc.base+tc.path, tc.headers...)
		if resp.StatusCode < 400 && tc.want == 0 {
			continue // a Range header ignored: not an error
		}
		if tc.want != 0 && resp.StatusCode != tc.want {
			t.Errorf("GET %s %v: %d, want %d", tc.path, tc.headers, resp.StatusCode, tc.want)
		}
		if resp.StatusCode >= 400 {
			if cc := resp.Header.Get("Cache-Control"); strings.Contains(cc, "immutable") || strings.Contains(cc, "max-age") || !strings.Contains(cc, "no-store") {
				t.Errorf("GET %s %v: %d %q with Cache-Control %q, want no-store", tc.path, tc.headers, resp.StatusCode, strings.TrimSpace(string(body)), cc)
			}
		}
	}
}

// mustNotCached fails if a response may be stored by a cache.
func mustNotCached(t *testing.T, resp *nethttp.Response) {
	t.Helper()
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("%d with Cache-Control %q, want no-store", resp.StatusCode, cc)
	}
}

// A request that sends its client nothing for --gateway-timeout ends, and
// so does one whose client stopped reading but holds the connection: its
// slot is free again.
func TestGatewayTimeout(t *testing.T) {
	m := MustOpenMain(t, tempData(t), func(c *Config) {
		c.GatewayMaxInFlight = 1
		c.GatewayTimeout = time.Second
		c.GatewayMaxBlocks = 1 << 40 // only the timeout ends these
	})
	b := newBuilder(t)
	root := buildDiamond(b, 40)
	loadFixture(t, m, b.car(root))
	url := "http://" + m.HTTPAddr() + "/ipfs/" + root.String()

	t.Run("reads without sending", func(t *testing.T) {
		// The entity from byte 1 on is the file's 41 blocks, sent at once;
		// boxo then reads the rest of the 1 TiB file for nothing.
		client := &nethttp.Client{Timeout: 20 * time.Second}
		resp, err := client.Get(url + "?format=car&dag-scope=entity&entity-bytes=1:*")
		if err != nil {
			t.Fatal(err)
		}
		mustCutShort(t, resp)
		mustIdle(t, "after the timeout")
	})

	t.Run("client stops reading", func(t *testing.T) {
		tr := &nethttp.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		resp, err := (&nethttp.Client{Transport: tr}).Get(url + "?format=car&car-dups=y")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.CopyN(io.Discard, resp.Body, 2048) // then nothing, connection open
		mustIdle(t, "while the client holds the connection without reading")
		r, _ := get(t, "GET", url+"?format=raw")
		mustStatus(t, r, 200)
	})
}

// --gateway-max-blocks ends a request: 413 before its response started,
// a cut-off CAR after.
func TestGatewayMaxBlocks(t *testing.T) {
	m := MustOpenMain(t, tempData(t), func(c *Config) { c.GatewayMaxBlocks = 500 })
	b := newBuilder(t)
	root := buildDiamond(b, 40)
	loadFixture(t, m, b.car(root))
	chain := buildChain(b, 1000)
	if err := m.Blocks.PutMany(context.Background(), chain); err != nil {
		t.Fatal(err)
	}
	base := "http://" + m.HTTPAddr()

	resp, err := nethttp.Get(base + "/ipfs/" + root.String() + "?format=car&dag-scope=entity&entity-bytes=1:*")
	if err != nil {
		t.Fatal(err)
	}
	mustCutShort(t, resp)
	// A path of 600 links reads 600 blocks before anything is sent.
	resp, body := get(t, "GET", base+"/ipfs/"+chain[0].Cid().String()+strings.Repeat("/n", 600)+"?format=car")
	mustStatus(t, resp, nethttp.StatusRequestEntityTooLarge)
	if !strings.Contains(string(body), "--gateway-max-blocks") {
		t.Fatalf("413 body %q does not say why", body)
	}
	mustNotCached(t, resp)
	// Within the budget (a CAR reads its path twice: to resolve, then to
	// send), the same DAG is served.
	resp, _ = get(t, "GET", base+"/ipfs/"+chain[0].Cid().String()+strings.Repeat("/n", 200)+"?format=car&dag-scope=block")
	mustStatus(t, resp, 200)
}

// Main.Close ends the gateway's streams once --drain-timeout has passed
// instead of waiting for them to end, and nothing reads the blockstore
// after it closed.
func TestGatewayClose(t *testing.T) {
	m := MustOpenMain(t, tempData(t), localPathGateway, func(c *Config) { c.DrainTimeout = time.Second })
	b := newBuilder(t)
	root := buildDiamond(b, 40)
	loadFixture(t, m, b.car(root))
	ended := make(chan error, 2)
	for _, url := range []string{
		"http://" + m.HTTPAddr() + "/ipfs/" + root.String() + "?format=car&car-dups=y",
		localGatewayURL(m) + "/ipfs/" + root.String(),
	} {
		resp, err := nethttp.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		mustStatus(t, resp, 200)
		go func() {
			_, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ended <- err
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 2 {
		<-ended
	}
	mustIdle(t, "after Close")
}

// mustCutShort reads a 200 CAR response that the server must cut off:
// the connection ends without the final chunk, after boxo's truncation
// marker.
func mustCutShort(t *testing.T, resp *nethttp.Response) {
	t.Helper()
	defer resp.Body.Close()
	mustStatus(t, resp, 200)
	body, err := io.ReadAll(resp.Body)
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("reading the CAR: %v after %d bytes, want it cut off (unexpected EOF)", err, len(body))
	}
	if !bytes.Contains(body, []byte("CAR stream truncated")) {
		t.Fatalf("the CAR was cut off without boxo's truncation marker (%d bytes)", len(body))
	}
}

// localPathGateway serves the gateway for browsers on 127.0.0.1 as a path
// gateway named localhost: a site apart from the web pages' 127.0.0.1, as
// tack requires, with every CID under one host the tests can reach.
func localPathGateway(c *Config) {
	c.GatewayListen, c.GatewayURL, c.GatewayMode = "127.0.0.1:0", "http://localhost", "path"
}

// localGatewayURL is where localPathGateway's gateway answers.
func localGatewayURL(m *Main) string {
	return "http://localhost:" + strings.TrimPrefix(m.GatewayAddr(), "127.0.0.1:")
}
