package fanout_test

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/bitswap"
	bsmsg "github.com/ipfs/boxo/bitswap/message"
	bsnet "github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio"
	"github.com/multiformats/go-multihash"
	"github.com/tack-ipfs/tack/fanout"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// client is the fetching side: a libp2p host whose bitswap runs on a
// fanout.Network, as tack's node does.
type client struct {
	host    host.Host
	net     *fanout.Network
	bitswap *bitswap.Bitswap
}

func newClient(t *testing.T) *client {
	t.Helper()
	h, err := testpeer.NewHost()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := fanout.New(bsnet.NewFromIpfsHost(h))
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	c := &client{host: h, net: n, bitswap: bitswap.New(ctx, n, nil, bs)}
	t.Cleanup(func() {
		c.bitswap.Close()
		h.Close()
		cancel()
	})
	return c
}

// connect connects c to each peer.
func (c *client) connect(t *testing.T, peers ...*testpeer.Peer) []peer.ID {
	t.Helper()
	var hs []host.Host
	for _, p := range peers {
		hs = append(hs, p.Host())
	}
	return c.connectHosts(t, hs...)
}

// connectHosts connects c to each host and returns their IDs.
func (c *client) connectHosts(t *testing.T, hs ...host.Host) []peer.ID {
	t.Helper()
	var ids []peer.ID
	for _, h := range hs {
		ai := peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
		if err := c.host.Connect(context.Background(), ai); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ai.ID)
	}
	return ids
}

// session opens a fanout session over peers whose fallback is a bitswap
// session.
func (c *client) session(ctx context.Context, peers []peer.ID) *fanout.Session {
	return c.net.NewSession(ctx, peers, func(ctx context.Context) exchange.Fetcher { return c.bitswap.NewSession(ctx) })
}

