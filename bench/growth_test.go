package bench

import (
	"math"
	"testing"

	"workbench/pipeline"
)

// TestGrowth: the steady-state slope in bytes per 1,000 rows, robust to a
// sawtooth and to the warm-up, and not defined without enough points.
func TestGrowth(t *testing.T) {
	t.Parallel()
	line := func(n int, perRow float64, saw int64) []GrowthPoint {
		var p []GrowthPoint
		for i := range n {
			rows := int64(i * 1000)
			rss := int64(100<<20) + int64(perRow*float64(rows))
			if i%2 == 1 {
				rss += saw
			}
			if i < n/10 {
				rss -= 50 << 20 // warm-up: memory still filling
			}
			p = append(p, GrowthPoint{Rows: rows, RSS: rss})
		}
		return p
	}
	cases := []struct {
		name   string
		points []GrowthPoint
		want   float64 // bytes per 1k rows
		tol    float64
		ok     bool
	}{
		{"flat", line(100, 0, 0), 0, 1, true},
		{"1.4 KB per image", line(100, 1400, 0), 1.4e6, 1e3, true},
		{"flat with a GC sawtooth", line(100, 0, 4<<20), 0, 100e3, true},
		{"too few points", line(3, 1400, 0), 0, 0, false},
		{"none", nil, 0, 0, false},
	}
	for _, c := range cases {
		got, spread, ok := Growth(c.points)
		if ok != c.ok || (ok && math.Abs(got-c.want) > c.tol) || spread < 0 {
			t.Errorf("%s: %v ± %v (ok %v), want %v ± %v (ok %v)", c.name, got, spread, ok, c.want, c.tol, c.ok)
		}
	}
}

// TestRSSSamplerBounded: however long the run, the sampler keeps at most
// maxGrowthPoints, spread over the whole run, and still finds the slope.
func TestRSSSamplerBounded(t *testing.T) {
	t.Parallel()
	s := &RSSSampler{stride: 1}
	for rows := int64(0); rows < 1_000_000; rows += 100 {
		s.Add(rows, 1<<30+rows*64)
	}
	pts := s.Points()
	if len(pts) >= maxGrowthPoints || pts[len(pts)-1].Rows < 900_000 {
		t.Errorf("%d points, last at %d rows", len(pts), pts[len(pts)-1].Rows)
	}
	if g, _, ok := s.Growth(); !ok || math.Abs(g-64_000) > 1 {
		t.Errorf("growth %v (ok %v), want 64000", g, ok)
	}
	real := NewRSSSampler()
	real.Observe(&pipeline.Snapshot{RowsDone: 10})
	if p := real.Points(); len(p) != 1 || p[0].RSS <= 0 {
		t.Errorf("Observe recorded %v, want one point with this process's RSS", p)
	}
}
