package pinner_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/multiformats/go-multicodec"
	"github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack"
	tackbs "github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/internal/cartest"
	"github.com/tack-ipfs/tack/internal/testpeer"
	"github.com/tack-ipfs/tack/node"
	"github.com/tack-ipfs/tack/pinner"
)

// newNode starts a node on loopback with the DHT off over bs, connected to
// peer.
func newNode(tb testing.TB, bs blockstore.Blockstore, peer *testpeer.Peer) *node.Node {
	tb.Helper()
	n, err := node.New(context.Background(), node.Config{
		Listen:              []string{"/ip4/127.0.0.1/tcp/0"},
		DHT:                 node.DHTOff,
		AllowPrivateOrigins: true,
		Blockstore:          bs,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { n.Close() })
	if peer != nil {
		n.Connect(context.Background(), peer.Addrs())
	}
	return n
}

func memBlockstore() blockstore.Blockstore {
	return blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()), blockstore.NoPrefix())
}

// walk fetches root from peer into bs and checks that every block of the
// DAG is there afterwards.
func walk(tb testing.TB, w *pinner.Walker, n pinner.Sessions, root cid.Cid) (*pinner.Progress, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var p pinner.Progress
	err := w.Walk(ctx, n, root, &p)
	return &p, err
}

func TestWalkStoresEveryBlock(t *testing.T) {
	peer := testpeer.New(t)
	for _, tc := range []struct {
		name string
		root cid.Cid
	}{
		{"dag-pb v0", peer.AddFile(t, 3<<20, 4<<10, 0)},
		{"raw leaves v1", peer.AddFile(t, 3<<20, 1<<10, 1)},
		{"dag-cbor", peer.AddDAGCBOR(t, 300)},
		{"dag-json", peer.AddDAGJSON(t, 300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bs := memBlockstore()
			w := &pinner.Walker{Blockstore: bs}
			p, err := walk(t, w, newNode(t, bs, peer), tc.root)
			if err != nil {
				t.Fatal(err)
			}
			all, err := testpeer.AllCIDs(context.Background(), peer.Blockstore(), tc.root)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range all {
				if ok, _ := bs.Has(context.Background(), c); !ok {
					t.Fatalf("block %s missing after the walk", c)
				}
			}
			if got := p.Blocks.Load(); got != int64(len(all)) {
				t.Errorf("progress counts %d blocks, the DAG has %d", got, len(all))
			}
			// A second walk finds everything held and fetches nothing.
			bs2 := bs
			p2, err := walk(t, &pinner.Walker{Blockstore: bs2}, newNode(t, bs2, nil), tc.root)
			if err != nil {
				t.Fatal(err)
			}
			if p2.Blocks.Load() != int64(len(all)) {
				t.Errorf("walk of a held DAG counted %d blocks, want %d", p2.Blocks.Load(), len(all))
			}
		})
	}
}

// Identity CIDs carry their block: the walk reads them from the CID,
// follows their links, never asks the network for them and never stores
// them, and counts them as blocks of the DAG.
func TestWalkInline(t *testing.T) {
	peer := testpeer.New(t)
	bafkqaatine, err := cid.Decode("bafkqaatine") // raw "hi"
	if err != nil {
		t.Fatal(err)
	}
	nested := peer.AddNestedInline(t)
	for _, tc := range []struct {
		name string
		root cid.Cid
	}{
		{"identity root", bafkqaatine},
		{"empty identity root", testpeer.Inline(t, multicodec.Raw, nil)},
		{"ipfs add -r --inline", peer.AddInlineDirectory(t, 5)},
		{"many identity links", peer.AddInlineDirectory(t, 2000)},
		{"identity inside identity", nested},
		{"nested under a stored root", peer.AddWithInline(t, nested)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bs := memBlockstore() // stores identity blocks if given them
			w := &pinner.Walker{Blockstore: bs, Stall: 5 * time.Second}
			p, err := walk(t, w, newNode(t, bs, peer), tc.root)
			if err != nil {
				t.Fatal(err)
			}
			all, err := testpeer.AllCIDs(context.Background(), peer.Blockstore(), tc.root)
			if err != nil {
				t.Fatal(err)
			}
			inline := 0
			for _, c := range all {
				has, _ := bs.Has(context.Background(), c)
				switch identity := c.Prefix().MhType == multihash.IDENTITY; {
				case identity && has:
					t.Errorf("identity block %s was stored", c)
				case identity:
					inline++
				case !has:
					t.Errorf("block %s missing after the walk", c)
				}
			}
			if inline == 0 {
				t.Fatal("the DAG has no identity CID")
			}
			if got := p.Blocks.Load(); got != int64(len(all)) {
				t.Errorf("progress counts %d blocks, the DAG has %d (%d inline)", got, len(all), inline)
			}
		})
	}
}

