package http

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tack-ipfs/tack"
	"golang.org/x/time/rate"
)

// How sign-in attempts are limited. Counting attempts per email alone let
// anyone lock an account's owner out with ten wrong passwords, and counting
// them per (email, address) alone would let an attacker with many addresses
// guess without end. So, as OWASP's "device cookies" do:
//
//   - A browser that signed in to the account before holds a device cookie
//     naming the account (signed with Web.Key, and bound to the password
//     hash, so that a new password ends it on every other browser). Its
//     attempts count only in its own bucket: nobody else's guesses can
//     lock it out, and a stolen cookie still allows only SignInLimit.
//   - Every other attempt counts in the client address's bucket (three
//     times SignInLimit, since many people may share an address), in the
//     bucket of the email at that address (SignInLimit), and in a slower
//     bucket of the email over all addresses (ten times SignInLimit's
//     burst, refilled at a tenth of its rate): guesses from many addresses
//     meet that backstop, which the owner's known browsers pass.
//
// An attacker can still, from many addresses, keep the owner from signing
// in on a browser they never used before, until the backstop refills; the
// owner's own browsers keep working, which is the trade this makes.
const (
	deviceCookie = "tack_device"
	// DefaultDeviceTTL is how long a browser stays known after its last
	// sign-in.
	DefaultDeviceTTL = 365 * 24 * time.Hour
)

// signInLimit is SignInLimit with its defaults: 10 a minute, bursts of 10.
func (web *Web) signInLimit() RateLimit {
	cfg := web.SignInLimit
	if cfg.Rate == 0 {
		cfg.Rate = rate.Limit(10.0 / 60)
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 10
	}
	return cfg
}

// bucket is one rate limit that an attempt counts against.
type bucket struct {
	key string
	cfg RateLimit
}

// allowSignIn takes one attempt from the buckets of the request, for
// sign-in and everything else that checks or sets a password: those of
// the client's address and, unless email is "", of the email, or of the
// browser's device cookie if it names acct (see above). If any bucket is
// empty it takes from none, sets Retry-After on w and returns ERATELIMITED
// saying how long to wait.
func (web *Web) allowSignIn(w http.ResponseWriter, r *http.Request, email string, acct *tack.Account) error {
	cfg := web.signInLimit()
	if cfg.Rate == rate.Inf {
		return nil
	}
	client := web.clientKey(r)
	email = strings.ToLower(email)
	var buckets []bucket
	if device := web.device(r, acct); email != "" && device != "" {
		buckets = []bucket{{"device:" + strconv.FormatInt(acct.ID, 10) + ":" + device, cfg}}
	} else {
		buckets = append(buckets, bucket{"addr:" + client, RateLimit{Rate: 3 * cfg.Rate, Burst: 3 * cfg.Burst}})
		if email != "" {
			buckets = append(buckets,
				bucket{"email-addr:" + email + "\x00" + client, cfg},
				bucket{"email:" + email, RateLimit{Rate: cfg.Rate / 10, Burst: 10 * cfg.Burst}})
		}
	}
	if err := web.take(w, buckets); err != nil {
		return tack.Errorf(tack.ERATELIMITED, "Too many sign-in attempts. %s", tack.ErrorMessage(err))
	}
	return nil
}

// allowSignUp takes one attempt from the sign-up buckets of the client's
// address and of the email, each SignInLimit's burst refilled at a
// sixtieth of its rate (10 an hour by default). Sign-up answers whether an
// email has an account, and without email tack cannot answer both the
// same way: a new email gets its account and a session at once. So the
// answer is rationed instead: per address against one prober trying many
// emails, per email against many addresses trying one. These buckets are
// not sign-in's, so that trying someone's email here cannot lock them out
// of signing in. If either is empty it returns ERATELIMITED, whether or
// not the email is taken.
func (web *Web) allowSignUp(w http.ResponseWriter, r *http.Request, email string) error {
	cfg := web.signInLimit()
	if cfg.Rate == rate.Inf {
		return nil
	}
	cfg.Rate /= 60
	err := web.take(w, []bucket{
		{"signup-addr:" + web.clientKey(r), cfg},
		{"signup-email:" + strings.ToLower(email), cfg},
	})
	if err != nil {
		return tack.Errorf(tack.ERATELIMITED, "Too many sign-up attempts. %s", tack.ErrorMessage(err))
	}
	return nil
}

// take takes one attempt from every bucket, or from none if any is empty:
// then it sets Retry-After on w and returns ERATELIMITED saying how long
// to wait.
func (web *Web) take(w http.ResponseWriter, buckets []bucket) error {
	now := web.now()
	var reservations []*rate.Reservation
	for _, b := range buckets {
		res := web.signInLimits.get(b.key, b.cfg, now).ReserveN(now, 1)
		reservations = append(reservations, res)
		if d := res.DelayFrom(now); !res.OK() || d > 0 {
			for _, res := range reservations {
				res.CancelAt(now)
			}
			wait := max(1, int(math.Ceil(d.Seconds())))
			if !res.OK() {
				wait = 60
			}
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			return tack.Errorf(tack.ERATELIMITED, "Wait %d seconds, then try again.", wait)
		}
	}
	return nil
}

// device returns the ID of the browser's device cookie if it is valid and
// names acct with its current password, else "".
func (web *Web) device(r *http.Request, acct *tack.Account) string {
	if acct == nil || acct.PasswordHash == "" {
		return ""
	}
	c, err := web.cookie(r, deviceCookie)
	if err != nil {
		return ""
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 4 || parts[0] != strconv.FormatInt(acct.ID, 10) || parts[1] == "" {
		return ""
	}
	expires, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || !web.now().Before(time.Unix(expires, 0)) {
		return ""
	}
	if !hmac.Equal([]byte(parts[3]), []byte(web.deviceMAC(acct, parts[1], parts[2]))) {
		return ""
	}
	return parts[1]
}

func (web *Web) deviceMAC(acct *tack.Account, device, expires string) string {
	mac := hmac.New(sha256.New, web.Key)
	fmt.Fprintf(mac, "tack device\x00%d\x00%s\x00%s\x00%s", acct.ID, device, expires, acct.PasswordHash)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// markDevice gives the browser, which just signed in to acct, a device
// cookie naming acct: the one it has, renewed, or a new one.
func (web *Web) markDevice(w http.ResponseWriter, r *http.Request, acct *tack.Account) {
	if acct.PasswordHash == "" {
		return
	}
	device := web.device(r, acct)
	if device == "" {
		device = randomSecret()[:22]
	}
	expires := web.now().Add(DefaultDeviceTTL)
	unix := strconv.FormatInt(expires.Unix(), 10)
	value := strconv.FormatInt(acct.ID, 10) + "." + device + "." + unix + "." + web.deviceMAC(acct, device, unix)
	web.setCookie(w, deviceCookie, value, expires)
}
