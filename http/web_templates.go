package http

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/tack-ipfs/tack"
)

//go:embed templates static
var webFiles embed.FS

// webPages are the templates under templates/ that are whole pages; each
// is parsed together with layout.html.
var webPages = []string{"signin", "signup", "reset", "tokens", "access", "admin", "pins", "pin", "error"}

func (web *Web) init() error {
	funcs := template.FuncMap{
		"static":   func(name string) string { return "/static/" + name + "?v=" + web.staticSums[name] },
		"when":     formatWhen,
		"bytes":    tack.FormatSize,
		"group":    groupDigits,
		"duration": formatDuration,
		"limit": func(n int64) string {
			if n == 0 {
				return "no limit"
			}
			return strconv.FormatInt(n, 10)
		},
		"limitBytes": func(n int64) string {
			if n == 0 {
				return "no limit"
			}
			return exactBytes(n)
		},
		"own": func(n *int64, bytes bool) string {
			switch {
			case n == nil:
				return ""
			case bytes:
				return exactBytes(*n)
			}
			return strconv.FormatInt(*n, 10)
		},
		"lower": strings.ToLower,
	}
	web.pages = map[string]*template.Template{}
	for _, name := range webPages {
		t, err := template.New(name).Funcs(funcs).ParseFS(webFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("web page %s: %w", name, err)
		}
		web.pages[name] = t
	}
	static, err := fs.Sub(webFiles, "static")
	if err != nil {
		return err
	}
	web.staticSums = map[string]string{}
	entries, err := fs.ReadDir(static, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := fs.ReadFile(static, e.Name())
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		web.staticSums[e.Name()] = hex.EncodeToString(sum[:6])
	}
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	web.static = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := web.staticSums[strings.TrimPrefix(r.URL.Path, "/static/")]; !ok {
			web.fail(w, r, nil, tack.Errorf(tack.ENOTFOUND, "There is no such file."))
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
	// Hashing a password takes 19 MiB and tens of milliseconds: a few at a
	// time keep a burst of sign-ins from exhausting memory.
	web.hashSlots = make(chan struct{}, 4)
	return nil
}

// page is what every template gets: the layout's parts, and the page's own
// data in Data.
type page struct {
	Title   string
	Account *tack.Account // nil when signed out
	CSRF    string
	Notice  string
	Error   string
	Refresh bool // the pins page refreshes itself while requests are moving
	Signup  SignupMode
	Data    any
}

// render writes a page with the given status. Pages are never cached: some
// show a token once.
func (web *Web) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t := web.pages[name]
	if p.CSRF == "" {
		p.CSRF = web.csrfToken(w, r)
	}
	if p.Signup == "" {
		p.Signup = web.signup()
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", p); err != nil {
		web.logger().Error("rendering page", "page", name, "err", err)
		status = http.StatusInternalServerError
		b.Reset()
		b.WriteString("<!doctype html><title>tack</title><p>Something went wrong on our side. Please try again.</p>")
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// fail renders the error page. Internal errors are logged and shown only
// as "something went wrong"; an outage shows the part that is unavailable,
// and every 503 carries Retry-After.
func (web *Web) fail(w http.ResponseWriter, r *http.Request, acct *tack.Account, err error) {
	closeUnreadBody(w, r)
	status, _ := ErrorStatus(tack.ErrorCode(err))
	msg := tack.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		web.logger().Error("web page", "method", r.Method, "path", r.URL.Path, "err", err)
		web.Metrics.Error(errorSource(err))
		msg = "Something went wrong on our side. Please try again in a moment."
	} else if tack.IsOutage(err) && r.Context().Err() == nil {
		web.logger().Warn("web page: unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		web.Metrics.Error(errorSource(err))
	}
	if tack.IsOutage(err) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", OutageRetryAfter)
	} else if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	web.render(w, r, status, "error", &page{Title: http.StatusText(status), Account: acct, Error: msg})
}
