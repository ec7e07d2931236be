package main

import (
	"bytes"
	"context"
	"io"
	nethttp "net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/tack-ipfs/tack/internal/testpeer"
)

// The gateway tests follow the IPFS gateway conformance suite's trustless
// tests (tests/trustless_gateway_raw_test.go, trustless_gateway_car_test.go,
// t0117_gateway_block_test.go, t0118_gateway_car_test.go) case by case,
// against a real tack serve holding the fixtures of gateway_fixture_test.go.

// gw is a tack serve with every fixture loaded.
type gw struct {
	m       *Main
	b       *builder
	subdir  subdirFixture
	hamt    hamtFixture
	cbor    cborFixture
	dups    dupsFixture
	missing missingFixture
}

func openGateway(t *testing.T, configure ...func(*Config)) *gw {
	t.Helper()
	m := MustOpenMain(t, tempData(t), configure...)
	b := newBuilder(t)
	g := &gw{m: m, b: b, subdir: buildSubdir(b), hamt: buildHAMT(b), cbor: buildCBOR(b), dups: buildDups(b), missing: buildMissing(b)}
	for _, root := range []cid.Cid{g.subdir.root, g.hamt.root, g.cbor.root, g.cbor.document, g.dups.root, g.missing.root} {
		if got := loadFixture(t, m, b.car(root)); !got.Equals(root) {
			t.Fatalf("loadFixture returned %s, want %s", got, root)
		}
	}
	// file-3k-and-3-blocks-missing-block: tack lacks the middle leaf.
	if err := m.Blocks.DeleteBlock(context.Background(), g.missing.leaves[1]); err != nil {
		t.Fatal(err)
	}
	return g
}

// get sends a GET (or another method) with headers as "Name: value"
// strings and returns the response with its body read.
func get(t *testing.T, method, url string, headers ...string) (*nethttp.Response, []byte) {
	t.Helper()
	req, err := nethttp.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// readCAR reads the blocks of a CAR body: how many it holds before its
// end, and whether it ends whole, rather than with an error (a stream the
// gateway cut short, whose end marker is not a block).
func readCAR(t *testing.T, body []byte) (n int, whole bool) {
	t.Helper()
	r, err := carv2.NewBlockReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := r.Next()
		if err == io.EOF {
			return n, true
		}
		if err != nil {
			return n, false
		}
		n++
	}
}

// carCIDs parses a CAR and returns its roots and its blocks' CIDs in
// order, checking that every block matches its CID.
func carCIDs(t *testing.T, body []byte) (roots, got []cid.Cid) {
	t.Helper()
	r, err := carv2.NewBlockReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("response is not a CAR: %v", err)
	}
	for {
		blk, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the CAR: %v", err)
		}
		c, err := blk.Cid().Prefix().Sum(blk.RawData())
		if err != nil || !c.Equals(blk.Cid()) {
			t.Fatalf("CAR block %s does not match its bytes", blk.Cid())
		}
		got = append(got, blk.Cid())
	}
	return r.Roots, got
}

func cidStrings(cs []cid.Cid) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}

// cids flattens CIDs and lists of CIDs into one list.
func cids(parts ...any) []cid.Cid {
	var out []cid.Cid
	for _, p := range parts {
		switch p := p.(type) {
		case cid.Cid:
			out = append(out, p)
		case []cid.Cid:
			out = append(out, p...)
		default:
			panic("cids: not a cid.Cid or []cid.Cid")
		}
	}
	return out
}

func (g *gw) url(path string) string { return "http://" + g.m.HTTPAddr() + path }

