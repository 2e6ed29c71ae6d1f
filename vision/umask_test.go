package vision

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSynthRespectsUmask: the synthetic dataset is the user's files, so
// they get 0666 masked by the umask (0644 under 022), as any tool's new
// files do, not a temporary file's 0600. Not parallel: the umask is the
// whole process's.
func TestSynthRespectsUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	if _, err := Synthesize(dir, 3, 1); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		info, err := d.Info()
		if err != nil {
			return err
		}
		if got := info.Mode().Perm(); got != 0o644 {
			t.Errorf("%s: mode %o, want 644", p, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d files written, want 3", n)
	}
}
