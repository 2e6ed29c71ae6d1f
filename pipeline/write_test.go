package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
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

// TestOpenRowGroupBounded: an open row group of 16 Ki prediction rows
// (path, class, score, top-5, error) holds under a fixed bound of live
// heap, measured after a GC. With 1 MiB data pages grown by doubling and a
// dictionary for the float score it held 2.8 MiB; with 64 KiB pages and no
// float dictionary, 0.9–1.6 MiB (issue 22). The bound, not a time, is what
// it checks. Not parallel: the heap is the whole process's.
func TestOpenRowGroupBounded(t *testing.T) {
	const bound = 2.2 * (1 << 20)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: PathColumn, Type: arrow.BinaryTypes.String},
		{Name: "predicted_class", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "confidence", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "top5", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: ErrorColumn, Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	block := func(off, n int) arrow.RecordBatch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer b.Release()
		for i := off; i < off+n; i++ {
			b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("/data/images/d%03d/img-%07d.jpg", i/1000, i))
			b.Field(1).(*array.Int32Builder).Append(int32(i*7919) % 1000)
			b.Field(2).(*array.Float32Builder).Append(float32(i%9973) / 9973)
			lb := b.Field(3).(*array.ListBuilder)
			lb.Append(true)
			for k := range 5 {
				lb.ValueBuilder().(*array.Int32Builder).Append(int32(i*k) % 1000)
			}
			b.Field(4).(*array.StringBuilder).AppendNull()
		}
		return b.NewRecordBatch()
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "o.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := newParquetSink(f, WriteOptions{}, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	for off := 0; off+32 < DefaultRowGroupRows; off += 32 {
		r := block(off, 32)
		if err := w.write(r); err != nil {
			t.Fatal(err)
		}
		r.Release()
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	held := float64(ms.HeapAlloc) - float64(base)
	t.Logf("open row group: %.2f MiB live", held/(1<<20))
	if held > bound {
		t.Errorf("the open row group holds %.2f MiB live, want under %.1f MiB", held/(1<<20), bound/(1<<20))
	}
}
