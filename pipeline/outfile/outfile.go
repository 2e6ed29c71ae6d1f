// Package outfile creates a user's output files: written under a
// temporary name beside the final one and renamed into place, so a reader
// never sees half a file, with the mode any tool gives a new file. The
// engine's sinks, records, reports, exported models and the synthetic
// dataset all write through it; it imports nothing of the engine, so
// packages outside it need not.
package outfile

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// CreateTemp is os.CreateTemp for a file that will be renamed into
// place as a user's output: os.CreateTemp makes it 0600, private as a
// temporary file should be, but a result, record or report must end up with
// the mode any tool gives a new file, 0666 masked by the umask. The caller
// removes or renames the file, as with os.CreateTemp.
func CreateTemp(dir, pattern string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o666 &^ umask()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// umask returns the process's file mode creation mask. It reads it from
// /proc/self/status (Linux 4.7+), because the only other way, setting it
// and setting it back, would briefly change it for every goroutine.
func umask() os.FileMode {
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(data)) {
			if rest, ok := strings.CutPrefix(line, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(rest), 8, 32); err == nil {
					return os.FileMode(m)
				}
			}
		}
	}
	m := syscall.Umask(0o022)
	syscall.Umask(m)
	return os.FileMode(m)
}
