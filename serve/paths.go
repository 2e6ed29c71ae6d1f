package serve

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Roots are the folders participants may read from and write to: the
// server's data folder, its model folder and its reports folder. A path a
// participant names is resolved (absolute, cleaned, every symlink
// followed) and must then lie inside one of them, so neither "../" nor a
// link planted inside a root reaches the rest of the host.
type Roots struct {
	dirs []string // resolved
}

// NewRoots resolves dirs; each must exist.
func NewRoots(dirs ...string) (*Roots, error) {
	r := &Roots{}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		res, err := resolve(d)
		if err != nil {
			return nil, fmt.Errorf("allowed folder %s: %w", d, err)
		}
		r.dirs = append(r.dirs, res)
	}
	return r, nil
}

// Dirs are the resolved roots, for the start-up log.
func (r *Roots) Dirs() []string { return r.dirs }

// ErrOutside is wrapped by Check's error for a path outside every root.
var ErrOutside = errors.New("outside the folders this server shares")

// Check resolves p and returns the resolved path when it lies inside a
// root. A path that does not exist yet (an output file) is checked through
// its nearest existing parent, so a link there cannot smuggle it out.
func (r *Roots) Check(p string) (string, error) {
	res, err := resolve(p)
	if err != nil {
		return "", err
	}
	for _, d := range r.dirs {
		if within(d, res) {
			return res, nil
		}
	}
	return "", fmt.Errorf("%s: %w (%s)", p, ErrOutside, strings.Join(r.dirs, ", "))
}

// resolve makes p absolute and follows every symlink in it; for a path
// that does not exist, it resolves the longest existing prefix and appends
// the rest, which then holds no links.
func resolve(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for cur := abs; ; {
		res, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(res, rest), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return "", err
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
