package http

// Waiting returns how many API requests wait for a slot (see MaxInFlight).
func (s *Server) Waiting() int { return int(s.inflight.waiting.Load()) }

// SafeNext is safeNext, for FuzzSafeNext.
func SafeNext(next string) string { return safeNext(next) }
