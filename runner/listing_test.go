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

// TestCycleReadsAheadWhatTheProtocolNeeds: a folder larger than blocks
// auto's read-ahead but smaller than the rows the protocol's windows need
// streams in a plain run, yet is held whole when the protocol may cycle it
// (Config.Cycle), so the sweep can cycle it rather than measure too few
// windows.
func TestCycleReadsAheadWhatTheProtocolNeeds(t *testing.T) {
	t.Parallel()
	dir, err := testData()
	if err != nil {
		t.Skip(err)
	}
	set := settings(map[string]string{"batch_size": "4", "concurrency": "1", "blocks": "auto"})
	if need := bench.DefaultProtocol.RowsNeeded(4, 2); need <= 48 {
		t.Fatalf("the protocol needs %d rows at batch 4; the test wants more than the folder's 48", need)
	}
	for _, tc := range []struct {
		cycle, streams bool
	}{{false, true}, {true, false}} {
		p := testPlan(t, Config{Model: "tiny", Data: dir, Set: set, Cycle: tc.cycle}, 0)
		if p.Streams != tc.streams {
			t.Errorf("Cycle %v: Streams = %v, want %v", tc.cycle, p.Streams, tc.streams)
		}
		if !tc.streams && len(p.Files) != 48 {
			t.Errorf("Cycle %v: %d files held, want the folder's 48", tc.cycle, len(p.Files))
		}
	}
}
