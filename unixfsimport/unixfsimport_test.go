package unixfsimport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/blockstore"
	"github.com/tack-ipfs/tack/gc"
	"github.com/tack-ipfs/tack/sqlite"
	"github.com/tack-ipfs/tack/sqlite/sqlitetest"
	"github.com/tack-ipfs/tack/unixfsimport"
	"github.com/tack-ipfs/tack/upload"
)

// env is an Importer over a real SQLite store and a real on-disk
// blockstore.
type env struct {
	db *sqlite.DB
	bs *blockstore.Local
	im *unixfsimport.Importer
}

func newEnv(tb testing.TB, limits tack.Limits) *env {
	tb.Helper()
	db := sqlitetest.MustOpen(tb)
	bs, err := blockstore.OpenLocal(filepath.Join(tb.TempDir(), "blocks"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { bs.Close() })
	guard, err := gc.NewGuard(bs, db)
	if err != nil {
		tb.Fatal(err)
	}
	uploads := &upload.Importer{Store: db, Guard: guard, Sync: bs.Sync, Limits: limits}
	return &env{db: db, bs: bs, im: &unixfsimport.Importer{Uploads: uploads}}
}

func (e *env) MustAccount(tb testing.TB, email string) *tack.Account {
	tb.Helper()
	a := &tack.Account{Email: email, Access: tack.AccessApproved}
	if err := e.db.CreateAccount(context.Background(), a); err != nil {
		tb.Fatal(err)
	}
	return a
}

// blocks counts the blocks stored.
func (e *env) blocks(tb testing.TB) int {
	tb.Helper()
	ch, err := e.bs.AllKeysChan(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for range ch {
		n++
	}
	return n
}

// file is a file of an upload: its path and its data.
type file struct {
	path string
	data []byte
}

var quote = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// form writes the files as a browser's folder upload sends them: one part
// named "file" each, its path as its filename.
func form(tb testing.TB, files ...file) (body []byte, boundary string) {
	tb.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, quote.Replace(f.path)))
		h.Set("Content-Type", "application/octet-stream")
		p, err := w.CreatePart(h)
		if err != nil {
			tb.Fatal(err)
		}
		p.Write(f.data)
	}
	w.Close()
	return buf.Bytes(), w.Boundary()
}

func (e *env) importFiles(acct *tack.Account, body []byte, boundary string, opts tack.UploadOptions) ([]*tack.PinRequest, error) {
	return e.im.ImportFiles(context.Background(), acct, multipart.NewReader(bytes.NewReader(body), boundary), opts)
}

