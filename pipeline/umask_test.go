package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestOutputRespectsUmask: a result renamed into place from a temporary
// file gets 0666 masked by the umask (0644 under 022), not the temporary
// file's 0600. Not parallel: the umask is the whole process's.
func TestOutputRespectsUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	files := makeFiles(t, 5)
	for _, c := range []struct {
		name  string
		write func(ds *Dataset, path string) error
	}{
		{"parquet", func(ds *Dataset, p string) error { return ds.WriteParquet(context.Background(), p, WriteOptions{}) }},
		{"json", func(ds *Dataset, p string) error { return ds.WriteJSON(context.Background(), p, WriteOptions{}) }},
	} {
		out := filepath.Join(t.TempDir(), "o."+c.name)
		if err := c.write(ReadBinaryFiles(files, ReadOptions{}), out); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != 0o644 {
			t.Errorf("%s: mode %o, want 644", c.name, got)
		}
	}
}