// The trustless raw block cases: TestTrustlessRaw and TestGatewayBlock of
// the conformance suite, plus Range, HEAD, If-None-Match and every codec.
func TestGatewayRaw(t *testing.T) {
	t.Parallel()
	g := openGateway(t)
	f := g.subdir
	subdirBlock := g.b.get(f.subdir).RawData()
	asciiPath := "/ipfs/" + f.ascii.String()

	t.Run("format=raw returns a raw block", func(t *testing.T) {
		resp, body := get(t, "GET", g.url("/ipfs/"+f.subdir.String()+"?format=raw"))
		if resp.StatusCode != 200 || !bytes.Equal(body, subdirBlock) {
			t.Fatalf("status %d, body %d bytes; want 200 and the block's %d bytes", resp.StatusCode, len(body), len(subdirBlock))
		}
	})
	t.Run("Accept application/vnd.ipld.raw returns a raw block", func(t *testing.T) {
		resp, body := get(t, "GET", g.url("/ipfs/"+f.subdir.String()), "Accept: application/vnd.ipld.raw")
		if resp.StatusCode != 200 || !bytes.Equal(body, subdirBlock) {
			t.Fatalf("status %d, body %d bytes; want 200 and the block's %d bytes", resp.StatusCode, len(body), len(subdirBlock))
		}
	})
	t.Run("response headers", func(t *testing.T) {
		resp, body := get(t, "GET", g.url(asciiPath), "Accept: application/vnd.ipld.raw")
		want := g.b.get(f.ascii).RawData()
		mustStatus(t, resp, 200)
		mustHeader(t, resp, "Content-Type", "application/vnd.ipld.raw")
		mustHeader(t, resp, "Content-Length", strconv.Itoa(len(want)))
		mustMatch(t, resp, "Content-Disposition", `attachment;\s*filename=".*\.bin"`)
		mustHeader(t, resp, "X-Content-Type-Options", "nosniff")
		if !bytes.Equal(body, want) {
			t.Fatalf("body %q, want %q", body, want)
		}
	})
	t.Run("filename param names the attachment", func(t *testing.T) {
		resp, _ := get(t, "GET", g.url(asciiPath+"?filename=foobar.bin"), "Accept: application/vnd.ipld.raw")
		mustMatch(t, resp, "Content-Disposition", `attachment;\s*filename="foobar\.bin`)
	})
	t.Run("caching headers", func(t *testing.T) {
		resp, _ := get(t, "GET", g.url(asciiPath), "Accept: application/vnd.ipld.raw")
		mustHeader(t, resp, "Etag", `"`+f.ascii.String()+`.raw"`)
		mustHeader(t, resp, "X-Ipfs-Path", asciiPath)
		if !strings.Contains(resp.Header.Get("X-Ipfs-Roots"), f.ascii.String()) {
			t.Errorf("X-Ipfs-Roots %q lacks %s", resp.Header.Get("X-Ipfs-Roots"), f.ascii)
		}
		mustImmutable(t, resp)
	})
	t.Run("If-None-Match of the Etag gets 304", func(t *testing.T) {
		resp, body := get(t, "GET", g.url(asciiPath), "Accept: application/vnd.ipld.raw", `If-None-Match: "`+f.ascii.String()+`.raw"`)
		if resp.StatusCode != 304 || len(body) != 0 {
			t.Fatalf("status %d with %d bytes, want 304 without a body", resp.StatusCode, len(body))
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		resp, body := get(t, "HEAD", g.url(asciiPath+"?format=raw"))
		mustStatus(t, resp, 200)
		mustHeader(t, resp, "Content-Type", "application/vnd.ipld.raw")
		mustHeader(t, resp, "Content-Length", strconv.Itoa(len(g.b.get(f.ascii).RawData())))
		if len(body) != 0 {
			t.Fatalf("HEAD returned %d bytes", len(body))
		}
	})
	t.Run("Range", func(t *testing.T) {
		leaf := f.multiLeaves[1]
		data := g.b.get(leaf).RawData()
		for _, tt := range []struct {
			rng, contentRange string
			want              []byte
		}{
			{"bytes=0-9", "bytes 0-9/" + strconv.Itoa(len(data)), data[:10]},
			{"bytes=100-", "bytes 100-" + strconv.Itoa(len(data)-1) + "/" + strconv.Itoa(len(data)), data[100:]},
			{"bytes=-5", "bytes " + strconv.Itoa(len(data)-5) + "-" + strconv.Itoa(len(data)-1) + "/" + strconv.Itoa(len(data)), data[len(data)-5:]},
		} {
			resp, body := get(t, "GET", g.url("/ipfs/"+leaf.String()+"?format=raw"), "Range: "+tt.rng)
			mustStatus(t, resp, 206)
			mustHeader(t, resp, "Content-Range", tt.contentRange)
			if !bytes.Equal(body, tt.want) {
				t.Errorf("Range %s: body %q, want %q", tt.rng, body, tt.want)
			}
		}
		resp, _ := get(t, "GET", g.url("/ipfs/"+leaf.String()+"?format=raw"), "Range: bytes=5000-6000")
		mustStatus(t, resp, 416)
	})
	t.Run("every codec", func(t *testing.T) {
		for _, c := range []cid.Cid{g.cbor.document, g.cbor.json, f.multiLeaves[0], f.multi, g.hamt.root} {
			resp, body := get(t, "GET", g.url("/ipfs/"+c.String()+"?format=raw"))
			mustStatus(t, resp, 200)
			if !bytes.Equal(body, g.b.get(c).RawData()) {
				t.Errorf("%s: wrong bytes", c)
			}
		}
	})
	t.Run("a path with format=raw is not trustless on the API address", func(t *testing.T) {
		// TestGatewayBlock asks /ipfs/{root}/dir?format=raw of a path
		// gateway; a trustless gateway serves raw blocks by CID only.
		resp, _ := get(t, "GET", g.url("/ipfs/"+f.root.String()+"/subdir?format=raw"))
		mustStatus(t, resp, 406)
	})
}

// The trustless CAR cases: TestTrustlessCarPathing, …DagScopeBlock,
// …DagScopeEntity, …DagScopeAll, …EntityBytes and
// …OrderAndDuplicates, each asked with ?format=car and with an Accept
// header, as the suite's StandardCARTestTransforms does, and
// TestGatewayCar (t0118).
func TestGatewayCAR(t *testing.T) {
	t.Parallel()
	g := openGateway(t)
	s, h, cb, d, mf := g.subdir, g.hamt, g.cbor, g.dups, g.missing
	b := g.b
	file685 := h.files["685.txt"]

	for _, tt := range []struct {
		name    string
		path    string
		query   string // besides format=car
		want    []cid.Cid
		inOrder bool
	}{
		// TestTrustlessCarPathing
		{"pathing through a directory", "/ipfs/" + s.root.String() + "/subdir/ascii.txt", "", cids(s.root, s.subdir, s.ascii), true},
		{"pathing through a HAMT", "/ipfs/" + h.root.String() + "/685.txt", "", cids(b.hamtPath(h.root, "685.txt"), b.links(file685)), true},
		{"pathing from a dag-cbor root", "/ipfs/" + cb.document.String() + "/files/single", "", cids(cb.document, cb.single), true},
		// TestTrustlessCarDagScopeBlock
		{"dag-scope=block of a directory on a path", "/ipfs/" + s.root.String() + "/subdir", "dag-scope=block", cids(s.root, s.subdir), true},
		{"dag-scope=block of a file on a path", "/ipfs/" + s.root.String() + "/subdir/ascii.txt", "dag-scope=block", cids(s.root, s.subdir, s.ascii), true},
		{"dag-scope=block of a file through a HAMT", "/ipfs/" + h.root.String() + "/1.txt", "dag-scope=block", b.hamtPath(h.root, "1.txt"), true},
		// TestTrustlessCarDagScopeEntity
		{"dag-scope=entity of a directory", "/ipfs/" + s.root.String(), "dag-scope=entity", cids(s.root), true},
		{"dag-scope=entity of a HAMT", "/ipfs/" + h.root.String(), "dag-scope=entity", b.hamtShards(h.root), true},
		{"dag-scope=entity of a file", "/ipfs/" + s.root.String() + "/subdir/ascii.txt", "dag-scope=entity", cids(s.root, s.subdir, s.ascii), true},
		{"dag-scope=entity of a chunked file", "/ipfs/" + s.root.String() + "/subdir/multiblock.txt", "dag-scope=entity", cids(s.root, s.subdir, s.multi, s.multiLeaves), true},
		{"dag-scope=entity of dag-cbor with links", "/ipfs/" + cb.root.String() + "/document", "dag-scope=entity", cids(cb.root, cb.document), true},
		{"dag-scope=entity of dag-json with links", "/ipfs/" + cb.json.String(), "dag-scope=entity", cids(cb.json), true},
		// TestTrustlessCarDagScopeAll
		{"dag-scope=all of a directory", "/ipfs/" + s.root.String() + "/subdir", "dag-scope=all", cids(s.root, b.dfs(s.subdir, false)), true},
		{"dag-scope=all of a chunked file", "/ipfs/" + s.root.String() + "/subdir/multiblock.txt", "dag-scope=all", cids(s.root, s.subdir, s.multi, s.multiLeaves), true},
		{"dag-scope=all of dag-json", "/ipfs/" + cb.json.String(), "", b.dfs(cb.json, false), true},
		// TestTrustlessCarEntityBytes
		{"entity-bytes before a missing block", "/ipfs/" + mf.root.String(), "dag-scope=entity&entity-bytes=0:1000", cids(mf.root, mf.leaves[0]), false},
		{"entity-bytes after a missing block", "/ipfs/" + mf.root.String(), "dag-scope=entity&entity-bytes=2200:*", cids(mf.root, mf.leaves[2]), false},
		{"entity-bytes of a whole file", "/ipfs/" + s.root.String() + "/subdir/multiblock.txt", "dag-scope=entity&entity-bytes=0:*", cids(s.root, s.subdir, s.multi, s.multiLeaves), true},
		{"entity-bytes of a directory", "/ipfs/" + h.root.String(), "dag-scope=entity&entity-bytes=0:*", b.hamtShards(h.root), true},
		{"entity-bytes from the middle to the end", "/ipfs/" + s.multi.String(), "dag-scope=entity&entity-bytes=512:*", cids(s.multi, s.multiLeaves[2:]), true},
		{"entity-bytes of the middle", "/ipfs/" + s.multi.String(), "dag-scope=entity&entity-bytes=512:1023", cids(s.multi, s.multiLeaves[2:4]), true},
		{"entity-bytes of the middle, negative end", "/ipfs/" + s.multi.String(), "dag-scope=entity&entity-bytes=512:-256", cids(s.multi, s.multiLeaves[2:4]), true},
		{"entity-bytes suffix", "/ipfs/" + s.multi.String(), "dag-scope=entity&entity-bytes=-5:*", cids(s.multi, s.multiLeaves[3:]), true},
		{"entity-bytes negative start past the beginning", "/ipfs/" + s.multi.String(), "dag-scope=entity&entity-bytes=-9999:*", cids(s.multi, s.multiLeaves), true},
		{"entity-bytes negative start past the beginning, negative end", "/ipfs/" + s.multi.String(), "dag-scope=entity&entity-bytes=-9999:-3", cids(s.multi, s.multiLeaves[:4]), true},
		{"entity-bytes of the first byte", "/ipfs/" + s.multi.String(), "dag-scope=entity&entity-bytes=0:0", cids(s.multi, s.multiLeaves[0]), true},
		// TestTrustlessCarOrderAndDuplicates, as IPIP-523 query parameters
		{"car-dups=y", "/ipfs/" + d.root.String(), "car-order=dfs&car-dups=y", b.dfs(d.root, true), true},
		{"car-dups=n", "/ipfs/" + d.root.String(), "car-version=1&car-order=dfs&car-dups=n", b.dfs(d.root, false), true},
	} {
		for _, variant := range []string{"format=car", "Accept header"} {
			t.Run(tt.name+" ("+variant+")", func(t *testing.T) {
				u := g.url(tt.path)
				var headers []string
				q := tt.query
				if variant == "format=car" {
					q = strings.TrimPrefix(q+"&format=car", "&")
				} else {
					headers = append(headers, "Accept: application/vnd.ipld.car")
				}
				if q != "" {
					u += "?" + q
				}
				resp, body := get(t, "GET", u, headers...)
				mustStatus(t, resp, 200)
				mustCARHeaders(t, resp)
				_, got := carCIDs(t, body)
				mustBlocks(t, got, tt.want, tt.inOrder)
			})
		}
	}

	t.Run("non-existing file on a path", func(t *testing.T) {
		resp, body := get(t, "GET", g.url("/ipfs/"+s.root.String()+"/subdir/i-do-not-exist?format=car"))
		// The suite also allows 200 with the blocks up to the parent of
		// the missing segment, from gateways that cannot check a path
		// cheaply; tack can.
		if resp.StatusCode != 404 {
			t.Fatalf("status %d, want 404; body %q", resp.StatusCode, body)
		}
	})

	// TestTrustlessCarOrderAndDuplicates, as the suite asks: Accept
	// headers with IPIP-412 parameters.
	dupsY, dupsN := b.dfs(d.root, true), b.dfs(d.root, false)
	if len(dupsY) != len(dupsN)+1 {
		t.Fatalf("fixture: %d blocks with duplicates, %d without; want one duplicate", len(dupsY), len(dupsN))
	}
	for _, tt := range []struct {
		name, accept, query string
		contentType         []string
		want                []cid.Cid
		inOrder             bool
	}{
		{"order=dfs and dups=y", "application/vnd.ipld.car; version=1; order=dfs; dups=y", "", []string{"application/vnd.ipld.car", "order=dfs", "dups=y"}, dupsY, true},
		{"order=dfs and dups=n", "application/vnd.ipld.car; version=1; order=dfs; dups=n", "", []string{"application/vnd.ipld.car", "order=dfs", "dups=n"}, dupsN, true},
		{"order=unk smoke test", "application/vnd.ipld.car; version=1; order=unk", "", []string{"application/vnd.ipld.car", "order="}, dupsN, false},
		{"Accept wins over format=car", "application/vnd.ipld.car; version=1; order=dfs; dups=y", "format=car", []string{"application/vnd.ipld.car", "order=dfs", "dups=y"}, dupsY, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := g.url("/ipfs/" + d.root.String())
			if tt.query != "" {
				u += "?" + tt.query
			}
			resp, body := get(t, "GET", u, "Accept: "+tt.accept)
			mustStatus(t, resp, 200)
			for _, want := range tt.contentType {
				if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, want) {
					t.Errorf("Content-Type %q lacks %q", ct, want)
				}
			}
			_, got := carCIDs(t, body)
			if !tt.inOrder {
				// order=unk may repeat blocks; each must be there.
				got = slices.CompactFunc(got, func(a, b cid.Cid) bool { return a.Equals(b) })
				for _, w := range tt.want {
					if !slices.ContainsFunc(got, w.Equals) {
						t.Errorf("CAR lacks %s", w)
					}
				}
				return
			}
			mustBlocks(t, got, tt.want, true)
		})
	}
	t.Run("order=dfs and dups=y of an identity CID", func(t *testing.T) {
		resp, body := get(t, "GET", g.url("/ipfs/bafkqaf3imvwgy3zaneqgc3janfxgy2lomvscay3jmqfa"), "Accept: application/vnd.ipld.car; dups=y")
		mustStatus(t, resp, 200)
		if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "application/vnd.ipld.car") || !strings.Contains(ct, "dups=y") {
			t.Errorf("Content-Type %q", ct)
		}
		if _, got := carCIDs(t, body); len(got) != 0 {
			t.Fatalf("CAR of an identity CID holds blocks %v, want none", got)
		}
	})

	t.Run("a block missing mid-stream breaks the CAR", func(t *testing.T) {
		resp, body := get(t, "GET", g.url("/ipfs/"+mf.root.String()+"?format=car"))
		mustStatus(t, resp, 200)
		n, whole := readCAR(t, body)
		if whole {
			t.Fatalf("a CAR lacking block %s read as whole (%d blocks)", mf.leaves[1], n)
		}
		if n != 2 {
			t.Errorf("%d blocks before the missing one, want 2", n)
		}
	})

	// TestGatewayCar (t0118).
	t.Run("t0118 response headers", func(t *testing.T) {
		resp, body := get(t, "GET", g.url("/ipfs/"+s.root.String()+"/subdir/ascii.txt"), "Accept: application/vnd.ipld.car")
		mustStatus(t, resp, 200)
		if cl := resp.Header.Get("Content-Length"); cl != "" {
			t.Errorf("Content-Length %q on a streamed CAR", cl)
		}
		// t0118 wants filename="{cid of ascii.txt}.car"; boxo names it
		// after the path ({root}_ascii.txt.car), which the trustless
		// tests' `attachment; filename=".*\.car"` accepts.
		mustMatch(t, resp, "Content-Disposition", `^attachment; filename="`+s.root.String()+`_ascii\.txt\.car"`)
		mustHeader(t, resp, "X-Content-Type-Options", "nosniff")
		mustHeader(t, resp, "Accept-Ranges", "none")
		mustHeader(t, resp, "X-Ipfs-Roots", strings.Join(cidStrings(cids(s.root, s.subdir, s.ascii)), ","))
		if resp.Header.Get("Etag") == "" {
			t.Error("no Etag")
		}
		mustImmutable(t, resp)
		// The suite ignores roots; boxo names the path's last CID.
		roots, _ := carCIDs(t, body)
		if len(roots) != 1 || !roots[0].Equals(s.ascii) {
			t.Errorf("CAR roots %v, want [%s]", roots, s.ascii)
		}
	})
	t.Run("HEAD of a CAR", func(t *testing.T) {
		resp, body := get(t, "HEAD", g.url("/ipfs/"+s.root.String()+"?format=car"))
		mustStatus(t, resp, 200)
		mustCARHeaders(t, resp)
		if len(body) != 0 {
			t.Fatalf("HEAD returned %d bytes", len(body))
		}
	})
	t.Run("bad parameters get 400", func(t *testing.T) {
		for _, q := range []string{"dag-scope=everything", "entity-bytes=10:5", "car-version=2", "car-order=bfs", "car-dups=maybe"} {
			resp, _ := get(t, "GET", g.url("/ipfs/"+s.root.String()+"?format=car&"+q))
			if resp.StatusCode != 400 {
				t.Errorf("%s: status %d, want 400", q, resp.StatusCode)
			}
		}
	})
}

