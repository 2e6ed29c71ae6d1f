package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadFileHostile: what a hostile folder holds becomes an error that
// names the problem, without blocking (a named pipe) or reading a file
// that is too large.
func TestReadFileHostile(t *testing.T) {
	dir := t.TempDir()
	at := func(name string) string { return filepath.Join(dir, name) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(at("ok.jpg"), []byte("0123456789"), 0o644))
	must(os.WriteFile(at("big.jpg"), make([]byte, 101), 0o644))
	must(os.Symlink("missing.jpg", at("dangling.jpg")))
	must(os.Symlink("loop2.jpg", at("loop1.jpg")))
	must(os.Symlink("loop1.jpg", at("loop2.jpg")))
	must(os.Mkdir(at("dir.jpg"), 0o755))
	must(syscall.Mkfifo(at("fifo.jpg"), 0o644))
	cases := []struct {
		name string
		want string // in the error; "" = reads fine
		kind error
	}{
		{"ok.jpg", "", nil},
		{"big.jpg", "the file is 101 B", ErrFileTooLarge},
		{"dangling.jpg", "no such file", nil},
		{"loop1.jpg", "too many levels of symbolic links", nil},
		{"dir.jpg", "not a regular file (a directory)", nil},
		{"fifo.jpg", "not a regular file (a named pipe)", nil},
	}
	for _, c := range cases {
		done := make(chan struct{})
		var b []byte
		var err error
		go func() { b, err = readFile(at(c.name), 100); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the read blocked", c.name)
		}
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == "" && string(b) != "0123456789":
			t.Errorf("%s: read %q", c.name, b)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want it to say %q", c.name, err, c.want)
		case c.kind != nil && !errors.Is(err, c.kind):
			t.Errorf("%s: error %v is not %v", c.name, err, c.kind)
		}
	}
}
