package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// makeFiles writes n small files and returns their paths in order.
func makeFiles(t testing.TB, n int) []string {
	t.Helper()
	dir := t.TempDir()
	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("f%05d.jpg", i))
		if err := os.WriteFile(paths[i], []byte(fmt.Sprintf("file-%d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

// lengths is a UDF mapping each row's bytes to its length.
var lengths = UDFFunc(func(_ context.Context, b Block) (any, error) {
	data := Column(b, DataColumn).(*array.Binary)
	out := make([]int32, data.Len())
	for i := range out {
		out[i] = int32(len(data.Value(i)))
	}
	return Columns{"len": out}, nil
})

// readTable reads a whole Parquet file; the caller releases the table.
func readTable(t *testing.T, path string) arrow.Table {
	t.Helper()
	f, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pqarrow.NewFileReader(f, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := r.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func readParquet(t *testing.T, path string) (rows int64, paths []string) {
	t.Helper()
	tbl := readTable(t, path)
	defer tbl.Release()
	col := tbl.Column(tbl.Schema().FieldIndices(PathColumn)[0])
	for _, c := range col.Data().Chunks() {
		s := c.(*array.String)
		for i := range s.Len() {
			paths = append(paths, s.Value(i))
		}
	}
	return tbl.NumRows(), paths
}

func TestEndToEndParquet(t *testing.T) {
	files := makeFiles(t, 50)
	out := filepath.Join(t.TempDir(), "out.parquet")
	ds := ReadBinaryFiles(files, ReadOptions{OverrideNumBlocks: 7}).
		MapBatches(MapOptions{Name: "Len", Fn: lengths, BatchSize: 8}).
		WithExecutionOptions(ExecutionOptions{PreserveOrder: true})
	if err := ds.WriteParquet(context.Background(), out, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	rows, paths := readParquet(t, out)
	if rows != 50 {
		t.Fatalf("rows = %d, want 50", rows)
	}
	for i, p := range paths {
		if p != files[i] {
			t.Fatalf("row %d = %s, want %s (order not preserved)", i, p, files[i])
		}
	}
	t.Log("\n" + ds.Stats())
}
