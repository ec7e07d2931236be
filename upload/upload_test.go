package upload_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/multiformats/go-multicodec"
	"github.com/multiformats/go-multihash"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/gc"
	"github.com/tack-ipfs/tack/internal/cartest"
	"github.com/tack-ipfs/tack/sqlite"
	"github.com/tack-ipfs/tack/sqlite/sqlitetest"
	"github.com/tack-ipfs/tack/upload"
)

// env is an Importer over a real SQLite store and a real on-disk
// blockstore.
type env struct {
	db    *sqlite.DB
	bs    *blockstore.Local
	im    *upload.Importer
	notes *notes
}

// notes counts what an Importer tells its Notifier.
type notes struct {
	mu     sync.Mutex
	queued int
}

func (n *notes) Queued()        { n.mu.Lock(); n.queued++; n.mu.Unlock() }
func (n *notes) Removed(string) {}

func (n *notes) get() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.queued
}

// newEnv returns an Importer with the limits of accounts that have none.
func newEnv(tb testing.TB, limits tack.Limits) *env {
	tb.Helper()
	db := sqlitetest.MustOpen(tb)
	bs, err := blockstore.OpenLocal(filepath.Join(tb.TempDir(), "blocks"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { bs.Close() })
	guard, err := gc.NewGuard(bs, db)
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{db: db, bs: bs, notes: &notes{}}
	e.im = &upload.Importer{Store: db, Guard: guard, Sync: bs.Sync, Limits: limits, Notifier: e.notes}
	return e
}

// MustAccount creates an account with pinning access.
func (e *env) MustAccount(tb testing.TB, email string) *tack.Account {
	tb.Helper()
	a := &tack.Account{Email: email, Access: tack.AccessApproved}
	if err := e.db.CreateAccount(context.Background(), a); err != nil {
		tb.Fatal(err)
	}
	return a
}

// MustImport imports the CAR and returns the requests.
func (e *env) MustImport(tb testing.TB, acct *tack.Account, car []byte, opts tack.UploadOptions) []*tack.PinRequest {
	tb.Helper()
	reqs, err := e.im.Import(context.Background(), acct, bytes.NewReader(car), opts)
	if err != nil {
		tb.Fatalf("import: %v", err)
	}
	return reqs
}

// MustRefuse imports the CAR, expects a refusal with the code, and returns
// its message.
func (e *env) MustRefuse(tb testing.TB, acct *tack.Account, r io.Reader, code string) string {
	tb.Helper()
	reqs, err := e.im.Import(context.Background(), acct, r, tack.UploadOptions{})
	if err == nil {
		tb.Fatalf("imported %d requests, want a refusal (%s)", len(reqs), code)
	}
	var te *tack.Error
	if !errors.As(err, &te) || te.Code != code {
		tb.Fatalf("got %v, want a *tack.Error with code %s", err, code)
	}
	return te.Message
}

// MustPins returns the account's requests.
func (e *env) MustPins(tb testing.TB, acct *tack.Account) []*tack.PinRequest {
	tb.Helper()
	reqs, _, err := e.db.FindPins(context.Background(), tack.PinFilter{AccountID: acct.ID, Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	return reqs
}

func TestImportWhole(t *testing.T) {
	e := newEnv(t, tack.Limits{})
	acct := e.MustAccount(t, "a@example.com")
	root, all := cartest.DAG(t, 20, 3000)
	opts := tack.UploadOptions{Name: "photos", Meta: map[string]string{"app": "test"}}
	reqs := e.MustImport(t, acct, cartest.CAR(t, []cid.Cid{root.Cid()}, all...), opts)
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	want := int64(0)
	for _, b := range all {
		want += int64(len(b.RawData()))
		got, err := e.bs.Get(context.Background(), b.Cid())
		if err != nil || !bytes.Equal(got.RawData(), b.RawData()) {
			t.Errorf("block %s: %v", b.Cid(), err)
		}
	}
	if r := reqs[0]; r.Status != tack.StatusPinned || r.Pin.CID != root.Cid().String() || r.Pin.Name != "photos" || r.Pin.Meta["app"] != "test" || r.Blocks != 21 || r.Bytes != want {
		t.Errorf("got %+v, want pinned %s named photos with meta, 21 blocks and %d bytes", r, root.Cid(), want)
	}
	if d, err := e.db.FindDAG(context.Background(), tack.ContentKey(root.Cid())); err != nil || d.Blocks != 21 {
		t.Errorf("FindDAG: %+v, %v", d, err)
	}
	if n := e.notes.get(); n != 0 {
		t.Errorf("the pinner was told of %d queued requests, want none", n)
	}
}

func TestImportPartialThenSharded(t *testing.T) {
	e := newEnv(t, tack.Limits{})
	acct := e.MustAccount(t, "a@example.com")
	root, all := cartest.DAG(t, 10, 1000)
	roots := []cid.Cid{root.Cid()}

	// The first shard: the root and half the leaves.
	first := e.MustImport(t, acct, cartest.CAR(t, roots, all[:6]...), tack.UploadOptions{Origins: []string{"/ip4/198.51.100.7/tcp/4001"}})[0]
	if first.Status != tack.StatusQueued || len(first.Pin.Origins) != 1 {
		t.Fatalf("first shard: got %+v, want queued with the origin", first)
	}
	if n := e.notes.get(); n != 1 {
		t.Errorf("the pinner was told of %d queued requests, want 1", n)
	}
	// Its blocks are kept for the DAG while it is incomplete.
	kept := 0
	if err := e.db.KeptUploadHashes(context.Background(), tack.ContentKey(root.Cid()), func(hs []uint64) error {
		kept += len(hs)
		return nil
	}); err != nil || kept < 6 {
		t.Errorf("keep list: %d blocks (%v), want 6 at least", kept, err)
	}

	// The second shard: the root again and the other leaves. The same
	// request becomes pinned.
	second := e.MustImport(t, acct, cartest.CAR(t, roots, append([]blocks.Block{root}, all[6:]...)...), tack.UploadOptions{})[0]
	if second.ID != first.ID || second.Status != tack.StatusPinned || second.Blocks != 11 {
		t.Errorf("second shard: got %+v, want request %s pinned with 11 blocks", second, first.ID)
	}
	if reqs := e.MustPins(t, acct); len(reqs) != 1 {
		t.Errorf("got %d requests, want 1", len(reqs))
	}
}

// Shards of one DAG imported at once make one request, pinned.
func TestImportShardsAtOnce(t *testing.T) {
	e := newEnv(t, tack.Limits{})
	acct := e.MustAccount(t, "a@example.com")
	for round := range 5 {
		root, all := cartest.DAG(t, 400, 1000+round)
		roots := []cid.Cid{root.Cid()}
		shards := [][]byte{
			cartest.CAR(t, roots, all[:200]...),
			cartest.CAR(t, roots, all[200:]...),
		}
		type result struct {
			reqs []*tack.PinRequest
			err  error
		}
		done := make(chan result, 2)
		for _, sh := range shards {
			go func() {
				reqs, err := e.im.Import(context.Background(), acct, bytes.NewReader(sh), tack.UploadOptions{})
				done <- result{reqs, err}
			}()
		}
		ids := map[string]tack.Status{}
		for range shards {
			r := <-done
			if r.err != nil {
				t.Fatalf("round %d: %v", round, r.err)
			}
			ids[r.reqs[0].ID] = r.reqs[0].Status
		}
		reqs, _, err := e.db.FindPins(context.Background(), tack.PinFilter{AccountID: acct.ID, Keys: []string{tack.ContentKey(root.Cid())}, Limit: 10})
		if err != nil || len(ids) != 1 || len(reqs) != 1 || reqs[0].Status != tack.StatusPinned {
			t.Fatalf("round %d: answers %v, requests %v (%v); want one, pinned", round, ids, reqs, err)
		}
	}
}

func TestImportRefused(t *testing.T) {
	e := newEnv(t, tack.Limits{})
	acct := e.MustAccount(t, "a@example.com")
	root, all := cartest.DAG(t, 3, 100)
	roots := []cid.Cid{root.Cid()}
	good := cartest.CAR(t, roots, all...)
	withSection := func(sec []byte) []byte {
		return append(append(cartest.CAR(t, roots, all[:2]...), sec...), cartest.CAR(t, roots, all[2:]...)[len(cartest.Header(t, roots...)):]...)
	}
	big := make([]byte, tack.MaxBlockSize+1)
	md5, _ := multihash.Sum([]byte("x"), multihash.MD5, -1)
	short, _ := multihash.Sum([]byte("x"), multihash.SHA2_256, 16)
	short20, _ := multihash.Sum([]byte("x"), multihash.SHA2_256, 20)
	v2 := func() []byte {
		// A CARv2 whose inner CARv1 is cut short.
		var buf bytes.Buffer
		buf.Write(car.Pragma)
		h := car.NewHeader(uint64(len(good)))
		h.WriteTo(&buf)
		buf.Write(good[:len(good)-10])
		return buf.Bytes()
	}()
	for _, tc := range []struct {
		name, body string
		want       []string // in the message
	}{
		{"hash mismatch", string(withSection(cartest.Section(cartest.Raw(t, []byte("a")).Cid(), []byte("b")))), []string{"block #2", cartest.Raw(t, []byte("a")).Cid().String(), "does not match"}},
		{"git-raw", string(withSection(cartest.Section(cartest.CID(t, multicodec.GitRaw, []byte("blob 1\x00a")), []byte("blob 1\x00a")))), []string{"block #2", "git-raw"}},
		{"dag-jose", string(withSection(cartest.Section(cartest.CID(t, multicodec.DagJose, []byte{0xa0}), []byte{0xa0}))), []string{"block #2", "dag-jose"}},
		{"over 2 MiB", string(withSection(cartest.Section(cartest.CID(t, multicodec.Raw, big), big))), []string{"block #2", cartest.CID(t, multicodec.Raw, big).String(), "2097153 bytes"}},
		{"insecure hash", string(withSection(cartest.Section(cid.NewCidV1(cid.Raw, md5), []byte("x")))), []string{"block #2", "md5"}},
		{"short digest", string(withSection(cartest.Section(cid.NewCidV1(cid.Raw, short), []byte("x")))), []string{"block #2", "16 bytes"}},
		{"sha2-256 truncated to 20 bytes", string(withSection(cartest.Section(cid.NewCidV1(cid.Raw, short20), []byte("x")))), []string{"block #2", "20 bytes", "sha2-256 digests are 32 bytes"}},
		{"identity too long", string(withSection(cartest.Section(cartest.Identity(t, make([]byte, 129)), make([]byte, 129)))), []string{"block #2", "identity", "129 bytes"}},
		{"links to git-raw", string(cartest.CAR(t, []cid.Cid{cartest.Node(t, 1, cartest.CID(t, multicodec.GitRaw, []byte("x"))).Cid()}, cartest.Node(t, 1, cartest.CID(t, multicodec.GitRaw, []byte("x"))))), []string{"links to", "git-raw"}},
		{"not cbor", string(cartest.CAR(t, []cid.Cid{cartest.CID(t, multicodec.DagCbor, []byte{0xff})}, cartest.Block(t, cartest.CID(t, multicodec.DagCbor, []byte{0xff}), []byte{0xff}))), []string{"block #0", "dag-cbor"}},
		{"empty body", "", []string{"empty", "application/vnd.ipld.car"}},
		{"not a CAR", "hello, world", []string{"not a CAR"}},
		{"bad header", string(append([]byte{5}, 1, 2, 3, 4, 5)), []string{"not a CAR"}},
		{"zero roots", string(cartest.CAR(t, nil, all...)), []string{"no roots"}},
		{"root of a refused codec", string(cartest.CAR(t, []cid.Cid{cartest.CID(t, multicodec.GitRaw, []byte("x"))}, all...)), []string{"root #0", "git-raw"}},
		{"no blocks", string(cartest.Header(t, roots...)), []string{"no blocks"}},
		{"truncated in a block", string(good[:len(good)-10]), []string{"block #3", "ends after"}},
		{"truncated in a section header", string(append(good, 0x80)), []string{"block #4"}},
		{"truncated CARv2", string(v2), []string{"block #3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := e.MustRefuse(t, acct, strings.NewReader(tc.body), tack.EINVALID)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not name %q", msg, w)
				}
			}
			if reqs := e.MustPins(t, acct); len(reqs) != 0 {
				t.Errorf("a refused upload made %d requests", len(reqs))
			}
		})
	}
}

