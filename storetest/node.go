package storetest

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
)

func testSaveFindNodes(t *testing.T, s tack.Store) {
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	started := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	a := &tack.Node{ID: "12D3KooWA", Addrs: []string{"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWA"}, Blocks: "s3://b/p", Started: started}
	b := &tack.Node{ID: "12D3KooWB", Addrs: []string{}, Blocks: "local", Started: started, Collection: 3}
	for _, n := range []*tack.Node{b, a} {
		if err := s.SaveNode(ctx, n); err != nil {
			t.Fatalf("SaveNode: %v", err)
		}
		if n.Seen.Before(before) {
			t.Errorf("SaveNode set Seen = %v, want about now", n.Seen)
		}
	}
	if err := s.SaveNode(ctx, &tack.Node{}); tack.ErrorCode(err) != tack.EINVALID {
		t.Errorf("SaveNode without an ID: err = %v, want EINVALID", err)
	}
	nodes, err := s.FindNodes(ctx, before)
	if err != nil {
		t.Fatalf("FindNodes: %v", err)
	}
	if len(nodes) != 2 || nodes[0].ID != a.ID || nodes[1].ID != b.ID {
		t.Fatalf("FindNodes = %+v, want a and b by ID", nodes)
	}
	got := nodes[0]
	if !slices.Equal(got.Addrs, a.Addrs) || got.Blocks != a.Blocks || !got.Started.Equal(started) || got.Collection != 0 {
		t.Errorf("FindNodes a = %+v, want %+v", got, a)
	}
	if nodes[1].Collection != 3 || len(nodes[1].Addrs) != 0 {
		t.Errorf("FindNodes b = %+v, want collection 3 and no addresses", nodes[1])
	}

	// A save replaces the record; nodes not seen since are left out.
	a.Collection = 4
	a.Addrs = []string{"/ip4/10.0.0.1/udp/4001/quic-v1/p2p/12D3KooWA"}
	if err := s.SaveNode(ctx, a); err != nil {
		t.Fatal(err)
	}
	nodes, err = s.FindNodes(ctx, a.Seen)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].ID != a.ID || nodes[0].Collection != 4 || !slices.Equal(nodes[0].Addrs, a.Addrs) {
		t.Errorf("FindNodes since the last save = %+v, want a alone, updated", nodes)
	}

	if err := s.DeleteNode(ctx, a.ID); err != nil {
		t.Fatalf("DeleteNode: %v", err)
	}
	if err := s.DeleteNode(ctx, a.ID); err != nil {
		t.Fatalf("DeleteNode again: %v", err)
	}
	nodes, err = s.FindNodes(ctx, before)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].ID != b.ID {
		t.Errorf("FindNodes after DeleteNode = %+v, want b alone", nodes)
	}
}

