package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// screenshotDir is where the browser test leaves a picture of every page
// it visits: testoutput/screenshots at the top of the repository.
var screenshotDir = filepath.Join("..", "..", "testoutput", "screenshots")

// mustBrowser starts headless Chromium and returns a context of the
// browser itself; tabs for separate users come from newBrowserContext.
// Without Chromium the test is skipped, unless TACK_BROWSER_TESTS=required
// (as in CI), where it fails.
func mustBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		if os.Getenv("TACK_BROWSER_TESTS") == "required" {
			t.Fatalf("%s is missing: apt-get install -y chromium", chromiumPath)
		}
		t.Skipf("%s is missing (apt-get install -y chromium); skipping the browser test", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		// Every name but 127.0.0.1 fails to resolve: a page that sends the
		// browser elsewhere (evil.test) ends on an error page, and the
		// tests send no traffic off the machine.
		// localhost and its subdomains, which Chromium resolves to
		// loopback itself, are left to it: the subdomain gateway's tests
		// use {cid}.ipfs.localhost.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost, EXCLUDE *.localhost"),
		// The https tests' servers have certificates of their own making.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancel)
	// The first run starts the browser, which lives as long as ctx: no
	// deadline here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// newBrowserContext returns a tab in a browser context of its own: its own
// cookies, like a second person's browser.
func newBrowserContext(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	return ctx
}

// browse runs browser actions with a deadline and fails the test on error.
func browse(t *testing.T, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		dump, cancelDump := context.WithTimeout(tab, 5*time.Second)
		defer cancelDump()
		url, _ := chromedp.Run(dump, chromedp.Location())
		body, _ := chromedp.Run(dump, chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("%s: %v\nat %s:\n%s", what, err, url, body)
	}
}

// read runs one browser action that returns a value.
func read[T any](t *testing.T, tab context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// screenshot saves the whole page as name.png in screenshotDir.
func screenshot(t *testing.T, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tab)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
			return err
		}
		path := filepath.Join(screenshotDir, name+".png")
		t.Logf("screenshot %s", path)
		return os.WriteFile(path, png, 0o644)
	})
}

// waitText waits until the element's text contains want. It asks again
// every 100 ms, also across the navigation that a submitted form starts
// (when the page being asked goes away mid-question).
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	expr := `(() => { const e = document.querySelector(` + jsString(sel) + `); return !!e && e.innerText.includes(` + jsString(want) + `); })()`
	return chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
		var lastErr error
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, tab)
			if err == nil && ok {
				return nil
			}
			lastErr = err
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %q in %s: %w (last error: %v)", want, sel, ctx.Err(), lastErr)
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

