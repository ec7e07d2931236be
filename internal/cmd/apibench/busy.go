package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// With -busy N the server's pinner really works while the API is loaded:
// apibench starts an IPFS peer in-process (internal/testpeer, bitswap on
// 127.0.0.1) holding N DAGs of one random 1 KiB raw block, and seeds an
// account of its own, busy@apibench.example, with N queued requests for
// them whose origin is that peer. They are older than every other seeded
// request, so the pinner claims them first, and tack serve runs with
// --fetches 256 and --allow-private-origins. The list-busy scenario lists
// that account's pinned requests, a page of up to 1,000 that fills as the
// pinner works, and says how many it pinned meanwhile.

// busyBlockSize is the size of each DAG of -busy: one raw block.
const busyBlockSize = 1024

// startBusyPeer starts the peer of -busy, holding n single-block DAGs, and
// returns it with their CIDs.
func startBusyPeer(ctx context.Context, n int) (*testpeer.Peer, []cid.Cid, error) {
	p, err := testpeer.Start()
	if err != nil {
		return nil, nil, err
	}
	r := rand.NewChaCha8([32]byte{'a', 'p', 'i', 'b', 'e', 'n', 'c', 'h'})
	cids := make([]cid.Cid, 0, n)
	batch := make([]blocks.Block, 0, 1000)
	for i := range n {
		data := make([]byte, busyBlockSize)
		r.Read(data)
		h, err := multihash.Sum(data, multihash.SHA2_256, -1)
		if err != nil {
			p.Close()
			return nil, nil, err
		}
		c := cid.NewCidV1(cid.Raw, h)
		b, err := blocks.NewBlockWithCid(data, c)
		if err != nil {
			p.Close()
			return nil, nil, err
		}
		cids, batch = append(cids, c), append(batch, b)
		if len(batch) == cap(batch) || i == n-1 {
			if err := p.Blockstore().PutMany(ctx, batch); err != nil {
				p.Close()
				return nil, nil, err
			}
			batch = batch[:0]
		}
	}
	return p, cids, nil
}

// seedBusySQL inserts the queued requests of -busy for cids, with origins,
// into the store's file as seedSQL does, older than every request
// seedSQL writes, and sets a.Pins.
func seedBusySQL(ctx context.Context, path string, a *Account, cids []cid.Cid, origins []string) error {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)"+
		"&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	o, err := json.Marshal(origins)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// seedSQL's requests start 30 days ago; these a day before.
	base := time.Now().Add(-31 * 24 * time.Hour).UnixMicro()
	const perStatement = 100
	for from := 0; from < len(cids); from += perStatement {
		to := min(from+perStatement, len(cids))
		args := make([]any, 0, 9*(to-from))
		for i := from; i < to; i++ {
			name := fmt.Sprintf("busy-%d", i)
			args = append(args, uuid.NewString(), a.ID, cids[i].String(), string(tack.ContentKey(cids[i])), name, name, string(o), "null", base+int64(i))
		}
		q := "INSERT INTO pins (id, account_id, cid, key, name, name_lower, origins, meta, status, created) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?), ", to-from), ", ")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert busy pins: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET last_created = ? WHERE id = ?`, base+int64(len(cids)), a.ID); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	a.Pins = len(cids)
	_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// pinnedCount returns how many of a's requests are pinned.
func (r *runner) pinnedCount(a *Account) (int, error) {
	req, err := http.NewRequest("GET", r.srv.URL+"/pins?status=pinned&limit=1", nil)
	if err != nil {
		return 0, err
	}
	req.Header = headers(a)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", resp.Status, body)
	}
	var page struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return 0, err
	}
	return page.Count, nil
}

// listBusy is the list-busy scenario, with the server's CPU profiled
// meanwhile.
func (r *runner) listBusy(ctx context.Context) *Result {
	a := r.seed.Busy
	before, err := r.pinnedCount(a)
	start := time.Now()
	profiled := r.profile(ctx, "list-busy")
	res := r.attack(ctx, "list-busy", "GET /pins?limit=1000, the busy account, while the pinner fetches its requests",
		r.c.ListRate, r.get([]*Account{a}, func(int) string { return "/pins?limit=1000" }), r.c.Duration)
	after, err2 := r.pinnedCount(a)
	var err3 error
	res.Profile, err3 = profiled()
	if err = errors.Join(err, err2, err3); err != nil {
		res.Note = "pinned count: " + err.Error()
		return res
	}
	res.Note = busyNote(before, after, a.Pins, time.Since(start).Seconds())
	return res
}

// busyNote says how many of the busy account's total requests the pinner
// pinned in the scenario's secs (from before to after), and whether it ran
// out of them before the end: then part of the scenario listed with the
// pinner idle, and the rate is only a floor (a faster pinner pinned more
// before the scenario began, and so shows less meanwhile).
func busyNote(before, after, total int, secs float64) string {
	note := fmt.Sprintf("the pinner pinned %d meanwhile (%.0f/s), %d of %d at the end", after-before,
		float64(after-before)/secs, after, total)
	if after >= total {
		note += "; it ran out of requests before the end, so the rate is a floor and part of the scenario ran with the pinner idle: give a larger -busy"
	}
	return note
}
