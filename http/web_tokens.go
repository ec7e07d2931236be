package http

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tack-ipfs/tack"
	"golang.org/x/time/rate"
)

// Limits of the token and access forms.
const (
	maxTokenName   = 100
	maxAccessWhat  = 2000
	maxVolume      = 200
	maxExampleCIDs = 10
)

// How often an account may create API tokens: TokenCreateBurst in a row,
// then TokenCreateBurst an hour. Each token is a row that stays after it
// is revoked, so that creating and revoking in a loop cannot grow the
// store without end.
const (
	TokenCreateBurst = 20
	tokenCreateRate  = rate.Limit(TokenCreateBurst / 3600.0)
)

// tokensPage is the token management page's data.
type tokensPage struct {
	Tokens  []*tack.Token
	Request *tack.AccessRequest // nil if the account never asked
	// New is the token just created, shown this once, and Command the
	// Kubo command line that uses it.
	New     string
	NewName string
	// NewScope is the scope chosen in the form: the new token's, or the
	// one to show again after a refusal.
	NewScope tack.Scope
	Command  string
	URL      string // the service's address for Kubo
}

// notices are the messages a redirect can ask a page to show, by key, so
// that no text from the URL reaches the page.
var notices = map[string]string{
	"access-requested":                "Your request for pinning access was sent. The operator will answer it here.",
	"access-approved":                 "Your pinning access is approved: create a token and start pinning.",
	"token-revoked":                   "The token was revoked. The API refuses it from now on.",
	"password-changed":                "Your password was changed, and every other browser was signed out. Your API tokens keep working.",
	"password-changed-tokens-revoked": "Your password was changed, every other browser was signed out, and every API token of this account was revoked: create new ones for the clients you still use.",
}

func (web *Web) handleTokens(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	web.renderTokens(w, r, acct, http.StatusOK, &page{Notice: notices[r.URL.Query().Get("notice")]}, &tokensPage{})
}

func (web *Web) renderTokens(w http.ResponseWriter, r *http.Request, acct *tack.Account, status int, p *page, data *tokensPage) {
	ctx := r.Context()
	tokens, err := web.Store.FindTokens(ctx, acct.ID)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	// Newest first: the one just made is at the top.
	for i, j := 0, len(tokens)-1; i < j; i, j = i+1, j-1 {
		tokens[i], tokens[j] = tokens[j], tokens[i]
	}
	req, err := web.Store.FindAccessRequest(ctx, acct.ID)
	if err != nil && tack.ErrorCode(err) != tack.ENOTFOUND {
		web.fail(w, r, acct, err)
		return
	}
	data.Tokens, data.Request, data.URL = tokens, req, web.PublicURL+"/"
	p.Title, p.Account, p.Data = "API tokens", acct, data
	web.render(w, r, status, "tokens", p)
}

func (web *Web) handleCreateToken(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	// A form without the choice (an older page) makes a full token, as
	// every token was before there were scopes.
	scope := tack.ScopeFull
	if s := r.PostForm.Get("scope"); s != "" {
		var err error
		if scope, err = tack.ParseScope(s); err != nil {
			web.renderTokens(w, r, acct, http.StatusBadRequest, &page{Error: "Choose what the token may do: read only (list and get pins), or everything."}, &tokensPage{NewName: name})
			return
		}
	}
	if name == "" || utf8.RuneCountInString(name) > maxTokenName {
		web.renderTokens(w, r, acct, http.StatusBadRequest, &page{Error: "Give the token a name of 1 to 100 characters, such as the machine that will use it."}, &tokensPage{NewName: name, NewScope: scope})
		return
	}
	limit := RateLimit{Rate: tokenCreateRate, Burst: TokenCreateBurst}
	if err := web.take(w, []bucket{{"token:" + strconv.FormatInt(acct.ID, 10), limit}}); err != nil {
		msg := fmt.Sprintf("This account created %d API tokens within the last hour, the most it may. %s", TokenCreateBurst, tack.ErrorMessage(err))
		web.renderTokens(w, r, acct, http.StatusTooManyRequests, &page{Error: msg}, &tokensPage{NewName: name, NewScope: scope})
		return
	}
	token, _, err := web.Issue(r.Context(), acct.ID, name, scope)
	if tack.ErrorCode(err) == tack.EQUOTA {
		msg := fmt.Sprintf("This account has %d API tokens, the most it may have. Revoke one that is no longer used, then create this one.", tack.MaxTokens)
		web.renderTokens(w, r, acct, http.StatusConflict, &page{Error: msg}, &tokensPage{NewName: name, NewScope: scope})
		return
	} else if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	data := &tokensPage{New: token, NewName: name, NewScope: scope, Command: "ipfs pin remote service add tack " + web.PublicURL + "/ " + token}
	web.renderTokens(w, r, acct, http.StatusOK, &page{}, data)
}