func random(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// kuboBin returns the Kubo binary from TACK_KUBO or the PATH; without one
// the test is skipped, unless TACK_KUBO_TESTS=required.
func kuboBin(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("TACK_KUBO"); p != "" {
		return p
	}
	p, err := exec.LookPath("ipfs")
	if err != nil {
		if os.Getenv("TACK_KUBO_TESTS") == "required" {
			tb.Fatal("no Kubo: set TACK_KUBO to an ipfs binary")
		}
		tb.Skip("no Kubo: set TACK_KUBO to an ipfs binary")
	}
	return p
}

// kuboAdd runs `ipfs add` (only hashing, offline) in a fresh repo made
// with the profiles, on the files written under a folder, and returns the
// CID of the paths given (ipfs add's last line).
func kuboAdd(tb testing.TB, bin, profile string, flags []string, files []file, paths ...string) string {
	tb.Helper()
	repo, dir := filepath.Join(tb.TempDir(), "ipfs"), tb.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "IPFS_PATH="+repo)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			tb.Fatalf("ipfs %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("init", "--profile=test"+profile)
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	args := append([]string{"add", "-Q", "-r", "-n"}, flags...)
	return strings.TrimSpace(run(append(args, paths...)...))
}

// kuboFlags are the flags that give tack's CIDs (see the package's doc).
var kuboFlags = []string{"--cid-version=1", "--raw-leaves", "--chunker=size-1048576", "--max-file-links=1024"}

// TestSameCIDAsKubo uploads files and folders and checks that their root
// is the CID that `ipfs add` with the documented flags gives for them.
func TestSameCIDAsKubo(t *testing.T) {
	bin := kuboBin(t)
	cases := []struct {
		name  string
		files []file
		paths []string // what ipfs add is given
		flags []string // beyond kuboFlags
	}{
		{"one file", []file{{"hello.txt", []byte("hello, tack\n")}}, []string{"hello.txt"}, nil},
		{"an empty file", []file{{"empty", nil}}, []string{"empty"}, nil},
		{"a file of several chunks", []file{{"big.bin", random(1, 2<<20+12345)}}, []string{"big.bin"}, nil},
		{"a nested folder", []file{
			{"site/index.html", []byte("<h1>hi</h1>")},
			{"site/css/a.css", []byte("a{}")},
			{"site/img/photo.jpg", random(2, 1<<20+1)},
			{"site/img/icons/x.svg", []byte("<svg/>")},
			{"site/empty", nil},
			{"site/notes/ünïcode name.txt", []byte("names in UTF-8")},
		}, []string{"site"}, nil},
		{"files side by side", []file{
			{"a.txt", []byte("a")},
			{"b/c.txt", []byte("c")},
		}, []string{"a.txt", "b"}, []string{"-w"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, tack.Limits{})
			acct := e.MustAccount(t, "a@example.com")
			want := kuboAdd(t, bin, "", append(kuboFlags, c.flags...), c.files, c.paths...)
			body, boundary := form(t, c.files...)
			reqs, err := e.importFiles(acct, body, boundary, tack.UploadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			if got := reqs[0].Pin.CID; got != want {
				t.Errorf("CID %s, Kubo gives %s", got, want)
			}
			if reqs[0].Status != tack.StatusPinned {
				t.Errorf("status %s, want pinned", reqs[0].Status)
			}
		})
	}
}

// TestSameCIDAsKuboSharded uploads a folder whose block passes 256 KiB,
// which becomes a HAMT shard, and compares its CID with Kubo's under the
// unixfs-v1-2025 profile.
func TestSameCIDAsKuboSharded(t *testing.T) {
	bin := kuboBin(t)
	var files []file
	for i := range 3000 {
		files = append(files, file{fmt.Sprintf("many/a-file-with-a-long-name-to-fill-the-folder-%05d.txt", i), fmt.Appendf(nil, "%d", i)})
	}
	want := kuboAdd(t, bin, ",unixfs-v1-2025", nil, files, "many")
	e := newEnv(t, tack.Limits{})
	acct := e.MustAccount(t, "a@example.com")
	body, boundary := form(t, files...)
	reqs, err := e.importFiles(acct, body, boundary, tack.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := reqs[0].Pin.CID; got != want {
		t.Errorf("CID %s, Kubo gives %s", got, want)
	}
	root, err := cid.Decode(reqs[0].Pin.CID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.bs.Get(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	nd, err := merkledag.DecodeProtobuf(b.RawData())
	if err != nil {
		t.Fatal(err)
	}
	fs, err := unixfs.FSNodeFromBytes(nd.Data())
	if err != nil {
		t.Fatal(err)
	}
	if fs.Type() != unixfs.THAMTShard {
		t.Errorf("the folder is a %v, not a HAMT shard", fs.Type())
	}
}

func TestNameDefaultsToTheRoot(t *testing.T) {
	e := newEnv(t, tack.Limits{})
	acct := e.MustAccount(t, "a@example.com")
	body, boundary := form(t, file{"photos/a.jpg", []byte("a")}, file{"photos/b.jpg", []byte("b")})
	reqs, err := e.importFiles(acct, body, boundary, tack.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := reqs[0].Pin.Name; got != "photos" {
		t.Errorf("name %q, want photos", got)
	}
	body, boundary = form(t, file{"c.jpg", []byte("c")})
	reqs, err = e.importFiles(acct, body, boundary, tack.UploadOptions{Name: "given"})
	if err != nil {
		t.Fatal(err)
	}
	if got := reqs[0].Pin.Name; got != "given" {
		t.Errorf("name %q, want given", got)
	}
}

// TestEmptyFileInputSkipped: a browser sends an empty part without a
// filename for a file input left empty.
func TestEmptyFileInputSkipped(t *testing.T) {
	e := newEnv(t, tack.Limits{})
	acct := e.MustAccount(t, "a@example.com")
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.CreateFormFile("file", "")
	p, _ := w.CreateFormFile("file", "dir/x.txt")
	p.Write([]byte("x"))
	w.Close()
	reqs, err := e.importFiles(acct, buf.Bytes(), w.Boundary(), tack.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if reqs[0].Pin.Name != "dir" {
		t.Errorf("name %q, want dir", reqs[0].Pin.Name)
	}
}

// TestRefused: what a form may not hold is refused with EINVALID, and
// leaves no request and no block behind.
func TestRefused(t *testing.T) {
	deep := strings.Repeat("d/", unixfsimport.MaxDepth) + "f"
	cases := []struct {
		name  string
		files []file
		body  string // instead of files
		want  string // in the message
	}{
		{"parent", []file{{"../etc/passwd", []byte("x")}}, "", `".."`},
		{"inner parent", []file{{"a/../../b", []byte("x")}}, "", `".."`},
		{"dot", []file{{"a/./b", []byte("x")}}, "", `".."`},
		{"absolute", []file{{"/etc/passwd", []byte("x")}}, "", "absolute"},
		{"backslash", []file{{`..\..\x`, []byte("x")}}, "", "backslash"},
		{"empty name", []file{{"a//b", []byte("x")}}, "", "empty name"},
		{"trailing slash", []file{{"a/", []byte("x")}}, "", "empty name"},
		{"control", []file{{"a/b\tc", []byte("x")}}, "", "control"},
		{"long name", []file{{strings.Repeat("n", 256), []byte("x")}}, "", "255 bytes"},
		{"too deep", []file{{deep, []byte("x")}}, "", "64 names deep"},
		{"twice", []file{{"a/b", []byte("x")}, {"a/b", []byte("y")}}, "", "twice"},
		{"file then folder", []file{{"a", []byte("x")}, {"a/b", []byte("y")}}, "", "both as a file and as a folder"},
		{"folder then file", []file{{"a/b", []byte("x")}, {"a", []byte("y")}}, "", "both as a file and as a folder"},
		{"no files", nil, "", "no files"},
		{"not multipart", nil, "this is not a form", "cannot be read"},
		{"cut off", nil, "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc", "cannot be read"},
		{"not a file", nil, "--B\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nabc\r\n--B--\r\n", "not a file"},
		{"no filename", nil, "--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--B--\r\n", "no filename"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, tack.Limits{})
			acct := e.MustAccount(t, "a@example.com")
			body, boundary := []byte(c.body), "B"
			if c.body == "" {
				// The refused file comes after one that is stored.
				body, boundary = form(t, append([]file{{"ok/first.bin", random(3, 100_000)}}, c.files...)...)
				if c.files == nil {
					body, boundary = form(t)
				}
			}
			reqs, err := e.importFiles(acct, body, boundary, tack.UploadOptions{})
			if tack.ErrorCode(err) != tack.EINVALID {
				t.Fatalf("got %d requests, %v; want EINVALID", len(reqs), err)
			}
			if msg := tack.ErrorMessage(err); !strings.Contains(msg, c.want) {
				t.Errorf("message %q does not say %q", msg, c.want)
			}
			if n := e.blocks(t); n != 0 {
				t.Errorf("%d blocks left behind", n)
			}
			if pins, _, _ := e.db.FindPins(context.Background(), tack.PinFilter{AccountID: acct.ID, Limit: 10}); len(pins) != 0 {
				t.Errorf("%d requests left behind", len(pins))
			}
		})
	}
}

// TestQuota: an upload past the account's room is refused with EQUOTA,
// and its blocks are taken back.
func TestQuota(t *testing.T) {
	e := newEnv(t, tack.Limits{MaxBytes: 3 << 20})
	acct := e.MustAccount(t, "a@example.com")
	body, boundary := form(t, file{"d/a", random(4, 2<<20)}, file{"d/b", random(5, 2<<20)})
	_, err := e.importFiles(acct, body, boundary, tack.UploadOptions{})
	if tack.ErrorCode(err) != tack.EQUOTA {
		t.Fatalf("got %v, want EQUOTA", err)
	}
	if n := e.blocks(t); n != 0 {
		t.Errorf("%d blocks left behind", n)
	}
	// Within the room, it is taken.
	body, boundary = form(t, file{"d/a", random(4, 2<<20)})
	if _, err := e.importFiles(acct, body, boundary, tack.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
}

// errBody is a body that fails on its own account after some bytes.
type errBody struct {
	r   io.Reader
	err error
}

func (b *errBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, b.err
	}
	return n, err
}

// TestBodyFailure: a body that fails with a tack error (too large, too
// slow) is refused with that error, not as a malformed form.
func TestBodyFailure(t *testing.T) {
	e := newEnv(t, tack.Limits{})
	acct := e.MustAccount(t, "a@example.com")
	body, boundary := form(t, file{"d/a", random(6, 3<<20)})
	tooLarge := tack.Errorf(tack.ETOOLARGE, "too large")
	r := &errBody{r: bytes.NewReader(body[:2<<20]), err: tooLarge}
	_, err := e.im.ImportFiles(context.Background(), acct, multipart.NewReader(r, boundary), tack.UploadOptions{})
	if !errors.Is(err, tooLarge) {
		t.Fatalf("got %v, want the body's error", err)
	}
	if n := e.blocks(t); n != 0 {
		t.Errorf("%d blocks left behind", n)
	}
}
