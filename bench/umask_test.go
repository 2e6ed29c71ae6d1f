package bench

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteJSONFileRespectsUmask: a JSON record file gets 0666 masked by
// the umask (0644 under 022), not its temporary file's 0600. Not parallel:
// the umask is the whole process's.
func TestWriteJSONFileRespectsUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "r.json")
	if err := WriteJSONFile(path, []*Record{{}}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o644 {
		t.Errorf("mode %o, want 644", got)
	}
}
