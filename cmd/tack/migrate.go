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

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
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
var allStatuses = []pinclient.Status{pinclient.StatusQueued, pinclient.StatusPinning, pinclient.StatusPinned, pinclient.StatusFailed}

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
func (mg *migrate) run(ctx context.Context) error {
	items, err := mg.read(ctx)
	if errors.Is(err, errInterrupted) {
		return &exitError{1, errors.New("interrupted while reading the source; nothing was created")}
	}
	if err != nil {
		return &exitError{1, err}
	}

	// runCtx also ends when an answer stops the run (a refused token);
	// ctx alone ends on Ctrl-C.
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	mg.rep.start("migrating", len(items))
	var todo []*migrateItem
	first := map[string]*migrateItem{}
	for _, it := range items {
		switch {
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
		}
	}

	var batches [][]*migrateItem
	for len(todo) > 0 {
		n := min(maxFilterCIDs, len(todo))
		batches = append(batches, todo[:n])
		todo = todo[n:]
	}
	mg.parallel(runCtx, batches, func(batch []*migrateItem) { mg.migrateBatch(runCtx, stop, batch) })

	var waitErr error
	if mg.wait && runCtx.Err() == nil {
		waitErr = mg.follow(runCtx, stop, items)
	}

	mg.rep.summary(items, mg.dryRun)
	if mg.wait {
		mg.followed(items)
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
	case waitErr != nil:
		return &exitError{1, waitErr}
	}
	n := 0
	for _, it := range items {
		if it.outcome == failed {
			n++
		}
	}
	if n > 0 {
		return &exitError{1, fmt.Errorf("%d of %d failed", n, len(items))}
	}
	return nil
}

// read returns the items of the source.
func (mg *migrate) read(ctx context.Context) ([]*migrateItem, error) {
	if mg.src != nil {
		mg.rep.start("listing the source", 0)
		items, err := listPinned(ctx, mg.src, mg.pageLimit, mg.rep.progress)
		mg.rep.clearBar()
		if err != nil && !errors.Is(err, errInterrupted) {
			var stopErr *stopError
			if !errors.As(err, &stopErr) {
				err = fmt.Errorf("listing the source's pinned requests: %s", failureText(err))
			}
		}
		return items, err
	}
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
		if ps := current(found[it.key]); ps != nil {
			it.outcome, it.requestID, it.status = skipped, ps.GetRequestId(), ps.GetStatus()
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
	var opts []pinclient.AddOption
	if it.name != "" {
		opts = append(opts, pinclient.PinOpts.WithName(it.name))
	}
	if len(it.meta) > 0 {
		opts = append(opts, pinclient.PinOpts.AddMeta(it.meta))
	}
	if origins := mg.originsOf(it); len(origins) > 0 {
		opts = append(opts, pinclient.PinOpts.WithOrigins(origins...))
	}
	var ps pinclient.PinStatusGetter
	unsure := false
	err := mg.dst.call(ctx, func(ctx context.Context) error {
		if unsure {
			found, err := findRequests(ctx, mg.dst.client, []cid.Cid{it.cid})
			if err != nil {
				return err
			}
			if ps = current(found[it.key]); ps != nil {
				return nil
			}
		}
		var err error
		ps, err = mg.dst.client.Add(ctx, it.cid, opts...)
		if err != nil && maybeDone(err) {
			unsure = true
		}
		return err
	})
	switch {
	case err == nil:
		it.outcome, it.requestID, it.status = created, ps.GetRequestId(), ps.GetStatus()
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
func (mg *migrate) lookup(ctx context.Context, items []*migrateItem) (map[string][]pinclient.PinStatusGetter, error) {
	cids := make([]cid.Cid, len(items))
	for i, it := range items {
		cids[i] = it.cid
	}
	var found map[string][]pinclient.PinStatusGetter
	err := mg.dst.call(ctx, func(ctx context.Context) (err error) {
		found, err = findRequests(ctx, mg.dst.client, cids)
		return err
	})
	return found, err
}

// findRequests lists a service's requests of every status for up to ten
// CIDs, by content key, in as many pages as there are.
func findRequests(ctx context.Context, c *pinclient.Client, cids []cid.Cid) (map[string][]pinclient.PinStatusGetter, error) {
	found := map[string][]pinclient.PinStatusGetter{}
	var before time.Time
	for {
		opts := []pinclient.LsOption{pinclient.PinOpts.FilterCIDs(cids...), pinclient.PinOpts.FilterStatus(allStatuses...), pinclient.PinOpts.Limit(maxListLimit)}
		if !before.IsZero() {
			opts = append(opts, pinclient.PinOpts.FilterBefore(before))
		}
		page, count, err := c.LsBatchSync(ctx, opts...)
		if err != nil {
			return nil, err
		}
		for _, ps := range page {
			if c := ps.GetPin().GetCid(); c.Defined() {
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
// pinned rather than pinning, pinning rather than queued; nil if all of
// them failed (or there are none).
func current(reqs []pinclient.PinStatusGetter) pinclient.PinStatusGetter {
	rank := map[pinclient.Status]int{pinclient.StatusPinned: 3, pinclient.StatusPinning: 2, pinclient.StatusQueued: 1}
	var best pinclient.PinStatusGetter
	for _, ps := range reqs {
		if r := rank[ps.GetStatus()]; r > 0 && (best == nil || r > rank[best.GetStatus()]) {
			best = ps
		}
	}
	return best
}

func isStop(err error) bool {
	var stopErr *stopError
	return errors.As(err, &stopErr)
}

// follow polls the requests that this run created, or found queued or
// pinning, until each is pinned or failed: ten at a time by CID, first
// after pollInterval, then less and less often.
func (mg *migrate) follow(ctx context.Context, stop context.CancelCauseFunc, items []*migrateItem) error {
	var pending []*migrateItem
	for _, it := range items {
		if it.requestID != "" && (it.outcome == created || it.outcome == skipped && it.status != pinclient.StatusPinned) {
			pending = append(pending, it)
		}
	}
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
				it.status = pinclient.StatusUnknown // gone, unless listed
				for _, ps := range found[it.key] {
					if ps.GetRequestId() == it.requestID {
						it.status = ps.GetStatus()
						if it.status == pinclient.StatusFailed {
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
func (mg *migrate) followed(items []*migrateItem) {
	var pinned, failedThere int
	for _, it := range items {
		switch {
		case it.requestID == "":
		case it.status == pinclient.StatusPinned:
			pinned++
		case it.status == pinclient.StatusFailed:
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
		case pinclient.StatusPinned:
			mg.rep.item(it, "pinned", "", false)
		case pinclient.StatusFailed:
			it.outcome = failed
			mg.rep.item(it, "failed", it.reason, true)
		case pinclient.StatusUnknown:
			mg.fail(it, "the request "+it.requestID+" is gone from the target")
		default:
			still = append(still, it)
		}
	}
	return still
}
