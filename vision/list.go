package vision

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ListImages returns every image file under dir, recursively, sorted by path
// (byte order), with dir joined onto each. A file is an image when its
// extension is .jpg, .jpeg or .png in any letter case; the content is not
// checked here (Decode classifies bad files).
//
// Symbolic links are followed, to files and to directories, but each real
// directory is walked once, so link loops end and a directory linked twice is
// not listed twice. Hidden files and directories are included: a user who put
// them there meant them. Two kinds of operating-system litter are skipped
// because they carry image extensions but hold no image: macOS AppleDouble
// files ("._IMG_0001.jpg") and "__MACOSX" directories from zip archives.
//
// Entries with an image name that are not readable files (a dangling or
// looping link, a named pipe, a socket, a device) are listed too: they are
// inputs the user will look for, and the read stage turns each into an
// error row, without opening anything that could block.
//
// A missing dir, or one that is not a directory, is an error; so is an
// unreadable subdirectory.
func ListImages(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("image directory %q does not exist", dir)
	case err != nil:
		return nil, fmt.Errorf("image directory: %w", err)
	case !fi.IsDir():
		return nil, fmt.Errorf("image directory %q is not a directory", dir)
	}
	l := lister{seen: map[string]bool{}}
	if err := l.walk(dir); err != nil {
		return nil, err
	}
	sort.Strings(l.files)
	return l.files, nil
}

type lister struct {
	seen  map[string]bool // real paths of directories already walked
	files []string
}

func (l *lister) walk(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	if real, err = filepath.Abs(real); err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	if l.seen[real] {
		return nil
	}
	l.seen[real] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		mode := e.Type()
		if mode&fs.ModeSymlink != 0 {
			fi, err := os.Stat(path)
			if err != nil {
				// A dangling or looping link: an input that cannot be
				// read, when it is named like one.
				if IsImageName(name) {
					l.files = append(l.files, path)
				}
				continue
			}
			mode = fi.Mode().Type()
		}
		switch {
		case mode.IsDir():
			if name == "__MACOSX" {
				continue
			}
			if err := l.walk(path); err != nil {
				return err
			}
		case IsImageName(name):
			l.files = append(l.files, path)
		}
	}
	return nil
}

// IsImageName reports whether a file name has an image extension (.jpg,
// .jpeg, .png, any case) and is not an AppleDouble "._" companion file.
func IsImageName(name string) bool {
	if strings.HasPrefix(name, "._") {
		return false
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}
