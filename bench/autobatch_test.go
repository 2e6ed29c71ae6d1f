package bench

import "testing"

// TestKnee: the smallest batch within 5% of the best, under a latency
// limit, skipping failed sizes.
func TestKnee(t *testing.T) {
	t.Parallel()
	pts := []BatchPoint{
		{Batch: 4, Throughput: 80, Latency: 0.05},
		{Batch: 16, Throughput: 97, Latency: 0.16},
		{Batch: 32, Throughput: 100, Latency: 0.32},
		{Batch: 64, Throughput: 99, Latency: 0.65},
		{Batch: 128, Failed: "out of memory"},
	}
	cases := []struct {
		name   string
		maxLat float64
		want   int
	}{
		{"no limit: 16 is within 5% of 100", 0, 16},
		{"a limit that excludes 16", 0.1, 4},
		{"a limit nothing meets", 0.01, 0},
	}
	for _, c := range cases {
		if got := Knee(pts, c.maxLat); got != c.want {
			t.Errorf("%s: Knee = %d, want %d", c.name, got, c.want)
		}
	}
}