// randomBlocks returns n raw blocks of size random bytes each.
func randomBlocks(t *testing.T, n, size int) ([]blocks.Block, []cid.Cid) {
	t.Helper()
	var bs []blocks.Block
	var keys []cid.Cid
	for range n {
		data := make([]byte, size)
		rand.Read(data)
		h, err := multihash.Sum(data, multihash.SHA2_256, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, err := blocks.NewBlockWithCid(data, cid.NewCidV1(cid.Raw, h))
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
		keys = append(keys, b.Cid())
	}
	return bs, keys
}

// fetchAll asks s for keys and returns what arrives, failing the test if
// a block is not one of keys, comes twice, or has the wrong data.
func fetchAll(t *testing.T, ctx context.Context, s *fanout.Session, want []blocks.Block) {
	t.Helper()
	byCID := map[cid.Cid]blocks.Block{}
	for _, b := range want {
		byCID[b.Cid()] = b
	}
	ch, err := s.GetBlocks(ctx, keysOf(want))
	if err != nil {
		t.Fatal(err)
	}
	got := map[cid.Cid]bool{}
	for b := range ch {
		w, ok := byCID[b.Cid()]
		switch {
		case !ok:
			t.Fatalf("got %s, which was not asked for", b.Cid())
		case got[b.Cid()]:
			t.Fatalf("got %s twice", b.Cid())
		case string(w.RawData()) != string(b.RawData()):
			t.Fatalf("%s: wrong data", b.Cid())
		}
		got[b.Cid()] = true
	}
	if len(got) != len(want) {
		t.Fatalf("got %d blocks of %d before the channel closed (%v)", len(got), len(want), context.Cause(ctx))
	}
}

// twoProviders starts two peers that hold the same n random blocks of
// size bytes, and a client connected to both.
func twoProviders(t *testing.T, n, size int) (a, b *testpeer.Peer, bs []blocks.Block, c *client, ids []peer.ID) {
	t.Helper()
	a, b = testpeer.New(t), testpeer.New(t)
	bs, _ = randomBlocks(t, n, size)
	a.AddBlocks(t, bs...)
	b.AddBlocks(t, bs...)
	c = newClient(t)
	return a, b, bs, c, c.connect(t, a, b)
}

func blocksSent(t *testing.T, p *testpeer.Peer) uint64 {
	t.Helper()
	st, err := p.Bitswap().Stat()
	if err != nil {
		t.Fatal(err)
	}
	return st.BlocksSent
}

// TestSessionSpreadsWants: two providers of the same blocks both serve a
// fair share, no block comes twice to the caller, and few are sent twice.
func TestSessionSpreadsWants(t *testing.T) {
	a, b, bs, c, ids := twoProviders(t, 400, 16<<10)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fetchAll(t, ctx, c.session(ctx, ids), bs)

	sa, sb := blocksSent(t, a), blocksSent(t, b)
	t.Logf("provider a sent %d blocks, b %d, for %d", sa, sb, len(bs))
	if sa < 40 || sb < 40 {
		t.Errorf("a sent %d blocks and b %d: want each to serve at least a tenth", sa, sb)
	}
	if sa+sb > uint64(len(bs))*11/10 {
		t.Errorf("%d blocks sent for %d: over a tenth sent twice", sa+sb, len(bs))
	}
}

// TestSessionsWantSameBlocks: sessions that want the same blocks of the
// same peer each get every block, from the one message that brings it to
// all of them: the peer sends each about once.
func TestSessionsWantSameBlocks(t *testing.T) {
	p := testpeer.New(t)
	bs, _ := randomBlocks(t, 100, 4<<10)
	p.AddBlocks(t, bs...)
	c := newClient(t)
	ids := c.connect(t, p)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// All three ask before the first block can come back.
	var chans []<-chan blocks.Block
	for range 3 {
		ch, err := c.session(ctx, ids).GetBlocks(ctx, keysOf(bs))
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	data := map[cid.Cid]string{}
	for _, b := range bs {
		data[b.Cid()] = string(b.RawData())
	}
	for i, ch := range chans {
		got := 0
		for b := range ch {
			if d, ok := data[b.Cid()]; !ok || d != string(b.RawData()) {
				t.Fatalf("session %d got %s, which it did not ask for or with other data", i, b.Cid())
			}
			got++
		}
		if got != len(bs) {
			t.Errorf("session %d got %d blocks of %d (%v)", i, got, len(bs), context.Cause(ctx))
		}
	}
	n := blocksSent(t, p)
	t.Logf("the peer sent %d blocks for %d wanted by 3 sessions", n, len(bs))
	if n > uint64(len(bs))*2 {
		t.Errorf("the peer sent %d blocks for %d wanted by 3 sessions: want most sent once, for all three", n, len(bs))
	}
}

// TestSessionDontHave: a peer that has none of the blocks answers
// DONT_HAVE, and its wants go to the peer that has them at once, not
// after a timeout.
func TestSessionDontHave(t *testing.T) {
	empty, full := testpeer.New(t), testpeer.New(t)
	bs, _ := randomBlocks(t, 200, 4<<10)
	full.AddBlocks(t, bs...)
	c := newClient(t)
	ids := c.connect(t, empty, full)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fetchAll(t, ctx, c.session(ctx, ids), bs)
	if n := blocksSent(t, full); n != uint64(len(bs)) {
		t.Errorf("the full peer sent %d blocks, want %d", n, len(bs))
	}
}

// TestSessionFallback: a block that none of the session's peers has is
// fetched through the fallback bitswap session, from another connected
// peer that has it.
func TestSessionFallback(t *testing.T) {
	a, b, other := testpeer.New(t), testpeer.New(t), testpeer.New(t)
	bs, _ := randomBlocks(t, 20, 4<<10)
	a.AddBlocks(t, bs[:10]...)
	b.AddBlocks(t, bs[:10]...)
	other.AddBlocks(t, bs[10:]...)
	c := newClient(t)
	ids := c.connect(t, a, b)
	c.connect(t, other)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fetchAll(t, ctx, c.session(ctx, ids), bs)
	if n := blocksSent(t, other); n != 10 {
		t.Errorf("the other peer sent %d blocks, want 10", n)
	}
}

// TestSessionPeerGone: a provider that goes away mid-fetch costs nothing
// but its wants, which go to the provider that stays.
func TestSessionPeerGone(t *testing.T) {
	a, _, bs, c, ids := twoProviders(t, 300, 16<<10)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := c.session(ctx, ids)
	// The first block, then a is gone before the rest are asked for.
	fetchAll(t, ctx, s, bs[:1])
	a.Close()
	fetchAll(t, ctx, s, bs[1:])
}

// recorder is a peer that speaks bitswap but never answers: it records
// the latest entry it got for each CID, true for a want, false for a
// cancel.
type recorder struct {
	host host.Host
	mu   sync.Mutex
	last map[cid.Cid]bool
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	h, err := testpeer.NewHost()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	r := &recorder{host: h, last: map[cid.Cid]bool{}}
	h.SetStreamHandler(bsnet.ProtocolBitswap, func(s network.Stream) {
		defer s.Close()
		rd := msgio.NewVarintReaderSize(s, network.MessageSizeMax)
		for {
			m, _, err := bsmsg.FromMsgReader(rd)
			if err != nil {
				return
			}
			r.mu.Lock()
			for _, e := range m.Wantlist() {
				r.last[e.Cid] = !e.Cancel
			}
			r.mu.Unlock()
		}
	})
	return r
}

// wants returns how many of keys r was last told to want, and how many
// to cancel.
func (r *recorder) wants(keys []cid.Cid) (wanted, cancelled int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		want, ok := r.last[k]
		switch {
		case ok && want:
			wanted++
		case ok:
			cancelled++
		}
	}
	return wanted, cancelled
}

// waitFor waits until r was last told to want want of keys and to cancel
// cancel of them.
func (r *recorder) waitFor(t *testing.T, keys []cid.Cid, want, cancel int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, c := r.wants(keys)
		if w == want && c == cancel {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the peer holds %d wants and %d cancels of %d keys; want %d and %d", w, c, len(keys), want, cancel)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSessionSilentPeer: a peer that takes wants and never answers holds
// up the blocks it was asked for only until they are overdue; the peer
// that answers then gets them.
func TestSessionSilentPeer(t *testing.T) {
	silent, full := newRecorder(t), testpeer.New(t)
	bs, _ := randomBlocks(t, 100, 16<<10)
	full.AddBlocks(t, bs...)
	c := newClient(t)
	ids := append(c.connectHosts(t, silent.host), c.connect(t, full)...)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	fetchAll(t, ctx, c.session(ctx, ids), bs)
	t.Logf("100 blocks in %s", time.Since(start))
	// The moved wants were cancelled at the silent peer (the cancels go
	// out after the blocks came).
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, _ := silent.wants(keysOf(bs))
		if w == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the silent peer still holds %d wants", w)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSessionAllSilent: when every peer of the session takes wants and
// never answers, the wants long overdue are asked through the fallback
// session too, which finds another peer that has the blocks.
func TestSessionAllSilent(t *testing.T) {
	a, b, other := newRecorder(t), newRecorder(t), testpeer.New(t)
	bs, _ := randomBlocks(t, 5, 4<<10)
	other.AddBlocks(t, bs...)
	c := newClient(t)
	ids := c.connectHosts(t, a.host, b.host)
	c.connect(t, other)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	fetchAll(t, ctx, c.session(ctx, ids), bs)
	t.Logf("5 blocks in %s", time.Since(start))
}

// TestPeerWantsBounded: sessions together keep no more than 768 wants
// outstanding at one peer (a boxo server queues 1,024 a peer and drops the
// rest unanswered); the wants they hold back go out as others end.
func TestPeerWantsBounded(t *testing.T) {
	r := newRecorder(t)
	c := newClient(t)
	ids := c.connectHosts(t, r.host)
	// 60 sessions of 20 wants each: each may keep 16 at the peer (its
	// depth for blocks assumed big), 960 in all.
	var keys []cid.Cid
	var ends []context.CancelFunc
	for range 60 {
		_, ks := randomBlocks(t, 20, 1<<10)
		keys = append(keys, ks...)
		ctx, end := context.WithCancel(context.Background())
		defer end()
		ends = append(ends, end)
		if _, err := c.session(ctx, ids).GetBlocks(ctx, ks); err != nil {
			t.Fatal(err)
		}
	}
	r.waitFor(t, keys, 768, 0)
	time.Sleep(300 * time.Millisecond) // long enough for a recheck
	if w, _ := r.wants(keys); w != 768 {
		t.Fatalf("the peer holds %d wants, want 768", w)
	}
	// Ten sessions end: their 160 wants are cancelled, and 160 of those
	// held back go out in their place.
	for _, end := range ends[:10] {
		end()
	}
	r.waitFor(t, keys, 768, 160)
}

func keysOf(bs []blocks.Block) []cid.Cid {
	keys := make([]cid.Cid, len(bs))
	for i, b := range bs {
		keys[i] = b.Cid()
	}
	return keys
}

// TestSessionCancels: a peer that never answers holds the session's
// wants, up to its depth; when a call's context ends, its channel closes
// and the peer is told to cancel what it wanted, and so it is of every
// want when the session ends.
func TestSessionCancels(t *testing.T) {
	a, b := newRecorder(t), newRecorder(t)
	c := newClient(t)
	ids := c.connectHosts(t, a.host, b.host)
	_, keys := randomBlocks(t, 8, 1<<10)
	closes := func(ch <-chan blocks.Block) {
		t.Helper()
		select {
		case _, ok := <-ch:
			if ok {
				t.Fatal("a block from a peer that sends none")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the channel did not close")
		}
	}

	sctx, end := context.WithCancel(context.Background())
	defer end()
	s := c.net.NewSession(sctx, ids, nil)
	// Four wants each (the depth, for blocks assumed big), each to one.
	ctx, cancel := context.WithCancel(sctx)
	ch, err := s.GetBlocks(ctx, keys[:4])
	if err != nil {
		t.Fatal(err)
	}
	a.waitFor(t, keys[:4], 2, 0)
	b.waitFor(t, keys[:4], 2, 0)
	cancel()
	closes(ch)
	a.waitFor(t, keys[:4], 0, 2)
	b.waitFor(t, keys[:4], 0, 2)

	if ch, err = s.GetBlocks(sctx, keys[4:]); err != nil {
		t.Fatal(err)
	}
	a.waitFor(t, keys[4:], 2, 0)
	b.waitFor(t, keys[4:], 2, 0)
	end()
	closes(ch)
	a.waitFor(t, keys[4:], 0, 2)
	b.waitFor(t, keys[4:], 0, 2)
}
