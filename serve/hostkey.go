package serve

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"
)

// HostKeyName is the host key's file name inside the config folder.
const HostKeyName = "ssh_host_ed25519_key"

// DefaultConfigDir is where the host key lives: os.UserConfigDir()/workbench
// ($XDG_CONFIG_HOME/workbench, usually ~/.config/workbench).
func DefaultConfigDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "workbench"), nil
}

// LoadOrCreateHostKey returns the PEM of the server's host key in dir,
// generating an Ed25519 key on first use. The folder is made 0700 and the
// key written 0600, so the fingerprint participants accept stays the same
// across restarts and no other user can read it. A key readable by group
// or others is refused rather than used: it may have been copied.
func LoadOrCreateHostKey(dir string) (pemBytes []byte, created bool, err error) {
	path := filepath.Join(dir, HostKeyName)
	if st, err := os.Stat(path); err == nil {
		if st.Mode().Perm()&0o077 != 0 {
			return nil, false, fmt.Errorf("host key %s has mode %04o: others can read it; chmod 600 it, or delete it to make a new one", path, st.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, false, err
		}
		if _, err := gossh.ParsePrivateKey(b); err != nil {
			return nil, false, fmt.Errorf("host key %s: %w", path, err)
		}
		return b, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	blk, err := gossh.MarshalPrivateKey(priv, "workbench serve host key")
	if err != nil {
		return nil, false, err
	}
	b := pem.EncodeToMemory(blk)
	// O_EXCL: two servers starting at once must not overwrite each other's key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, err
	}
	if err := f.Close(); err != nil {
		return nil, false, err
	}
	return b, true, nil
}
