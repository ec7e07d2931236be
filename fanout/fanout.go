// Package fanout fetches blocks over bitswap from a chosen set of peers at
// once, deciding itself which peer each block is asked of.
//
// A boxo session sends each want-block to one peer picked at random, with
// weights that grow with the blocks each peer delivered first, and a want
// stays with its peer until it is answered. From two equal providers the
// split drifts to a random share, and at the end of a DAG the busier one
// still holds wants while the other runs dry: from two providers behind
// far links, the second provider made a 64 MiB DAG come about 1.5x as
// fast, where it could come 2x.
//
// A Session here keeps, for each of its peers, a bounded number of bytes
// of want-blocks outstanding (what the peer's bitswap server sends at a
// time, and what is on the way, so that it never waits for a want), and
// holds the rest back. A want goes to the peer with the fewest wants
// outstanding, so a faster peer gets more, and each peer serves its wants
// in the order they were asked. Once nothing is held back, a peer with
// room takes over the wants overdue at another (waiting there four times
// as long as blocks usually take, and at least a second), which is told
// to cancel them: a provider that vanishes without closing its
// connection, or stops answering, holds up the end of the DAG by that
// much, not for good. A want that every peer answers DONT_HAVE, or whose
// peers are all gone, is asked through a bitswap session instead, which
// looks further; so is one still unanswered four times as long after it
// was first asked (every peer silent).
//
// All of a Network's sessions together keep at most maxPeerWants wants
// outstanding at one peer: a boxo server queues 1,024 a peer and leaves
// the rest unanswered.
//
// Network wraps the bitswap network that bitswap.New is given: it adds a
// receiver of its own, which sees every message bitswap sees. Wants go
// out on a stream of their own to each peer, as bitswap's do; a block
// that arrives for a fanout want is not one bitswap's client wanted, and
// bitswap ignores it.
package fanout

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	pb "github.com/ipfs/boxo/bitswap/message/pb"
	bsnetwork "github.com/ipfs/boxo/bitswap/network"
	"github.com/ipfs/boxo/exchange"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Depth is how many bytes of want-blocks a session keeps outstanding at
// each peer, by the average size of the blocks it has received. A Kubo
// provider sends one peer about 1 MiB at a time (boxo's
// MaxOutstandingBytesPerPeer), which takes a round trip over a far link;
// with another round trip's worth on the wire and on its way, 4 MiB keeps
// it busy without queueing much there.
const Depth = 4 << 20

// minDepth and maxDepth bound a peer's outstanding wants in blocks.
// maxDepth is under the 1,024 entries a boxo server queues per peer.
const (
	minDepth = 4
	maxDepth = 512
)

// maxPeerWants bounds the distinct wants that all of a Network's
// sessions keep outstanding at one peer together. A boxo server queues
// 1,024 entries a peer (MaxQueuedWantlistEntriesPerPeer) and drops or
// crowds out the rest, unanswered; this leaves room for the wants of
// bitswap's own sessions at the same peer, which share that list.
const maxPeerWants = 768

// minOverdue is the least time a want waits at a peer before a peer with
// room takes it over (more if blocks usually take longer).
const minOverdue = time.Second

// firstBlockSize is the block size a session assumes until it has
// received blocks: bitswap's usual chunk.
const firstBlockSize = 256 << 10

// maxPeers bounds a session's peers: a want records the peers that lack
// its block in a bit set.
const maxPeers = 64

// Network is a bitswap network with fanout's receiver added. Give it to
// bitswap.New in place of the network it wraps.
type Network struct {
	bsnetwork.BitSwapNetwork

	ctx  context.Context // ends with Stop
	stop context.CancelFunc

	mu     sync.Mutex
	wanted map[string][]*Session // multihash → sessions that want it
	peers  map[peer.ID]*peerQueue
	// live are the open sessions, told when their peers come and go.
	live map[*Session]struct{}
}

// New wraps net.
func New(net bsnetwork.BitSwapNetwork) *Network {
	ctx, stop := context.WithCancel(context.Background())
	return &Network{
		BitSwapNetwork: net,
		ctx:            ctx,
		stop:           stop,
		wanted:         map[string][]*Session{},
		peers:          map[peer.ID]*peerQueue{},
		live:           map[*Session]struct{}{},
	}
}

