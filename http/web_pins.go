package http

import (
	"context"
	"encoding/json"
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
	// CanPin shows the Pin a CID form and each row's Replace and Remove.
	CanPin bool
	// Form is what the Pin a CID form holds: what was sent, after a
	// refusal.
	Form pinForm
}

// pinRow is one pin request as the pins page shows it.
type pinRow struct {
	*tack.PinRequest
	Details string
	pinLinks
}

// pinLinks are the links of a pinned request: its DAG opened in the
// gateway for browsers (if there is one), and downloaded as a CAR from
// the trustless gateway that tack serve mounts beside the pages.
type pinLinks struct {
	Open, CAR string
}

func (web *Web) pinLinks(req *tack.PinRequest) pinLinks {
	if req.Status != tack.StatusPinned {
		return pinLinks{}
	}
	c := url.PathEscape(strings.TrimSpace(req.Pin.CID))
	l := pinLinks{CAR: "/ipfs/" + c + "?format=car"}
	if web.GatewayURL != "" {
		l.Open = web.GatewayURL + "/ipfs/" + c + "/"
	}
	return l
}

// pinForm is what a Pin a CID or Replace form sent: the CID, the name and
// the origins, one multiaddr a line.
type pinForm struct {
	CID, Name, Origins string
}

func readPinForm(r *http.Request) pinForm {
	return pinForm{
		CID:     strings.TrimSpace(r.PostForm.Get("cid")),
		Name:    r.PostForm.Get("name"),
		Origins: r.PostForm.Get("origins"),
	}
}

// fields returns the form as the fields of a Pin object, checked by the
// same code as POST /pins's JSON body: an empty name or origins field is
// an absent one.
func (f pinForm) fields(r *http.Request) pinFields {
	var in pinFields
	if _, ok := r.PostForm["cid"]; ok {
		in.CID = &f.CID
	}
	if f.Name != "" {
		in.Name = &f.Name
	}
	for _, o := range strings.Fields(f.Origins) {
		in.Origins = append(in.Origins, &o)
	}
	return in
}

// pinNotices are the pins page's messages after a form, by the notice
// the form redirects with.
var pinNotices = map[string]string{
	"queued":   "Pin request queued: tack is looking for the DAG. Follow its progress on the request's page (its CID is the link).",
	"pinned":   "Pinned at once: tack already holds the whole DAG.",
	"replaced": "Pin request replaced: the new CID takes the old one's place.",
	"removed":  "Pin request removed.",
}

func (web *Web) handlePins(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	web.renderPins(w, r, acct, http.StatusOK, &page{Notice: pinNotices[r.URL.Query().Get("notice")]}, pinForm{})
}

