// Package servertest runs the real servers that tests talk to: binaries
// that `make setup` builds from the Go module proxy into the user's cache
// directory (scripts/go-tool.sh), each started on a free loopback port for
// one test's lifetime. s3test and gcstest build on it.
package servertest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Binary is where `make setup` puts the named server: bin/NAME under
// $WORKBENCH_CACHE, else under the user's cache directory's workbench/.
func Binary(name string) string {
	cache := os.Getenv("WORKBENCH_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(base, "workbench")
	}
	return filepath.Join(cache, "bin", name)
}

// Need returns the named server's binary, or skips the test, saying which
// script of `make setup` builds it, when it is missing: a machine that has
// not run `make setup` skips these tests rather than failing them.
func Need(t testing.TB, name, what, script string) string {
	t.Helper()
	bin := Binary(name)
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no %s: %s is missing; `make setup` builds %s there (%s, a few minutes, once)", what, bin, name, script)
	}
	return bin
}

// FreePort is a loopback TCP port that was free when asked.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Upload hands put every file under dir, keyed prefix + its slash-separated
// path relative to dir, and returns how many.
func Upload(t testing.TB, dir, prefix string, put func(key string, body []byte)) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		put(prefix+filepath.ToSlash(rel), b)
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Run starts bin with args, stopped when the test ends, and returns once
// ready reports nil; when it has not within 15 s, the test fails with
// ready's last error and the server's output.
func Run(t testing.TB, bin string, args []string, ready func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	var log logBuf
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("%s: %v", filepath.Base(bin), err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 15 s (%v): %s", filepath.Base(bin), err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logBuf collects a server's stdout and stderr, written concurrently.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