// failingBody is a Body that sends head, then fails: Read with a plain
// error, Err with the reason.
type failingBody struct {
	head   []byte
	reason error
	failed bool
}

func (b *failingBody) Read(p []byte) (int, error) {
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	b.failed = true
	return 0, errors.New("connection reset by peer")
}

func (b *failingBody) Err() error {
	if b.failed {
		return b.reason
	}
	return nil
}

// A Body that fails is refused with its own error, whatever the failure
// did to the CAR, and the blocks read before it are taken back.
func TestImportBodyFails(t *testing.T) {
	e := newEnv(t, tack.Limits{})
	acct := e.MustAccount(t, "a@example.com")
	root, all := cartest.DAG(t, 40, 100_000) // more than one arena
	body := cartest.CAR(t, []cid.Cid{root.Cid()}, all...)
	tooLarge := tack.Errorf(tack.ETOOLARGE, "the upload is over the limit")
	for _, cut := range []int{0, 30, len(body) / 2, len(body) - 1} {
		if msg := e.MustRefuse(t, acct, &failingBody{head: body[:cut], reason: tooLarge}, tack.ETOOLARGE); msg != tooLarge.Message {
			t.Errorf("cut at %d: got %q, want the body's error", cut, msg)
		}
		if n := cartest.Stored(t, e.bs, all); n != 0 {
			t.Errorf("cut at %d: %d blocks of the failed upload are still stored", cut, n)
		}
	}
	if reqs := e.MustPins(t, acct); len(reqs) != 0 {
		t.Errorf("failed uploads made %d requests", len(reqs))
	}
}

