//go:build !unix

package chunked

// mapChunk maps nothing: every chunk is on the Go heap.
func mapChunk(size int) []byte { return nil }

// unmapChunk is never called.
func unmapChunk(b []byte) {}
