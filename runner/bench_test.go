package runner

import (
	"context"
	"testing"
)

// BenchmarkRunTiny is the end-to-end run path: resolve, list, read,
// decode, preprocess, infer with the tiny model and write Parquet, over the
// behaviour tests' 48 synthetic JPEGs. It reports images per second; the
// engine's own overhead is pipeline's BenchmarkExecutorOverhead.
func BenchmarkRunTiny(b *testing.B) {
	dir, err := testData()
	if err != nil {
		b.Skip(err)
	}
	out := b.TempDir() + "/o.parquet"
	images := 0
	for b.Loop() {
		rec, err := Run(context.Background(), Config{Model: "tiny", Data: dir, Out: out})
		if err != nil {
			b.Fatal(err)
		}
		images += rec.Images
	}
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "img/s")
}
