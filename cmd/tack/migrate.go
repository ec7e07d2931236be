package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/boxo/pinning/remote/client/openapi"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multiaddr"

	"github.com/tack-ipfs/tack"
)

// The Pinning Service API's limits that migrate works within.
const (
	maxFilterCIDs = 10   // CIDs in one `cid` filter
	maxListLimit  = 1000 // results in one page
	maxOrigins    = 20   // origins of one pin
)

// allStatuses are the four statuses of a request; a `cid` filter asks for
// all of them so that one request tells what the target has.
var allStatuses = []openapi.Status{openapi.QUEUED, openapi.PINNING, openapi.PINNED, openapi.FAILED}

// migrate is `tack migrate`: it creates on a target pinning service a pin
// for every pinned request of a source service, or for every CID of a
// list, unless the target already has it.
type migrate struct {
	from, fromToken, fromFile string
	to, token                 string
	origins                   []multiaddr.Multiaddr
	concurrency               int
	wait, dryRun              bool

	// pageLimit is the page size of the source's list (tests make it
	// small); pollInterval is the first pause between --wait's polls,
	// which grows up to maxPollInterval.
	pageLimit    int
	pollInterval time.Duration

	stdin    io.Reader
	rep      *report
	src, dst *service
	tracked  []*migrateItem // what --wait follows: created, or found queued or pinning
}

const maxPollInterval = 10 * time.Second

// runMigrate runs `tack migrate`. Usage errors are returned as they are
// (status 2); everything after the flags ends in an *exitError (status 1).
func runMigrate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	mg, err := parseMigrate(args, stdin, stdout, stderr, getenv)
	if err != nil {
		return err
	}
	return mg.run(ctx)
}

// parseMigrate reads the flags of `tack migrate` and TACK_… environment
// variables: TACK_TOKEN and TACK_FROM_TOKEN keep tokens out of `ps`.
func parseMigrate(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) (*migrate, error) {
	mg := &migrate{stdin: stdin, pageLimit: maxListLimit, pollInterval: 500 * time.Millisecond}
	fs := flag.NewFlagSet("tack migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&mg.from, "from", "", "source: the URL of a Pinning Service API whose pinned requests to migrate")
	fs.StringVar(&mg.fromToken, "from-token", "", "the source's API token (or TACK_FROM_TOKEN)")
	fs.StringVar(&mg.fromFile, "from-file", "", "source: a file of CIDs, one a line with an optional name, as `ipfs pin ls` prints them; - for standard input")
	fs.StringVar(&mg.to, "to", "", "target: the URL of a Pinning Service API")
	fs.StringVar(&mg.token, "token", "", "the target's API token (or TACK_TOKEN)")
	origins := &originList{v: &mg.origins}
	fs.Var(origins, "origin", "a multiaddr of a peer that holds the content, sent as origins with every pin; repeat it or separate them with commas")
	fs.IntVar(&mg.concurrency, "concurrency", 8, "requests at a time")
	fs.BoolVar(&mg.wait, "wait", false, "follow the new pins until each is pinned or failed")
	fs.BoolVar(&mg.dryRun, "dry-run", false, "check everything and print what would be done, creating nothing")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: tack migrate (--from URL --from-token T | --from-file FILE|-) --to URL --token T\n"+
			"                    [--origin MADDR,…]… [--concurrency N] [--wait] [--dry-run]\n\n")
		fs.PrintDefaults()
	}
	var fromEnv []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "origin" {
			fromEnv = append(fromEnv, f.Name)
		}
	})
	if err := parse(fs, args, getenv, fromEnv...); err != nil {
		return nil, err
	}
	// --origin adds to itself, so the environment's value is used only
	// when no flag gives one.
	if v := getenv("TACK_ORIGIN"); v != "" && len(mg.origins) == 0 {
		if err := origins.Set(v); err != nil {
			return nil, fmt.Errorf("TACK_ORIGIN: %w", err)
		}
	}

	switch {
	case mg.from == "" && mg.fromFile == "":
		return nil, errors.New("give a source: --from URL --from-token T, or --from-file FILE (- for standard input)")
	case mg.from != "" && mg.fromFile != "":
		return nil, errors.New("give one source: --from or --from-file, not both")
	case mg.to == "":
		return nil, errors.New("give the target: --to URL --token T")
	case mg.token == "":
		return nil, errors.New("give the target's API token: --token T, or TACK_TOKEN")
	case mg.from != "" && mg.fromToken == "":
		return nil, errors.New("give the source's API token: --from-token T, or TACK_FROM_TOKEN")
	case mg.concurrency < 1 || mg.concurrency > 100:
		return nil, errors.New("--concurrency must be from 1 to 100")
	case mg.wait && mg.dryRun:
		return nil, errors.New("--wait and --dry-run do not go together: a dry run creates nothing to wait for")
	case len(mg.origins) > maxOrigins:
		return nil, fmt.Errorf("at most %d --origin addresses", maxOrigins)
	}
	var err error
	if mg.to, err = serviceURL("--to", mg.to); err != nil {
		return nil, err
	}
	if mg.from != "" {
		if mg.from, err = serviceURL("--from", mg.from); err != nil {
			return nil, err
		}
		mg.src = newService("source", mg.from, mg.fromToken)
	}
	mg.dst = newService("target", mg.to, mg.token)
	mg.rep = newReport(stdout, stderr)
	return mg, nil
}

