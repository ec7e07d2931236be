package http

import (
	"cmp"
	"context"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tack-ipfs/tack"
)

// signInForm is what the sign-in and sign-up pages show again after a
// failed attempt: never the password.
type signInForm struct {
	Email  string
	Next   string
	Invite string
}

// handleHome sends a signed-in browser to its pins and others to sign in.
func (web *Web) handleHome(w http.ResponseWriter, r *http.Request) {
	acct, err := web.sessionAccount(r.Context(), r)
	if err != nil {
		web.fail(w, r, nil, err)
		return
	}
	if acct == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
}

func (web *Web) handleSignInPage(w http.ResponseWriter, r *http.Request) {
	p := &page{Title: "Sign in", Data: signInForm{Next: safeNext(r.URL.Query().Get("next"))}}
	if r.URL.Query().Get("expired") != "" {
		p.Notice = "Please sign in to continue."
	}
	web.render(w, r, http.StatusOK, "signin", p)
}

func (web *Web) handleSignIn(w http.ResponseWriter, r *http.Request) {
	form := signInForm{Email: strings.TrimSpace(r.PostForm.Get("email")), Next: safeNext(r.PostForm.Get("next"))}
	password := r.PostForm.Get("password")
	again := func(status int, msg string) {
		web.render(w, r, status, "signin", &page{Title: "Sign in", Error: msg, Data: form})
	}
	if form.Email == "" || password == "" {
		again(http.StatusBadRequest, "Enter your email and your password.")
		return
	}
	acct, err := web.Store.FindAccountByEmail(r.Context(), form.Email)
	if err != nil && tack.ErrorCode(err) != tack.ENOTFOUND {
		web.fail(w, r, nil, err)
		return
	}
	if err := web.allowSignIn(w, r, form.Email, acct); err != nil {
		again(http.StatusTooManyRequests, tack.ErrorMessage(err))
		return
	}
	hash := ""
	if acct != nil {
		hash = acct.PasswordHash
	}
	ok, err := web.checkPassword(r.Context(), hash, password)
	if err != nil {
		web.fail(w, r, nil, err)
		return
	}
	if !ok {
		again(http.StatusUnauthorized, "Wrong email or password.")
		return
	}
	if acct.Blocked {
		again(http.StatusForbidden, "This account is blocked by the operator of this service.")
		return
	}
	web.startSession(w, r, acct, cmp.Or(form.Next, "/dashboard"))
}