func (web *Web) handleRevokeToken(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	err := web.Store.RevokeToken(r.Context(), acct.ID, r.PathValue("id"))
	if tack.ErrorCode(err) == tack.ENOTFOUND {
		web.fail(w, r, acct, tack.Errorf(tack.ENOTFOUND, "This account has no such token."))
		return
	} else if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	http.Redirect(w, r, "/tokens?notice=token-revoked", http.StatusSeeOther)
}

// accessForm is the request for pinning access as the user typed it.
type accessForm struct {
	What   string
	Volume string
	CIDs   string
}

// accessPage is the access request page's data.
type accessPage struct {
	Form    accessForm
	Request *tack.AccessRequest
}

func (web *Web) handleAccessPage(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	req, err := web.Store.FindAccessRequest(r.Context(), acct.ID)
	if err != nil && tack.ErrorCode(err) != tack.ENOTFOUND {
		web.fail(w, r, acct, err)
		return
	}
	data := &accessPage{Request: req}
	if req != nil {
		data.Form = accessForm{What: req.What, Volume: req.Volume, CIDs: strings.Join(req.CIDs, "\n")}
	}
	web.render(w, r, http.StatusOK, "access", &page{Title: "Request API pinning access", Account: acct, Data: data})
}

func (web *Web) handleRequestAccess(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	form := accessForm{
		What:   strings.TrimSpace(r.PostForm.Get("what")),
		Volume: strings.TrimSpace(r.PostForm.Get("volume")),
		CIDs:   strings.TrimSpace(r.PostForm.Get("cids")),
	}
	again := func(msg string) {
		web.render(w, r, http.StatusBadRequest, "access", &page{Title: "Request API pinning access", Account: acct, Error: msg, Data: &accessPage{Form: form}})
	}
	if acct.Access == tack.AccessApproved {
		http.Redirect(w, r, "/tokens", http.StatusSeeOther)
		return
	}
	if form.What == "" || utf8.RuneCountInString(form.What) > maxAccessWhat {
		again("Say what you will pin, in up to 2,000 characters.")
		return
	}
	if form.Volume == "" || utf8.RuneCountInString(form.Volume) > maxVolume {
		again("Say how much you expect to pin (for example \"about 50 GB over a year\"), in up to 200 characters.")
		return
	}
	cids := strings.Fields(form.CIDs)
	if len(cids) > maxExampleCIDs {
		again("Give at most 10 example CIDs.")
		return
	}
	for _, c := range cids {
		if _, err := tack.ParseCID(c); err != nil {
			again("Example CID " + clip(c) + ": " + tack.ErrorMessage(err))
			return
		}
	}
	req := &tack.AccessRequest{AccountID: acct.ID, What: form.What, Volume: form.Volume, CIDs: cids}
	if err := web.Store.RequestAccess(r.Context(), req); err != nil {
		web.fail(w, r, acct, err)
		return
	}
	if web.AutoApprove {
		if err := web.Store.SetAccountAccess(r.Context(), acct.ID, tack.AccessApproved, "Approved automatically: this service approves every request."); err != nil {
			web.fail(w, r, acct, err)
			return
		}
		http.Redirect(w, r, "/tokens?notice=access-approved", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/tokens?notice=access-requested", http.StatusSeeOther)
}
