package miniotest

import (
	"syscall"
	"testing"
)

// Freeze stops the server's process (SIGSTOP): it keeps its connections
// and its port but answers nothing, as a hung bucket does. It is thawed
// when tb ends, before Start's Stop.
func (s *Server) Freeze(tb testing.TB) {
	tb.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		tb.Fatalf("miniotest: SIGSTOP: %v", err)
	}
	tb.Cleanup(func() { s.Thaw(tb) })
}

// Thaw lets a frozen server run again (SIGCONT). Thawing a server that
// runs does nothing.
func (s *Server) Thaw(tb testing.TB) {
	tb.Helper()
	if s.cmd.ProcessState != nil {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		tb.Errorf("miniotest: SIGCONT: %v", err)
	}
}
