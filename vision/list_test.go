package vision

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestListImages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := []string{
		"b/z.JPG", "b/a.jpeg", "a.png", "A.PNG", "c/d/e/deep.JpEg", ".hidden/h.jpg", ".dot.jpg",
		// Not images by name, or OS litter:
		"notes.txt", "b/x.gif", "b/._z.JPG", "__MACOSX/b/y.jpg", "jpg", "c/.DS_Store",
	}
	for _, f := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "empty.jpg"), 0o755); err != nil { // a directory, not a file
		t.Fatal(err)
	}
	// A link loop, a second link to a listed directory, a file link, a
	// dangling link, and two links to each other, named like images: the
	// last three are listed, so the read stage can report them.
	for _, l := range [][2]string{{"..", "c/d/loop"}, {"b", "blink"}, {"a.png", "link.png"}, {"missing", "dangling.jpg"},
		{"loop2.jpg", "loop1.jpg"}, {"loop1.jpg", "loop2.jpg"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ListImages(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i] = strings.TrimPrefix(got[i], dir+string(filepath.Separator))
	}
	want := []string{".dot.jpg", ".hidden/h.jpg", "A.PNG", "a.png", "b/a.jpeg", "b/z.JPG", "c/d/e/deep.JpEg",
		"dangling.jpg", "link.png", "loop1.jpg", "loop2.jpg"}
	if !slices.Equal(got, want) {
		t.Errorf("ListImages =\n%q\nwant\n%q", got, want)
	}
}

func TestListImagesErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "f.jpg")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, msg string }{
		{filepath.Join(dir, "nope"), "does not exist"},
		{file, "is not a directory"},
	}
	for _, tt := range tests {
		if _, err := ListImages(tt.path); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ListImages(%q) err = %v, want %q", tt.path, err, tt.msg)
		}
	}
	if got, err := ListImages(t.TempDir()); err != nil || len(got) != 0 {
		t.Errorf("empty dir: %v, %v", got, err)
	}
}

func TestIsImageName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"a.jpg": true, "a.JPEG": true, "a.Png": true, "a.jpg.txt": false, "a.webp": false,
		"._a.jpg": false, ".a.jpg": true, "jpg": false,
	} {
		if got := IsImageName(name); got != want {
			t.Errorf("IsImageName(%q) = %v", name, got)
		}
	}
}

// TestImageWalkerOrder: the walker yields, one at a time, exactly the byte
// order of the full paths, including where a directory "a" and a file
// "a.jpg" (or "a-1.jpg") sit side by side, which a plain per-directory name
// sort would put the other way round.
func TestImageWalkerOrder(t *testing.T) {
	t.Parallel()
	cases := [][]string{
		{"a/x.jpg", "a.jpg", "a-1.jpg", "b.png"},
		{"z/y/x.jpg", "z/y.jpg", "z.jpg", "A.JPG", "z/y/w/v.jpeg", "m/n.jpg"},
		{"only.jpg"},
	}
	for _, files := range cases {
		dir := t.TempDir()
		for _, f := range files {
			p := filepath.Join(dir, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		w, err := NewImageWalker(dir)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			p, err := w.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p)
		}
		want := slices.Clone(got)
		sort.Strings(want)
		if !slices.Equal(got, want) || len(got) != len(files) {
			t.Errorf("walk order %v, want sorted %v (%d files)", got, want, len(files))
		}
	}
}