// Start starts the wrapped network with fanout's receiver after rs.
func (n *Network) Start(rs ...bsnetwork.Receiver) {
	n.BitSwapNetwork.Start(append(rs, receiver{n})...)
}

// Stop stops the wrapped network and every peer's sender.
func (n *Network) Stop() {
	n.stop()
	n.BitSwapNetwork.Stop()
}

// receiver is fanout's bitswap receiver.
type receiver struct{ n *Network }

// ReceiveMessage hands the blocks and DONT_HAVEs of a message to the
// sessions that want them. It is called on the stream's goroutine, and
// does not wait for anything but the Network's lock.
func (r receiver) ReceiveMessage(_ context.Context, from peer.ID, msg bsmsg.BitSwapMessage) {
	n := r.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.wanted) == 0 {
		return // no session wants anything: every other fetch's messages
	}
	blks, dontHaves := msg.Blocks(), msg.DontHaves()
	var touched []*Session
	for _, b := range blks {
		for _, s := range n.wanting(string(b.Cid().Hash())) {
			s.received(b, from)
			touched = appendOnce(touched, s)
		}
	}
	for _, c := range dontHaves {
		for _, s := range n.wanting(string(c.Hash())) {
			s.dontHave(c, from)
			touched = appendOnce(touched, s)
		}
	}
	for _, s := range touched {
		s.schedule()
	}
	if q := n.peers[from]; q != nil {
		n.unstarve(q)
	}
}

// unstarve schedules again the sessions of q's peer once it has room for
// the wants they held back because it had none.
func (n *Network) unstarve(q *peerQueue) {
	if !q.starved || q.full() {
		return
	}
	q.starved = false
	for s := range n.live {
		if len(s.held) > 0 && s.peer(q.id) != nil {
			s.schedule()
		}
	}
}

// wanting returns the sessions that want key, as a slice of its own when
// there are several: a session that takes its block takes itself out of
// n.wanted[key] in place (slices.DeleteFunc), which would shift the next
// session past a loop over it and leave nil at its end.
func (n *Network) wanting(key string) []*Session {
	ss := n.wanted[key]
	if len(ss) > 1 {
		ss = slices.Clone(ss)
	}
	return ss
}

// ReceiveError is bitswap's to log.
func (receiver) ReceiveError(error) {}

// PeerConnected lets the sessions of p ask it again.
func (r receiver) PeerConnected(p peer.ID) { r.n.setUp(p, true) }

// PeerDisconnected moves the wants of p to the sessions' other peers: a
// provider forgets a peer's wants when it goes.
func (r receiver) PeerDisconnected(p peer.ID) { r.n.setUp(p, false) }

func (n *Network) setUp(p peer.ID, up bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if q := n.peers[p]; q != nil && !up {
		q.forgetAll()
	}
	for s := range n.live {
		if s.setUp(p, up) {
			s.schedule()
		}
	}
}

func appendOnce(ss []*Session, s *Session) []*Session {
	if slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}

// Session fetches blocks from a fixed set of peers. It implements
// exchange.Fetcher; it ends with the context it was made with.
type Session struct {
	n     *Network
	ctx   context.Context
	peers []*sessionPeer
	wants map[string]*want // multihash → outstanding want
	held  []*want          // not yet asked of any peer, in order
	avg   float64          // moving average of received block sizes
	// latency is a moving average of the time from asking a peer for a
	// block to receiving it from that peer.
	latency  time.Duration
	fallback func(context.Context) exchange.Fetcher
	fb       exchange.Fetcher // opened on first need
	recheck  *time.Timer      // runs schedule again; nil if none is set
	closed   bool
}

// sessionPeer is one of a session's peers.
type sessionPeer struct {
	id  peer.ID
	bit uint64
	q   *peerQueue
	up  bool
	// asked are the wants outstanding at the peer in the order they were
	// asked (wants moved or answered since are skipped), and n how many.
	asked []*want
	n     int
	// got counts the blocks the peer delivered, lacked its DONT_HAVEs.
	got, lacked int
}

// fits reports whether p may be asked for w now: the session has fewer
// than depth wants there, and the peer has room for one more, or has w's
// block wanted already by another session.
func (p *sessionPeer) fits(w *want, depth int) bool {
	return p.n < depth && (!p.q.full() || p.q.refs[w.key] > 0)
}