func TestWalkRefuses(t *testing.T) {
	peer := testpeer.New(t)
	for _, tc := range []struct {
		name, want string
		root       cid.Cid
	}{
		{"unsupported codec inside", "codec", peer.AddWithUnsupportedCodec(t)},
		{"oversized block", "2 MiB", peer.AddWithOversizedBlock(t)},
		{"identity of an unsupported codec", "codec git-raw",
			peer.AddWithInline(t, testpeer.Inline(t, multicodec.GitRaw, []byte("blob 2\x00hi")))},
		{"identity over 128 bytes", "identity CID with 129 bytes of data inline; tack accepts at most 128",
			peer.AddWithInline(t, testpeer.Inline(t, multicodec.Raw, make([]byte, 129)))},
		{"identity that does not decode", "cannot be decoded",
			peer.AddWithInline(t, testpeer.Inline(t, multicodec.DagCbor, []byte{0xff, 0x00}))},
		{"truncated digest inside", "too short",
			peer.AddWithInline(t, cid.NewCidV1(cid.Raw, multihash.Multihash{multihash.SHA2_256, 4, 1, 2, 3, 4}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bs := memBlockstore()
			_, err := walk(t, &pinner.Walker{Blockstore: bs, Stall: 5 * time.Second}, newNode(t, bs, peer), tc.root)
			var te *tack.Error
			if !errors.As(err, &te) || tack.ErrorCode(err) != tack.EINVALID {
				t.Fatalf("walk = %v, want an EINVALID tack error", err)
			}
			if !contains(err.Error(), tc.want) {
				t.Errorf("walk = %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

// addBlocks gives the peer bs and returns the first one's CID.
func addBlocks(tb testing.TB, peer *testpeer.Peer, bs []blocks.Block) cid.Cid {
	tb.Helper()
	peer.AddBlocks(tb, bs...)
	return bs[0].Cid()
}

// TestWalkDepth: DAGs exactly tack.MaxDAGDepth deep are fetched whole,
// a diamond whose shared part lies both near the root and at the limit
// too; one link deeper, they are refused, naming the limit. The root and
// the last blocks come from the peer; the rest is held already (a chain
// fetched over bitswap takes a round trip a block), which the walk reads
// for its links as it does when it resumes.
func TestWalkDepth(t *testing.T) {
	peer := testpeer.New(t)
	for _, tc := range []struct {
		name string
		bs   []blocks.Block
		ok   bool
	}{
		{"chain at the limit", cartest.Chain(t, tack.MaxDAGDepth), true},
		{"diamond at the limit", cartest.Diamond(t, tack.MaxDAGDepth), true},
		{"chain too deep", cartest.Chain(t, tack.MaxDAGDepth+1), false},
		{"diamond too deep", cartest.Diamond(t, tack.MaxDAGDepth+1), false},
		{"a chain of 200,000", cartest.Chain(t, 200_000), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := addBlocks(t, peer, tc.bs)
			store := memBlockstore()
			n := len(tc.bs)
			if err := store.PutMany(context.Background(), tc.bs[1:n-2]); err != nil {
				t.Fatal(err)
			}
			p, err := walk(t, &pinner.Walker{Blockstore: store, Stall: 5 * time.Second}, newNode(t, store, peer), root)
			if !tc.ok {
				if tack.ErrorCode(err) != tack.EINVALID || !contains(err.Error(), "deeper than 1024 links") {
					t.Fatalf("walk = %v, want EINVALID naming the limit of 1024 links", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Blocks.Load(); got != int64(n) {
				t.Errorf("walk found %d blocks, want %d", got, n)
			}
		})
	}
}

func TestWalkStalls(t *testing.T) {
	bs := memBlockstore()
	start := time.Now()
	_, err := walk(t, &pinner.Walker{Blockstore: bs, Stall: time.Second}, newNode(t, bs, nil), testpeer.RandomRawCID(t))
	var stalled *pinner.StallError
	if !errors.As(err, &stalled) || stalled.Blocks != 0 || !contains(err.Error(), "no provider found yet") {
		t.Fatalf("walk of unreachable content = %v, want a *StallError before any block", err)
	}
	if tack.ErrorCode(err) == tack.EINVALID {
		t.Errorf("a stall is %v: it must not be the DAG's fault", err)
	}
	if time.Since(start) > time.Minute {
		t.Errorf("stall took %s", time.Since(start))
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// BenchmarkWalk fetches files from an in-process peer with the walker, into
// memory and into the Local blockstore, at several windows.
//
//	go test ./pinner -run '^$' -bench Walk -benchtime 1x
func BenchmarkWalk(b *testing.B) {
	for _, sh := range []struct {
		name        string
		size, chunk int
	}{
		{"64MiB-256KiB", 64 << 20, 256 << 10},
		{"8MiB-1KiB", 8 << 20, 1 << 10},
		{"50MB-1KiB", 50_000_000, 1 << 10},
	} {
		peer := testpeer.New(b)
		root := peer.AddFile(b, sh.size, sh.chunk, 1)
		for _, store := range []string{"mem", "local"} {
			for _, window := range []int{256, 512, 1000} {
				b.Run(fmt.Sprintf("%s/%s/window=%d", sh.name, store, window), func(b *testing.B) {
					b.SetBytes(int64(sh.size))
					var nblocks int64
					for b.Loop() {
						var bs blockstore.Blockstore = memBlockstore()
						if store == "local" {
							l, err := tackbs.OpenLocal(b.TempDir())
							if err != nil {
								b.Fatal(err)
							}
							defer l.Close()
							bs = l
						}
						p, err := walk(b, &pinner.Walker{Blockstore: bs, Window: window}, newNode(b, bs, peer), root)
						if err != nil {
							b.Fatal(err)
						}
						nblocks += p.Blocks.Load()
					}
					b.ReportMetric(float64(nblocks)/b.Elapsed().Seconds(), "blocks/s")
				})
			}
		}
	}
}

// lyingFetcher answers every want with the same wrong bytes, as a peer
// behind a fetcher that does not hash what it receives could.
type lyingFetcher struct{}

func (lyingFetcher) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	return blocks.NewBlockWithCid([]byte("not the block you asked for"), c)
}

func (f lyingFetcher) GetBlocks(ctx context.Context, cs []cid.Cid) (<-chan blocks.Block, error) {
	out := make(chan blocks.Block, len(cs))
	for _, c := range cs {
		b, _ := f.GetBlock(ctx, c)
		out <- b
	}
	close(out)
	return out, nil
}

// NewSession and Unwanted make a lyingFetcher the walk's network.
func (f lyingFetcher) NewSession(context.Context) exchange.Fetcher { return f }
func (lyingFetcher) Unwanted(context.Context, []cid.Cid)           {}

func TestWalkChecksHashes(t *testing.T) {
	bs := memBlockstore()
	root := testpeer.RandomRawCID(t)
	var p pinner.Progress
	err := (&pinner.Walker{Blockstore: bs}).Walk(context.Background(), lyingFetcher{}, root, &p)
	if tack.ErrorCode(err) != tack.EINVALID || !contains(err.Error(), "does not match its hash") {
		t.Fatalf("walk over a lying fetcher = %v, want a hash mismatch", err)
	}
	if ok, _ := bs.Has(context.Background(), root); ok {
		t.Error("a block that does not match its hash was stored")
	}
}

// fullDisk is a blockstore whose writes fail, as on a full disk.
type fullDisk struct{ blockstore.Blockstore }

func (fullDisk) PutMany(context.Context, []blocks.Block) error {
	return errors.New("no space left on device")
}

func TestWalkStoreError(t *testing.T) {
	peer := testpeer.New(t)
	root := peer.AddFile(t, 1<<20, 4<<10, 1)
	bs := fullDisk{memBlockstore()}
	_, err := walk(t, &pinner.Walker{Blockstore: bs}, newNode(t, bs, peer), root)
	if err == nil || !contains(err.Error(), "storing blocks: no space left on device") {
		t.Fatalf("walk onto a full disk = %v, want the write error", err)
	}
}

// A walk over a DAG whose blocks are partly held fetches exactly the
// others: the lookers find the held ones, and only the rest are wanted.
func TestWalkFetchesOnlyMissing(t *testing.T) {
	ctx := context.Background()
	peer := testpeer.New(t)
	root := peer.AddFile(t, 2<<20, 4<<10, 1)
	all, err := testpeer.AllCIDs(ctx, peer.Blockstore(), root)
	if err != nil {
		t.Fatal(err)
	}
	bs := memBlockstore()
	held := 0
	for i, c := range all {
		if i%3 != 1 {
			continue
		}
		b, err := peer.Blockstore().Get(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := bs.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
		held++
	}
	var got pinner.Received
	w := &pinner.Walker{Blockstore: bs, Received: &got, Lookers: 3}
	p, err := walk(t, w, newNode(t, bs, peer), root)
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Blocks.Load(); n != int64(len(all)-held) {
		t.Errorf("received %d blocks from the network, want the %d not held", n, len(all)-held)
	}
	if n := p.Blocks.Load(); n != int64(len(all)) {
		t.Errorf("progress counts %d blocks, the DAG has %d", n, len(all))
	}
	for _, c := range all {
		if ok, _ := bs.Has(ctx, c); !ok {
			t.Fatalf("block %s missing after the walk", c)
		}
	}
}

// countingSessions counts the bitswap sessions a walk opens.
type countingSessions struct {
	pinner.Sessions
	opened atomic.Int32
}

func (s *countingSessions) NewSession(ctx context.Context) exchange.Fetcher {
	s.opened.Add(1)
	return s.Sessions.NewSession(ctx)
}

// A walk opens its sessions as its wants need them: one for a DAG of one
// block, all of them for a DAG of many.
func TestWalkOpensSessionsAsNeeded(t *testing.T) {
	peer := testpeer.New(t)
	one := cartest.Raw(t, []byte("a DAG of one block"))
	peer.AddBlocks(t, one)
	many := peer.AddFile(t, 1<<20, 4<<10, 1)
	for _, tc := range []struct {
		name string
		root cid.Cid
		want int32
	}{
		{"one block", one.Cid(), 1},
		{"256 leaves", many, 4},
	} {
		bs := memBlockstore()
		net := &countingSessions{Sessions: newNode(t, bs, peer)}
		if _, err := walk(t, &pinner.Walker{Blockstore: bs, Sessions: 4}, net, tc.root); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n := net.opened.Load(); n != tc.want {
			t.Errorf("%s: the walk opened %d sessions, want %d", tc.name, n, tc.want)
		}
	}
}