// renderPins renders the pins page with the filters of r's query, the
// page's notice or error in p, and the Pin a CID form holding form.
func (web *Web) renderPins(w http.ResponseWriter, r *http.Request, acct *tack.Account, status int, p *page, form pinForm) {
	ctx := r.Context()
	q := r.URL.Query()
	data := &pinsPage{
		Statuses: []tack.Status{tack.StatusQueued, tack.StatusPinning, tack.StatusPinned, tack.StatusFailed},
		Status:   q.Get("status"),
		Name:     strings.TrimSpace(q.Get("name")),
		Form:     form,
	}
	p.Title, p.Account, p.Data = "Pins", acct, data
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
	if err := web.queuePositions(ctx, reqs); err != nil {
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
	data.CanPin = web.API != nil && web.API.mayPin(acct) == nil
	for _, req := range reqs {
		data.Pins = append(data.Pins, pinRow{PinRequest: req, Details: req.Info()["status_details"], pinLinks: web.pinLinks(req)})
		if req.Status == tack.StatusQueued || req.Status == tack.StatusPinning {
			p.Refresh = true
		}
	}
	// A full page that is not the last links to the next: the older
	// requests, created before the last one shown.
	if len(reqs) == pinsPageSize && count > len(reqs) {
		data.Older = pinsLink(data.Status, data.Name, reqs[len(reqs)-1].Created)
	}
	web.render(w, r, status, "pins", p)
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

// mayPin returns the API's refusal of the account's pin routes: its rate
// limit, then a blocked account or one without approved access.
func (web *Web) mayPin(w http.ResponseWriter, acct *tack.Account) error {
	if err := web.API.allow(w, acct.ID); err != nil {
		return err
	}
	return web.API.mayPin(acct)
}

// refused renders the pins page with err, the API's refusal, as its error
// and its status, and the form as it was sent.
func (web *Web) refused(w http.ResponseWriter, r *http.Request, acct *tack.Account, err error, form pinForm) {
	status, _ := ErrorStatus(tack.ErrorCode(err))
	if status == http.StatusInternalServerError {
		web.fail(w, r, acct, err)
		return
	}
	web.renderPins(w, r, acct, status, &page{Error: tack.ErrorMessage(err)}, form)
}

// handlePinForm serves POST /dashboard/pins, the Pin a CID form: what
// POST /pins does, with the same checks and refusals, then back to the
// pins page.
func (web *Web) handlePinForm(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	form := readPinForm(r)
	if err := web.mayPin(w, acct); err != nil {
		web.refused(w, r, acct, err, form)
		return
	}
	pin, c, err := form.fields(r).check()
	if err != nil {
		web.refused(w, r, acct, err, form)
		return
	}
	req := newPinRequest(acct, pin, c)
	if err := web.API.createPin(r, req); err != nil {
		web.refused(w, r, acct, err, form)
		return
	}
	notice := "queued"
	if req.Status == tack.StatusPinned {
		notice = "pinned"
	}
	http.Redirect(w, r, "/dashboard?notice="+notice, http.StatusSeeOther)
}

// handleReplaceForm serves POST /dashboard/pins/{requestid}/replace: what
// POST /pins/{requestid} does, a new request for a new CID in the old
// one's place. The old request's meta, which the pages do not edit, goes
// with it. The form's "from" field says where it was sent from: "pin",
// the request's page, leads to the new request's page; else the pins
// page.
func (web *Web) handleReplaceForm(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	form := readPinForm(r)
	fromPin := r.PostForm.Get("from") == "pin"
	fail := func(err error) {
		if status, _ := ErrorStatus(tack.ErrorCode(err)); fromPin && status != http.StatusNotFound && status != http.StatusInternalServerError {
			web.renderPin(w, r, acct, status, &page{Error: tack.ErrorMessage(err)}, false)
			return
		}
		web.refused(w, r, acct, err, pinForm{})
	}
	oldID, err := requestID(r)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	if err := web.mayPin(w, acct); err != nil {
		fail(err)
		return
	}
	old, err := web.Store.FindPinByID(r.Context(), acct.ID, oldID)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	pin, c, err := form.fields(r).check()
	if err != nil {
		fail(err)
		return
	}
	pin.Meta = old.Pin.Meta
	req := newPinRequest(acct, pin, c)
	if err := web.API.replacePin(r, acct, oldID, req); err != nil {
		fail(err)
		return
	}
	if fromPin {
		http.Redirect(w, r, "/dashboard/pins/"+req.ID+"?notice=replaced", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/dashboard?notice=replaced", http.StatusSeeOther)
}

// handleRemoveForm serves POST /dashboard/pins/{requestid}/remove: the
// first press shows the request's page asking to confirm; with
// confirm=yes it does what DELETE /pins/{requestid} does.
func (web *Web) handleRemoveForm(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	id, err := requestID(r)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	if err := web.mayPin(w, acct); err != nil {
		web.refused(w, r, acct, err, pinForm{})
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		web.renderPin(w, r, acct, http.StatusOK, &page{}, true)
		return
	}
	if err := web.API.deletePin(r, acct, id); err != nil {
		web.fail(w, r, acct, err)
		return
	}
	http.Redirect(w, r, "/dashboard?notice=removed", http.StatusSeeOther)
}

// pinPage is the data of a pin request's page.
type pinPage struct {
	Req       *tack.PinRequest
	Details   string   // the API's status_details
	Delegates []string // the API's delegates
	// Command pins the same CID, with the same name, from Kubo.
	Command string
	// JSON is the request as GET /pins/{requestid} answers it.
	JSON string
	pinLinks
	// CanPin shows Replace and Remove; Confirm asks to confirm a Remove.
	CanPin, Confirm bool
}

// handlePin serves GET /dashboard/pins/{requestid}, a pin request's page:
// what GET /pins/{requestid} answers, and what tack knows besides. Only
// the request's account sees it: others get 404, as from the API.
func (web *Web) handlePin(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	web.renderPin(w, r, acct, http.StatusOK, &page{Notice: pinNotices[r.URL.Query().Get("notice")]}, false)
}

// renderPin renders the page of the request of r's path with the status,
// p's notice or error, asking to confirm its removal if confirm.
func (web *Web) renderPin(w http.ResponseWriter, r *http.Request, acct *tack.Account, status int, p *page, confirm bool) {
	id, err := requestID(r)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	req, err := web.Store.FindPinByID(r.Context(), acct.ID, id)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	if err := web.queuePositions(r.Context(), []*tack.PinRequest{req}); err != nil {
		web.fail(w, r, acct, err)
		return
	}
	var delegates []string
	if web.API != nil {
		delegates = web.API.delegates()
	}
	ps := pinStatus(req, delegates)
	b, err := json.MarshalIndent(ps, "", "  ")
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	data := &pinPage{
		Req:       req,
		Details:   ps.Info["status_details"],
		Delegates: ps.Delegates,
		Command:   pinCommand(req.Pin),
		JSON:      string(b),
		pinLinks:  web.pinLinks(req),
		CanPin:    web.API != nil && web.API.mayPin(acct) == nil,
		Confirm:   confirm,
	}
	p.Title, p.Account, p.Data = "Pin request", acct, data
	p.Refresh = req.Status == tack.StatusQueued || req.Status == tack.StatusPinning
	web.render(w, r, status, "pin", p)
}

// pinCommand is the Kubo command that pins the pin's CID with its name
// through this service, named tack as the tokens page says: the name is
// quoted for a POSIX shell.
func pinCommand(pin tack.Pin) string {
	cmd := "ipfs pin remote add --service=tack"
	if pin.Name != "" {
		cmd += " --name='" + strings.ReplaceAll(pin.Name, "'", `'\''`) + "'"
	}
	return cmd + " " + strings.TrimSpace(pin.CID)
}

// queuePositions fills in the queued requests' status_details as the
// API does (Server.QueuePositions), or from the store alone without API.
func (web *Web) queuePositions(ctx context.Context, reqs []*tack.PinRequest) error {
	if web.API != nil {
		return web.API.QueuePositions(ctx, reqs)
	}
	return web.Store.QueuePositions(ctx, reqs)
}