func TestImportPendingLimit(t *testing.T) {
	e := newEnv(t, tack.Limits{MaxPending: 1})
	e.db.Limits = tack.Limits{MaxPending: 1}
	acct := e.MustAccount(t, "a@example.com")
	root, all := cartest.DAG(t, 4, 100)
	partial := cartest.CAR(t, []cid.Cid{root.Cid()}, all[:2]...)
	if r := e.MustImport(t, acct, partial, tack.UploadOptions{})[0]; r.Status != tack.StatusQueued {
		t.Fatalf("got %s, want queued", r.Status)
	}
	// The same root again reuses the request: no second pending one.
	e.MustImport(t, acct, partial, tack.UploadOptions{})
	// Another incomplete DAG would be a second pending request.
	other, all2 := cartest.DAG(t, 4, 101)
	e.MustRefuse(t, acct, bytes.NewReader(cartest.CAR(t, []cid.Cid{other.Cid()}, all2[:2]...)), tack.EQUOTA)
	// Two roots, the second over the limit: the first's new request is
	// deleted again, the upload stores none.
	third, all3 := cartest.DAG(t, 2, 102)
	e.MustRefuse(t, acct, bytes.NewReader(cartest.CAR(t, []cid.Cid{third.Cid(), other.Cid()}, append(all3, all2[:2]...)...)), tack.EQUOTA)
	if reqs := e.MustPins(t, acct); len(reqs) != 1 {
		t.Errorf("got %d requests, want 1", len(reqs))
	}
}