// serviceURL checks the URL of a Pinning Service API, the one Kubo's `ipfs
// pin remote service add` takes, and drops a trailing slash.
func serviceURL(flag, s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s must be an http:// or https:// URL, not %q", flag, s)
	}
	return strings.TrimRight(s, "/"), nil
}

// originList is the value of --origin: multiaddrs, from each use of the
// flag and comma-separated within one.
type originList struct{ v *[]multiaddr.Multiaddr }

func (l *originList) String() string {
	if l.v == nil {
		return ""
	}
	var s []string
	for _, ma := range *l.v {
		s = append(s, ma.String())
	}
	return strings.Join(s, ",")
}

func (l *originList) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		ma, err := multiaddr.NewMultiaddr(p)
		if err != nil {
			return fmt.Errorf("%q is not a multiaddr: %v", p, err)
		}
		*l.v = append(*l.v, ma)
	}
	return nil
}

// run migrates, prints the summary, and returns an *exitError if
// anything failed, or the run was interrupted or stopped.
//
// The source is read a page at a time while the pages before it are
// migrated: one page waits while one is migrated, and listing stops
// until it is taken, so that what migrate holds does not grow with what
// the source sends. A page's CIDs are looked up and created, at most
// --concurrency batches at a time, before the next page starts: a CID
// that an earlier page listed too is then found on the target.
func (mg *migrate) run(ctx context.Context) error {
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
			return &exitError{1, err}
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
		return &exitError{1, fmt.Errorf("stopped: %w", stopErr)}
	case ctx.Err() != nil:
		return &exitError{1, errors.New("interrupted: run the same command again to resume; what the target has is skipped")}
	case isStop(readErr):
		return &exitError{1, fmt.Errorf("stopped: %w", readErr)}
	case readErr != nil && !errors.Is(readErr, errInterrupted):
		return &exitError{1, fmt.Errorf("listing the source's pinned requests: %s", failureText(readErr))}
	case waitErr != nil:
		return &exitError{1, waitErr}
	}
	if n, all := mg.rep.failures(); n > 0 {
		return &exitError{1, fmt.Errorf("%d of %d failed", n, all)}
	}
	return nil
}

// readFile returns the items of --from-file.
func (mg *migrate) readFile() ([]*migrateItem, error) {
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
func (mg *migrate) migratePages(ctx context.Context, stop context.CancelCauseFunc, pages <-chan []*migrateItem) {
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
			n := min(maxFilterCIDs, len(todo))
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

// done counts an item in the summary, or keeps it for --wait to follow,
// and lets go of what only its creation needed.
func (mg *migrate) done(it *migrateItem) {
	it.meta, it.origins = nil, nil
	if mg.wait && it.requestID != "" && (it.outcome == created || it.outcome == skipped && it.status != openapi.PINNED) {
		mg.tracked = append(mg.tracked, it)
		return
	}
	mg.rep.count(it)
}

// parallel calls f for each batch, mg.concurrency at a time, until ctx
// ends: batches not started by then are left alone.
func (mg *migrate) parallel(ctx context.Context, batches [][]*migrateItem, f func([]*migrateItem)) {
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
func (mg *migrate) migrateBatch(ctx context.Context, stop context.CancelCauseFunc, batch []*migrateItem) {
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
func (mg *migrate) create(ctx context.Context, stop context.CancelCauseFunc, it *migrateItem) {
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

func (mg *migrate) fail(it *migrateItem, reason string) {
	it.outcome, it.reason = failed, reason
	mg.rep.item(it, "failed", reason, true)
}

// originsOf returns the origins to send with an item: --origin's first,
// then the source's, at most maxOrigins.
func (mg *migrate) originsOf(it *migrateItem) []multiaddr.Multiaddr {
	seen := map[string]bool{}
	var out []multiaddr.Multiaddr
	for _, ma := range append(mg.origins[:len(mg.origins):len(mg.origins)], it.origins...) {
		if s := ma.String(); !seen[s] && len(out) < maxOrigins {
			seen[s] = true
			out = append(out, ma)
		}
	}
	return out
}

// lookup returns the target's requests for the items' CIDs, retrying as
// service.call does.
func (mg *migrate) lookup(ctx context.Context, items []*migrateItem) (map[string][]openapi.PinStatus, error) {
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
		page, count, err := listPins(ctx, s.api, cids, allStatuses, before, maxListLimit)
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
func (mg *migrate) follow(ctx context.Context, stop context.CancelCauseFunc) error {
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
			n := min(maxFilterCIDs, len(rest))
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

// followed sums up what --wait saw.
func (mg *migrate) followed() {
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
func (mg *migrate) settle(pending []*migrateItem) []*migrateItem {
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
