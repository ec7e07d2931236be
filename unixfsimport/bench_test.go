package unixfsimport_test

import (
	"context"
	"encoding/binary"
	"io"
	"mime/multipart"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/cartest"
)

// benchSizes are the sizes of the benchmarks' uploads: the peak should
// not grow with them.
var benchSizes = []struct {
	name string
	size int64
}{{"64MiB", 64 << 20}, {"256MiB", 256 << 20}}

// fileStream is a file of n bytes made as it is read: no two 8-byte words
// of it repeat, so no chunk is stored twice.
type fileStream struct{ off, n int64 }

func (f *fileStream) Read(p []byte) (int, error) {
	if f.off >= f.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), f.n-f.off)&^7]
	for i := 0; i < len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], uint64(f.off+int64(i))*0x9e3779b97f4a7c15)
	}
	f.off += int64(len(p))
	return len(p), nil
}

// peakHeap samples the heap's live objects every few milliseconds until
// stop is called, which returns the peak above what was live at the start.
func peakHeap() (stop func() int64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() int64 {
		metrics.Read(sample)
		return int64(sample[0].Value.Uint64())
	}
	base := read()
	var peak atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		<-finished
		return peak.Load() - base
	}
}

// BenchmarkImportFile uploads one file of 64 MiB, then 256 MiB, as a
// form, streamed: peak-heap-MiB is the most heap the upload held at once
// above what was live before, and heap/size its ratio to the file's size.
// BenchmarkImportCAR is the baseline: a CAR of the same size through the
// same upload.Importer.
//
//	go test ./unixfsimport -run '^$' -bench 'Import(File|CAR)$' -benchtime 3x -benchmem
func BenchmarkImportFile(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			e := newEnv(b, tack.Limits{})
			acct := e.MustAccount(b, "a@example.com")
			b.SetBytes(bs.size)
			var peak int64
			for i := 0; b.Loop(); i++ {
				pr, pw := io.Pipe()
				w := multipart.NewWriter(pw)
				go func() {
					p, err := w.CreateFormFile("file", "big.bin")
					if err == nil {
						_, err = io.Copy(p, &fileStream{off: int64(i) << 40, n: int64(i)<<40 + bs.size})
					}
					if err == nil {
						err = w.Close()
					}
					pw.CloseWithError(err)
				}()
				stop := peakHeap()
				if _, err := e.im.ImportFiles(context.Background(), acct, multipart.NewReader(pr, w.Boundary()), tack.UploadOptions{}); err != nil {
					b.Fatal(err)
				}
				peak = max(peak, stop())
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(peak)/float64(bs.size), "heap/size")
		})
	}
}

func BenchmarkImportCAR(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			e := newEnv(b, tack.Limits{})
			acct := e.MustAccount(b, "a@example.com")
			b.SetBytes(bs.size)
			var peak int64
			for i := 0; b.Loop(); i++ {
				s, _ := cartest.NewStream(b, int(bs.size>>20), 1<<20, uint64(i))
				stop := peakHeap()
				if _, err := e.im.Uploads.Import(context.Background(), acct, s, tack.UploadOptions{}); err != nil {
					b.Fatal(err)
				}
				peak = max(peak, stop())
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(peak)/float64(bs.size), "heap/size")
		})
	}
}
