package gc_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	_ "modernc.org/sqlite"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/gc"
	"github.com/tack-ipfs/tack/sqlite/sqlitetest"
	"github.com/tack-ipfs/tack/storetest"
)

// BenchmarkCollect collects a blockstore of about 1,000,000 blocks: 1,000
// DAGs of 1,000 raw leaves of 1 KiB under a dag-cbor root, half of them
// unpinned. Beside the collection, a writer stores blocks through a
// session, as a fetch does, and the longest any of its Puts took is
// reported next to the longest without a collection running.
//
//	go test ./gc -run '^$' -bench Collect -benchtime 1x
func BenchmarkCollect(b *testing.B) {
	dags, leaves := benchDAGs(), 1000
	ctx := context.Background()
	bs, err := blockstore.OpenLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	db := sqlitetest.MustOpen(b)
	guard, err := gc.NewGuard(bs, db)
	if err != nil {
		b.Fatal(err)
	}
	acct := storetest.MustCreateAccount(b, db, "bench@example.com")

	rnd := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 1024)
	var reqs []*tack.PinRequest
	fill := time.Now()
	for range dags {
		batch := make([]blocks.Block, 0, leaves+1)
		links := make([]cid.Cid, 0, leaves)
		for range leaves {
			for i := 0; i < len(data); i += 8 {
				binary.LittleEndian.PutUint64(data[i:], rnd.Uint64())
			}
			blk := rawBlock(b, data)
			batch = append(batch, blk)
			links = append(links, blk.Cid())
		}
		root := cborBlock(b, links)
		batch = append(batch, root)
		if err := bs.PutMany(ctx, batch); err != nil {
			b.Fatal(err)
		}
		r := &tack.PinRequest{AccountID: acct.ID, Pin: tack.Pin{CID: root.Cid().String()}, Key: tack.ContentKey(root.Cid())}
		if err := db.CreatePin(ctx, r); err != nil {
			b.Fatal(err)
		}
		if err := db.CompleteDAG(ctx, &tack.DAG{Key: r.Key, Blocks: int64(leaves + 1), Bytes: int64(leaves * 1024)}); err != nil {
			b.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	if err := bs.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d blocks in %s", dags*(leaves+1), time.Since(fill).Round(time.Millisecond))
	for _, r := range reqs[:dags/2] {
		if err := db.DeletePin(ctx, acct.ID, r.ID); err != nil {
			b.Fatal(err)
		}
	}

	// The writer: 64-block batches through a session, as a fetch stores
	// them, of blocks no DAG needs.
	writer := func(stop <-chan struct{}) (worst time.Duration, n int) {
		s := guard.Session()
		defer s.Close()
		wr := rand.New(rand.NewPCG(rand.Uint64(), 4))
		buf := make([]byte, 1024)
		for {
			select {
			case <-stop:
				return worst, n
			default:
			}
			batch := make([]blocks.Block, 64)
			for i := range batch {
				for j := 0; j < len(buf); j += 8 {
					binary.LittleEndian.PutUint64(buf[j:], wr.Uint64())
				}
				batch[i] = rawBlock(b, buf)
			}
			t0 := time.Now()
			if err := s.PutMany(ctx, batch); err != nil {
				b.Error(err)
				return worst, n
			}
			worst = max(worst, time.Since(t0))
			n += len(batch)
			time.Sleep(10 * time.Millisecond) // a fetch of 1 KiB blocks at about 6 MB/s
		}
	}
	stop := make(chan struct{})
	done := make(chan [2]int64)
	go func() {
		w, n := writer(stop)
		done <- [2]int64{int64(w), int64(n)}
	}()
	time.Sleep(2 * time.Second)
	close(stop)
	base := <-done
	b.Logf("writer alone: %d blocks in 2s, longest PutMany %s", base[1], time.Duration(base[0]))

	b.ResetTimer()
	for range b.N {
		stop = make(chan struct{})
		go func() {
			w, n := writer(stop)
			done <- [2]int64{int64(w), int64(n)}
		}()
		start := time.Now()
		rep, err := guard.Collect(ctx, db)
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		close(stop)
		during := <-done
		b.Logf("collect: %s; took %s", rep, took.Round(time.Millisecond))
		b.Logf("writer during the collection: %d blocks, longest PutMany %s", during[1], time.Duration(during[0]))
		b.ReportMetric(float64(rep.Scanned)/took.Seconds(), "blocks/s")
		b.ReportMetric(float64(rep.Paused.Microseconds())/1000, "pause-ms")
		b.ReportMetric(float64(time.Duration(during[0]).Microseconds())/1000, "worst-put-ms")
		b.ReportMetric(float64(time.Duration(base[0]).Microseconds())/1000, "worst-put-alone-ms")
	}
}

func rawBlock(tb testing.TB, data []byte) blocks.Block {
	c, err := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: 0x12, MhLength: -1}.Sum(data)
	if err != nil {
		tb.Fatal(err)
	}
	blk, err := blocks.NewBlockWithCid(append([]byte(nil), data...), c)
	if err != nil {
		tb.Fatal(err)
	}
	return blk
}

func cborBlock(tb testing.TB, links []cid.Cid) blocks.Block {
	nd, err := qp.BuildList(basicnode.Prototype.Any, -1, func(la datamodel.ListAssembler) {
		for _, c := range links {
			qp.ListEntry(la, qp.Link(cidlink.Link{Cid: c}))
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	var w bytes.Buffer
	if err := dagcbor.Encode(nd, &w); err != nil {
		tb.Fatal(err)
	}
	buf := w.Bytes()
	c, err := cid.Prefix{Version: 1, Codec: cid.DagCBOR, MhType: 0x12, MhLength: -1}.Sum(buf)
	if err != nil {
		tb.Fatal(err)
	}
	blk, _ := blocks.NewBlockWithCid(buf, c)
	return blk
}

// BenchmarkRefcountIngest measures what reference counting would add to
// every stored block: an upsert of the block's count in the metadata
// store, 64 blocks to a transaction as a fetch stores them. Mark and
// sweep adds nothing there; this is the figure it is weighed against.
//
//	go test ./gc -run '^$' -bench RefcountIngest
func BenchmarkRefcountIngest(b *testing.B) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "refs.db")+"?_pragma=journal_mode(wal)&_pragma=synchronous(normal)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE block_refs (mh BLOB PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID`); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Uint64
	var mu sync.Mutex
	b.ResetTimer()
	for i := 0; i < b.N; i += 64 {
		mu.Lock()
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		stmt, err := tx.Prepare(`INSERT INTO block_refs (mh, n) VALUES (?, 1) ON CONFLICT (mh) DO UPDATE SET n = n + 1`)
		if err != nil {
			b.Fatal(err)
		}
		for range min(64, b.N-i) {
			c := rawBlock(b, fmt.Appendf(nil, "%d", seq.Add(1))).Cid()
			if _, err := stmt.Exec(c.Hash()); err != nil {
				b.Fatal(err)
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		mu.Unlock()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
}

// benchDAGs is how many DAGs of 1,000 blocks BenchmarkCollect stores:
// TACK_GC_BENCH_DAGS, or 1,000 (a million blocks).
func benchDAGs() int {
	if n, err := strconv.Atoi(os.Getenv("TACK_GC_BENCH_DAGS")); err == nil && n > 0 {
		return n
	}
	return 1000
}