// A DAG deeper than tack.MaxDAGDepth is refused with the limit named, a
// diamond too, whose shared blocks a walk that took each block at the
// depth it first met it would find near the root; one exactly that deep is
// pinned.
func TestImportTooDeep(t *testing.T) {
	e := newEnv(t, tack.Limits{})
	acct := e.MustAccount(t, "a@example.com")
	for _, bs := range [][]blocks.Block{cartest.Chain(t, tack.MaxDAGDepth+1), cartest.Diamond(t, tack.MaxDAGDepth+1), cartest.Chain(t, 20_000)} {
		msg := e.MustRefuse(t, acct, bytes.NewReader(cartest.CAR(t, []cid.Cid{bs[0].Cid()}, bs...)), tack.EINVALID)
		if !strings.Contains(msg, "deeper than 1024 links") {
			t.Errorf("message %q does not name the limit", msg)
		}
	}
	if reqs := e.MustPins(t, acct); len(reqs) != 0 {
		t.Errorf("refused uploads made %d requests", len(reqs))
	}
	for _, bs := range [][]blocks.Block{cartest.Chain(t, tack.MaxDAGDepth), cartest.Diamond(t, tack.MaxDAGDepth)} {
		r := e.MustImport(t, acct, cartest.CAR(t, []cid.Cid{bs[0].Cid()}, bs...), tack.UploadOptions{})[0]
		if r.Status != tack.StatusPinned || r.Blocks != int64(len(bs)) {
			t.Errorf("got %s with %d blocks, want pinned with %d", r.Status, r.Blocks, len(bs))
		}
	}
}

