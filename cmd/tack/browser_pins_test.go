package main

import (
	"context"
	"crypto/rand"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// freePort returns a loopback port that nothing listens on, for a server
// whose address must be known before it starts.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// acceptDialogs accepts every confirm() the tab's pages open, as a person
// who presses OK, and counts them.
func acceptDialogs(t *testing.T, tab context.Context) *int {
	t.Helper()
	n := new(int)
	ctx, cancel := context.WithCancel(tab)
	t.Cleanup(cancel)
	opening := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for e, err := range opening {
			if err != nil {
				return
			}
			t.Logf("the page asks: %s", e.Message)
			*n++
			go chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
				_, err := cdp.Call(ctx, tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
				return err
			}))
		}
	}()
	return n
}

// noReload marks the tab's page; stillLoaded says whether the page is still
// the one marked, not reloaded or left since.
const (
	noReload    = `window.tackNoReload = true`
	stillLoaded = `window.tackNoReload === true`
)

// The pins page's story (issue 19), in real Chromium against a real tack
// and a real Kubo node holding the content: a new user pins a CID from
// the page with Kubo's addresses as origins, with no page reload; watches
// the request's page until it is pinned; opens the DAG in the gateway for
// browsers and downloads it as a CAR; replaces a pin and removes one from
// their rows, again without a reload; and sees the pages at a phone's
// width.
func TestBrowserPins(t *testing.T) {
	// Not parallel: Chromium and Kubo (see TestBrowser).
	bin := kuboBin(t)
	browser := mustBrowser(t)
	port := freePort(t)
	m := MustOpenMain(t, tempData(t), func(c *Config) {
		c.Access = "auto"
		c.GatewayListen, c.GatewayURL = "127.0.0.1:"+port, "http://localhost:"+port
	})
	site := m.Config.PublicURL
	k := startKubo(t, bin)

	// A web page folder, with a file large enough to take a moment, and
	// a second file to replace it with.
	dir := filepath.Join(t.TempDir(), "site")
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte(`<!doctype html><title>lab notes</title><h1 id="hello">Hello from Kubo</h1>`), 0o600)
	big := make([]byte, 12<<20)
	rand.Read(big)
	os.WriteFile(filepath.Join(dir, "data.bin"), big, 0o600)
	folder := strings.TrimSpace(k.Run(t, "add", "-r", "-Q", "--cid-version=1", dir))
	other := k.Add(t, 2<<20)
	origins := strings.Join(strings.Fields(k.Run(t, "id", "-f", "<addrs>\n")), "\n")

	user := newBrowserContext(t, browser)
	asked := acceptDialogs(t, user)
	signUp(t, user, "a new user signs up", site, "carol@example.com")
	browse(t, user, "pin a CID from the pins page",
		chromedp.Navigate(site+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`#pin-form input[name=cid]`)),
		chromedp.Evaluate[chromedp.Void](noReload),
		chromedp.SendKeys(chromedp.CSS(`#pin-form input[name=cid]`), folder),
		chromedp.SendKeys(chromedp.CSS(`#pin-form input[name=name]`), "lab notes"),
		chromedp.SetValue(chromedp.CSS(`#pin-form textarea[name=origins]`), origins),
		screenshot(t, "12-pin-a-cid"),
		chromedp.Click(chromedp.CSS(`#pin-form button[type=submit]`)),
		waitText(`#live table.pins`, folder),
		waitText(`main`, "Pin request"),
	)
	if !read(t, user, "whether the page was reloaded", chromedp.Evaluate[bool](stillLoaded)) {
		t.Error("pinning a CID reloaded the pins page")
	}
	if v := read(t, user, "the form after pinning", chromedp.Value(chromedp.CSS(`#pin-form input[name=cid]`))); v != "" {
		t.Errorf("the form still holds %q after pinning", v)
	}

	browse(t, user, "watch the request's page until pinned",
		chromedp.Click(chromedp.CSS(`#live table.pins td.cid a`)),
		waitText(`#request`, "Request ID"),
		waitText(`#request dl`, "ip4"), // the origins given
		chromedp.Evaluate[chromedp.Void](noReload),
		screenshot(t, "13-pin-request-moving"),
		// No reload from here: the page follows the request itself.
		waitText(`#status`, "pinned"),
		waitText(`#progress`, "blocks"),
		screenshot(t, "14-pin-request-pinned"),
	)
	if !read(t, user, "whether the page was reloaded", chromedp.Evaluate[bool](stillLoaded)) {
		t.Error("the request's page reloaded to follow the request")
	}
	command := read(t, user, "the Kubo command", chromedp.Value(chromedp.ID("pin-command")))
	if want := "ipfs pin remote add --service=tack --name='lab notes' " + folder; command != want {
		t.Errorf("the page's command %q, want %q", command, want)
	}
	open := read(t, user, "the gateway link", chromedp.AttributeValue(chromedp.CSS(`#links a[target=_blank]`), "href")).Value
	if want := "http://localhost:" + port + "/ipfs/" + folder + "/"; open != want {
		t.Errorf("the gateway link is %q, want %q", open, want)
	}
	car := read(t, user, "the CAR link", chromedp.AttributeValue(chromedp.CSS(`#links a[download]`), "href")).Value
	browse(t, user, "open it in the gateway",
		chromedp.Navigate(open),
		waitText(`#hello`, "Hello from Kubo"),
		screenshot(t, "15-pin-in-gateway"),
	)
	if at := read(t, user, "where the gateway page is", chromedp.Location()); !strings.Contains(at, ".ipfs.localhost:"+port+"/") {
		t.Errorf("the gateway served the folder at %s, not on its CID's origin", at)
	}
	resp, err := nethttp.Get(site + car)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/vnd.ipld.car") {
		t.Fatalf("downloading %s: %d %s", car, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if n, whole := readCAR(t, body); !whole || n < 3 {
		t.Errorf("the CAR of %s holds %d blocks, whole: %v", folder, n, whole)
	}

	browse(t, user, "replace the pin from its row",
		chromedp.Navigate(site+"/dashboard"),
		waitText(`#live table.pins`, "pinned"),
		chromedp.Evaluate[chromedp.Void](noReload),
		chromedp.Click(chromedp.CSS(`#live details.replace summary`)),
		chromedp.WaitVisible(chromedp.CSS(`#live details.replace input[name=cid]`)),
		chromedp.SendKeys(chromedp.CSS(`#live details.replace input[name=cid]`), other),
		screenshot(t, "16-pin-replace"),
		// After a whole-page screenshot Chromium misplaces clicks below
		// the first screenful until the page scrolls.
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 1)`),
		chromedp.Click(chromedp.CSS(`#live details.replace button[type=submit]`)),
		waitText(`main`, "Pin request replaced"),
		waitText(`#live table.pins`, other),
		waitText(`#live table.pins td[data-label=Status]`, "pinned"),
	)
	if text := read(t, user, "the pins", chromedp.Text(chromedp.CSS(`#live`))); strings.Contains(text, folder) {
		t.Errorf("the replaced CID is still listed:\n%s", text)
	}
	if !read(t, user, "whether the page was reloaded", chromedp.Evaluate[bool](stillLoaded)) {
		t.Error("replacing a pin reloaded the pins page")
	}

	// The pages on a phone, signed in as the same user.
	phone := newBrowserContext(t, browser)
	browse(t, phone, "the pins pages on a phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(site+"/signin"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "carol@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		waitText(`#live table.pins`, "pinned"),
		screenshot(t, "17-phone-pins-actions"),
	)
	if read(t, phone, "the pins page's width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
		t.Error("the pins page is wider than a phone's screen")
	}
	browse(t, phone, "a request's page on a phone",
		chromedp.Click(chromedp.CSS(`#live table.pins td.cid a`)),
		waitText(`#status`, "pinned"),
		screenshot(t, "18-phone-pin-request"),
	)
	if read(t, phone, "the request page's width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)) {
		t.Error("a request's page is wider than a phone's screen")
	}

	browse(t, user, "remove the pin from its row",
		chromedp.Click(chromedp.CSS(`#live form[action$="/remove"] button`)),
		waitText(`main`, "Pin request removed."),
		waitText(`#live`, "No pins yet."),
	)
	if *asked != 1 {
		t.Errorf("removing asked %d times, want once", *asked)
	}
	if !read(t, user, "whether the page was reloaded", chromedp.Evaluate[bool](stillLoaded)) {
		t.Error("removing a pin reloaded the pins page")
	}
}