// Content tack does not hold gets 404 at once, also when a peer connected
// to tack's node has it: the gateway never fetches.
func TestGatewayNotHeld(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t))
	other := testpeer.New(t)
	held := other.AddFile(t, 100<<10, 16<<10, 1)
	ctx := context.Background()
	info, err := peer.AddrInfoFromString(m.Node.Delegates()[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Host().Connect(ctx, *info); err != nil {
		t.Fatal(err)
	}
	unknown := testpeer.RandomRawCID(t)
	base := "http://" + m.HTTPAddr()
	for _, c := range []cid.Cid{held, unknown} {
		for _, q := range []string{"?format=raw", "?format=car", "?format=car&dag-scope=block"} {
			start := time.Now()
			resp, _ := get(t, "GET", base+"/ipfs/"+c.String()+q)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("%s%s took %s", c, q, took)
			}
			if resp.StatusCode != 404 {
				t.Errorf("%s%s: status %d, want 404", c, q, resp.StatusCode)
			}
		}
	}
	if has, _ := m.Blocks.Has(ctx, held); has {
		t.Fatal("the gateway fetched a block from a peer")
	}
	// An IPNS name, even a valid one, is never resolved: not routed.
	resp, _ := get(t, "GET", base+"/ipns/k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8?format=car")
	if resp.StatusCode != 404 {
		t.Errorf("/ipns/: status %d, want 404", resp.StatusCode)
	}
}

