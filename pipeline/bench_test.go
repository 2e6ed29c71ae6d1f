package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// passthrough returns its batch: the engine's own cost, with no work.
var passthroughUDF = UDFFunc(func(_ context.Context, b Block) (any, error) {
	b.Retain()
	return b, nil
})

// BenchmarkExecutorOverhead moves 10,000 rows through read → passthrough →
// write. The goal (issue #3) is at least 20,000 rows/s on 2 cores.
func BenchmarkExecutorOverhead(b *testing.B) {
	files := makeFiles(b, 10_000)
	out := filepath.Join(b.TempDir(), "o.parquet")
	b.ResetTimer()
	for b.Loop() {
		ds := ReadBinaryFiles(files, ReadOptions{}).MapBatches(MapOptions{Name: "Passthrough", Fn: passthroughUDF, BatchSize: 256})
		if err := ds.WriteParquet(context.Background(), out, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10_000*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkEventStream measures what publishing snapshots costs: the same
// pipeline with a 1 ms snapshot interval and a subscriber, against none.
func BenchmarkEventStream(b *testing.B) {
	files := makeFiles(b, 5_000)
	for _, sub := range []bool{false, true} {
		b.Run(fmt.Sprintf("subscribed=%v", sub), func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "o.parquet")
			for b.Loop() {
				opts := ExecutionOptions{}
				var obs *observer
				if sub {
					obs = observe(64)
					opts = ExecutionOptions{Bus: obs.bus, SnapshotInterval: time.Millisecond}
				}
				ds := ReadBinaryFiles(files, ReadOptions{}).MapBatches(MapOptions{Name: "Passthrough", Fn: passthroughUDF, BatchSize: 256}).WithExecutionOptions(opts)
				if err := ds.WriteParquet(context.Background(), out, WriteOptions{}); err != nil {
					b.Fatal(err)
				}
				if obs != nil {
					obs.close()
				}
			}
			b.ReportMetric(float64(5_000*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
