package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/auth"
	"github.com/tack-ipfs/tack/sqlite"
)

// Seed is what SeedStore made: the accounts, their tokens and a sample of
// their request IDs. It is kept in DIR/apibench.json for -reuse.
type Seed struct {
	N        int
	Small    []*Account // the small accounts
	Big      *Account   // the account with -big-share of the store
	Busy     *Account   `json:",omitempty"` // with -busy, the account of its requests
	Created  time.Time
	SeedVia  string
	Duration time.Duration // how long seeding took
}

// Account is a seeded account.
type Account struct {
	Email  string
	ID     int64
	Token  string
	Pins   int
	Sample []string // up to sampleSize request IDs of its queued pins
}

const sampleSize = 64

// seedFile holds the Seed in the working directory.
func seedFile(dir string) string { return filepath.Join(dir, "apibench.json") }

// dataDir is the tack data directory inside the working directory.
func dataDir(dir string) string { return filepath.Join(dir, "data") }

// LoadSeed reads what SeedStore left in dir.
func LoadSeed(dir string) (*Seed, error) {
	b, err := os.ReadFile(seedFile(dir))
	if err != nil {
		return nil, fmt.Errorf("%s is not a seeded apibench directory (run with -seed-only -dir %s first): %w", dir, dir, err)
	}
	var s Seed
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", seedFile(dir), err)
	}
	return &s, nil
}

