package bench

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestThroughput(t *testing.T) {
	t.Parallel()
	ws := []Window{{Start: 0, End: time.Second, Rows: 100}, {Start: time.Second, End: 3 * time.Second, Rows: 100}}
	if got := Throughputs(ws); got[0] != 100 || got[1] != 50 {
		t.Errorf("Throughputs = %v", got)
	}
	if got := SteadyThroughput(ws); math.Abs(got-200.0/3) > 1e-9 {
		t.Errorf("SteadyThroughput = %v, want 66.67", got)
	}
	if !math.IsNaN(SteadyThroughput(nil)) {
		t.Error("SteadyThroughput(nil) should be NaN")
	}
}

func TestCheckStability(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		xs     []float64
		stable bool
		reason string
	}{
		{"flat", []float64{100, 100, 100}, true, ""},
		{"exactly 10%: max/min = 1.10", []float64{100, 110, 105}, true, ""},
		{"just over", []float64{100, 110.2, 105}, false, "unstable: last 3 windows vary by 10.2% (limit 10%)"},
		// Within 10% of their mean (~110) each, but max/min = 1.2:
		// perf_analyzer's rule is the stricter max/min one.
		{"within 10% of mean is not enough", []float64{100, 110, 120}, false, "vary by 20.0%"},
		{"only the last three count", []float64{10, 500, 100, 101, 102}, true, ""},
		{"warm-up shape settles", []float64{50, 80, 95, 100, 99}, true, ""},
		{"still climbing", []float64{50, 80, 95, 120, 140}, false, "vary by 47.4%"},
		{"zero window", []float64{100, 0, 100}, false, "completed nothing"},
		{"too few", []float64{100, 100}, false, "need >= 3 windows to judge stability, have 2"},
	}
	for _, tt := range tests {
		s := CheckStability(tt.xs, StabilityWindows, StabilityThreshold)
		if s.Stable != tt.stable || !strings.Contains(s.Reason, tt.reason) || (tt.reason == "") != (s.Reason == "") {
			t.Errorf("%s: %+v, want stable=%v reason %q", tt.name, s, tt.stable, tt.reason)
		}
	}
	ws := []Window{
		{0, time.Second, 100}, {time.Second, 2 * time.Second, 104}, {2 * time.Second, 3 * time.Second, 96},
	}
	if s := CheckStability(Throughputs(ws), StabilityWindows, StabilityThreshold); !s.Stable {
		t.Error("windows of 96..104 rows/s judged unstable")
	}
	ws[2].Rows = 80
	if s := CheckStability(Throughputs(ws), StabilityWindows, StabilityThreshold); s.Stable {
		t.Error("windows of 80..104 rows/s judged stable")
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	// Values checked against numpy.percentile (linear, type 7): for
	// 1..10, p95 = 1 + 0.95·9 = 9.55 and p99 = 9.91.
	xs := seq(1, 10)
	tests := []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{xs, 50, 5.5}, {xs, 95, 9.55}, {xs, 99, 9.91}, {xs, 0, 1}, {xs, 100, 10},
		{[]float64{3, 1, 2}, 50, 2}, {[]float64{7}, 99, 7}, {[]float64{10, 20}, 25, 12.5},
	}
	for _, tt := range tests {
		if got := Percentile(tt.xs, tt.p); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tt.xs, tt.p, got, tt.want)
		}
	}
	for _, bad := range []float64{-1, 101, math.NaN()} {
		if !math.IsNaN(Percentile(xs, bad)) {
			t.Errorf("Percentile(p=%v) should be NaN", bad)
		}
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("Percentile(nil) should be NaN")
	}
}

func TestLatencyPercentiles(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l, err := LatencyPercentiles(ds)
	if err != nil {
		t.Fatal(err)
	}
	// 1..100 ms: h = 99·p, so p50 = 50.5ms, p95 = 95.05ms, p99 = 99.01ms.
	want := Latencies{P50: 50500 * time.Microsecond, P95: 95050 * time.Microsecond, P99: 99010 * time.Microsecond, N: 100}
	if l != want {
		t.Errorf("got %+v, want %+v", l, want)
	}
	m := map[string]float64{}
	l.AddTo(m)
	if m[MetricLatencyP95] != 0.09505 || len(m) != 3 {
		t.Errorf("AddTo = %v", m)
	}
	if _, err := LatencyPercentiles(nil); err != ErrNoLatencies {
		t.Errorf("empty: err = %v", err)
	}
}
