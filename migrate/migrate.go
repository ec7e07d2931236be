// Package migrate moves pins into a pinning service: from another
// service, through the Pinning Service API, or from a list of CIDs as
// `ipfs pin ls` prints them. It is `tack migrate`, and it is bounded
// against a hostile source: it follows redirects within the source's
// origin only, reads at most 8 MiB of an answer and the limit it asked
// for of a page's results, holds at most three pages, and refuses a
// source whose pages do not get older.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/ipfs/boxo/pinning/remote/client/openapi"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multiaddr"

	"github.com/tack-ipfs/tack"
)

// allStatuses are the four statuses of a request; a `cid` filter asks for
// all of them so that one request tells what the target has.
var allStatuses = []openapi.Status{openapi.QUEUED, openapi.PINNING, openapi.PINNED, openapi.FAILED}

// DefaultConcurrency is how many requests a migration runs at a time
// unless its Config says otherwise.
const DefaultConcurrency = 8

// Config is a migration: where from, where to, and how.
type Config struct {
	// The source: From, the URL of a Pinning Service API, and FromToken,
	// its API token; or FromFile, a file of CIDs, one a line with an
	// optional name, as `ipfs pin ls` prints them, "-" for Stdin.
	From, FromToken string
	FromFile        string
	Stdin           io.Reader
	// To is the URL of the target's Pinning Service API, Token its API
	// token. The URLs have no trailing slash.
	To, Token string
	// Origins are sent as origins with every pin, before the source's:
	// at most tack.MaxOrigins in all.
	Origins []multiaddr.Multiaddr
	// Concurrency is how many requests run at a time; 0 is
	// DefaultConcurrency.
	Concurrency int
	// Wait follows the new pins until each is pinned or failed.
	Wait bool
	// DryRun checks everything and reports what would be done, creating
	// nothing.
	DryRun bool
	// PageLimit is the page size of the source's list; 0 is
	// tack.MaxListLimit (tests make it small).
	PageLimit int
	// Stdout gets a line for each item and the summary, and Stderr the
	// progress bar if it is a terminal.
	Stdout, Stderr io.Writer
}

// migration creates on a target pinning service a pin for every pinned
// request of a source service, or for every CID of a list, unless the
// target already has it.
type migration struct {
	from, fromFile string
	origins        []multiaddr.Multiaddr
	concurrency    int
	wait, dryRun   bool

	// pageLimit is the page size of the source's list; pollInterval is
	// the first pause between Wait's polls, which grows up to
	// maxPollInterval.
	pageLimit    int
	pollInterval time.Duration

	stdin    io.Reader
	rep      *report
	src, dst *service
	tracked  []*migrateItem // what Wait follows: created, or found queued or pinning
}

const maxPollInterval = 10 * time.Second

// Run migrates what c says, prints a line for each item and the summary,
// and returns an error if anything failed, or the run was interrupted
// (ctx ended) or stopped (an answer that every other request would get
// too, such as a refused token, or a source that does not keep to the
// API).
func Run(ctx context.Context, c Config) error {
	mg := &migration{from: c.From, fromFile: c.FromFile, origins: c.Origins, concurrency: c.Concurrency,
		wait: c.Wait, dryRun: c.DryRun, pageLimit: c.PageLimit, pollInterval: 500 * time.Millisecond, stdin: c.Stdin}
	if mg.concurrency < 1 {
		mg.concurrency = DefaultConcurrency
	}
	if mg.pageLimit < 1 {
		mg.pageLimit = tack.MaxListLimit
	}
	if c.From != "" {
		mg.src = newService("source", c.From, c.FromToken)
	}
	mg.dst = newService("target", c.To, c.Token)
	mg.rep = newReport(c.Stdout, c.Stderr)
	return mg.run(ctx)
}

