package outfile

import (
	"os"
	"syscall"
	"testing"
)

// TestCreateTempFollowsUmask: the file gets 0666 masked by the umask,
// whatever it is, not os.CreateTemp's 0600. Not parallel: the umask is the
// whole process's.
func TestCreateTempFollowsUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, c := range []struct {
		umask int
		want  os.FileMode
	}{{0o022, 0o644}, {0o077, 0o600}, {0o002, 0o664}} {
		syscall.Umask(c.umask)
		f, err := CreateTemp(t.TempDir(), "x*")
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.Stat()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != c.want {
			t.Errorf("under umask %03o: mode %o, want %o", c.umask, got, c.want)
		}
	}
}
