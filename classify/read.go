package classify

import (
	"fmt"
	"io"
	"os"

	"workbench/pipeline"
	"workbench/vision"
)

// ReadOperator is the read stage's name, as Ray names the operator after
// read_images.
const ReadOperator = "ReadImages"

// MaxFileBytes is room for any image within a pixel limit: 8 bytes a
// pixel (16-bit RGBA PNG, stored) plus 1 MiB of metadata. A larger file is
// refused unread, as an error row.
func MaxFileBytes(maxPixels int64) int64 { return 8*maxPixels + 1<<20 }

// ListImages is the one image lister: every front end (run, the TUI, the
// exporter) lists a folder through it, so all apply the same rules
// (vision.ListImages) and a run walks its folder once.
func ListImages(dir string, limit int) ([]string, error) {
	files, err := vision.ListImages(dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, noImages(dir)
	}
	if limit > 0 && limit < len(files) {
		files = files[:limit]
	}
	return files, nil
}

// ListImagesAhead reads up to n paths of dir's listing (ListImages' rules
// and order) and says whether that was all of it, without walking the
// rest: enough to refuse an empty folder, and to hold a small one whole,
// before a run that streams the rest. An empty folder is an error that
// names the fix, as in ListImages.
func ListImagesAhead(dir string, n int) (head []string, complete bool, err error) {
	w, err := vision.NewImageWalker(dir)
	if err != nil {
		return nil, false, err
	}
	for len(head) < n {
		p, err := w.Next()
		if err == io.EOF {
			complete = true
			break
		}
		if err != nil {
			return nil, false, err
		}
		head = append(head, p)
	}
	if len(head) == 0 && complete {
		return nil, false, noImages(dir)
	}
	if !complete {
		// Whether n was exactly all of them costs one more path.
		_, err := w.Next()
		complete = err == io.EOF
	}
	return head, complete, nil
}

// CountImages walks dir's listing (ListImages' rules), holding no more
// than ImageWalker does, and returns how many images it lists (at most
// limit when limit > 0) and their total size: what a fixed block count
// needs before a read that streams. A file it cannot stat counts with size
// 0; the read makes it an error row.
func CountImages(dir string, limit int) (n int, bytes int64, err error) {
	w, err := vision.NewImageWalker(dir)
	if err != nil {
		return 0, 0, err
	}
	for limit <= 0 || n < limit {
		p, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		n++
		if st, err := os.Stat(p); err == nil {
			bytes += st.Size()
		}
	}
	if n == 0 {
		return 0, 0, noImages(dir)
	}
	return n, bytes, nil
}

func noImages(dir string) error {
	return fmt.Errorf("no images (.jpg, .jpeg, .png) under %s", dir)
}

// ReadImages is Ray's read_images over the given files: a binary-file read
// whose rows the Preprocess stage decodes. Files that cannot be read become
// error rows there.
func ReadImages(files []string, o pipeline.ReadOptions) *pipeline.Dataset {
	o.Name = ReadOperator
	return pipeline.ReadBinaryFiles(files, o)
}

// CycleFiles returns a listing of n files that goes over files in order as
// many times as it takes (the last pass cut short), as MLPerf LoadGen cycles
// over its sample set: a dataset too small for a measurement's windows is
// read again, each row still carrying its own path. files is not modified;
// with n ≤ len(files), or no files, it is returned as it is.
func CycleFiles(files []string, n int) []string {
	if n <= len(files) || len(files) == 0 {
		return files
	}
	out := make([]string, n)
	for i := range out {
		out[i] = files[i%len(files)]
	}
	return out
}

// ImageSource is the image lister as a listing that streams: the same
// rules and order as ListImages (vision.ImageWalker), one path at a time,
// holding only the directories on the current path. An empty folder is not
// an error here; the run then has no rows.
func ImageSource(dir string) (pipeline.PathSource, error) {
	return vision.NewImageWalker(dir)
}

// ReadImagesFrom is ReadImages over a listing that streams (ImageSource).
func ReadImagesFrom(src pipeline.PathSource, o pipeline.ReadOptions) *pipeline.Dataset {
	o.Name = ReadOperator
	return pipeline.ReadBinaryFilesFrom(src, o)
}