func testCollection(t *testing.T, s tack.Store) {
	ctx := t.Context()
	now := time.Now()
	if c, err := s.RunningCollection(ctx, now); err != nil || c != nil {
		t.Fatalf("RunningCollection on a new store = %+v, %v, want none", c, err)
	}
	c1, err := s.BeginCollection(ctx, "n1", now.Add(time.Minute))
	if err != nil {
		t.Fatalf("BeginCollection: %v", err)
	}
	if c1.Epoch < 1 || c1.Node != "n1" || c1.Started.IsZero() {
		t.Errorf("BeginCollection = %+v", c1)
	}
	if _, err := s.BeginCollection(ctx, "n2", now.Add(time.Minute)); tack.ErrorCode(err) != tack.ECONFLICT {
		t.Fatalf("BeginCollection while one runs: err = %v, want ECONFLICT", err)
	}
	got, err := s.RunningCollection(ctx, now)
	if err != nil || got == nil || got.Epoch != c1.Epoch || got.Node != "n1" || !got.Until.Equal(now.Add(time.Minute).Truncate(time.Microsecond)) {
		t.Fatalf("RunningCollection = %+v, %v, want %+v", got, err, c1)
	}
	if err := s.RenewCollection(ctx, "n1", c1.Epoch, now.Add(2*time.Minute)); err != nil {
		t.Fatalf("RenewCollection: %v", err)
	}
	if err := s.RenewCollection(ctx, "n2", c1.Epoch, now.Add(2*time.Minute)); tack.ErrorCode(err) != tack.ENOTFOUND {
		t.Errorf("RenewCollection by another node: err = %v, want ENOTFOUND", err)
	}
	// Past its lease, the collection is over for everyone, and another
	// node may begin one; the first node's renewal then fails.
	later := now.Add(3 * time.Minute)
	if c, err := s.RunningCollection(ctx, later); err != nil || c != nil {
		t.Fatalf("RunningCollection past the lease = %+v, %v, want none", c, err)
	}
	if err := s.RenewCollection(ctx, "n1", c1.Epoch, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.RenewCollection(ctx, "n1", c1.Epoch, time.Now().Add(time.Minute)); tack.ErrorCode(err) != tack.ENOTFOUND {
		t.Errorf("RenewCollection after the lease ran out: err = %v, want ENOTFOUND", err)
	}
	c2, err := s.BeginCollection(ctx, "n2", now.Add(time.Minute))
	if err != nil {
		t.Fatalf("BeginCollection after a lease expired: %v", err)
	}
	if c2.Epoch <= c1.Epoch {
		t.Errorf("epochs %d then %d, want increasing", c1.Epoch, c2.Epoch)
	}
	if err := s.RenewCollection(ctx, "n1", c1.Epoch, now.Add(time.Minute)); tack.ErrorCode(err) != tack.ENOTFOUND {
		t.Errorf("RenewCollection of an expired epoch: err = %v, want ENOTFOUND", err)
	}
	if err := s.EndCollection(ctx, "n1", c1.Epoch); err != nil {
		t.Fatalf("EndCollection of an old epoch: %v", err)
	}
	if c, _ := s.RunningCollection(ctx, now); c == nil || c.Epoch != c2.Epoch {
		t.Fatalf("ending an old epoch ended the running one: %+v", c)
	}
	if err := s.EndCollection(ctx, "n2", c2.Epoch); err != nil {
		t.Fatalf("EndCollection: %v", err)
	}
	if c, err := s.RunningCollection(ctx, now); err != nil || c != nil {
		t.Fatalf("RunningCollection after EndCollection = %+v, %v", c, err)
	}
	c3, err := s.BeginCollection(ctx, "n1", now.Add(time.Minute))
	if err != nil || c3.Epoch <= c2.Epoch {
		t.Fatalf("BeginCollection after an end = %+v, %v", c3, err)
	}
}

// Nodes that begin collections at once: exactly one wins.
func testCollectionConcurrent(t *testing.T, s tack.Store) {
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, err := s.BeginCollection(t.Context(), string(rune('a'+i)), time.Now().Add(time.Minute))
			switch tack.ErrorCode(err) {
			case "":
				won.Add(1)
			case tack.ECONFLICT:
			default:
				t.Errorf("BeginCollection: %v", err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d concurrent collections began, want 1", won.Load())
	}
}

func testCollectionKeeps(t *testing.T, s tack.Store) {
	ctx := t.Context()
	c, err := s.BeginCollection(ctx, "n1", time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// Keys span the whole 64-bit range, repeat, and fill several pages.
	var want []uint64
	for i := range uint64(1200) {
		want = append(want, i*0x9E3779B97F4A7C15)
	}
	if err := s.KeepForCollection(ctx, c.Epoch, want[:700]); err != nil {
		t.Fatalf("KeepForCollection: %v", err)
	}
	if err := s.KeepForCollection(ctx, c.Epoch, want[600:]); err != nil {
		t.Fatalf("KeepForCollection of overlapping keys: %v", err)
	}
	if err := s.KeepForCollection(ctx, c.Epoch+1, []uint64{42}); err != nil {
		t.Fatal(err)
	}
	keeps := func(epoch int64) []uint64 {
		t.Helper()
		got := []uint64{}
		if err := s.CollectionKeeps(ctx, epoch, func(keys []uint64) error {
			got = append(got, keys...)
			return nil
		}); err != nil {
			t.Fatalf("CollectionKeeps: %v", err)
		}
		slices.Sort(got)
		return got
	}
	slices.Sort(want)
	if got := keeps(c.Epoch); !slices.Equal(got, want) {
		t.Fatalf("CollectionKeeps returned %d keys, want the %d kept", len(got), len(want))
	}
	if got := keeps(c.Epoch + 1); !slices.Equal(got, []uint64{42}) {
		t.Fatalf("CollectionKeeps of the next epoch = %v, want [42]", got)
	}
	if err := s.EndCollection(ctx, "n1", c.Epoch); err != nil {
		t.Fatal(err)
	}
	if got := keeps(c.Epoch); len(got) != 0 {
		t.Fatalf("CollectionKeeps after EndCollection: %d keys, want none", len(got))
	}
	if got := keeps(c.Epoch + 1); len(got) != 1 {
		t.Fatalf("EndCollection forgot a later epoch's keys: %v", got)
	}
}

func testUploadKeeps(t *testing.T, s tack.Store) {
	ctx := t.Context()
	if ks, err := s.FindKeptUploads(ctx); err != nil || len(ks) != 0 {
		t.Fatalf("FindKeptUploads on a new store = %v, %v", ks, err)
	}
	var many []uint64
	for i := range uint64(1200) {
		many = append(many, i*0x9E3779B97F4A7C15)
	}
	before := time.Now().Add(-time.Second)
	if err := s.KeepUpload(ctx, 0, "bafyb", hashesOnly(many[:700])); err != nil {
		t.Fatalf("KeepUpload: %v", err)
	}
	if err := s.KeepUpload(ctx, 0, "bafyb", hashesOnly(many[600:])); err != nil {
		t.Fatalf("KeepUpload of overlapping blocks: %v", err)
	}
	if err := s.KeepUpload(ctx, 0, "bafya", hashesOnly([]uint64{7, 1 << 63})); err != nil {
		t.Fatal(err)
	}
	kept := func(key string) []uint64 {
		t.Helper()
		got := []uint64{}
		if err := s.KeptUploadHashes(ctx, key, func(hs []uint64) error {
			got = append(got, hs...)
			return nil
		}); err != nil {
			t.Fatalf("KeptUploadHashes: %v", err)
		}
		slices.Sort(got)
		return got
	}
	want := slices.Clone(many)
	slices.Sort(want)
	if got := kept("bafyb"); !slices.Equal(got, want) {
		t.Fatalf("KeptUploadHashes(bafyb) returned %d hashes, want the %d kept", len(got), len(want))
	}
	if got := kept("bafya"); !slices.Equal(got, []uint64{7, 1 << 63}) {
		t.Fatalf("KeptUploadHashes(bafya) = %v", got)
	}
	ks, err := s.FindKeptUploads(ctx)
	if err != nil || len(ks) != 2 || ks[0].Key != "bafya" || ks[1].Key != "bafyb" || ks[0].Added.Before(before) {
		t.Fatalf("FindKeptUploads = %+v, %v, want bafya and bafyb, added now", ks, err)
	}

	// Forgetting spares what was added at or after the time given.
	cut := time.Now()
	time.Sleep(2 * time.Millisecond)
	if err := s.KeepUpload(ctx, 0, "bafyb", hashesOnly([]uint64{many[0], 99})); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetKeptUpload(ctx, "bafyb", cut); err != nil {
		t.Fatalf("ForgetKeptUpload: %v", err)
	}
	if got := kept("bafyb"); !slices.Equal(got, []uint64{0, 99}) {
		t.Fatalf("after ForgetKeptUpload, bafyb keeps %v, want the two added since", got)
	}
	if err := s.ForgetKeptUpload(ctx, "bafya", time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if ks, _ := s.FindKeptUploads(ctx); len(ks) != 1 || ks[0].Key != "bafyb" {
		t.Fatalf("FindKeptUploads after forgetting bafya = %+v", ks)
	}
}

// hashesOnly returns kept blocks of the hashes, of unknown size.
func hashesOnly(hs []uint64) []tack.KeptBlock {
	out := make([]tack.KeptBlock, len(hs))
	for i, h := range hs {
		out[i] = tack.KeptBlock{Hash: h}
	}
	return out
}

// testUploadKeepUsage: what an account's uploads keep counts in its usage
// (Kept) while it has a queued or pinning request for the DAG, each block
// once, and is forgotten, for that account only, when its last such
// request is pinned, fails or is deleted.
func testUploadKeepUsage(t *testing.T, s tack.Store) {
	ctx := t.Context()
	a := MustCreateAccount(t, s, "a@example.com")
	b := MustCreateAccount(t, s, "b@example.com")
	usage := func(id int64) *tack.Usage {
		t.Helper()
		u, err := s.FindUsage(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	hashes := func(key string) int {
		t.Helper()
		n := 0
		if err := s.KeptUploadHashes(ctx, key, func(hs []uint64) error { n += len(hs); return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	keep := func(acct int64, key string, blocks ...tack.KeptBlock) {
		t.Helper()
		if err := s.KeepUpload(ctx, acct, key, blocks); err != nil {
			t.Fatalf("KeepUpload: %v", err)
		}
	}

	// Deleted: a's request for K, b's for the same K.
	ra := MustCreatePin(t, s, NewPin(t, a.ID, "a"))
	rb := NewPin(t, b.ID, "b")
	rb.Pin.CID, rb.Key = ra.Pin.CID, ra.Key
	MustCreatePin(t, s, rb)
	keep(a.ID, ra.Key, tack.KeptBlock{Hash: 1, Size: 100}, tack.KeptBlock{Hash: 2, Size: 200})
	keep(a.ID, ra.Key, tack.KeptBlock{Hash: 2, Size: 200}, tack.KeptBlock{Hash: 3, Size: 50})
	keep(b.ID, ra.Key, tack.KeptBlock{Hash: 1, Size: 100})
	if u := usage(a.ID); u.Kept != 350 || u.Bytes != 0 || u.Stored() != 350 {
		t.Fatalf("a's usage: kept %d, bytes %d; want 350 kept (each block once), 0 bytes", u.Kept, u.Bytes)
	}
	if u := usage(b.ID); u.Kept != 100 {
		t.Fatalf("b's usage: kept %d, want 100", u.Kept)
	}
	all, err := s.FindUsages(ctx)
	if err != nil || all[a.ID] == nil || all[a.ID].Kept != 350 || all[b.ID] == nil || all[b.ID].Kept != 100 {
		t.Fatalf("FindUsages = %v, %v; want a 350 and b 100 kept", all, err)
	}
	if err := s.DeletePin(ctx, a.ID, ra.ID); err != nil {
		t.Fatal(err)
	}
	if u := usage(a.ID); u.Kept != 0 {
		t.Fatalf("a's usage after its request was deleted: kept %d, want 0", u.Kept)
	}
	if u := usage(b.ID); u.Kept != 100 || hashes(ra.Key) != 1 {
		t.Fatalf("b's usage after a's request was deleted: kept %d, %d hashes; want b's 100 and its hash still kept", u.Kept, hashes(ra.Key))
	}

	// Two requests of a for one DAG: kept until both are gone; a failed
	// request is given up.
	r1 := MustCreatePin(t, s, NewPin(t, a.ID, "one"))
	r2 := NewPin(t, a.ID, "two")
	r2.Pin.CID, r2.Key = r1.Pin.CID, r1.Key
	MustCreatePin(t, s, r2)
	keep(a.ID, r1.Key, tack.KeptBlock{Hash: 10, Size: 1000})
	if err := s.DeletePin(ctx, a.ID, r1.ID); err != nil {
		t.Fatal(err)
	}
	if u := usage(a.ID); u.Kept != 1000 {
		t.Fatalf("a's usage with one request for the DAG left: kept %d, want 1000", u.Kept)
	}
	claimed := MustClaim(t, s, "w", 10, time.Now().Add(time.Hour))
	var ids []string
	for _, r := range claimed {
		if r.ID == r2.ID {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("claimed %d requests, not the one for the DAG", len(claimed))
	}
	if u := usage(a.ID); u.Kept != 1000 {
		t.Fatalf("a's usage while pinning: kept %d, want 1000", u.Kept)
	}
	if err := s.FailPins(ctx, "w", ids, "given up"); err != nil {
		t.Fatal(err)
	}
	if u := usage(a.ID); u.Kept != 0 || hashes(r1.Key) != 0 {
		t.Fatalf("a's usage after its request failed: kept %d, %d hashes; want none", u.Kept, hashes(r1.Key))
	}

	// Completed: the DAG's size counts instead.
	r3 := MustCreatePin(t, s, NewPin(t, a.ID, "three"))
	keep(a.ID, r3.Key, tack.KeptBlock{Hash: 20, Size: 400})
	if err := s.CompleteDAG(ctx, &tack.DAG{Key: r3.Key, Blocks: 2, Bytes: 700}); err != nil {
		t.Fatal(err)
	}
	if u := usage(a.ID); u.Kept != 0 || u.Bytes != 700 {
		t.Fatalf("a's usage after the DAG completed: kept %d, bytes %d; want 0 and 700", u.Kept, u.Bytes)
	}

	// Blocks of no account (kept by an older tack) count for nobody.
	keep(0, r3.Key, tack.KeptBlock{Hash: 30, Size: 5})
	if u := usage(a.ID); u.Kept != 0 {
		t.Fatalf("a block of no account counted for a: kept %d", u.Kept)
	}

	// Kept bytes count against the storage limit when a DAG completes
	// and when a held DAG is pinned at once, but a DAG's own kept blocks
	// do not count twice.
	c := MustCreateAccount(t, s, "c@example.com")
	limit := int64(1000)
	MustSetLimits(t, s, c.ID, nil, &limit)
	waiting := MustCreatePin(t, s, NewPin(t, c.ID, "waiting"))
	keep(c.ID, waiting.Key, tack.KeptBlock{Hash: 40, Size: 600})
	over := MustCreatePin(t, s, NewPin(t, c.ID, "over"))
	keep(c.ID, over.Key, tack.KeptBlock{Hash: 41, Size: 300})
	if err := s.CompleteDAG(ctx, &tack.DAG{Key: over.Key, Blocks: 3, Bytes: 500}); err != nil {
		t.Fatal(err)
	}
	if r := MustFindPin(t, s, c.ID, over.ID); r.Status != tack.StatusFailed || !strings.Contains(r.Details, "1000") {
		t.Fatalf("a DAG of 500 bytes beside 600 kept, under a limit of 1000: %s %q, want failed naming the limit", r.Status, r.Details)
	}
	fits := MustCreatePin(t, s, NewPin(t, c.ID, "fits"))
	keep(c.ID, fits.Key, tack.KeptBlock{Hash: 42, Size: 350})
	if err := s.CompleteDAG(ctx, &tack.DAG{Key: fits.Key, Blocks: 2, Bytes: 400}); err != nil {
		t.Fatal(err)
	}
	if r := MustFindPin(t, s, c.ID, fits.ID); r.Status != tack.StatusPinned {
		t.Fatalf("a DAG of 400 bytes, 350 of them kept for it, beside 600 kept, under 1000: %s %q, want pinned", r.Status, r.Details)
	}
	// The account holds 400 and keeps 600: a held DAG of 1 byte does not fit.
	held := NewPin(t, c.ID, "held")
	held.Pin.CID, held.Key = over.Pin.CID, over.Key
	if err := s.CreatePin(ctx, held); tack.ErrorCode(err) != tack.EQUOTA {
		t.Fatalf("CreatePin of a held DAG of 500 bytes with 1000 of 1000 used: %v, want EQUOTA", err)
	}
}
