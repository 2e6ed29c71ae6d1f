package vision

import (
	"errors"
	"fmt"
	"io"
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
//
// The order is the byte order of the full paths, but it is produced by a
// walk, not a sort of the whole listing: ImageWalker yields the same paths
// one at a time.
func ListImages(dir string) ([]string, error) {
	w, err := NewImageWalker(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for {
		p, err := w.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		files = append(files, p)
	}
}

// ImageWalker lists the images under a directory one at a time, with
// ListImages' rules and in its order, holding only the entries of the
// directories on the current path (and the set of real directories
// already walked): memory grows with the largest directory, not the
// dataset. It sorts each directory's entries as fs.WalkDir does, keying a
// directory as "name/", which makes the walk's order the byte order of the
// full paths that ListImages always had. It is not safe for concurrent use.
type ImageWalker struct {
	seen  map[string]bool // real paths of directories already walked
	stack []*dirFrame
}

type dirFrame struct {
	entries []dirEntry
	next    int
}

type dirEntry struct {
	key, path string
	dir       bool
}

// NewImageWalker checks dir as ListImages does and reads its entries.
func NewImageWalker(dir string) (*ImageWalker, error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("image directory %q does not exist", dir)
	case err != nil:
		return nil, fmt.Errorf("image directory: %w", err)
	case !fi.IsDir():
		return nil, fmt.Errorf("image directory %q is not a directory", dir)
	}
	w := &ImageWalker{seen: map[string]bool{}}
	if err := w.push(dir); err != nil {
		return nil, err
	}
	return w, nil
}

// Next returns the next image path, or io.EOF after the last one. An
// unreadable subdirectory is an error, as in ListImages.
func (w *ImageWalker) Next() (string, error) {
	for len(w.stack) > 0 {
		top := w.stack[len(w.stack)-1]
		if top.next == len(top.entries) {
			w.stack[len(w.stack)-1] = nil
			w.stack = w.stack[:len(w.stack)-1]
			continue
		}
		e := top.entries[top.next]
		top.entries[top.next] = dirEntry{} // let the strings go
		top.next++
		if !e.dir {
			return e.path, nil
		}
		if err := w.push(e.path); err != nil {
			return "", err
		}
	}
	return "", io.EOF
}

// push reads dir's entries, keeps images and subdirectories, sorts them,
// and makes dir the current directory; a real directory seen before is
// skipped, which ends link loops.
func (w *ImageWalker) push(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	if real, err = filepath.Abs(real); err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	if w.seen[real] {
		return nil
	}
	w.seen[real] = true
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	f := &dirFrame{}
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
					f.entries = append(f.entries, dirEntry{key: name, path: path})
				}
				continue
			}
			mode = fi.Mode().Type()
		}
		switch {
		case mode.IsDir():
			if name != "__MACOSX" {
				f.entries = append(f.entries, dirEntry{key: name + "/", path: path, dir: true})
			}
		case IsImageName(name):
			f.entries = append(f.entries, dirEntry{key: name, path: path})
		}
	}
	sort.Slice(f.entries, func(i, j int) bool { return f.entries[i].key < f.entries[j].key })
	w.stack = append(w.stack, f)
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
