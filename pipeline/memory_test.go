package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
)

// TestRangeMemoryBounded: a 20,000-row run of the synthetic datasource
// (8 KiB a row, 160 MiB in all) through a map and the Parquet writer keeps
// the Go heap under a fixed bound, measured at every write: the engine
// holds a bounded window of blocks, not the dataset. The bound, not a time,
// is what it checks.
func TestRangeMemoryBounded(t *testing.T) {
	const rows, rowBytes = 20_000, 8 << 10
	const bound = 96 << 20 // live heap; the dataset is 160 MiB (211 MiB peak with backpressure off)
	var peak uint64
	var ms runtime.MemStats
	sample := UDFFunc(func(_ context.Context, b Block) (any, error) {
		if b.NumRows() > 0 && Column(b, IDColumn).(interface{ Value(int) int64 }).Value(0)%2000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		b.Retain()
		return b, nil
	})
	out := filepath.Join(t.TempDir(), "o.parquet")
	ds := ReadRange(rows, rowBytes, ReadOptions{RowsPerBlock: 500}).
		MapBatches(MapOptions{Name: "Sample", Fn: sample, BatchSize: 100, Concurrency: Fixed(1)}).
		// An explicit budget: the default is 25% of RAM, so how much may
		// queue would depend on the machine and on how slow the consumer
		// is (under -race on a loaded machine, very).
		WithExecutionOptions(ExecutionOptions{PreserveOrder: true, Limits: ExecutionResources{ObjectStoreMemory: 32 << 20}})
	if err := ds.WriteParquet(context.Background(), out, WriteOptions{RowGroupBytes: 8 << 20}); err != nil {
		t.Fatal(err)
	}
	if peak == 0 || peak > bound {
		t.Errorf("peak live heap %s, want under %s", FormatBytes(int64(peak)), FormatBytes(bound))
	}
}

// BenchmarkRangeRSS is memcheck's engine share: the synthetic datasource at
// 2k, 20k and 200k rows (4 KiB each) through a passthrough and the writer,
// reporting the process's peak RSS (VmHWM, reset before each size) and the
// slope between the smallest and largest, in bytes per row.
func BenchmarkRangeRSS(b *testing.B) {
	sizes := []int{2_000, 20_000, 200_000}
	peak := map[int]float64{}
	for b.Loop() {
		for _, n := range sizes {
			runtime.GC()
			resetHWM()
			out := filepath.Join(b.TempDir(), "o.parquet")
			ds := ReadRange(n, 4<<10, ReadOptions{}).MapBatches(MapOptions{Name: "Passthrough", Fn: passthroughUDF, BatchSize: 256})
			if err := ds.WriteParquet(context.Background(), out, WriteOptions{}); err != nil {
				b.Fatal(err)
			}
			peak[n] = float64(vmHWM())
		}
	}
	for _, n := range sizes {
		b.ReportMetric(peak[n]/(1<<20), fmt.Sprintf("MiB-%dk", n/1000))
	}
	b.ReportMetric((peak[200_000]-peak[2_000])/198_000, "B/row")
	b.ReportMetric(peak[200_000]/peak[2_000], "ratio")
}

// TestHeldBytes: a Materialize sink (take_all) reports every block it
// collected as held, exactly, and a streaming sink none: the count that
// makes the take-all mistake visible at a few hundred rows.
func TestHeldBytes(t *testing.T) {
	const rows, rowBytes = 600, 1 << 10
	cases := []struct {
		name        string
		materialize bool
		min, max    int64
	}{
		{"streaming", false, 0, 0},
		// The blocks' Arrow buffers: rows × rowBytes, plus the id column
		// and buffer padding.
		{"take_all", true, rows * rowBytes, rows * (rowBytes + 128)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ds := ReadRange(rows, rowBytes, ReadOptions{RowsPerBlock: 50})
			out := filepath.Join(t.TempDir(), "o.parquet")
			if err := ds.WriteParquet(context.Background(), out, WriteOptions{Materialize: c.materialize}); err != nil {
				t.Fatal(err)
			}
			var held, peak int64 = -1, -1
			for _, s := range ds.Metrics() {
				if s.Name == "Write" {
					held, peak = s.Metrics.HeldBytes, s.Metrics.PeakHeldBytes
				} else if s.Metrics.PeakHeldBytes != 0 {
					t.Errorf("%s holds %d bytes; only the sink keeps rows", s.Name, s.Metrics.PeakHeldBytes)
				}
			}
			if peak < c.min || peak > c.max {
				t.Errorf("peak held %d bytes, want %d..%d", peak, c.min, c.max)
			}
			// The last task's reading: everything collected for take_all
			// (the sink writes it after its last task), none streaming.
			if held != peak {
				t.Errorf("held %d at the end, peak %d: the sink's count went down before its input ended", held, peak)
			}
		})
	}
}
