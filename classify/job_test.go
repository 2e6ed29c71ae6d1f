package classify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"workbench/model"
	"workbench/pipeline"
	"workbench/vision"
)

// TestClassifyFailedRowsHaveNoPrediction: wherever preprocessing happens, a
// row whose file cannot be decoded carries its error and null predictions,
// and every other row a prediction in range.
func TestClassifyFailedRowsHaveNoPrediction(t *testing.T) {
	m := tinyModel(t)
	files := synthFiles(t, 6, func(i int) (w, h int) { return 80, 60 })
	bad := filepath.Join(filepath.Dir(files[0]), "z-broken.jpg")
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
		if err := job.Write(context.Background(), out, "parquet", false); err != nil {
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
			paths := pipeline.Column(rec, pipeline.PathColumn).(*array.String)
			pred := pipeline.Column(rec, "predicted_class").(*array.Int32)
			errs := pipeline.Column(rec, pipeline.ErrorColumn).(*array.String)
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

// tinyModel loads ONNX Runtime and the zoo's tiny model.
func tinyModel(t *testing.T) *model.Model {
	t.Helper()
	if _, err := model.InitFromFlag(""); err != nil {
		t.Fatal(err)
	}
	m, err := model.Resolve("tiny")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// synthFiles writes n synthetic JPEGs, image i of size(i), named in order.
func synthFiles(t *testing.T, n int, size func(i int) (w, h int)) []string {
	t.Helper()
	dir := t.TempDir()
	files := make([]string, n)
	for i := range files {
		w, h := size(i)
		b, err := vision.SynthJPEGSized(uint64(i), w, h, 85)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = filepath.Join(dir, fmt.Sprintf("%02d.jpg", i))
		if err := os.WriteFile(files[i], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// readTable reads a whole Parquet file with the Arrow reader, not the
// writer's bookkeeping; the caller releases the table.
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

// TestPreserveOrderWithErrorRows: with preserve_order, the output lists the
// input in its order, error rows included, whatever the block count and
// concurrency; a failed row is neither moved ahead of the good rows of its
// task nor behind them (issue 14: every 7th file junk came out 003, 000, …).
func TestPreserveOrderWithErrorRows(t *testing.T) {
	m := tinyModel(t)
	files := synthFiles(t, 40, func(i int) (w, h int) { return 64 + i%3*8, 48 })
	for i := range files {
		if i%7 == 3 {
			if err := os.WriteFile(files[i], []byte("junk, not a jpeg"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		blocks, preprocess, batch int
		conc                      pipeline.Concurrency
		inActor                   bool
	}{
		{blocks: 1, preprocess: 1, batch: 4, conc: pipeline.Fixed(1)},
		{blocks: 3, preprocess: 2, batch: 4, conc: pipeline.Fixed(2)},
		{blocks: 7, preprocess: 0, batch: 5, conc: pipeline.Range(1, 2)},
		{blocks: 40, preprocess: 2, batch: 8, conc: pipeline.Fixed(2)},
		{blocks: 5, preprocess: 1, batch: 3, conc: pipeline.Fixed(1), inActor: true},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("blocks=%d,conc=%v,batch=%d,inActor=%v", c.blocks, c.conc, c.batch, c.inActor), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "o.parquet")
			job, err := NewJob(JobConfig{Files: files, Model: m, BatchSize: c.batch, Blocks: c.blocks,
				Concurrency: c.conc, PreprocessConcurrency: c.preprocess, PreprocessInActor: c.inActor,
				Session: model.SessionOptions{IntraOpThreads: 1, InterOpThreads: 1},
				Exec:    pipeline.ExecutionOptions{PreserveOrder: true}})
			if err != nil {
				t.Fatal(err)
			}
			if err := job.Write(context.Background(), out, "parquet", false); err != nil {
				t.Fatal(err)
			}
			tbl := readTable(t, out)
			defer tbl.Release()
			var got []string
			var failed int
			tr := array.NewTableReader(tbl, -1)
			defer tr.Release()
			for tr.Next() {
				rec := tr.RecordBatch()
				paths := pipeline.Column(rec, pipeline.PathColumn).(*array.String)
				errs := pipeline.Column(rec, pipeline.ErrorColumn)
				for i := range paths.Len() {
					got = append(got, paths.Value(i))
					if errs.IsValid(i) {
						failed++
					}
				}
			}
			if strings.Join(got, "\n") != strings.Join(files, "\n") {
				t.Errorf("output order differs from input order:\n got %v\nwant %v", base(got), base(files))
			}
			if want := (len(files) + 3) / 7; failed != want {
				t.Errorf("%d error rows, want %d", failed, want)
			}
		})
	}
}

func base(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

// predictions reads a job's output with the Parquet reader as path →
// "class confidence top5 error": what two runs that should agree compare.
func predictions(t *testing.T, path string) map[string]string {
	t.Helper()
	tbl := readTable(t, path)
	defer tbl.Release()
	tr := array.NewTableReader(tbl, -1)
	defer tr.Release()
	out := map[string]string{}
	for tr.Next() {
		rec := tr.RecordBatch()
		paths := pipeline.Column(rec, pipeline.PathColumn).(*array.String)
		pred := pipeline.Column(rec, "predicted_class").(*array.Int32)
		conf := pipeline.Column(rec, "confidence").(*array.Float32)
		top := pipeline.Column(rec, "top5").(*array.List)
		errs := pipeline.Column(rec, pipeline.ErrorColumn).(*array.String)
		for i := range int(rec.NumRows()) {
			out[paths.Value(i)] = fmt.Sprintf("%s %s %s %q", pred.ValueStr(i), conf.ValueStr(i), top.ValueStr(i), errs.ValueStr(i))
		}
	}
	return out
}

// TestInferenceActorsRecover: inference actors that fail every other batch
// are replaced (one model load each) and their batches retried, and every
// image gets the prediction a run without failures gives it.
func TestInferenceActorsRecover(t *testing.T) {
	m := tinyModel(t)
	files := synthFiles(t, 24, func(i int) (w, h int) { return 80, 60 })
	run := func(ft pipeline.FaultTolerance) (map[string]string, *Job) {
		out := filepath.Join(t.TempDir(), "o.parquet")
		job, err := NewJob(JobConfig{Files: files, Model: m, BatchSize: 4, InFlightPerActor: 1, FaultTolerance: ft,
			Session: model.SessionOptions{IntraOpThreads: 1, InterOpThreads: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if err := job.Write(context.Background(), out, "parquet", false); err != nil {
			t.Fatal(err)
		}
		return predictions(t, out), job
	}
	want, _ := run(pipeline.FaultTolerance{})
	got, job := run(pipeline.FaultTolerance{MaxRestarts: -1, MaxTaskRetries: 3, InjectFailureEvery: 2})
	if len(got) != len(files) {
		t.Fatalf("%d rows, want %d", len(got), len(files))
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q with failing actors, %q without", p, got[p], w)
		}
	}
	// Six batches, each actor runs one and fails the next: 5 restarts.
	var inf pipeline.OpMetrics
	for _, s := range job.Dataset.Metrics() {
		if s.Name == "Inference" {
			inf = s.Metrics
		}
	}
	if inf.ActorRestarts != 5 || inf.TaskRetries != 5 || inf.FailedBatches != 0 || job.Counters.ModelLoads.Load() != 6 {
		t.Errorf("restarts %d, retries %d, failed batches %d, model loads %d; want 5, 5, 0, 6",
			inf.ActorRestarts, inf.TaskRetries, inf.FailedBatches, job.Counters.ModelLoads.Load())
	}
}