// run migrates, prints the summary, and returns an error if anything
// failed, or the run was interrupted or stopped.
//
// The source is read a page at a time while the pages before it are
// migrated: one page waits while one is migrated, and listing stops
// until it is taken, so that what migrate holds does not grow with what
// the source sends. A page's CIDs are looked up and created, at most
// Concurrency batches at a time, before the next page starts: a CID
// that an earlier page listed too is then found on the target.
func (mg *migration) run(ctx context.Context) error {
	// runCtx also ends when an answer stops the run (a refused token);
	// ctx alone ends on Ctrl-C.
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	pages := make(chan []*migrateItem, 1)
	var readErr error
	if mg.src != nil {
		mg.rep.start("migrating", 0)
		go func() {
			defer close(pages)
			readErr = listPinned(runCtx, mg.src, mg.pageLimit, pages)
		}()
	} else {
		items, err := mg.readFile()
		if err != nil {
			return err
		}
		mg.rep.start("migrating", len(items))
		pages <- items
		close(pages)
	}
	mg.migratePages(runCtx, stop, pages)

	var waitErr error
	if mg.wait && runCtx.Err() == nil && readErr == nil {
		waitErr = mg.follow(runCtx, stop)
	}
	for _, it := range mg.tracked {
		mg.rep.count(it)
	}

	mg.rep.summary(mg.dryRun)
	if mg.wait {
		mg.followed()
	}
	if n := mg.dst.slowDowns.Load(); n > 0 {
		mg.rep.printf("the target answered 429 or 503 %d times: migrate slowed down and retried", n)
	}
	if mg.src != nil && mg.src.slowDowns.Load() > 0 {
		mg.rep.printf("the source answered 429 or 503 %d times: migrate slowed down and retried", mg.src.slowDowns.Load())
	}
	if n := mg.dst.retries.Load(); n > 0 {
		mg.rep.printf("retried %d requests to the target after transient errors", n)
	}

	var stopErr *stopError
	switch {
	case errors.As(context.Cause(runCtx), &stopErr):
		return fmt.Errorf("stopped: %w", stopErr)
	case ctx.Err() != nil:
		return errors.New("interrupted: run the same command again to resume; what the target has is skipped")
	case isStop(readErr):
		return fmt.Errorf("stopped: %w", readErr)
	case readErr != nil && !errors.Is(readErr, errInterrupted):
		return fmt.Errorf("listing the source's pinned requests: %s", failureText(readErr))
	case waitErr != nil:
		return waitErr
	}
	if n, all := mg.rep.failures(); n > 0 {
		return fmt.Errorf("%d of %d failed", n, all)
	}
	return nil
}

// readFile returns the items of FromFile.
func (mg *migration) readFile() ([]*migrateItem, error) {
	r := mg.stdin
	if mg.fromFile != "-" {
		f, err := os.Open(mg.fromFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	items, err := readPinList(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mg.fromFile, err)
	}
	return items, nil
}

// migratePages migrates the items of each page, in batches of up to ten
// CIDs, mg.concurrency batches at a time, the next page once the last is
// done. Once ctx ends, the items left are counted as not done.
func (mg *migration) migratePages(ctx context.Context, stop context.CancelCauseFunc, pages <-chan []*migrateItem) {
	for page := range pages {
		first := map[string]*migrateItem{}
		var todo []*migrateItem
		for _, it := range page {
			switch {
			case ctx.Err() != nil:
				mg.done(it)
				continue
			case it.outcome != notDone:
				mg.rep.item(it, it.outcome.String(), it.reason, it.outcome == failed)
			case first[it.key] != nil:
				it.outcome, it.reason = skipped, "the same CID as an earlier line"
				if it.line == 0 {
					it.reason = "the same CID as another request of the source"
				}
				mg.rep.item(it, "skipped", it.reason, false)
			default:
				first[it.key] = it
				todo = append(todo, it)
				continue
			}
			mg.done(it)
		}
		var batches [][]*migrateItem
		for len(todo) > 0 {
			n := min(tack.MaxFilterCIDs, len(todo))
			batches = append(batches, todo[:n])
			todo = todo[n:]
		}
		mg.parallel(ctx, batches, func(batch []*migrateItem) { mg.migrateBatch(ctx, stop, batch) })
		for _, b := range batches {
			for _, it := range b {
				mg.done(it)
			}
		}
	}
}

// done counts an item in the summary, or keeps it for Wait to follow,
// and lets go of what only its creation needed.
func (mg *migration) done(it *migrateItem) {
	it.meta, it.origins = nil, nil
	if mg.wait && it.requestID != "" && (it.outcome == created || it.outcome == skipped && it.status != openapi.PINNED) {
		mg.tracked = append(mg.tracked, it)
		return
	}
	mg.rep.count(it)
}

// parallel calls f for each batch, mg.concurrency at a time, until ctx
// ends: batches not started by then are left alone.
func (mg *migration) parallel(ctx context.Context, batches [][]*migrateItem, f func([]*migrateItem)) {
	next := make(chan []*migrateItem)
	var wg sync.WaitGroup
	for range min(mg.concurrency, len(batches)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				f(b)
			}
		}()
	}
	for _, b := range batches {
		if ctx.Err() != nil {
			break
		}
		next <- b
	}
	close(next)
	wg.Wait()
}

