package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/tack-ipfs/tack/internal/testpeer"
)

// TestBrowserReadOnlyToken: in Chromium, a new user makes a read-only
// token on the token page, sees it marked read-only there (on a phone's
// width too), and the API refuses a pin with it while listing works; the
// operator's page shows the service's headline figures.
func TestBrowserReadOnlyToken(t *testing.T) {
	// Not parallel: Chromium is too heavy to share two cores with other
	// tests.
	browser := mustBrowser(t)
	dir := tempData(t)
	m := MustOpenMain(t, dir)
	site := m.Config.PublicURL

	user := newBrowserContext(t, browser)
	browse(t, user, "sign up",
		chromedp.Navigate(site+"/signup"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "carol@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		waitText(`#access`, "Pinning access: none"),
	)
	MustRun(t, "account", "approve", "--data", dir, "--email", "carol@example.com")
	browse(t, user, "create a read-only token",
		chromedp.Navigate(site+"/tokens"),
		waitText(`#access`, "Pinning access: approved"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/tokens"] input[name=name]`), "grafana"),
		chromedp.SetValue(chromedp.CSS(`form[action="/tokens"] select[name=scope]`), "read"),
		chromedp.Submit(chromedp.CSS(`form[action="/tokens"] input[name=name]`)),
		chromedp.WaitVisible(chromedp.ID("token-value")),
		waitText(`#new-token`, "read-only"),
		waitText(`table.tokens`, "read-only"),
		screenshot(t, "20-token-read-only"),
	)
	token := read(t, user, "the new token", chromedp.Value(chromedp.ID("token-value")))

	ctx := context.Background()
	c := m.Client(token)
	if _, _, err := c.LsBatchSync(ctx); err != nil {
		t.Errorf("listing with the read-only token: %v", err)
	}
	_, err := c.Add(ctx, testpeer.RandomRawCID(t), pinclient.PinOpts.WithName("refused"))
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("pinning with the read-only token: %v, want a 403 saying it is read-only", err)
	}
	t.Logf("a pin with the read-only token: %v", err)

	phone := newBrowserContext(t, browser)
	browse(t, phone, "the token page on a phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(site+"/signin"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "carol@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		// Signed in once the tab is at the dashboard: the sign-in page
		// has a nav too, and a navigation started while the form's was
		// still under way was aborted (net::ERR_ABORTED, once in CI).
		waitLocation(site+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`nav`)),
		chromedp.Navigate(site+"/tokens"),
		waitText(`table.tokens`, "read-only"),
		screenshot(t, "21-phone-token-scopes"),
	)
	overflow := read(t, phone, "the page's width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if overflow {
		t.Error("the token page with its scope column is wider than a phone's screen")
	}

	operator := newBrowserContext(t, browser)
	browse(t, operator, "the operator's figures",
		chromedp.Navigate(site+"/signin"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), m.AdminPassword),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin"]`)),
		chromedp.Navigate(site+"/admin"),
		waitText(`#figures`, "0 queued"),
		waitText(`#figures`, "DAG fetches running"),
		waitText(`#figures`, "none since start"),
		screenshot(t, "22-operator-figures"),
	)
}
