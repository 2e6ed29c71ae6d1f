package classify

import (
	"fmt"

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
		return nil, fmt.Errorf("no images (.jpg, .jpeg, .png) under %s", dir)
	}
	if limit > 0 && limit < len(files) {
		files = files[:limit]
	}
	return files, nil
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