// want is a block a session wants.
type want struct {
	c         cid.Cid
	key       string
	calls     []*call
	at        *sessionPeer // the peer it was asked of; nil if held
	asked     time.Time    // when it was asked of at
	since     time.Time    // when it was first asked of a peer
	lack      uint64       // peers that answered DONT_HAVE
	exhausted bool         // asked through the fallback session
}

// call is one GetBlocks call: its blocks go to ch, which has room for all
// of them, so the receiver never waits.
type call struct {
	ch   chan blocks.Block
	left int
	keys []string
	stop func() bool // stops the context.AfterFunc
}

// NewSession returns a session that asks peers (at most 64; the rest are
// ignored) for blocks, and asks fallback's session for the blocks that
// none of them has. It ends with ctx.
func (n *Network) NewSession(ctx context.Context, peers []peer.ID, fallback func(context.Context) exchange.Fetcher) *Session {
	s := &Session{n: n, ctx: ctx, wants: map[string]*want{}, avg: firstBlockSize, fallback: fallback}
	n.mu.Lock()
	for _, p := range peers {
		if len(s.peers) == maxPeers {
			break
		}
		if slices.ContainsFunc(s.peers, func(sp *sessionPeer) bool { return sp.id == p }) {
			continue
		}
		q := n.peers[p]
		if q == nil {
			q = newPeerQueue(n, p)
			n.peers[p] = q
		}
		q.users++
		s.peers = append(s.peers, &sessionPeer{id: p, bit: 1 << len(s.peers), q: q, up: n.IsConnectedToPeer(ctx, p)})
	}
	n.live[s] = struct{}{}
	n.mu.Unlock()
	context.AfterFunc(ctx, s.close)
	return s
}

