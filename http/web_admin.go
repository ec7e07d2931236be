package http

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tack-ipfs/tack"
)

// maxAccessMessage bounds the operator's message with a decision.
const maxAccessMessage = 1000

// adminPage is the operator's page's data.
type adminPage struct {
	Pending  []*tack.AccessRequest
	Accounts []adminAccount
	Invites  []*tack.Invite // read only when sign-up is by invitation
	// Link is the invitation or password reset link just made, shown this
	// once.
	Link *onceLink
	// Defaults are the limits of accounts without their own.
	Defaults tack.Limits
	// Purge asks the operator to confirm deleting every request of an
	// account.
	Purge *purgeConfirm
	// Provide is the state of providing on the DHT; nil: not known.
	Provide *tack.ProvideStats
	// Figures are the headline figures of the whole service.
	Figures *adminFigures
}

// purgeConfirm is the question before an account's requests are deleted.
type purgeConfirm struct {
	Account  *tack.Account
	Requests int
}

// onceLink is a link the operator's page shows once, with a copy button.
type onceLink struct {
	Title string
	URL   string
}

// adminAccount is one row of the operator's list of accounts.
type adminAccount struct {
	*tack.Account
	Queued, Pinning, Pinned, Failed int
	Bytes                           int64
	Limits                          tack.Limits // in force: the account's own, or the defaults
}

func (web *Web) handleAdmin(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	web.renderAdmin(w, r, acct, http.StatusOK, &page{Notice: notices[r.URL.Query().Get("notice")]}, &adminPage{})
}

func (web *Web) renderAdmin(w http.ResponseWriter, r *http.Request, acct *tack.Account, status int, p *page, data *adminPage) {
	ctx := r.Context()
	pending, err := web.Store.FindAccessRequests(ctx, tack.AccessRequested)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	accounts, err := web.Store.FindAccounts(ctx)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	usages, err := web.Store.FindUsages(ctx)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	if web.signup() == SignupInvite {
		if data.Invites, err = web.Store.FindInvites(ctx, web.now()); err != nil {
			web.fail(w, r, acct, err)
			return
		}
	}
	data.Pending, data.Defaults = pending, web.Limits
	data.Provide = web.provideStatus()
	data.Figures = web.figures(usages)
	for _, a := range accounts {
		row := adminAccount{Account: a, Limits: a.Limits(web.Limits)}
		if u := usages[a.ID]; u != nil {
			row.Queued, row.Pinning = u.Pins[tack.StatusQueued], u.Pins[tack.StatusPinning]
			row.Pinned, row.Failed = u.Pins[tack.StatusPinned], u.Pins[tack.StatusFailed]
			row.Bytes = u.Bytes
		}
		data.Accounts = append(data.Accounts, row)
	}
	p.Title, p.Account, p.Data = "Operator", acct, data
	web.render(w, r, status, "admin", p)
}

// targetAccount returns the account named by the {id} in the path.
func (web *Web) targetAccount(r *http.Request) (*tack.Account, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, tack.Errorf(tack.ENOTFOUND, "There is no such account.")
	}
	a, err := web.Store.FindAccountByID(r.Context(), id)
	if tack.ErrorCode(err) == tack.ENOTFOUND {
		return nil, tack.Errorf(tack.ENOTFOUND, "There is no such account.")
	}
	return a, err
}

func (web *Web) handleDecideAccess(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	target, err := web.targetAccount(r)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	var access tack.Access
	switch r.PostForm.Get("decision") {
	case "approve":
		access = tack.AccessApproved
	case "deny":
		access = tack.AccessDenied
	default:
		web.fail(w, r, acct, tack.Errorf(tack.EINVALID, "Choose approve or deny."))
		return
	}
	message := strings.TrimSpace(r.PostForm.Get("message"))
	if utf8.RuneCountInString(message) > maxAccessMessage {
		web.renderAdmin(w, r, acct, http.StatusBadRequest, &page{Error: "The message to " + target.Email + " is longer than 1,000 characters."}, &adminPage{})
		return
	}
	if err := web.Store.SetAccountAccess(r.Context(), target.ID, access, message); err != nil {
		web.fail(w, r, acct, err)
		return
	}
	web.renderAdmin(w, r, acct, http.StatusOK, &page{Notice: "Pinning access of " + target.Email + ": " + string(access) + "."}, &adminPage{})
}

