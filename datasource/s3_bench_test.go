package datasource

import (
	"context"
	"fmt"
	"testing"
	"time"

	"workbench/datasource/s3test"
	"workbench/pipeline"
)

// BenchmarkFirstBlock: how long a prefix of 2,000 objects (100 keys a
// page, 20 ms added to every request by the proxy, as a remote store's
// round trip) takes to put its first block of 32 objects into the engine,
// streamed (this package's read: the first page, then its GETs) and
// listed first (every page before any GET, as the read did before it
// streamed; Count is that listing pass). Both in one loop, so the ratio
// is of the same conditions.
func BenchmarkFirstBlock(b *testing.B) {
	srv := s3test.Start(b)
	srv.Bucket(b, "first")
	const n = 2000
	for i := range n {
		srv.Put(b, "first", fmt.Sprintf("p/%05d.jpg", i), []byte("x"))
	}
	px := s3test.StartProxy(b, srv.Endpoint, &s3test.Proxy{MaxKeys: 100, Delay: 20 * time.Millisecond})
	s3test.Env(b, px.URL)
	ctx := context.Background()
	first := func(listFirst bool) time.Duration {
		t0 := time.Now()
		src, err := Open(ctx, "s3://first/p/", Options{GetConcurrency: 8})
		if err != nil {
			b.Fatal(err)
		}
		if listFirst {
			if _, _, err := src.Count(ctx); err != nil {
				b.Fatal(err)
			}
		}
		var d time.Duration
		errFirst := fmt.Errorf("first block")
		err = pipeline.ReadDatasource(src, pipeline.ReadOptions{RowsPerBlock: 32}).IterBatches(ctx, func(pipeline.Block) error {
			d = time.Since(t0)
			return errFirst // the first block is all this measures
		})
		if err == nil || d == 0 {
			b.Fatalf("no first block: %v", err)
		}
		return d
	}
	var streamed, listed time.Duration
	for b.Loop() {
		streamed += first(false)
		listed += first(true)
	}
	b.ReportMetric(float64(streamed.Milliseconds())/float64(b.N), "ms-streamed")
	b.ReportMetric(float64(listed.Milliseconds())/float64(b.N), "ms-listed-first")
	b.ReportMetric(float64(listed)/float64(streamed), "listed/streamed")
}
