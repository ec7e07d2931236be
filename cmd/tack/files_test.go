package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"mime/multipart"
	nethttp "net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	pinclient "github.com/ipfs/boxo/pinning/remote/client"

	"github.com/tack-ipfs/tack"
	tackhttp "github.com/tack-ipfs/tack/http"
)

// writeFolder writes a folder of files under dir/name, nested, one of
// them empty and one of several 1 MiB chunks, and returns its files'
// paths relative to dir.
func writeFolder(tb testing.TB, dir, name string) []string {
	tb.Helper()
	big := make([]byte, 2<<20+4321)
	rand.Read(big)
	files := map[string][]byte{
		name + "/index.html":           []byte("<h1>an album</h1>"),
		name + "/empty":                nil,
		name + "/photos/big.bin":       big,
		name + "/photos/2026/a.txt":    []byte("a"),
		name + "/photos/2026/ünï.txt":  []byte("names in UTF-8"),
		name + "/notes/with space.txt": []byte("b"),
	}
	var paths []string
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			tb.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// kuboCID is the CID that `ipfs add` with the flags docs/api.md names
// gives for path, computed by Kubo offline (-n: hashing only).
func kuboCID(tb testing.TB, path string) string {
	tb.Helper()
	k := &kubo{bin: kuboBin(tb), repo: filepath.Join(tb.TempDir(), "ipfs")}
	k.Run(tb, "init", "--profile=test")
	return strings.TrimSpace(k.Run(tb, "add", "-Q", "-r", "-n", "--cid-version=1", "--raw-leaves", "--chunker=size-1048576", "--max-file-links=1024", path))
}

// postFiles posts the files under dir, named by their paths, to
// POST /files.
func postFiles(tb testing.TB, addr, token, query, dir string, paths []string) (int, tackhttp.PinResults, string) {
	tb.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range paths {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			tb.Fatal(err)
		}
		part, err := w.CreateFormFile("file", p)
		if err != nil {
			tb.Fatal(err)
		}
		part.Write(data)
	}
	w.Close()
	req, err := nethttp.NewRequest("POST", "http://"+addr+"/files"+query, &buf)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var res tackhttp.PinResults
	json.Unmarshal(body, &res)
	return resp.StatusCode, res, string(body)
}

// A folder uploaded to a tack serve process, over the API, with curl as
// docs/api.md shows, and through the pins page in Chromium (with its
// script, and without), gets the CID Kubo gives the same folder, pinned.
func TestUploadFolderEndToEnd(t *testing.T) {
	browser := mustBrowser(t)
	dir := t.TempDir()
	paths := writeFolder(t, dir, "album")
	want := kuboCID(t, filepath.Join(dir, "album"))

	data, addr := tempData(t), freeAddr(t)
	startProcess(t, buildBinary(t), data, addr)
	token := readToken(t, data)
	client := pinclient.NewClient("http://"+addr, token)
	waitUp(t, client)

	// The API.
	status, res, body := postFiles(t, addr, token, "?name=from+the+api", dir, paths)
	if status != 200 || len(res.Results) != 1 || res.Results[0].Status != tack.StatusPinned || res.Results[0].Pin.CID != want {
		t.Fatalf("POST /files: got %d %s, want %s pinned", status, body, want)
	}
	first := res.Results[0].RequestID

	// The page, with its script: the progress bar fills, the page says
	// the CID, and the list shows it without a reload.
	password, err := os.ReadFile(filepath.Join(data, "admin.password"))
	if err != nil {
		t.Fatal(err)
	}
	site := "http://" + addr
	tab := newBrowserContext(t, browser)
	browse(t, tab, "sign in and upload a folder",
		chromedp.Navigate(site+"/signin"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=email]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "admin"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), strings.TrimSpace(string(password))),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		waitLocation(site+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`#files-form`)),
		chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`window.notReloaded = true`)(ctx, tab)
			return err
		}),
		chromedp.SetUploadFiles(chromedp.CSS(`#files-folder`), []string{filepath.Join(dir, "album")}),
		chromedp.Click(chromedp.CSS(`#files-form button[type=submit]`)),
		waitText("#files-status", "Uploaded: "+want+" pinned"),
		screenshot(t, "19-files-uploaded"),
	)
	full := read(t, tab, "progress", chromedp.Evaluate[bool](`(() => { const p = document.getElementById("files-progress"); return !p.hidden && p.value === p.max && p.max > 2097152; })()`))
	if !full {
		t.Error("the progress bar is not full after the upload")
	}
	browse(t, tab, "the list shows it", waitText("#live", want))
	if !read(t, tab, "no reload", chromedp.Evaluate[bool](`window.notReloaded === true`)) {
		t.Error("the page was reloaded")
	}

	// The page without its script: a plain form post, then the pins page.
	browse(t, tab, "upload without the script",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}),
		chromedp.Navigate(site+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS(`#files-form`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#files-folder`), []string{filepath.Join(dir, "album")}),
		chromedp.Click(chromedp.CSS(`#files-form button[type=submit]`)),
		waitLocation(site+"/dashboard"),
		waitText("#live", want),
	)

	// curl, as docs/api.md shows it.
	curl := exec.Command("sh", "-c", `find album -type f -printf "-F\0file=@%p;filename=%p\0" | xargs -0 curl -s -H "Authorization: Bearer $TOKEN" "$URL/files?name=my-site"`)
	curl.Dir = dir
	curl.Env = append(os.Environ(), "TOKEN="+token, "URL="+site)
	out, err := curl.Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Results) != 1 || res.Results[0].Pin.CID != want {
		t.Fatalf("curl: got %s, want %s", out, want)
	}

	// Each upload found the request of the first.
	list, err := client.LsSync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].GetRequestId() != first || list[0].GetPin().GetCid().String() != want {
		t.Errorf("requests: %v, want the one made by the API", list)
	}
}
