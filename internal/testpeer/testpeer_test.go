package testpeer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/tack-ipfs/tack/internal/testpeer"
)

func TestFetchDAG(t *testing.T) {
	a, b := testpeer.New(t), testpeer.New(t)
	tests := []struct {
		name string
		add  func(*testpeer.Peer) cid.Cid
	}{
		{"unixfs v0", func(p *testpeer.Peer) cid.Cid { return p.AddFile(t, 1<<20, 1024, 0) }},
		{"unixfs v1 raw leaves", func(p *testpeer.Peer) cid.Cid { return p.AddFile(t, 3<<20, 256<<10, 1) }},
		{"dag-cbor", func(p *testpeer.Peer) cid.Cid { return p.AddDAGCBOR(t, 300) }},
		{"dag-json", func(p *testpeer.Peer) cid.Cid { return p.AddDAGJSON(t, 300) }},
		{"inline directory", func(p *testpeer.Peer) cid.Cid { return p.AddInlineDirectory(t, 20) }},
		{"nested inline", func(p *testpeer.Peer) cid.Cid { return p.AddWithInline(t, p.AddNestedInline(t)) }},
	}
	for _, tt := range tests {
		// Each direction, so that both peers serve and fetch.
		for _, dir := range []struct {
			name     string
			src, dst *testpeer.Peer
		}{{"a to b", a, b}, {"b to a", b, a}} {
			t.Run(tt.name+"/"+dir.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				root := tt.add(dir.src)
				want, err := testpeer.AllCIDs(ctx, dir.src.Blockstore(), root)
				if err != nil {
					t.Fatal(err)
				}
				if has, _ := dir.dst.Blockstore().Has(ctx, root); has {
					t.Fatal("destination already has the root")
				}
				n, err := dir.dst.FetchDAG(ctx, root, dir.src.Addrs())
				if err != nil {
					t.Fatal(err)
				}
				if n != len(want) {
					t.Errorf("FetchDAG: got %d blocks, want %d", n, len(want))
				}
				got, err := testpeer.AllCIDs(ctx, dir.dst.Blockstore(), root)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Errorf("AllCIDs after fetch: got %d, want %d", len(got), len(want))
				}
			})
		}
	}
}

func TestDAGShapes(t *testing.T) {
	ctx := context.Background()
	p := testpeer.New(t)
	for _, tt := range []struct {
		name     string
		root     cid.Cid
		min, max int
	}{
		{"dag-cbor 100", p.AddDAGCBOR(t, 100), 95, 105},
		{"dag-json 1", p.AddDAGJSON(t, 1), 1, 3},
		// 1 MiB in 1 KiB chunks: 1024 leaves, 174 links per node, so 6
		// intermediate nodes and a root.
		{"file 1 MiB / 1 KiB", p.AddFile(t, 1<<20, 1024, 1), 1024 + 7, 1024 + 7},
		{"file 10 B", p.AddFile(t, 10, 1024, 0), 1, 1},
		{"unsupported codec", p.AddWithUnsupportedCodec(t), 3, 3},
		{"oversized", p.AddWithOversizedBlock(t), 3, 3},
	} {
		cs, err := testpeer.AllCIDs(ctx, p.Blockstore(), tt.root)
		if tt.name == "unsupported codec" {
			if err == nil || !strings.Contains(err.Error(), "git-raw") {
				t.Errorf("%s: AllCIDs error %v, want one about git-raw", tt.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(cs) < tt.min || len(cs) > tt.max {
			t.Errorf("%s: got %d blocks, want %d..%d", tt.name, len(cs), tt.min, tt.max)
		}
	}
}

func TestFetchDAGRefusesUnsupportedCodec(t *testing.T) {
	a, b := testpeer.New(t), testpeer.New(t)
	root := a.AddWithUnsupportedCodec(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := b.FetchDAG(ctx, root, a.Addrs())
	if err == nil || !strings.Contains(err.Error(), "git-raw") {
		t.Fatalf("got %v, want an error about git-raw", err)
	}
}

func TestFetchDAGBadOrigin(t *testing.T) {
	a, b := testpeer.New(t), testpeer.New(t)
	root := a.AddDAGCBOR(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.Host().Close()
	if _, err := b.FetchDAG(ctx, root, a.Addrs()); err == nil {
		t.Fatal("fetch from a closed peer succeeded")
	}
}

func BenchmarkAddFile(b *testing.B) {
	for _, bc := range []struct {
		name        string
		size, chunk int
	}{
		{"256MiB-256KiB", 256 << 20, 256 << 10},
		{"50MB-1KiB", 50_000_000, 1024},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(bc.size))
			for b.Loop() {
				p := testpeer.New(b)
				p.AddFile(b, bc.size, bc.chunk, 1)
			}
		})
	}
}

func BenchmarkFetchDAG(b *testing.B) {
	for _, bc := range []struct {
		name        string
		size, chunk int
	}{
		{"64MiB-256KiB", 64 << 20, 256 << 10},
		{"4MiB-1KiB", 4 << 20, 1024},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src := testpeer.New(b)
			root := src.AddFile(b, bc.size, bc.chunk, 1)
			b.SetBytes(int64(bc.size))
			var n int
			for b.Loop() {
				dst := testpeer.New(b)
				var err error
				n, err = dst.FetchDAG(context.Background(), root, src.Addrs())
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}