// SeedStore creates c.Accounts small accounts and a big one, all with
// approved access and a token each, and c.N queued pin requests of random
// CIDs spread over them, in the store of a new data directory in c.Dir.
func SeedStore(ctx context.Context, c Config) (*Seed, error) {
	start := time.Now()
	data := dataDir(c.Dir)
	if _, err := os.Stat(filepath.Join(data, "tack.db")); err == nil {
		return nil, fmt.Errorf("%s already holds a store: use -reuse %s, or another -dir", data, c.Dir)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(data, "tack.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	// tack serve reads the same key from the data directory.
	key, err := auth.SigningKey(ctx, db, "")
	if err != nil {
		return nil, err
	}
	issuer := auth.New(db, key)
	s := &Seed{N: c.N, Created: start.UTC(), SeedVia: c.SeedVia}
	newAccount := func(email string) (*Account, error) {
		a := &tack.Account{Email: email, Access: tack.AccessApproved}
		if err := db.CreateAccount(ctx, a); err != nil {
			return nil, err
		}
		token, _, err := issuer.Issue(ctx, a.ID, "apibench")
		if err != nil {
			return nil, err
		}
		return &Account{Email: email, ID: a.ID, Token: token}, nil
	}
	if s.Big, err = newAccount("big@apibench.example"); err != nil {
		return nil, err
	}
	for i := range c.Accounts {
		a, err := newAccount(fmt.Sprintf("small-%03d@apibench.example", i+1))
		if err != nil {
			return nil, err
		}
		s.Small = append(s.Small, a)
	}
	if c.Busy > 0 {
		if s.Busy, err = newAccount("busy@apibench.example"); err != nil {
			return nil, err
		}
	}

	// Which account each request belongs to: the big one with probability
	// BigShare, else a small one, each equally likely. Seeded, so that
	// every run with the same flags makes the same store shape.
	r := mathrand.New(mathrand.NewPCG(1, uint64(c.N)))
	owners := make([]*Account, c.N)
	for i := range owners {
		if r.Float64() < c.BigShare {
			owners[i] = s.Big
		} else {
			owners[i] = s.Small[r.IntN(len(s.Small))]
		}
		owners[i].Pins++
	}

	switch c.SeedVia {
	case "sql":
		db.Close()
		err = seedSQL(ctx, path, owners)
	case "store":
		err = seedStore(ctx, db, owners)
	}
	if err == nil && c.Busy > 0 {
		err = seedBusySQL(ctx, path, s.Busy, c.busyCIDs, c.busyOrigins)
	}
	if err != nil {
		return nil, err
	}
	if err := verify(ctx, path, s); err != nil {
		return nil, err
	}
	s.Duration = time.Since(start)
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return nil, err
	}
	return s, os.WriteFile(seedFile(c.Dir), b, 0o600)
}

// newPin returns the i-th seeded request of owner, as Kubo would send it:
// a random CIDv1 (raw or dag-pb), a name and two origins.
func newPin(i int, owner *Account) *tack.PinRequest {
	c := randomCID(i)
	return &tack.PinRequest{
		ID:        uuid.NewString(),
		AccountID: owner.ID,
		Pin: tack.Pin{
			CID:     c.String(),
			Name:    fmt.Sprintf("apibench-%d", i),
			Origins: kuboOrigins,
		},
		Key:    tack.ContentKey(c),
		Status: tack.StatusQueued,
	}
}

// kuboOrigins are origins as Kubo sends them: its own addresses.
var kuboOrigins = []string{
	"/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf",
	"/ip4/203.0.113.7/udp/4001/quic-v1/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf",
}

// randomCID returns a CIDv1 with a random sha2-256 digest: raw for even
// i, dag-pb for odd. No peer holds it.
func randomCID(i int) cid.Cid {
	digest := make([]byte, 32)
	rand.Read(digest)
	h, err := multihash.Encode(digest, multihash.SHA2_256)
	if err != nil {
		panic(err)
	}
	if i%2 == 0 {
		return cid.NewCidV1(cid.Raw, h)
	}
	return cid.NewCidV1(cid.DagProtobuf, h)
}

// sample keeps a request ID in its account's sample.
func sample(a *Account, id string) {
	if len(a.Sample) < sampleSize {
		a.Sample = append(a.Sample, id)
	}
}

// seedStore seeds through the store's CreatePin, from 16 goroutines: the
// store serialises its writes and syncs each, so this is slow (see
// -seed-via), but it needs nothing from the schema.
func seedStore(ctx context.Context, db *sqlite.DB, owners []*Account) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		next  = make(chan int)
	)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				p := newPin(i, owners[i])
				err := db.CreatePin(ctx, p)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				} else if err == nil {
					sample(owners[i], p.ID)
				}
				mu.Unlock()
			}
		})
	}
	for i := range owners {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// seedSQL inserts the requests straight into the store's file, 100 rows a
// statement and 50,000 a transaction, with the columns and the JSON that
// sqlite.CreatePin writes: created times unique per account, an account's
// last_created set to its newest. It knows the schema of pins; if that
// changes, verify says so, and -seed-via store still works.
func seedSQL(ctx context.Context, path string, owners []*Account) error {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)"+
		"&_pragma=synchronous(OFF)&_pragma=cache_size(-262144)&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	const perStatement, perTx = 100, 50_000
	// The requests were made over the last 30 days, oldest first.
	step := max(int64(1), int64(30*24*time.Hour/time.Microsecond)/int64(len(owners)))
	base := time.Now().Add(-30*24*time.Hour).UnixMicro() - step
	origins, err := json.Marshal(kuboOrigins)
	if err != nil {
		return err
	}
	meta, err := json.Marshal(map[string]string(nil))
	if err != nil {
		return err
	}
	insert := func(rows int) string {
		return "INSERT INTO pins (id, account_id, cid, key, name, name_lower, origins, meta, status, created) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?), ", rows), ", ")
	}
	full := insert(perStatement)
	last := map[int64]int64{}
	var tx *sql.Tx
	defer func() {
		if tx != nil {
			tx.Rollback()
		}
	}()
	args := make([]any, 0, 9*perStatement)
	for from := 0; from < len(owners); from += perStatement {
		if from%perTx == 0 {
			if tx != nil {
				if err := tx.Commit(); err != nil {
					return err
				}
			}
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				return err
			}
		}
		args = args[:0]
		to := min(from+perStatement, len(owners))
		for i := from; i < to; i++ {
			p, created := newPin(i, owners[i]), base+int64(i)*step
			args = append(args, p.ID, p.AccountID, p.Pin.CID, p.Key, p.Pin.Name, strings.ToLower(p.Pin.Name), string(origins), string(meta), created)
			sample(owners[i], p.ID)
			last[p.AccountID] = created
		}
		q := full
		if to-from < perStatement {
			q = insert(to - from)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert pins: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	tx = nil
	for id, created := range last {
		if _, err := db.ExecContext(ctx, `UPDATE accounts SET last_created = ? WHERE id = ?`, created, id); err != nil {
			return err
		}
	}
	_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// verify checks, through the store, that every account holds the queued
// requests it should.
func verify(ctx context.Context, path string, s *Seed) error {
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	all := append([]*Account{s.Big}, s.Small...)
	if s.Busy != nil {
		all = append(all, s.Busy)
	}
	for _, a := range all {
		_, n, err := db.FindPins(ctx, tack.PinFilter{AccountID: a.ID, Statuses: []tack.Status{tack.StatusQueued}, Limit: 1})
		if err != nil {
			return err
		}
		if n != a.Pins {
			return fmt.Errorf("%s holds %d queued requests, want %d: has the schema of pins changed? Try -seed-via store", a.Email, n, a.Pins)
		}
		if len(a.Sample) > 0 {
			if _, err := db.FindPinByID(ctx, a.ID, a.Sample[0]); err != nil {
				return fmt.Errorf("%s: request %s: %w", a.Email, a.Sample[0], err)
			}
		}
	}
	return nil
}
