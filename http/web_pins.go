package http

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tack-ipfs/tack"
)

// pinsPageSize is how many requests the pins page shows at a time.
const pinsPageSize = 50

// pinsPage is the pins page's data.
type pinsPage struct {
	Usage    *tack.Usage
	Pending  int64       // queued plus pinning requests
	Limits   tack.Limits // the account's, in force
	Statuses []tack.Status
	Pins     []pinRow
	Count    int // matching requests in all
	Status   string
	Name     string
	// Older is the link to the next page, "" on the last; Newest the link
	// back to the first, "" on the first.
	Older  string
	Newest string
	// Upload shows the Upload a CAR form.
	Upload bool
}

// pinRow is one pin request as the pins page shows it.
type pinRow struct {
	*tack.PinRequest
	Details string
}

func (web *Web) handlePins(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	ctx := r.Context()
	q := r.URL.Query()
	data := &pinsPage{
		Statuses: []tack.Status{tack.StatusQueued, tack.StatusPinning, tack.StatusPinned, tack.StatusFailed},
		Status:   q.Get("status"),
		Name:     strings.TrimSpace(q.Get("name")),
	}
	p := &page{Title: "Pins", Account: acct, Data: data}
	f := tack.PinFilter{AccountID: acct.ID, Limit: pinsPageSize}
	if data.Status != "" {
		st, err := tack.ParseStatus(data.Status)
		if err != nil {
			web.fail(w, r, acct, tack.Errorf(tack.EINVALID, "Unknown status %q: choose queued, pinning, pinned or failed.", clip(data.Status)))
			return
		}
		f.Statuses = []tack.Status{st}
	}
	if data.Name != "" {
		if len(data.Name) > tack.MaxNameBytes {
			web.fail(w, r, acct, tack.Errorf(tack.EINVALID, "The name to look for is longer than %d bytes.", tack.MaxNameBytes))
			return
		}
		f.Name, f.Match = &data.Name, tack.MatchIPartial
	}
	if before := q.Get("before"); before != "" {
		t, err := time.Parse(time.RFC3339Nano, before)
		if err != nil {
			web.fail(w, r, acct, tack.Errorf(tack.EINVALID, "The page link is broken: %q is not a time.", clip(before)))
			return
		}
		f.Before = t
		data.Newest = pinsLink(data.Status, data.Name, time.Time{})
	}
	reqs, count, err := web.Store.FindPins(ctx, f)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	if err := web.Store.QueuePositions(ctx, reqs); err != nil {
		web.fail(w, r, acct, err)
		return
	}
	usage, err := web.Store.FindUsage(ctx, acct.ID)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	data.Usage, data.Count = usage, count
	data.Pending = int64(usage.Pending())
	data.Limits = acct.Limits(web.Limits)
	data.Upload = web.Uploads != nil && acct.Access == tack.AccessApproved
	for _, req := range reqs {
		data.Pins = append(data.Pins, pinRow{PinRequest: req, Details: req.Info()["status_details"]})
		if req.Status == tack.StatusQueued || req.Status == tack.StatusPinning {
			p.Refresh = true
		}
	}
	// A full page that is not the last links to the next: the older
	// requests, created before the last one shown.
	if len(reqs) == pinsPageSize && count > len(reqs) {
		data.Older = pinsLink(data.Status, data.Name, reqs[len(reqs)-1].Created)
	}
	web.render(w, r, http.StatusOK, "pins", p)
}

// pinsLink is the address of the pins page with these filters.
func pinsLink(status, name string, before time.Time) string {
	v := url.Values{}
	if status != "" {
		v.Set("status", status)
	}
	if name != "" {
		v.Set("name", name)
	}
	if !before.IsZero() {
		v.Set("before", before.UTC().Format(time.RFC3339Nano))
	}
	if len(v) == 0 {
		return "/dashboard"
	}
	return "/dashboard?" + v.Encode()
}