// migrateBatch looks up up to ten items on the target in one request and
// creates those it lacks, one after the other.
func (mg *migration) migrateBatch(ctx context.Context, stop context.CancelCauseFunc, batch []*migrateItem) {
	found, err := mg.lookup(ctx, batch)
	if httpStatus(err) == 400 && len(batch) > 1 {
		// The target refuses to look up one of them (tack refuses CIDs
		// it would not pin): look each up alone.
		for _, it := range batch {
			mg.migrateBatch(ctx, stop, []*migrateItem{it})
		}
		return
	}
	refused := ""
	switch {
	case err == nil:
	case errors.Is(err, errInterrupted):
		return
	case isStop(err):
		stop(err)
		return
	case httpStatus(err) == 400:
		// The create will say why, the target's last word; a dry run
		// reports this answer instead.
		refused = failureText(err)
	default:
		for _, it := range batch {
			mg.fail(it, "looking it up on the target: "+failureText(err))
		}
		return
	}

	for _, it := range batch {
		if ctx.Err() != nil {
			return
		}
		if ps, ok := current(found[it.key]); ok {
			it.outcome, it.requestID, it.status = skipped, ps.GetRequestid(), ps.GetStatus()
			it.reason = "already on the target (" + string(it.status) + ")"
			mg.rep.item(it, "skipped", it.reason, false)
			continue
		}
		switch {
		case mg.dryRun && refused != "":
			mg.fail(it, "the target refuses it: "+refused)
		case mg.dryRun:
			it.outcome = wouldCreate
			mg.rep.item(it, "would create", "", false)
		default:
			mg.create(ctx, stop, it)
		}
	}
}

// create asks the target to pin an item. An attempt whose answer was
// lost is looked up before the next one, so an item is never created
// twice.
func (mg *migration) create(ctx context.Context, stop context.CancelCauseFunc, it *migrateItem) {
	pin := openapi.Pin{Cid: it.cid.String()}
	if it.name != "" {
		pin.SetName(it.name)
	}
	if len(it.meta) > 0 {
		pin.SetMeta(it.meta)
	}
	if origins := mg.originsOf(it); len(origins) > 0 {
		s := make([]string, len(origins))
		for i, ma := range origins {
			s[i] = ma.String()
		}
		pin.SetOrigins(s)
	}
	var ps openapi.PinStatus
	unsure := false
	err := mg.dst.call(ctx, func(ctx context.Context) error {
		if unsure {
			found, err := findRequests(ctx, mg.dst, []cid.Cid{it.cid})
			if err != nil {
				return err
			}
			var ok bool
			if ps, ok = current(found[it.key]); ok {
				return nil
			}
		}
		var err error
		ps, err = addPin(ctx, mg.dst.api, pin)
		if err != nil && maybeDone(err) {
			unsure = true
		}
		return err
	})
	switch {
	case err == nil:
		it.outcome, it.requestID, it.status = created, ps.GetRequestid(), ps.GetStatus()
		mg.rep.item(it, "created", "", false)
	case errors.Is(err, errInterrupted):
	case isStop(err):
		stop(err)
	default:
		mg.fail(it, failureText(err))
	}
}

func (mg *migration) fail(it *migrateItem, reason string) {
	it.outcome, it.reason = failed, reason
	mg.rep.item(it, "failed", reason, true)
}

// originsOf returns the origins to send with an item: Config.Origins first,
// then the source's, at most tack.MaxOrigins.
func (mg *migration) originsOf(it *migrateItem) []multiaddr.Multiaddr {
	seen := map[string]bool{}
	var out []multiaddr.Multiaddr
	for _, ma := range append(mg.origins[:len(mg.origins):len(mg.origins)], it.origins...) {
		if s := ma.String(); !seen[s] && len(out) < tack.MaxOrigins {
			seen[s] = true
			out = append(out, ma)
		}
	}
	return out
}

// lookup returns the target's requests for the items' CIDs, retrying as
// service.call does.
func (mg *migration) lookup(ctx context.Context, items []*migrateItem) (map[string][]openapi.PinStatus, error) {
	cids := make([]cid.Cid, len(items))
	for i, it := range items {
		cids[i] = it.cid
	}
	var found map[string][]openapi.PinStatus
	err := mg.dst.call(ctx, func(ctx context.Context) (err error) {
		found, err = findRequests(ctx, mg.dst, cids)
		return err
	})
	return found, err
}

