package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	pinclient "github.com/ipfs/boxo/pinning/remote/client"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multicodec"

	"github.com/tack-ipfs/tack/internal/testpeer"
)

// DAGs with identity CIDs, as `ipfs add --inline` makes them, pin through
// the API and are served back; identity CIDs that break tack's rules are
// refused at POST /pins or fail the pin with the reason.
func TestPinInline(t *testing.T) {
	t.Parallel()
	m := MustOpenMain(t, tempData(t), func(c *Config) {
		c.PinStall, c.PinRetry, c.PinTimeout = 2*time.Second, 200*time.Millisecond, 5*time.Second
	})
	peer := testpeer.New(t)
	c := m.Client(m.AdminToken)
	ctx := context.Background()

	nested := peer.AddNestedInline(t)
	dir := peer.AddInlineDirectory(t, 10)
	for _, tt := range []struct {
		name string
		root cid.Cid
	}{
		{"identity root", cid.MustParse("bafkqaatine")},
		{"ipfs add -r --inline", dir},
		{"many identity links", peer.AddInlineDirectory(t, 1000)},
		{"identity inside identity", nested},
		{"nested under a stored root", peer.AddWithInline(t, nested)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := c.Add(ctx, tt.root, pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
			if err != nil {
				t.Fatal(err)
			}
			done := WaitStatus(t, c, ps.GetRequestId(), pinclient.StatusPinned, time.Minute)
			n := m.MustHaveDAG(t, peer, tt.root)
			if got := done.GetInfo()["blocks"]; got != strconv.Itoa(n) {
				t.Errorf("info.blocks = %q, want %d", got, n)
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		for _, tt := range []struct {
			name, want string
			root       cid.Cid
		}{
			{"identity of an unsupported codec inside", "codec git-raw",
				peer.AddWithInline(t, testpeer.Inline(t, multicodec.GitRaw, []byte("blob 2\x00hi")))},
			{"identity over 128 bytes inside", "identity CID with 129 bytes of data inline; tack accepts at most 128",
				peer.AddWithInline(t, testpeer.Inline(t, multicodec.Raw, make([]byte, 129)))},
		} {
			t.Run(tt.name, func(t *testing.T) {
				MustFail(t, c, tt.root, tt.want, pinclient.PinOpts.WithOrigins(Origins(t, peer)...))
			})
		}

		post := func(t *testing.T, cidString string) (int, string) {
			t.Helper()
			body, _ := json.Marshal(map[string]string{"cid": cidString})
			req, _ := http.NewRequest("POST", "http://"+m.HTTPAddr()+"/pins", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+m.AdminToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		for _, tt := range []struct {
			name, cid, want string
		}{
			{"identity root over 128 bytes", testpeer.Inline(t, multicodec.Raw, make([]byte, 129)).String(), "at most 128"},
			{"a 60,165-character CID", testpeer.Inline(t, multicodec.Raw, make([]byte, 37_600)).String()[:60_165], "60165 characters long"},
			{"identity root of an unsupported codec", testpeer.Inline(t, multicodec.GitRaw, []byte("x")).String(), "git-raw"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				status, body := post(t, tt.cid)
				if status != http.StatusBadRequest || !strings.Contains(body, `"reason":"BAD_REQUEST"`) || !strings.Contains(body, tt.want) {
					t.Fatalf("POST /pins: %d %.300s, want 400 BAD_REQUEST mentioning %q", status, body, tt.want)
				}
			})
		}
	})

	t.Run("served back", func(t *testing.T) {
		// Another IPFS peer fetches the inline directory from tack
		// alone: the blocks tack stored come over bitswap, the identity
		// blocks from the CIDs.
		other := testpeer.New(t)
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		n, err := other.FetchDAG(fctx, dir, m.Node.Delegates()[:1])
		if err != nil {
			t.Fatalf("fetching %s back from tack: %v", dir, err)
		}
		if want := m.MustHaveDAG(t, peer, dir); n != want {
			t.Fatalf("fetched %d blocks back, want %d", n, want)
		}
	})
}