func (web *Web) handleBlock(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	target, err := web.targetAccount(r)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	blocked := r.PostForm.Get("blocked") == "true"
	if blocked && target.ID == acct.ID {
		web.renderAdmin(w, r, acct, http.StatusBadRequest, &page{Error: "You cannot block your own account."}, &adminPage{})
		return
	}
	ctx := r.Context()
	if err := web.Store.SetAccountBlocked(ctx, target.ID, blocked); err != nil {
		web.fail(w, r, acct, err)
		return
	}
	notice := target.Email + " is unblocked."
	if blocked {
		// Signed out everywhere; its API tokens are refused while blocked.
		if err := web.Store.DeleteSessions(ctx, target.ID); err != nil {
			web.fail(w, r, acct, err)
			return
		}
		notice = target.Email + " is blocked: signed out, and its API tokens are refused. Its queued requests are held until it is unblocked; its pins stay stored."
	}
	web.renderAdmin(w, r, acct, http.StatusOK, &page{Notice: notice}, &adminPage{})
}

func (web *Web) handleCreateInvite(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	code := randomSecret()
	inv := &tack.Invite{ID: hashSecret(code), CreatedBy: acct.ID, Expires: web.now().Add(DefaultInviteTTL)}
	if err := web.Store.CreateInvite(r.Context(), inv); err != nil {
		web.fail(w, r, acct, err)
		return
	}
	link := web.PublicURL + "/signup?invite=" + code
	web.renderAdmin(w, r, acct, http.StatusOK, &page{Notice: "Invitation created. Send the link to one person: it works once, for 7 days."}, &adminPage{Link: &onceLink{Title: "Invitation link", URL: link}})
}

func (web *Web) handleCreateReset(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	target, err := web.targetAccount(r)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	code := randomSecret()
	reset := &tack.PasswordReset{ID: hashSecret(code), AccountID: target.ID, CreatedBy: acct.ID, Expires: web.now().Add(DefaultResetTTL)}
	if err := web.Store.CreatePasswordReset(r.Context(), reset); err != nil {
		web.fail(w, r, acct, err)
		return
	}
	data := &adminPage{Link: &onceLink{Title: "Password reset link for " + target.Email, URL: web.PublicURL + "/reset?code=" + code}}
	web.renderAdmin(w, r, acct, http.StatusOK, &page{Notice: "Password reset link for " + target.Email + " created. Send it to them: it works once, for 24 hours."}, data)
}

func (web *Web) handleSetLimits(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	target, err := web.targetAccount(r)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	pending, err := formLimit(r.PostForm.Get("max_pending"), func(s string) (int64, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, tack.Errorf(tack.EINVALID, "The pending limit %q is not a whole number.", clip(s))
		}
		return n, nil
	})
	if err == nil {
		var bytes *int64
		if bytes, err = formLimit(r.PostForm.Get("max_bytes"), tack.ParseSize); err == nil {
			err = web.Store.SetAccountLimits(r.Context(), target.ID, pending, bytes)
		}
	}
	if tack.ErrorCode(err) == tack.EINVALID {
		web.renderAdmin(w, r, acct, http.StatusBadRequest, &page{Error: "Limits of " + target.Email + ": " + tack.ErrorMessage(err) + " Leave a field empty for the server's default, or give 0 for no limit."}, &adminPage{})
		return
	} else if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	web.renderAdmin(w, r, acct, http.StatusOK, &page{Notice: "Limits of " + target.Email + " saved."}, &adminPage{})
}

// formLimit reads a limit field: empty is nil (the server's default).
func formLimit(s string, parse func(string) (int64, error)) (*int64, error) {
	if s = strings.TrimSpace(s); s == "" {
		return nil, nil
	}
	n, err := parse(s)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// handlePurge deletes every pin request of an account, once the operator
// has confirmed on the page that asked.
func (web *Web) handlePurge(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	target, err := web.targetAccount(r)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	ctx := r.Context()
	if r.PostForm.Get("confirm") != "yes" {
		u, err := web.Store.FindUsage(ctx, target.ID)
		if err != nil {
			web.fail(w, r, acct, err)
			return
		}
		web.renderAdmin(w, r, acct, http.StatusOK, &page{}, &adminPage{Purge: &purgeConfirm{Account: target, Requests: u.Requests()}})
		return
	}
	n, err := web.Store.PurgePins(ctx, target.ID)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	web.renderAdmin(w, r, acct, http.StatusOK, &page{Notice: fmt.Sprintf("Deleted %d pin requests of %s.", n, target.Email)}, &adminPage{})
}

// provideStatus returns the node's state of providing on the DHT for the
// operator's page, nil if there is none.
func (web *Web) provideStatus() *tack.ProvideStats {
	if web.Providing == nil {
		return nil
	}
	s := web.Providing()
	return &s
}