// A refused upload takes back the blocks it stored, by the time it
// answers, except a block that a pinned DAG holds too, and blocks that
// were stored before it.
func TestImportRefusedLeavesNoBlocks(t *testing.T) {
	e := newEnv(t, tack.Limits{})
	acct := e.MustAccount(t, "a@example.com")
	root, all := cartest.DAG(t, 40, 100_000) // 4 MB: more than one arena
	leaves := all[1:]
	// A pinned DAG shares the first leaf.
	pinned := cartest.Node(t, 1, leaves[0].Cid())
	e.MustImport(t, acct, cartest.CAR(t, []cid.Cid{pinned.Cid()}, pinned, leaves[0]), tack.UploadOptions{})
	// A block stored outside any upload, before: not the upload's to take.
	if err := e.bs.Put(context.Background(), leaves[1]); err != nil {
		t.Fatal(err)
	}

	bad := cartest.Section(cartest.Raw(t, []byte("a")).Cid(), []byte("b"))
	git := cartest.Node(t, 9, cartest.CID(t, multicodec.GitRaw, []byte("x")))
	chain := cartest.Chain(t, tack.MaxDAGDepth+1)
	for _, tc := range []struct {
		name  string
		body  []byte
		check []blocks.Block // blocks the upload stored new
	}{
		{"a block that does not match its hash", append(cartest.CAR(t, []cid.Cid{root.Cid()}, all...), bad...), leaves[2:]},
		// Refused by the walk, once every block is stored.
		{"a second root linking to git-raw", cartest.CAR(t, []cid.Cid{root.Cid(), git.Cid()}, append(all, git)...), append([]blocks.Block{root, git}, leaves[2:]...)},
		{"too deep", cartest.CAR(t, []cid.Cid{chain[0].Cid()}, append(chain, all...)...), append(chain, leaves[2:]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.MustRefuse(t, acct, bytes.NewReader(tc.body), tack.EINVALID)
			if n := cartest.Stored(t, e.bs, tc.check); n != 0 {
				t.Errorf("%d of the %d blocks the refused upload stored are still stored", n, len(tc.check))
			}
			if n := cartest.Stored(t, e.bs, leaves[:2]); n != 2 {
				t.Errorf("the refused upload deleted a block that was stored before it (%d of 2 left)", n)
			}
		})
	}
}

// The blocks of an incomplete upload count against the account's storage
// limit while its request waits: a CAR that lacks one block cannot be
// sent again and again past the limit. Once the request is deleted they
// stop counting; once the DAG is whole its size counts instead.
func TestImportQuotaCountsKept(t *testing.T) {
	const limit = 2 << 20
	e := newEnv(t, tack.Limits{MaxBytes: limit})
	e.db.Limits = tack.Limits{MaxBytes: limit}
	acct := e.MustAccount(t, "a@example.com")
	ctx := context.Background()
	incomplete := func(seed int) (root blocks.Block, all []blocks.Block, body []byte) {
		root, all = cartest.DAG(t, 15, 100_000+seed) // 1.5 MB
		return root, all, cartest.CAR(t, []cid.Cid{root.Cid()}, all[:len(all)-1]...)
	}
	root1, all1, body1 := incomplete(1)
	r := e.MustImport(t, acct, body1, tack.UploadOptions{})[0]
	if r.Status != tack.StatusQueued {
		t.Fatalf("got %s, want queued", r.Status)
	}
	u, err := e.db.FindUsage(ctx, acct.ID)
	if err != nil || u.Kept < 14*100_000 || u.Bytes != 0 {
		t.Fatalf("usage after an incomplete upload: %+v, %v; want its 1.4 MB kept", u, err)
	}
	// A second incomplete DAG does not fit beside the first.
	_, _, body2 := incomplete(2)
	if msg := e.MustRefuse(t, acct, bytes.NewReader(body2), tack.EQUOTA); !strings.Contains(msg, "incomplete uploads") {
		t.Errorf("message %q does not say that incomplete uploads hold the room", msg)
	}
	// The missing block completes the first: its size counts instead.
	r = e.MustImport(t, acct, cartest.CAR(t, []cid.Cid{root1.Cid()}, all1[len(all1)-1]), tack.UploadOptions{})[0]
	if r.Status != tack.StatusPinned {
		t.Fatalf("got %s, want pinned", r.Status)
	}
	if u, _ := e.db.FindUsage(ctx, acct.ID); u.Kept != 0 || u.Bytes < 15*100_000 {
		t.Fatalf("usage once the DAG is whole: %+v; want its size pinned, nothing kept", u)
	}
	// Deleting the pin makes room; a given-up incomplete upload frees its
	// room too.
	if err := e.db.DeletePin(ctx, acct.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	r = e.MustImport(t, acct, body2, tack.UploadOptions{})[0]
	e.MustRefuse(t, acct, bytes.NewReader(body1), tack.EQUOTA)
	if err := e.db.DeletePin(ctx, acct.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	if u, _ := e.db.FindUsage(ctx, acct.ID); u.Stored() != 0 {
		t.Fatalf("usage after every request was deleted: %+v, want nothing", u)
	}
	e.MustImport(t, acct, body1, tack.UploadOptions{})
}