// dummyHash is checked when the email is unknown or has no password, so
// that a wrong email takes as long as a wrong password.
var dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// takeHashSlot waits for one of the few slots in which a password may be
// hashed; the caller gives it back with releaseHashSlot.
func (web *Web) takeHashSlot(ctx context.Context) error {
	select {
	case web.hashSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (web *Web) releaseHashSlot() { <-web.hashSlots }

// checkPassword checks password against hash, a few at a time. An empty
// hash (an account that has no password) never matches.
func (web *Web) checkPassword(ctx context.Context, hash, password string) (bool, error) {
	if err := web.takeHashSlot(ctx); err != nil {
		return false, err
	}
	defer web.releaseHashSlot()
	if hash == "" {
		web.CheckPassword(dummyHash, password)
		return false, nil
	}
	return web.CheckPassword(hash, password)
}

// hashPassword hashes a new password, a few at a time.
func (web *Web) hashPassword(ctx context.Context, password string) (string, error) {
	if err := web.takeHashSlot(ctx); err != nil {
		return "", err
	}
	defer web.releaseHashSlot()
	return web.HashPassword(password)
}

func (web *Web) handleSignUpPage(w http.ResponseWriter, r *http.Request) {
	form := signInForm{Invite: r.URL.Query().Get("invite")}
	if err := web.signupAllowed(form.Invite); err != nil {
		web.render(w, r, http.StatusForbidden, "signup", &page{Title: "Sign up", Error: err.Error(), Data: form})
		return
	}
	web.render(w, r, http.StatusOK, "signup", &page{Title: "Sign up", Data: form})
}

// signupAllowed returns the reason sign-up is refused, if it is.
func (web *Web) signupAllowed(invite string) error {
	switch web.signup() {
	case SignupClosed:
		return tack.Errorf(tack.EFORBIDDEN, "Sign-up is closed on this service. Ask its operator for an account.")
	case SignupInvite:
		if invite == "" {
			return tack.Errorf(tack.EFORBIDDEN, "Sign-up on this service is by invitation. Ask its operator for an invitation link.")
		}
	}
	return nil
}

func (web *Web) handleSignUp(w http.ResponseWriter, r *http.Request) {
	form := signInForm{Email: strings.TrimSpace(r.PostForm.Get("email")), Invite: r.PostForm.Get("invite")}
	password := r.PostForm.Get("password")
	again := func(status int, msg string) {
		web.render(w, r, status, "signup", &page{Title: "Sign up", Error: msg, Data: form})
	}
	if err := web.signupAllowed(form.Invite); err != nil {
		again(http.StatusForbidden, err.Error())
		return
	}
	if msg := checkEmail(form.Email); msg != "" {
		again(http.StatusBadRequest, msg)
		return
	}
	if msg := checkNewPassword(password); msg != "" {
		again(http.StatusBadRequest, msg)
		return
	}
	// The answer says whether the email has an account: limit it, for new
	// and taken emails alike, before the store is asked.
	if err := web.allowSignUp(w, r, form.Email); err != nil {
		again(http.StatusTooManyRequests, tack.ErrorMessage(err))
		return
	}
	// The password is hashed whether or not the email is taken, so that
	// both answers take as long.
	hash, err := web.hashPassword(r.Context(), password)
	if err != nil {
		web.fail(w, r, nil, err)
		return
	}
	acct := &tack.Account{Email: form.Email, Access: tack.AccessNone, PasswordHash: hash}
	if web.AutoApprove {
		acct.Access = tack.AccessApproved
	}
	if web.signup() == SignupInvite {
		err = web.Store.CreateAccountWithInvite(r.Context(), acct, hashSecret(form.Invite))
	} else {
		err = web.Store.CreateAccount(r.Context(), acct)
	}
	switch tack.ErrorCode(err) {
	case "":
	case tack.ECONFLICT:
		again(http.StatusConflict, "An account with this email already exists. Sign in instead.")
		return
	case tack.ENOTFOUND:
		again(http.StatusForbidden, "This invitation link is not valid: it was used already or has expired. Ask the operator for a new one.")
		return
	default:
		web.fail(w, r, nil, err)
		return
	}
	web.startSession(w, r, acct, "/tokens")
}

// checkNewPassword returns what is wrong with a new password, or "".
func checkNewPassword(password string) string {
	if utf8.RuneCountInString(password) < MinPasswordLength || len(password) > MaxPasswordLength {
		return "Choose a password of at least " + strconv.Itoa(MinPasswordLength) + " characters (and at most " + strconv.Itoa(MaxPasswordLength) + " bytes)."
	}
	return ""
}

// checkEmail returns what is wrong with an email address, or "".
func checkEmail(email string) string {
	if email == "" {
		return "Enter your email address."
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" || len(email) > 254 {
		return "\"" + clip(email) + "\" is not an email address."
	}
	return ""
}

func (web *Web) handleSignOut(w http.ResponseWriter, r *http.Request) {
	if c, err := web.cookie(r, sessionCookie); err == nil && c.Value != "" {
		if err := web.Store.DeleteSession(r.Context(), hashSecret(c.Value)); err != nil {
			web.fail(w, r, nil, err)
			return
		}
	}
	web.setCookie(w, sessionCookie, "", web.now())
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// handleChangePassword sets a new password after checking the current one,
// signs the account out everywhere else and keeps this browser signed in.
func (web *Web) handleChangePassword(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	current, next := r.PostForm.Get("current"), r.PostForm.Get("password")
	again := func(status int, msg string) {
		web.renderTokens(w, r, acct, status, &page{Error: msg}, &tokensPage{})
	}
	if msg := checkNewPassword(next); msg != "" {
		again(http.StatusBadRequest, msg)
		return
	}
	// A borrowed session must not be a way to guess the password.
	if err := web.allowSignIn(w, r, acct.Email, acct); err != nil {
		again(http.StatusTooManyRequests, tack.ErrorMessage(err))
		return
	}
	ok, err := web.checkPassword(r.Context(), acct.PasswordHash, current)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	if !ok {
		again(http.StatusUnauthorized, "Your current password is wrong.")
		return
	}
	hash, err := web.hashPassword(r.Context(), next)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	ctx := r.Context()
	if err := web.Store.SetAccountPassword(ctx, acct.ID, hash); err != nil {
		web.fail(w, r, acct, err)
		return
	}
	acct.PasswordHash = hash // startSession marks this browser with it
	if err := web.Store.DeleteSessions(ctx, acct.ID); err != nil {
		web.fail(w, r, acct, err)
		return
	}
	notice, err := web.revokeTokensIfAsked(r, acct)
	if err != nil {
		web.fail(w, r, acct, err)
		return
	}
	web.startSession(w, r, acct, "/tokens?notice="+notice)
}

// revokeTokensIfAsked revokes every API token of acct if the password form
// had its revoke_tokens box ticked, and returns the notice for the token
// page: the password changed, and the tokens were revoked or not. A new
// password signs out every browser but leaves tokens working unless asked:
// they are often on servers that the user may not want to reconfigure.
func (web *Web) revokeTokensIfAsked(r *http.Request, acct *tack.Account) (string, error) {
	if r.PostForm.Get("revoke_tokens") == "" {
		return "password-changed", nil
	}
	if _, err := web.Store.RevokeTokens(r.Context(), acct.ID); err != nil {
		return "", err
	}
	return "password-changed-tokens-revoked", nil
}

// resetForm is the password reset page's data.
type resetForm struct {
	Code  string
	Email string
}

// errResetLink is the answer to a reset link that is unknown, used or
// expired.
var errResetLink = tack.Errorf(tack.ENOTFOUND, "This password reset link is not valid: it was used already or has expired. Ask the operator for a new one.")

// resetLink returns the account of the reset link with code, or
// errResetLink.
func (web *Web) resetLink(ctx context.Context, code string) (*tack.Account, error) {
	if code == "" {
		return nil, errResetLink
	}
	reset, err := web.Store.FindPasswordReset(ctx, hashSecret(code))
	if tack.ErrorCode(err) == tack.ENOTFOUND {
		return nil, errResetLink
	} else if err != nil {
		return nil, err
	}
	if !web.now().Before(reset.Expires) {
		return nil, errResetLink
	}
	return web.Store.FindAccountByID(ctx, reset.AccountID)
}

func (web *Web) handleResetPage(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	acct, err := web.resetLink(r.Context(), code)
	if err != nil {
		web.fail(w, r, nil, err)
		return
	}
	web.render(w, r, http.StatusOK, "reset", &page{Title: "Set a new password", Data: resetForm{Code: code, Email: acct.Email}})
}

func (web *Web) handleReset(w http.ResponseWriter, r *http.Request) {
	code, password := r.PostForm.Get("code"), r.PostForm.Get("password")
	if err := web.allowSignIn(w, r, "", nil); err != nil {
		web.fail(w, r, nil, err)
		return
	}
	acct, err := web.resetLink(r.Context(), code)
	if err != nil {
		web.fail(w, r, nil, err)
		return
	}
	if msg := checkNewPassword(password); msg != "" {
		web.render(w, r, http.StatusBadRequest, "reset", &page{Title: "Set a new password", Error: msg, Data: resetForm{Code: code, Email: acct.Email}})
		return
	}
	hash, err := web.hashPassword(r.Context(), password)
	if err != nil {
		web.fail(w, r, nil, err)
		return
	}
	// The store checks the link again, in the transaction that uses it up
	// and revokes the tokens if asked.
	revoke := r.PostForm.Get("revoke_tokens") != ""
	acct, err = web.Store.ResetPassword(r.Context(), hashSecret(code), hash, revoke)
	if tack.ErrorCode(err) == tack.ENOTFOUND {
		web.fail(w, r, nil, errResetLink)
		return
	} else if err != nil {
		web.fail(w, r, nil, err)
		return
	}
	notice := "password-changed"
	if revoke {
		notice = "password-changed-tokens-revoked"
	}
	if acct.Blocked {
		web.fail(w, r, nil, tack.Errorf(tack.EFORBIDDEN, "Your password is set, but this account is blocked by the operator of this service."))
		return
	}
	web.startSession(w, r, acct, "/tokens?notice="+notice)
}
