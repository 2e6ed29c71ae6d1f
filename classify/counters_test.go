package classify

import (
	"testing"
	"time"
)

// TestBatchLogBounded: a job's per-batch bookkeeping stays bounded however
// many batches run, and still accounts for every row and batch.
func TestBatchLogBounded(t *testing.T) {
	for _, n := range []int{10, maxBatchLog, 5*maxBatchLog + 3} {
		var c Counters
		c.begin()
		for i := range n {
			c.batchDone(2, time.Duration(i+1))
		}
		log := c.Batches()
		rows := 0
		for _, b := range log {
			rows += b.Rows
		}
		count, first, lat := c.BatchStats()
		if len(log) > maxBatchLog || len(lat) > maxBatchLog {
			t.Errorf("%d batches: log %d, latencies %d entries; want at most %d", n, len(log), len(lat), maxBatchLog)
		}
		if rows != 2*n || count != int64(n) {
			t.Errorf("%d batches: log holds %d rows and counts %d batches, want %d and %d", n, rows, count, 2*n, n)
		}
		if first <= 0 || first > log[0].At {
			t.Errorf("%d batches: first batch at %v, log starts at %v", n, first, log[0].At)
		}
		if want := min(n, maxBatchLog); len(lat) != want {
			t.Errorf("%d batches: %d latencies sampled, want %d", n, len(lat), want)
		}
	}
}
