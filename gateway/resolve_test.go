package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/boxo/path/resolver"
)

// TestGatewayResolve checks that tack's linear path resolution gives
// boxo's answers: the same metadata (X-Ipfs-Roots, the last segment and
// its remainder) and the same content, through directories, HAMT shards,
// dag-cbor fields and lists, and the same 404s.
func TestGatewayResolve(t *testing.T) {
	f := newCARFixture(t)
	bb, held := f.backends(t)
	ctx := context.Background()
	for _, p := range []string{
		"dir/f0", "dir/f1", "hamt/entry-7", "hamt/entry-299", "dag-cbor/a", "dag-cbor/b",
		"dag-cbor/b/0", "dag-cbor/b/1", "dag-cbor/b/0/Links/0", "dag-cbor-missing-block/b",
		"dir/nope", "hamt/nope", "dag-cbor/c", "dag-cbor/b/7", "dir/f0/x",
	} {
		t.Run(p, func(t *testing.T) {
			name, rest, _ := strings.Cut(p, "/")
			pp, err := path.Join(path.FromCid(f.roots[name]), strings.Split(rest, "/")...)
			if err != nil {
				t.Fatal(err)
			}
			ip, err := path.NewImmutablePath(pp)
			if err != nil {
				t.Fatal(err)
			}
			wantMD, wantErr := bb.ResolvePath(ctx, ip)
			gotMD, gotErr := held.ResolvePath(ctx, ip)
			same(t, "ResolvePath", gotMD, wantMD, gotErr, wantErr)
			if wantErr != nil {
				return
			}
			wantMD, wantHead, wantErr := bb.Head(ctx, ip)
			gotMD, gotHead, gotErr := held.Head(ctx, ip)
			same(t, "Head", gotMD, wantMD, gotErr, wantErr)
			if wantErr == nil && gotErr == nil {
				// Its fields are boxo's own: compare what they print.
				g, w := fmt.Sprintf("%+v", *gotHead), fmt.Sprintf("%+v", *wantHead)
				if strings.Contains(g, "startingBytes:<nil>") != strings.Contains(w, "startingBytes:<nil>") || cutReader(g) != cutReader(w) {
					t.Errorf("Head: %s, boxo's %s", g, w)
				}
			}
			wantMD, wantBlock, wantErr := bb.GetBlock(ctx, ip)
			gotMD, gotBlock, gotErr := held.GetBlock(ctx, ip)
			same(t, "GetBlock", gotMD, wantMD, gotErr, wantErr)
			if wantErr == nil && gotErr == nil && readAll(t, gotBlock) != readAll(t, wantBlock) {
				t.Error("GetBlock: not boxo's block")
			}
			wantMD, wantResp, wantErr := bb.Get(ctx, ip)
			gotMD, gotResp, gotErr := held.Get(ctx, ip)
			same(t, "Get", gotMD, wantMD, gotErr, wantErr)
			if (gotResp == nil) != (wantResp == nil) {
				t.Error("Get: not boxo's response")
			}
			if got, want := held.IsCached(ctx, ip), bb.IsCached(ctx, ip); got != want {
				t.Errorf("IsCached %v, boxo's %v", got, want)
			}
		})
	}
}

func same(t *testing.T, what string, got, want gateway.ContentPathMetadata, gotErr, wantErr error) {
	t.Helper()
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%s: error %v, boxo's %v", what, gotErr, wantErr)
	}
	if wantErr != nil {
		if errors.Is(wantErr, &resolver.ErrNoLink{}) != errors.Is(gotErr, &resolver.ErrNoLink{}) {
			t.Errorf("%s: error %v, boxo's %v", what, gotErr, wantErr)
		}
		return
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: metadata\n%v, boxo's\n%v", what, got, want)
	}
}

func readAll(t *testing.T, f files.File) string {
	t.Helper()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cutReader drops the pointer of a printed HeadResponse's reader.
func cutReader(s string) string {
	i := strings.Index(s, "startingBytes:")
	j := strings.Index(s, " isFile")
	if i < 0 || j < i {
		return s
	}
	return s[:i] + s[j:]
}
