package pipeline

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteCSV: a header, one record per row, every row once; read back by
// encoding/csv, not by the writer.
func TestWriteCSV(t *testing.T) {
	t.Parallel()
	files := makeFiles(t, 30)
	out := filepath.Join(t.TempDir(), "o.csv")
	ds := ReadBinaryFiles(files, ReadOptions{OverrideNumBlocks: 3}).MapBatches(MapOptions{Name: "Len", Fn: lengths, BatchSize: 8})
	if err := ds.WriteCSV(context.Background(), out, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 31 {
		t.Fatalf("%d records, want a header and 30 rows", len(rows))
	}
	if rows[0][0] != PathColumn {
		t.Errorf("header %q", rows[0])
	}
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		seen[r[0]] = true
	}
	if len(seen) != 30 {
		t.Errorf("%d distinct paths, want 30", len(seen))
	}
}