// Deserialized responses (files, directory listings) are refused on the
// API's address and served on --gateway-listen (as a path gateway on
// localhost here; TestGatewaySubdomains has the subdomain gateway).
func TestGatewayDeserialized(t *testing.T) {
	t.Parallel()
	g := openGateway(t, localPathGateway)
	s := g.subdir
	file := "/ipfs/" + s.root.String() + "/subdir/ascii.txt"
	for _, headers := range [][]string{nil, {"Accept: text/html"}} {
		resp, body := get(t, "GET", g.url(file), headers...)
		if resp.StatusCode != 406 {
			t.Fatalf("API address, %v: status %d, want 406", headers, resp.StatusCode)
		}
		if !strings.Contains(string(body), "trustless") {
			t.Errorf("406 body %q does not point to the trustless gateway", body)
		}
	}
	if g.m.GatewayAddr() == "" {
		t.Fatal("no gateway address")
	}
	gwURL := localGatewayURL(g.m)

	resp, body := get(t, "GET", gwURL+file)
	mustStatus(t, resp, 200)
	if !bytes.Equal(body, s.asciiData) {
		t.Fatalf("file body %q, want %q", body, s.asciiData)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	resp, body = get(t, "GET", gwURL+"/ipfs/"+s.root.String()+"/subdir/multiblock.txt", "Range: bytes=300-309")
	mustStatus(t, resp, 206)
	if !bytes.Equal(body, s.multiData[300:310]) {
		t.Errorf("range of a multi-block file: %q, want %q", body, s.multiData[300:310])
	}

	resp, body = get(t, "GET", gwURL+"/ipfs/"+s.root.String()+"/subdir/", "Accept: text/html")
	mustStatus(t, resp, 200)
	for _, name := range []string{"ascii.txt", "hello.txt", "multiblock.txt"} {
		if !strings.Contains(string(body), name) {
			t.Errorf("directory listing lacks %s", name)
		}
	}
	resp, body = get(t, "GET", gwURL+"/ipfs/"+g.hamt.root.String()+"/", "Accept: text/html")
	mustStatus(t, resp, 200)
	if !strings.Contains(string(body), "685.txt") {
		t.Error("HAMT directory listing lacks 685.txt")
	}
	// Trustless responses work there too.
	resp, _ = get(t, "GET", gwURL+"/ipfs/"+s.ascii.String()+"?format=raw")
	mustStatus(t, resp, 200)
	// And nothing else is served there: no web pages, no API.
	for _, p := range []string{"/", "/pins", "/signin"} {
		resp, _ := get(t, "GET", gwURL+p)
		if resp.StatusCode != 404 {
			t.Errorf("gateway address %s: status %d, want 404", p, resp.StatusCode)
		}
	}
}

// Gateway requests are anonymous, outside the API's per-token rate limit
// and its --max-inflight: a held API slot does not block them, and they
// do not take the API's slots. The API and the web pages still answer.
func TestGatewayBesideTheAPI(t *testing.T) {
	t.Parallel()
	g := openGateway(t, func(c *Config) {
		c.MaxInFlight = 1
		// A burst for the six fixtures' uploads, then one request a second.
		c.RateLimit.Rate, c.RateLimit.Burst = 1, 7
	})
	raw := g.url("/ipfs/" + g.subdir.ascii.String() + "?format=raw")
	// The fixtures' uploads spent the admin's tokens: the API calls below
	// are another account's.
	token := MustAccount(t, g.m.Config.Data, "api@example.com", true)

	// Hold the API's only slot: a POST /pins whose body is still arriving.
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := nethttp.NewRequest("POST", g.url("/pins"), pr)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	go func() {
		if resp, err := nethttp.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	pw.Write([]byte(`{"cid":`))
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, _ := get(t, "GET", g.url("/pins"), "Authorization: Bearer "+token)
		if resp.StatusCode == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /pins: status %d, want 503 while the only slot is held", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 20 {
		headers := []string{}
		if i%2 == 1 {
			headers = append(headers, "Authorization: Bearer "+token)
		}
		resp, _ := get(t, "GET", raw, headers...)
		if resp.StatusCode != 200 {
			t.Fatalf("gateway request %d while the API is full: status %d", i, resp.StatusCode)
		}
	}
	pw.Close()

	// Gateway requests in flight take none of the API's slots: with CARs
	// streaming all along, the API's one slot still serves GET /pins.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if resp, err := nethttp.Get(g.url("/ipfs/" + g.hamt.root.String() + "?format=car")); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	time.Sleep(1100 * time.Millisecond) // the POST releases its slot; the token's bucket refills
	resp, _ := get(t, "GET", g.url("/pins"), "Authorization: Bearer "+token)
	close(stop)
	<-done
	mustStatus(t, resp, 200)
	resp, _ = get(t, "GET", g.url("/pins"))
	mustStatus(t, resp, 401)
	resp, _ = get(t, "GET", g.url("/"))
	mustStatus(t, resp, 200)
	resp, _ = get(t, "GET", g.url("/ipfsfoo"))
	mustStatus(t, resp, 404)
}

func mustStatus(t *testing.T, resp *nethttp.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d", resp.Request.Method, resp.Request.URL, resp.StatusCode, want)
	}
}

