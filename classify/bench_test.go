package classify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"

	"workbench/model"
	"workbench/pipeline"
	"workbench/vision"
)

// BenchmarkPeakRSS runs the tiny-model job over 2,000 and then 20,000 small
// JPEGs and reports each run's peak RSS (VmHWM, reset between runs) and their
// ratio. Streaming with backpressure should keep the ratio near 1; the goal
// (issue #3) is at most 1.2.
func BenchmarkPeakRSS(b *testing.B) {
	if _, err := model.InitFromFlag(""); err != nil {
		b.Fatal(err)
	}
	m, err := model.Resolve("tiny")
	if err != nil {
		b.Fatal(err)
	}
	img, err := vision.SynthJPEGSized(1, 96, 72, 85)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	var files []string
	for i := range 20_000 {
		p := filepath.Join(dir, fmt.Sprintf("%05d.jpg", i))
		if err := os.WriteFile(p, img, 0o644); err != nil {
			b.Fatal(err)
		}
		files = append(files, p)
	}
	peak := map[int]float64{}
	for b.Loop() {
		for _, n := range []int{2_000, 20_000} {
			runtime.GC()
			debug.FreeOSMemory()
			pipeline.ResetPeakRSS()
			job, err := NewJob(JobConfig{Files: files[:n], Model: m, BatchSize: 64, TensorPool: true,
				Session: model.SessionOptions{IntraOpThreads: 1, InterOpThreads: 1}})
			if err != nil {
				b.Fatal(err)
			}
			if err := job.Write(context.Background(), filepath.Join(b.TempDir(), "o.parquet"), "parquet", false); err != nil {
				b.Fatal(err)
			}
			peak[n] = float64(vmHWM())
		}
	}
	b.ReportMetric(peak[2_000]/(1<<20), "MiB-2k")
	b.ReportMetric(peak[20_000]/(1<<20), "MiB-20k")
	b.ReportMetric(peak[20_000]/peak[2_000], "ratio")
}

func vmHWM() int64 { return pipeline.PeakRSS() }