// findRequests lists a service's requests of every status for up to ten
// CIDs, by content key, in as many pages as there are.
func findRequests(ctx context.Context, s *service, cids []cid.Cid) (map[string][]openapi.PinStatus, error) {
	found := map[string][]openapi.PinStatus{}
	var before time.Time
	for {
		page, count, err := listPins(ctx, s.api, cids, allStatuses, before, tack.MaxListLimit)
		if err != nil {
			return nil, err
		}
		for _, ps := range page {
			if c, err := cid.Decode(ps.Pin.GetCid()); err == nil {
				k := tack.ContentKey(c)
				found[k] = append(found[k], ps)
			}
		}
		if len(page) == 0 || len(page) >= count {
			return found, nil
		}
		oldest := page[len(page)-1].GetCreated()
		if !before.IsZero() && !oldest.Before(before) {
			return found, nil
		}
		before = oldest
	}
}

// current returns the request that makes a CID count as on the target:
// pinned rather than pinning, pinning rather than queued; false if all of
// them failed (or there are none).
func current(reqs []openapi.PinStatus) (openapi.PinStatus, bool) {
	rank := map[openapi.Status]int{openapi.PINNED: 3, openapi.PINNING: 2, openapi.QUEUED: 1}
	best := -1
	for i, ps := range reqs {
		if r := rank[ps.GetStatus()]; r > 0 && (best < 0 || r > rank[reqs[best].GetStatus()]) {
			best = i
		}
	}
	if best < 0 {
		return openapi.PinStatus{}, false
	}
	return reqs[best], true
}

func isStop(err error) bool {
	var stopErr *stopError
	return errors.As(err, &stopErr)
}

// follow polls the requests that this run created, or found queued or
// pinning, until each is pinned or failed: ten at a time by CID, first
// after pollInterval, then less and less often.
func (mg *migration) follow(ctx context.Context, stop context.CancelCauseFunc) error {
	pending := mg.tracked
	mg.rep.start("waiting", len(pending))
	pending = mg.settle(pending)
	interval, failedRounds := mg.pollInterval, 0
	for len(pending) > 0 {
		if !sleep(ctx, interval) {
			break
		}
		interval = min(interval*2, maxPollInterval)
		var batches [][]*migrateItem
		for rest := pending; len(rest) > 0; {
			n := min(tack.MaxFilterCIDs, len(rest))
			batches = append(batches, rest[:n])
			rest = rest[n:]
		}
		var mu sync.Mutex
		var pollErr error
		mg.parallel(ctx, batches, func(batch []*migrateItem) {
			found, err := mg.lookup(ctx, batch)
			if err != nil {
				mu.Lock()
				pollErr = err
				mu.Unlock()
				return
			}
			for _, it := range batch {
				it.status = "" // gone, unless listed
				for _, ps := range found[it.key] {
					if ps.GetRequestid() == it.requestID {
						it.status = ps.GetStatus()
						if it.status == openapi.FAILED {
							it.reason = "failed on the target"
							if d := ps.GetInfo()["status_details"]; d != "" {
								it.reason += ": " + d
							}
						}
					}
				}
			}
		})
		switch {
		case pollErr == nil:
			failedRounds = 0
		case errors.Is(pollErr, errInterrupted):
		case isStop(pollErr):
			stop(pollErr)
			return nil
		default:
			if failedRounds++; failedRounds == 3 {
				return fmt.Errorf("gave up following %d requests: %s", len(pending), failureText(pollErr))
			}
		}
		pending = mg.settle(pending)
	}
	if len(pending) > 0 {
		mg.rep.printf("%d requests are still queued or pinning on the target", len(pending))
	}
	return nil
}

// followed sums up what Wait saw.
func (mg *migration) followed() {
	var pinned, failedThere int
	for _, it := range mg.tracked {
		switch {
		case it.status == openapi.PINNED:
			pinned++
		case it.status == openapi.FAILED:
			failedThere++
		}
	}
	mg.rep.printf("on the target: %d pinned, %d failed", pinned, failedThere)
}

// settle reports the pending items that are pinned or failed by now and
// returns the others.
func (mg *migration) settle(pending []*migrateItem) []*migrateItem {
	var still []*migrateItem
	for _, it := range pending {
		switch it.status {
		case openapi.PINNED:
			mg.rep.item(it, "pinned", "", false)
		case openapi.FAILED:
			it.outcome = failed
			mg.rep.item(it, "failed", it.reason, true)
		case "":
			mg.fail(it, "the request "+it.requestID+" is gone from the target")
		default:
			still = append(still, it)
		}
	}
	return still
}