func mustHeader(t *testing.T, resp *nethttp.Response, name, want string) {
	t.Helper()
	if got := resp.Header.Get(name); got != want {
		t.Errorf("%s: %q, want %q", name, got, want)
	}
}

func mustMatch(t *testing.T, resp *nethttp.Response, name, pattern string) {
	t.Helper()
	if got := resp.Header.Get(name); !regexp.MustCompile(pattern).MatchString(got) {
		t.Errorf("%s: %q does not match %s", name, got, pattern)
	}
}

// mustImmutable checks Cache-Control: public, immutable, max-age of at
// least 29030400 (the suite's check).
func mustImmutable(t *testing.T, resp *nethttp.Response) {
	t.Helper()
	v := resp.Header.Get("Cache-Control")
	dir := map[string]string{}
	for _, d := range strings.Split(strings.ReplaceAll(v, " ", ""), ",") {
		k, val, _ := strings.Cut(d, "=")
		dir[k] = val
	}
	_, public := dir["public"]
	_, immutable := dir["immutable"]
	age, err := strconv.Atoi(dir["max-age"])
	if !public || !immutable || err != nil || age < 29030400 {
		t.Errorf("Cache-Control %q, want public, immutable, max-age >= 29030400", v)
	}
}

// mustCARHeaders checks the headers that the suite's
// applyStandardCarResponseHeaders asks of every CAR response.
func mustCARHeaders(t *testing.T, resp *nethttp.Response) {
	t.Helper()
	mustHeader(t, resp, "X-Content-Type-Options", "nosniff")
	mustHeader(t, resp, "Accept-Ranges", "none")
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "application/vnd.ipld.car") {
		t.Errorf("Content-Type %q", ct)
	}
	mustMatch(t, resp, "Content-Disposition", `attachment; filename=".*\.car"`)
}

// mustBlocks compares a CAR's blocks with want: exactly, in order if
// inOrder, else as sets.
func mustBlocks(t *testing.T, got, want []cid.Cid, inOrder bool) {
	t.Helper()
	g, w := cidStrings(got), cidStrings(want)
	if !inOrder {
		slices.Sort(g)
		slices.Sort(w)
	}
	if !slices.Equal(g, w) {
		t.Fatalf("CAR blocks:\n got %v\nwant %v", g, w)
	}
}
