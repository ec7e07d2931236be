package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// buildTack builds the tack command into dir.
func buildTack(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "tack")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/tack-ipfs/tack/cmd/tack")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// Server is a running `tack serve` process, or, in tests, this process
// serving the API in-process (cmd nil).
type Server struct {
	URL      string // http://127.0.0.1:PORT
	PProfURL string // http://127.0.0.1:PORT/debug/pprof/
	LogPath  string
	Bin      string
	Args     []string

	cmd     *exec.Cmd
	log     *os.File
	done    chan struct{} // closed when the process has ended
	waitErr error         // how it ended, once done is closed
	stopped bool
	err     error
}

// StartServer starts bin serving the data directory in dir on free
// loopback ports, with the rate limit off, no network and one pin worker,
// and returns once it answers.
func StartServer(ctx context.Context, bin, dir string, extra []string) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	pprofAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + addr, PProfURL: "http://" + pprofAddr + "/debug/pprof/", LogPath: filepath.Join(dir, "serve.log"), Bin: bin}
	s.Args = append([]string{"serve", "--data", dataDir(dir), "--listen", addr,
		"--p2p-listen", "/ip4/127.0.0.1/tcp/0", "--bootstrap", "none", "--dht", "off", "--fetches", "1",
		"--rate-limit", "off", "--pprof", pprofAddr}, extra...)
	if s.log, err = os.Create(s.LogPath); err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, s.Args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// Only the flags configure it: no TACK_… variable of the caller's.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TACK_") {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	if err := s.cmd.Start(); err != nil {
		s.log.Close()
		return nil, err
	}
	s.done = make(chan struct{})
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	// Up within a minute: 600 tries, 100 ms apart.
	client := &http.Client{Timeout: time.Second}
	for i := 0; ; i++ {
		if resp, err := client.Get(s.URL + "/pins"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return s, nil
			}
		}
		if i == 600 || ctx.Err() != nil || s.exited() {
			s.Stop()
			return nil, fmt.Errorf("tack serve did not start (see %s)", s.LogPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exited reports whether the process has ended.
func (s *Server) exited() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Pid returns the process ID.
func (s *Server) Pid() int {
	if s.cmd == nil {
		return os.Getpid()
	}
	return s.cmd.Process.Pid
}

// Stop ends the process with SIGTERM, or SIGKILL if it has not ended 10
// seconds later, and returns how it ended.
func (s *Server) Stop() error {
	if s.stopped || s.cmd == nil {
		return s.err
	}
	s.stopped = true
	if s.exited() {
		s.err = fmt.Errorf("it had ended by itself: %v", s.waitErr)
	} else {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
			s.err = s.waitErr
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
			s.err = errors.New("it did not stop within 10 s of SIGTERM")
		}
	}
	s.log.Close()
	return s.err
}

// ResetPeak resets the process's peak RSS (VmHWM), so that the next
// PeakRSS is the peak since now.
func (s *Server) ResetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.Pid()), []byte("5"), 0)
}

// PeakRSS returns the process's peak resident set size (VmHWM) and its
// resident set size now (VmRSS), in bytes.
func (s *Server) PeakRSS() (peak, now int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Pid()))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			peak = kb << 10
		case "VmRSS:":
			now = kb << 10
		}
	}
	if peak == 0 {
		return 0, 0, errors.New("no VmHWM in /proc status")
	}
	return peak, now, nil
}

// OpenFiles returns how many file descriptors the process holds.
func (s *Server) OpenFiles() int {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.Pid()))
	return len(fds)
}

// freeAddr returns a loopback address with a port free just now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