// GetBlock returns the block of k.
func (s *Session) GetBlock(ctx context.Context, k cid.Cid) (blocks.Block, error) {
	ch, err := s.GetBlocks(ctx, []cid.Cid{k})
	if err != nil {
		return nil, err
	}
	select {
	case b, ok := <-ch:
		if ok {
			return b, nil
		}
	case <-ctx.Done():
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return nil, context.Cause(s.ctx)
}

// GetBlocks returns a channel that receives the blocks of keys as they
// arrive, each once, and is closed once all have, or when ctx or the
// session ends.
func (s *Session) GetBlocks(ctx context.Context, keys []cid.Cid) (<-chan blocks.Block, error) {
	c := &call{ch: make(chan blocks.Block, len(keys))}
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	if s.closed || ctx.Err() != nil {
		close(c.ch)
		return c.ch, nil
	}
	for _, k := range keys {
		key := string(k.Hash())
		if slices.Contains(c.keys, key) {
			continue
		}
		c.keys = append(c.keys, key)
		w := s.wants[key]
		if w == nil {
			w = &want{c: k, key: key}
			s.wants[key] = w
			s.n.wanted[key] = append(s.n.wanted[key], s)
			s.held = append(s.held, w)
		}
		w.calls = append(w.calls, c)
	}
	c.left = len(c.keys)
	if c.left == 0 {
		close(c.ch)
		return c.ch, nil
	}
	if ctx != s.ctx {
		c.stop = context.AfterFunc(ctx, func() {
			s.n.mu.Lock()
			defer s.n.mu.Unlock()
			s.drop(c)
		})
	}
	s.schedule()
	return c.ch, nil
}

// close ends the session: every outstanding want is cancelled.
func (s *Session) close() {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.recheck != nil {
		s.recheck.Stop()
	}
	for _, w := range s.wants {
		s.forget(w, true)
		for _, c := range w.calls {
			if c.left > 0 {
				c.left = 0
				close(c.ch)
			}
		}
	}
	s.wants, s.held = nil, nil
	delete(n.live, s)
	for _, p := range s.peers {
		p.q.users--
		p.q.wake()
		n.unstarve(p.q)
	}
}

// drop ends a call whose context ended: its blocks that no other call
// wants are cancelled.
func (s *Session) drop(c *call) {
	if c.left == 0 {
		return
	}
	for _, key := range c.keys {
		w := s.wants[key]
		if w == nil {
			continue
		}
		w.calls = slices.DeleteFunc(w.calls, func(o *call) bool { return o == c })
		if len(w.calls) == 0 {
			s.forget(w, true)
			delete(s.wants, key)
		}
	}
	c.left = 0
	close(c.ch)
	s.schedule()
}

// forget unregisters w: from the Network's index and, with cancel, from
// the peer it was asked of.
func (s *Session) forget(w *want, cancel bool) {
	n := s.n
	if ss := slices.DeleteFunc(n.wanted[w.key], func(o *Session) bool { return o == s }); len(ss) > 0 {
		n.wanted[w.key] = ss
	} else {
		delete(n.wanted, w.key)
	}
	if w.at != nil {
		s.unask(w, cancel)
	}
}

// unask takes w back from the peer it was asked of; with cancel, the peer
// is told to cancel it.
func (s *Session) unask(w *want, cancel bool) {
	w.at.n--
	w.at.q.release(w.c, cancel)
	w.at = nil
}

// received hands b to the calls that want it.
func (s *Session) received(b blocks.Block, from peer.ID) {
	key := string(b.Cid().Hash())
	w := s.wants[key]
	if w == nil {
		return
	}
	// Asked of another peer (moved since, or fetched by the fallback):
	// that peer is told to cancel.
	cancel := w.at == nil || w.at.id != from
	if p := s.peer(from); p != nil {
		p.got++
	}
	if !cancel {
		s.latency = ewma(s.latency, time.Since(w.asked))
	}
	s.forget(w, cancel)
	delete(s.wants, key)
	// The multihash matches, so the data is the block's; the CID is the
	// one asked for, whatever codec the message's prefix named.
	if !b.Cid().Equals(w.c) {
		if nb, err := blocks.NewBlockWithCid(b.RawData(), w.c); err == nil {
			b = nb
		}
	}
	s.avg += (float64(len(b.RawData())) - s.avg) / 8
	for _, c := range w.calls {
		if c.left == 0 {
			continue
		}
		c.ch <- b
		if c.left--; c.left == 0 {
			close(c.ch)
			if c.stop != nil {
				c.stop()
			}
		}
	}
}

// dontHave records that from lacks c's block and holds the want again.
func (s *Session) dontHave(c cid.Cid, from peer.ID) {
	w := s.wants[string(c.Hash())]
	if w == nil {
		return
	}
	p := s.peer(from)
	if p == nil {
		return
	}
	w.lack |= p.bit
	p.lacked++
	if w.at == p {
		// A boxo server keeps a want it answered DONT_HAVE to, to send
		// the block if it gets it: it is cancelled, as the want moves on.
		s.unask(w, true)
		s.held = append([]*want{w}, s.held...)
	}
}

// peer returns the session's peer id, or nil.
func (s *Session) peer(id peer.ID) *sessionPeer {
	for _, p := range s.peers {
		if p.id == id {
			return p
		}
	}
	return nil
}

// setUp marks p up or down, and holds again what was asked of it when it
// went down. It reports whether p is one of the session's peers.
func (s *Session) setUp(id peer.ID, up bool) bool {
	p := s.peer(id)
	if p == nil || p.up == up {
		return false
	}
	p.up = up
	if !up {
		var again []*want
		for _, w := range p.asked {
			if w.at == p {
				w.at = nil
				again = append(again, w)
			}
		}
		p.asked, p.n = nil, 0
		s.held = append(again, s.held...)
	}
	return true
}

func ewma(avg, x time.Duration) time.Duration {
	if avg == 0 {
		return x
	}
	return avg + (x-avg)/8
}

// depth is how many wants each peer gets at once.
func (s *Session) depth() int {
	return min(max(int(Depth/max(s.avg, 1)), minDepth), maxDepth)
}

// schedule asks peers with room for held wants and sends the wants no
// peer can answer to the fallback session; while wants are outstanding, it
// sets a timer that runs overdue.
func (s *Session) schedule() {
	if s.closed {
		return
	}
	depth := s.depth()
	var up []*sessionPeer
	var upBits uint64
	for _, p := range s.peers {
		if p.up {
			up = append(up, p)
			upBits |= p.bit
		}
	}
	var fallback []*want
	// Held wants, in order, each to the least busy peer that may have it.
	kept := s.held[:0]
	for i, w := range s.held {
		if s.wants[w.key] != w || w.at != nil || w.exhausted {
			continue // answered, asked or handed on since it was held
		}
		if w.lack&upBits == upBits {
			w.exhausted = true
			fallback = append(fallback, w)
			continue
		}
		var best *sessionPeer
		for _, p := range up {
			if w.lack&p.bit == 0 && p.fits(w, depth) && (best == nil || p.n < best.n) {
				best = p
			}
		}
		if best == nil {
			if len(up) > 0 && allFull(up, depth) {
				kept = append(kept, s.held[i:]...)
				break
			}
			kept = append(kept, w)
			continue
		}
		s.ask(w, best)
	}
	clear(s.held[len(kept):])
	s.held = kept
	if len(kept) > 0 {
		// Held back, perhaps by a peer's bound on wants: those peers
		// schedule the session again once they have room (unstarve).
		for _, p := range up {
			if p.q.full() {
				p.q.starved = true
			}
		}
	}
	if len(fallback) > 0 {
		s.askFallback(fallback)
	}
	// Wants become overdue with time alone: look again while there are
	// any.
	if len(s.wants) > 0 && s.recheck == nil {
		s.recheck = time.AfterFunc(minOverdue/4, func() {
			s.n.mu.Lock()
			defer s.n.mu.Unlock()
			s.recheck = nil
			s.overdue()
			s.schedule()
		})
	}
}

// overdue moves the wants overdue at a peer (one that vanished without
// closing its connection, or stopped answering) to peers with room, once
// nothing is held that they could take. Only those: a want moved while
// its block is on its way comes twice, and on a near link every
// outstanding block soon is. Wants that stay overdue four times as long
// are also asked through the fallback session, which asks other peers.
func (s *Session) overdue() {
	if s.closed {
		return
	}
	depth := s.depth()
	wait := max(4*s.latency, minOverdue)
	now := time.Now()
	var fallback []*want
	for _, q := range s.peers {
		if !q.up {
			continue
		}
		for _, w := range q.asked {
			if w.at != q || now.Sub(w.asked) < wait {
				continue
			}
			if len(s.held) == 0 {
				if p := s.room(w, depth); p != nil {
					s.unask(w, true)
					s.ask(w, p)
					continue
				}
			}
			if !w.exhausted && now.Sub(w.since) >= 4*wait {
				w.exhausted = true
				fallback = append(fallback, w)
			}
		}
	}
	if len(fallback) > 0 {
		s.askFallback(fallback)
	}
}

// room returns the least busy peer with room for w other than the one it
// is asked of, that may have it and has delivered blocks (one that has
// not may be as silent, or send the want back with a DONT_HAVE), or nil.
func (s *Session) room(w *want, depth int) *sessionPeer {
	var best *sessionPeer
	for _, p := range s.peers {
		if !p.up || p == w.at || !p.fits(w, depth) || w.lack&p.bit != 0 || p.got == 0 {
			continue
		}
		if best == nil || p.n < best.n {
			best = p
		}
	}
	return best
}

func allFull(ps []*sessionPeer, depth int) bool {
	for _, p := range ps {
		if p.n < depth && !p.q.full() {
			return false
		}
	}
	return true
}

// ask asks p for w.
func (s *Session) ask(w *want, p *sessionPeer) {
	w.at = p
	w.asked = time.Now()
	if w.since.IsZero() {
		w.since = w.asked
	}
	p.n++
	if len(p.asked) > 2*p.n+64 {
		p.asked = slices.DeleteFunc(p.asked, func(o *want) bool { return o.at != p })
	}
	p.asked = append(p.asked, w)
	p.q.want(w.c)
}

// askFallback asks the fallback session for ws, and hands what it
// delivers to received.
func (s *Session) askFallback(ws []*want) {
	if s.fallback == nil {
		return
	}
	if s.fb == nil {
		s.fb = s.fallback(s.ctx)
	}
	keys := make([]cid.Cid, len(ws))
	for i, w := range ws {
		keys[i] = w.c
	}
	fb := s.fb
	go func() {
		ch, err := fb.GetBlocks(s.ctx, keys)
		if err != nil {
			return
		}
		for b := range ch {
			s.n.mu.Lock()
			if s.wants[string(b.Cid().Hash())] != nil {
				s.received(b, "")
				s.schedule()
			}
			s.n.mu.Unlock()
		}
	}()
}

// peerQueue sends one peer the wants and cancels of every session, on a
// goroutine of its own, each key's latest in the next message.
type peerQueue struct {
	n     *Network
	id    peer.ID
	users int            // sessions that have the peer
	refs  map[string]int // multihash → sessions with a want at the peer
	// pending are the entries not yet sent: true for a want, false for a
	// cancel; order has their keys in the order they were queued, so
	// that wants asked first get the higher priorities.
	pending map[cid.Cid]bool
	order   []cid.Cid
	prio    int32 // the next want's priority: earlier wants come first
	signal  chan struct{}
	running bool
	// starved says that a session held wants back because the peer had
	// maxPeerWants: it is scheduled again once there is room.
	starved bool
}

// full reports whether the peer has maxPeerWants outstanding.
func (q *peerQueue) full() bool { return len(q.refs) >= maxPeerWants }

func newPeerQueue(n *Network, id peer.ID) *peerQueue {
	return &peerQueue{n: n, id: id, refs: map[string]int{}, pending: map[cid.Cid]bool{}, prio: math.MaxInt32, signal: make(chan struct{}, 1)}
}

// want queues a want-block for c.
func (q *peerQueue) want(c cid.Cid) {
	q.refs[string(c.Hash())]++
	q.pending[c] = true
	q.order = append(q.order, c)
	q.wake()
}

// release drops a session's want of c; with cancel, and no other session
// wanting c of the peer, the peer is told to cancel it.
func (q *peerQueue) release(c cid.Cid, cancel bool) {
	key := string(c.Hash())
	if q.refs[key]--; q.refs[key] > 0 {
		return
	}
	delete(q.refs, key)
	if !cancel {
		delete(q.pending, c)
		return
	}
	if q.pending[c] {
		delete(q.pending, c) // never sent
	} else {
		q.pending[c] = false
		q.order = append(q.order, c)
	}
	q.wake()
}

// forgetAll drops every want: the peer went, and forgot them.
func (q *peerQueue) forgetAll() {
	clear(q.refs)
	clear(q.pending)
	q.order = q.order[:0]
}

// wake starts the sender, or tells it there is more.
func (q *peerQueue) wake() {
	if !q.running {
		q.running = true
		go q.run()
		return
	}
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// senderOpts are the message sender's: a want that cannot be sent in a
// few tries is moved to another peer.
var senderOpts = &bsnetwork.MessageSenderOpts{MaxRetries: 2, SendTimeout: 30 * time.Second, SendErrorBackoff: 100 * time.Millisecond}

// linger is how long a peer's sender stays after its last session ended:
// the next session of the peer (the next pin from the same origins) uses
// the same stream, and the stream is reset only long after its last
// cancels were read (a reset can drop what the peer has not read yet).
const linger = 30 * time.Second

// run sends what is pending until nothing has been for linger and no
// session has the peer.
func (q *peerQueue) run() {
	n := q.n
	var sender bsnetwork.MessageSender
	defer func() {
		if sender != nil {
			sender.Reset()
		}
	}()
	idle := time.NewTimer(linger)
	defer idle.Stop()
	lingered := false
	for {
		n.mu.Lock()
		if len(q.pending) == 0 {
			if q.users == 0 && lingered || n.ctx.Err() != nil {
				if n.peers[q.id] == q {
					delete(n.peers, q.id)
				}
				q.running = false
				n.mu.Unlock()
				return
			}
			users := q.users
			n.mu.Unlock()
			if users > 0 {
				lingered = false
			} else if !lingered {
				idle.Reset(linger)
			}
			select {
			case <-q.signal:
			case <-idle.C:
				lingered = true
			case <-n.ctx.Done():
			}
			continue
		}
		msg := bsmsg.New(false)
		for _, c := range q.order {
			isWant, ok := q.pending[c]
			if !ok {
				continue // dropped, or already in this message
			}
			delete(q.pending, c)
			if isWant {
				msg.AddEntry(c, q.prio, pb.Message_Wantlist_Block, true)
				q.prio = max(q.prio-1, 1)
			} else {
				msg.Cancel(c)
			}
		}
		clear(q.order)
		q.order = q.order[:0]
		n.mu.Unlock()

		var err error
		if sender == nil {
			sender, err = n.NewMessageSender(n.ctx, q.id, senderOpts)
		}
		if err == nil {
			err = sender.SendMsg(n.ctx, msg)
		}
		if err != nil {
			if sender != nil {
				sender.Reset()
				sender = nil
			}
			// The peer cannot be reached: its sessions ask the others.
			n.setUp(q.id, false)
		}
	}
}
