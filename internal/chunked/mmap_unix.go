//go:build unix

package chunked

import "syscall"

// mapChunk maps size bytes of zeroed memory, nil if it cannot.
func mapChunk(size int) []byte {
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil
	}
	return b
}

// unmapChunk gives back what mapChunk mapped.
func unmapChunk(b []byte) { syscall.Munmap(b) }