// waitLocation waits until the tab's current address (its history entry,
// which an error page keeps too) is want, asking every 100 ms, and says
// where the tab is if it never gets there.
func waitLocation(want string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
		var last string
		for {
			if h, err := chromedp.NavigationEntries()(ctx, tab); err == nil && h.CurrentIndex >= 0 && int(h.CurrentIndex) < len(h.Entries) {
				if last = h.Entries[h.CurrentIndex].URL; last == want {
					return nil
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting to be at %s: %w (last at %q)", want, ctx.Err(), last)
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

// The whole story, in real Chromium against a real tack: a user
// signs up and asks for pinning access; the API refuses their token with
// a 403 naming the token page; the operator, in a browser of their own,
// approves; the user makes a token on the token page, pins content from an
// IPFS peer with the client Kubo uses, and watches the pins page reach
// pinned without reloading it.
func TestBrowser(t *testing.T) {
	// Not parallel: Chromium is too heavy to share two cores with other
	// tests.
	browser := mustBrowser(t)
	m := MustOpenMain(t, tempData(t))
	site := m.Config.PublicURL
	peer := testpeer.New(t)
	root := peer.AddFile(t, 24<<20, 256<<10, 1)
	example := testpeer.RandomRawCID(t).String()

	user := newBrowserContext(t, browser)
	browse(t, user, "sign up",
		chromedp.Navigate(site+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.Click(chromedp.CSS(`a[href="/signup"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		screenshot(t, "01-sign-up"),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		waitText(`#access`, "Pinning access: none"),
		screenshot(t, "02-tokens-no-access"),
	)
	browse(t, user, "request access",
		chromedp.Click(chromedp.CSS(`#access a.button`)),
		chromedp.WaitVisible(chromedp.CSS(`textarea[name=what]`)),
		chromedp.SendKeys(chromedp.CSS(`textarea[name=what]`), "Our lab's microscopy datasets, published with each paper."),
		chromedp.SendKeys(chromedp.CSS(`input[name=volume]`), "About 200 GB over the next year"),
		chromedp.SendKeys(chromedp.CSS(`textarea[name=cids]`), example),
		screenshot(t, "03-request-access"),
		chromedp.Submit(chromedp.CSS(`input[name=volume]`)),
		waitText(`main`, "Your request for pinning access was sent."),
		waitText(`#access`, "Pinning access: requested"),
	)
	browse(t, user, "create a token before approval",
		chromedp.SendKeys(chromedp.CSS(`form[action="/tokens"] input[name=name]`), "before approval"),
		chromedp.Submit(chromedp.CSS(`form[action="/tokens"] input[name=name]`)),
		chromedp.WaitVisible(chromedp.ID("token-value")),
	)
	token := read(t, user, "the new token", chromedp.Value(chromedp.ID("token-value")))
	ctx := context.Background()
	_, _, err := m.Client(token).LsBatchSync(ctx)
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), site+"/tokens") {
		t.Fatalf("listing pins before approval: %v; want a 403 naming %s/tokens", err, site)
	}
	t.Logf("before approval the API answered: %v", err)

	operator := newBrowserContext(t, browser)
	browse(t, operator, "operator signs in and approves",
		chromedp.Navigate(site+"/signin"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), m.AdminPassword),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/admin"]`)),
		waitText(`#pending`, "alice@example.com"),
		waitText(`#pending`, "microscopy datasets"),
		waitText(`#pending`, example),
		screenshot(t, "04-operator-pending"),
		chromedp.SendKeys(chromedp.CSS(`#pending textarea[name=message]`), "Welcome! Keep each dataset under 1 TB."),
		chromedp.Click(chromedp.CSS(`#pending button[value=approve]`)),
		waitText(`main`, "Pinning access of alice@example.com: approved."),
		waitText(`#pending`, "No requests are waiting."),
		screenshot(t, "05-operator-approved"),
	)

	browse(t, user, "user sees the approval and creates a token",
		chromedp.Navigate(site+"/tokens"),
		waitText(`#access`, "Pinning access: approved"),
		waitText(`#access`, "Keep each dataset under 1 TB."),
		chromedp.SendKeys(chromedp.CSS(`form[action="/tokens"] input[name=name]`), "kubo on my laptop"),
		chromedp.Submit(chromedp.CSS(`form[action="/tokens"] input[name=name]`)),
		chromedp.WaitVisible(chromedp.ID("token-value")),
		chromedp.Click(chromedp.CSS(`button[data-copy="kubo-command"]`)),
		waitText(`button[data-copy="kubo-command"]`, "Copied"),
		screenshot(t, "06-token-created"),
	)
	token = read(t, user, "the new token", chromedp.Value(chromedp.ID("token-value")))
	command := read(t, user, "the Kubo command", chromedp.Value(chromedp.ID("kubo-command")))
	if want := "ipfs pin remote service add tack " + site + "/ " + token; command != want {
		t.Errorf("command on the page %q, want %q", command, want)
	}

	c := m.Client(token)
	ps, err := c.Add(ctx, root, pinclient.PinOpts.WithName("microscopy-2026-11"), pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
	if err != nil {
		t.Fatalf("pinning with the token from the page: %v", err)
	}
	browse(t, user, "the pins page shows the pin",
		chromedp.Navigate(site+"/dashboard"),
		waitText(`table.pins`, root.String()),
		screenshot(t, "07-pins-moving"),
	)
	refreshing := read(t, user, "whether the page refreshes", chromedp.Evaluate[bool](`!!document.querySelector('#live[data-refresh]')`))
	browse(t, user, "the pins page follows the pin to pinned",
		// No reload from here: the page refreshes itself.
		waitText(`table.pins td[data-label=Status]`, "pinned"),
		waitText(`#usage`, "24.0 MiB"),
		screenshot(t, "08-pins-pinned"),
	)
	t.Logf("the pins page was refreshing itself when first loaded: %v", refreshing)
	WaitStatus(t, c, ps.GetRequestId(), pinclient.StatusPinned, time.Minute)
	m.MustHaveDAG(t, peer, root)

	browse(t, user, "filters",
		chromedp.SetValue(chromedp.CSS(`select[name=status]`), "failed"),
		chromedp.Submit(chromedp.CSS(`select[name=status]`)),
		waitText(`main`, "No pin requests match."),
	)
	browse(t, operator, "operator sees the usage",
		chromedp.Navigate(site+"/admin"),
		waitText(`#accounts`, "alice@example.com"),
		waitText(`#accounts`, "24.0 MiB"),
		screenshot(t, "09-operator-accounts"),
	)

	// The same pages on a phone.
	phone := newBrowserContext(t, browser)
	browse(t, phone, "pages on a phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(site+"/signin"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "alice@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		waitText(`table.pins`, "pinned"),
		screenshot(t, "10-phone-pins"),
		chromedp.Navigate(site+"/tokens"),
		waitText(`main`, "kubo on my laptop"),
		screenshot(t, "11-phone-tokens"),
	)
	overflow := read(t, phone, "the page's width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if overflow {
		t.Error("the token page is wider than a phone's screen")
	}

	browse(t, user, "revoke the token on the page",
		chromedp.Navigate(site+"/tokens"),
		chromedp.Click(chromedp.CSS(`table.tokens tr:first-child button.danger`)),
		waitText(`main`, "The token was revoked."),
	)
	if _, _, err := c.LsBatchSync(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("listing with the revoked token: %v, want 401", err)
	}
}

// TestBrowserSignInNext: a sign-in link whose next= names another site, in
// the forms that a browser reads as one (a backslash after dot segments,
// which http.Redirect would clean into "/\evil.test/", the address
// http://evil.test/ to Chromium), leaves the browser on tack's own pages.
// The pages' CSP (form-action 'self') already stops Chromium from following
// a form's redirect to another site, so before the fix the sign-in went
// nowhere; without that CSP the browser ended at http://evil.test/.
func TestBrowserSignInNext(t *testing.T) {
	// Not parallel: Chromium (see TestBrowser).
	browser := mustBrowser(t)
	m := MustOpenMain(t, tempData(t))
	site := m.Config.PublicURL
	for _, next := range []string{`/a/../\evil.test/`, `/./\evil.test`, `/\evil.test`, `//evil.test/`, `/%5cevil.test`, "/\t/evil.test", "/tokens"} {
		want := site + "/dashboard"
		if next == "/tokens" {
			want = site + next
		}
		tab := newBrowserContext(t, browser)
		browse(t, tab, "sign in with next="+next,
			chromedp.Navigate(site+"/signin?next="+url.QueryEscape(next)),
			chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "admin"),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), m.AdminPassword),
			chromedp.Submit(chromedp.CSS(`input[name=password]`)),
			waitLocation(want),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/admin"]`)),
		)
	}
}
