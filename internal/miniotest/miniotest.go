// Package miniotest starts a real MinIO server for tests of the S3
// blockstore. The binary is found through TACK_MINIO, else at
// ${XDG_CACHE_HOME:-$HOME/.cache}/tack/minio-bin/minio (where .ci/run
// builds it). Without one, tests skip, unless TACK_S3_TESTS=required.
package miniotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Server is a running MinIO.
type Server struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string

	cmd      *exec.Cmd
	out      *syncBuffer
	bin, dir string
}

// Binary returns the path of the MinIO binary, or "" if there is none.
func Binary() string {
	if p := os.Getenv("TACK_MINIO"); p != "" {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	p := filepath.Join(cache, "tack", "minio-bin", "minio")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Start starts MinIO on a free port of 127.0.0.1 with its data in a
// temporary directory, waits until it is ready, and stops it when tb
// ends. It skips tb if there is no binary, unless TACK_S3_TESTS=required.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("TACK_S3_TESTS") == "required" {
			tb.Fatal("miniotest: no MinIO binary (set TACK_MINIO or build it into ~/.cache/tack/minio-bin) and TACK_S3_TESTS=required")
		}
		tb.Skip("miniotest: no MinIO binary; set TACK_MINIO or build it into ~/.cache/tack/minio-bin")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &Server{Endpoint: addr, AccessKey: "tack-test", SecretKey: rand.Text(), out: &syncBuffer{}, bin: bin, dir: filepath.Join(tb.TempDir(), "minio")}
	tb.Cleanup(s.Stop)
	s.start(tb)
	return s
}

// start starts the server's process and waits until it is ready.
func (s *Server) start(tb testing.TB) {
	tb.Helper()
	addr := s.Endpoint
	s.cmd = exec.Command(s.bin, "server", "--quiet", "--address", addr, "--console-address", "127.0.0.1:0", s.dir)
	s.cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CONFIG_ENV_FILE=/dev/null")
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		tb.Fatalf("miniotest: starting %s: %v", s.bin, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("miniotest: MinIO not ready on %s after 30s: %v\n%s", addr, err, s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Restart starts the server again on the same address and data, after a
// Stop, or kills it first (as a crash would) if it runs.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop()
	s.start(tb)
}

// Stop kills the server. Calling it again does nothing.
func (s *Server) Stop() {
	if s.cmd.ProcessState != nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // if paused
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// Pause stops the server's process (SIGSTOP): it keeps its connections
// and its port but answers nothing, as a hung bucket does. It is resumed
// when tb ends, if it was not before.
func (s *Server) Pause(tb testing.TB) {
	tb.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		tb.Fatalf("miniotest: pausing MinIO: %v", err)
	}
	tb.Cleanup(func() { s.Resume(tb) })
	// kill(2) returns once the signal is queued, and each thread stops
	// on its own way out of the kernel: for a moment MinIO still
	// answers. A request right after it was seen answered 200 OK, and
	// TestFrozenBucket (blockstore/s3) read a block from the "frozen"
	// bucket in about 1 run in 10. So wait until every thread has
	// stopped.
	deadline := time.Now().Add(10 * time.Second)
	for !stopped(s.cmd.Process.Pid) {
		if time.Now().After(deadline) {
			tb.Fatalf("miniotest: MinIO (pid %d) still runs 10s after SIGSTOP", s.cmd.Process.Pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// stopped reports whether every thread of process pid is stopped by a
// signal, as /proc shows each one's state (T).
func stopped(pid int) bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			return false
		}
		// The state follows the command's name, which is in parentheses
		// and may itself hold spaces or parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
}

// Resume lets a paused server go on (SIGCONT). Resuming a server that
// runs, or has stopped, does nothing.
func (s *Server) Resume(tb testing.TB) {
	tb.Helper()
	if s.cmd.ProcessState != nil {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		tb.Errorf("miniotest: resuming MinIO: %v", err)
	}
}

// Env returns getenv with the server's credentials in AWS_ACCESS_KEY_ID
// and AWS_SECRET_ACCESS_KEY, for s3.ParseURL and tack serve.
func (s *Server) Env(getenv func(string) string) func(string) string {
	return func(k string) string {
		switch k {
		case "AWS_ACCESS_KEY_ID":
			return s.AccessKey
		case "AWS_SECRET_ACCESS_KEY":
			return s.SecretKey
		}
		return getenv(k)
	}
}

// URL returns the --blocks URL of a bucket (and prefix) on the server.
func (s *Server) URL(bucketAndPrefix string) string {
	return fmt.Sprintf("s3://%s?endpoint=http://%s", strings.TrimPrefix(bucketAndPrefix, "/"), s.Endpoint)
}

// WaitGone waits until nothing answers on the server's address.
func (s *Server) WaitGone(ctx context.Context) {
	for ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", s.Endpoint, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Objects returns how many objects the bucket holds under prefix.
func (s *Server) Objects(tb testing.TB, bucket, prefix string) int {
	tb.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for o := range c.ListObjects(tb.Context(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			tb.Fatal(o.Err)
		}
		n++
	}
	return n
}
