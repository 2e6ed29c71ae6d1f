package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"workbench/model"
	"workbench/vision"
)

// TestClassifyFailedRowsHaveNoPrediction: wherever preprocessing happens, a
// row whose file cannot be decoded carries its error and null predictions,
// and every other row a prediction in range.
func TestClassifyFailedRowsHaveNoPrediction(t *testing.T) {
	if _, err := model.InitFromFlag(""); err != nil {
		t.Fatal(err)
	}
	m, err := model.Resolve("tiny")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var files []string
	for i := range 6 {
		b, err := vision.SynthJPEGSized(uint64(i), 80, 60, 85)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.Join(dir, string(rune('a'+i))+".jpg"))
		if err := os.WriteFile(files[i], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bad := filepath.Join(dir, "z-broken.jpg")
	if err := os.WriteFile(bad, []byte("not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	files = append(files, bad)
	for _, inActor := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "o.parquet")
		job, err := NewJob(JobConfig{Files: files, Model: m, BatchSize: 4, PreprocessInActor: inActor,
			Session: model.SessionOptions{IntraOpThreads: 1, InterOpThreads: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if err := job.Write(context.Background(), out, false, false); err != nil {
			t.Fatal(err)
		}
		f, err := file.OpenParquetFile(out, false)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pqarrow.NewFileReader(f, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := r.ReadTable(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		tr := array.NewTableReader(tbl, -1)
		rows := 0
		for tr.Next() {
			rec := tr.RecordBatch()
			paths := Column(rec, PathColumn).(*array.String)
			pred := Column(rec, "predicted_class").(*array.Int32)
			errs := Column(rec, ErrorColumn).(*array.String)
			for i := range int(rec.NumRows()) {
				rows++
				broken := strings.HasSuffix(paths.Value(i), "z-broken.jpg")
				if broken != errs.IsValid(i) || broken == pred.IsValid(i) {
					t.Errorf("in actor %v: %s: error set %v, prediction set %v", inActor, paths.Value(i), errs.IsValid(i), pred.IsValid(i))
				}
				if pred.IsValid(i) && (pred.Value(i) < 0 || int(pred.Value(i)) >= m.NumClasses) {
					t.Errorf("in actor %v: class %d out of range", inActor, pred.Value(i))
				}
			}
		}
		tr.Release()
		tbl.Release()
		f.Close()
		if rows != len(files) {
			t.Errorf("in actor %v: %d rows, want %d", inActor, rows, len(files))
		}
	}
}
