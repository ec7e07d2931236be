package s3

// SetBeforeMove sets a function that Compact runs between copying the
// live blocks of old packs and recording their moves.
func SetBeforeMove(s *Store, f func()) { s.beforeMove = f }
