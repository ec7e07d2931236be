package s3

import "time"

// SetBeforeMove sets a function that Compact runs between copying the
// live blocks of old packs and recording their moves.
func SetBeforeMove(s *Store, f func()) { s.beforeMove = f }

// WaitFills waits until the written blocks queued for the cache are in it.
func WaitFills(s *Store) {
	for s.queued.Load() > 0 {
		time.Sleep(time.Millisecond)
	}
}
