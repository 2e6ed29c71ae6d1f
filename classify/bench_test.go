package classify

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"workbench/model"
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
			_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
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

func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
