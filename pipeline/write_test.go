package pipeline

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// TestRowGroupsBounded: the Parquet writer starts a new row group once the
// current one holds RowGroupBytes (or RowGroupRows), so it never buffers
// more than about one row group, and the rows still come out in order.
func TestRowGroupsBounded(t *testing.T) {
	t.Parallel()
	files := makeFiles(t, 3000)
	// The output's Arrow bytes, for a byte bound between one row cap's
	// worth and the whole file's.
	var total int64
	err := ReadBinaryFiles(files, ReadOptions{OverrideNumBlocks: 30}).
		MapBatches(MapOptions{Name: "Len", Fn: lengths, BatchSize: 50}).
		IterBatches(context.Background(), func(b Block) error { total += BlockBytes(b); return nil })
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		o         WriteOptions
		minGroups int
		maxGroups int
	}{
		{"defaults: one group", WriteOptions{}, 1, 1},
		{"row cap", WriteOptions{RowGroupRows: 1000}, 3, 3},
		{"byte bound", WriteOptions{RowGroupBytes: 4 << 10}, 3, 3000},
		// Each row-cap cut starts the byte count again: a bound of 2.5k
		// rows' bytes never fires under a cap of 1,000 rows.
		{"row cap under the byte bound", WriteOptions{RowGroupRows: 1000, RowGroupBytes: total * 5 / 6}, 3, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "o.parquet")
			ds := ReadBinaryFiles(files, ReadOptions{OverrideNumBlocks: 30}).
				MapBatches(MapOptions{Name: "Len", Fn: lengths, BatchSize: 50}).
				WithExecutionOptions(ExecutionOptions{PreserveOrder: true})
			if err := ds.WriteParquet(context.Background(), out, c.o); err != nil {
				t.Fatal(err)
			}
			f, err := file.OpenParquetFile(out, false)
			if err != nil {
				t.Fatal(err)
			}
			n := f.NumRowGroups()
			f.Close()
			if n < c.minGroups || n > c.maxGroups {
				t.Errorf("%d row groups, want %d to %d", n, c.minGroups, c.maxGroups)
			}
			tbl := readTable(t, out)
			defer tbl.Release()
			tr := array.NewTableReader(tbl, -1)
			defer tr.Release()
			i := 0
			for tr.Next() {
				paths := Column(tr.RecordBatch(), PathColumn).(*array.String)
				for k := range paths.Len() {
					if paths.Value(k) != files[i] {
						t.Fatalf("row %d is %s, want %s", i, paths.Value(k), files[i])
					}
					i++
				}
			}
			if i != len(files) {
				t.Errorf("%d rows, want %d", i, len(files))
			}
		})
	}
}
