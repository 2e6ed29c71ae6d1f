package runner

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"workbench/bench"
	"workbench/vision"
)

// TestListingStreams runs over the 48-image test folder with batches of
// 4 on the 2-core test machine, so blocks auto reads 16 paths ahead and
// the rest streams; with batches of 32 the folder fits in the read-ahead
// and is held whole. Either way the run reads the folder's first N images
// in ListImages' order, and the record's blocks and dataset size are what
// the run read.
func TestListingStreams(t *testing.T) {
	t.Parallel()
	dir, err := testData()
	if err != nil {
		t.Skip(err)
	}
	all, err := vision.ListImages(dir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, f := range all {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		total += st.Size()
	}
	for _, tc := range []struct {
		name          string
		images, batch int
		blocks        string
		streams       bool
		wantBlocks    int
	}{
		{"auto streams", 0, 4, "auto", true, 12},
		{"auto streams the first N", 30, 4, "auto", true, 8},
		{"auto held whole", 0, 32, "auto", false, 4},
		{"--images within the read-ahead", 10, 4, "auto", false, 4},
		{"per-image streams", 0, 4, "per-image", true, 48},
		{"a fixed count is counted first", 0, 4, "5", true, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := len(all)
			if tc.images > 0 {
				want = tc.images
			}
			h := &harness{name: "optimized", images: want, set: map[string]string{"batch_size": strconv.Itoa(tc.batch),
				"blocks": tc.blocks, "output_format": "json", "preserve_order": "true"}}
			h.execute(t, Config{Scenario: h.name, Set: settings(h.set), Model: "tiny", Data: dir, Images: tc.images}, t.TempDir())
			h.mustOK(t)
			if h.plan.Streams != tc.streams || (h.plan.Files == nil) != tc.streams {
				t.Errorf("Streams = %v with %d files held, want streams %v", h.plan.Streams, len(h.plan.Files), tc.streams)
			}
			if got := h.rec.Config.Blocks; got != tc.wantBlocks {
				t.Errorf("record blocks = %d, want %d", got, tc.wantBlocks)
			}
			if got := h.rec.Config.Knobs["blocks"]; got != strconv.Itoa(tc.wantBlocks) {
				t.Errorf("record knob blocks = %q, want %d", got, tc.wantBlocks)
			}
			if got := h.op(t, "ReadImages").TasksFinished; got != int64(tc.wantBlocks) {
				t.Errorf("read tasks = %d, want %d", got, tc.wantBlocks)
			}
			fp := h.rec.Fingerprint
			if fp.DatasetN != want || fp.Dataset != dir {
				t.Errorf("fingerprint dataset %q × %d, want %q × %d", fp.Dataset, fp.DatasetN, dir, want)
			}
			if tc.images == 0 && fp.MeanBytes != float64(total)/float64(len(all)) {
				t.Errorf("fingerprint mean bytes %g, want %g", fp.MeanBytes, float64(total)/float64(len(all)))
			}
			if got := outputPaths(t, h.out); !slices.Equal(got, all[:want]) {
				t.Errorf("output paths, in order:\n%v\nwant the listing's first %d:\n%v", got, want, all[:want])
			}
		})
	}
}

// TestCycledReadHoldsTheListing: a sweep's cycled read over a folder with
// fewer images than the protocol needs holds the listing and cycles over
// it, at a batch whose read-ahead alone would have streamed the folder
// (batch 4: 16 paths ahead of 48) as at one whose read-ahead holds it.
// Streamed, the read could not cycle and the run would end with too few
// windows to judge.
func TestCycledReadHoldsTheListing(t *testing.T) {
	t.Parallel()
	dir, err := testData()
	if err != nil {
		t.Skip(err)
	}
	for _, batch := range []int{4, 32} {
		t.Run(strconv.Itoa(batch), func(t *testing.T) {
			t.Parallel()
			proto := bench.DefaultProtocol
			need := proto.RowsNeeded(batch, 1)
			h := &harness{name: "optimized", images: need, set: map[string]string{"batch_size": strconv.Itoa(batch), "concurrency": "1"}}
			h.execute(t, Config{Scenario: h.name, Set: settings(h.set), Model: "tiny", Data: dir, Cycle: true, Protocol: &proto}, t.TempDir())
			h.mustOK(t)
			if h.plan.Streams || h.rec.Images != need || h.rec.Cycled <= 1 || len(h.rec.Windows) < proto.Windows {
				t.Errorf("streams %v; read %d images (want %d), cycled %g, %d windows (want %d)",
					h.plan.Streams, h.rec.Images, need, h.rec.Cycled, len(h.rec.Windows), proto.Windows)
			}
		})
	}
}

func outputPaths(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var row struct{ Path string }
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		out = append(out, row.Path)
	}
	return out
}

// TestEmptyFolderNamesTheFix: an empty folder is refused before the run,
// from the first entry of its listing.
func TestEmptyFolderNamesTheFix(t *testing.T) {
	t.Parallel()
	if _, err := testData(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(dir+"/empty-sub", 0o755); err != nil {
		t.Fatal(err)
	}
	s, src, err := LoadScenario(Config{Scenario: "optimized"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = resolve(Config{Scenario: "optimized", Model: "tiny", Data: dir}, s, src, testMachine(0))
	if de, ok := err.(*DataError); !ok || !strings.Contains(de.Error(), "no images (.jpg, .jpeg, .png) under "+dir) {
		t.Fatalf("error %v (%T), want a DataError naming the folder and the extensions", err, err)
	}
}
