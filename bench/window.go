package bench

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// An Event records that a batch of Rows rows finished At, measured from the
// start of the run.
type Event struct {
	At   time.Duration
	Rows int
}

// A Window is one measurement window: the rows whose batches finished in
// (Start, End].
type Window struct {
	Start, End time.Duration
	Rows       int
}

// Throughput is the window's rate in rows per second.
func (w Window) Throughput() float64 {
	return float64(w.Rows) / (w.End - w.Start).Seconds()
}

func cmpDur(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Throughputs returns each window's rows per second, in order, ready for
// Summarize or CheckStability.
func Throughputs(ws []Window) []float64 {
	xs := make([]float64, len(ws))
	for i, w := range ws {
		xs[i] = w.Throughput()
	}
	return xs
}

// SteadyThroughput is the rate over all the windows together: total rows
// over total window time. It weights every second equally, unlike the mean of
// per-window rates when windows differ in length. NaN when ws is empty.
func SteadyThroughput(ws []Window) float64 {
	var rows int
	var d time.Duration
	for _, w := range ws {
		rows += w.Rows
		d += w.End - w.Start
	}
	if d == 0 {
		return math.NaN()
	}
	return float64(rows) / d.Seconds()
}

// Stability rule of Triton's perf_analyzer: a measurement is stable when its
// last StabilityWindows windows are all non-zero and the largest is at most
// 1+StabilityThreshold times the smallest, i.e. max/min ≤ 1.10. See
// triton-inference-server/perf_analyzer src/inference_profiler.cc,
// InferenceProfiler::DetermineStability and IsInferWindowStable, where the
// window count is load_parameters_.stability_window (3) and the threshold is
// load_parameters_.stability_threshold (--stability-percentage, 10%).
// perf_analyzer applies the same test to latency; CheckStability accepts any
// series, so callers can do so too.
const (
	StabilityWindows   = 3
	StabilityThreshold = 0.10
)

// Stability is the verdict of CheckStability.
type Stability struct {
	// Stable reports whether the rule held.
	Stable bool
	// Variation is max/min - 1 over the checked windows (0.14 means the
	// fastest was 14% above the slowest): +Inf when one is zero, NaN when
	// there were too few windows.
	Variation float64
	// Reason explains an unstable verdict in footnote form, "" when stable.
	Reason string
}

// CheckStability applies perf_analyzer's rule to the last count values of xs:
// stable when all are positive and max/min ≤ 1+threshold.
func CheckStability(xs []float64, count int, threshold float64) Stability {
	if count < 1 || len(xs) < count {
		return Stability{Variation: math.NaN(),
			Reason: fmt.Sprintf("need >= %d windows to judge stability, have %d", count, len(xs))}
	}
	last := xs[len(xs)-count:]
	lo, hi := slices.Min(last), slices.Max(last)
	if !(lo > 0) {
		return Stability{Variation: math.Inf(1),
			Reason: fmt.Sprintf("unstable: a window among the last %d completed nothing", count)}
	}
	s := Stability{Variation: hi/lo - 1}
	s.Stable = hi/lo <= 1+threshold
	if !s.Stable {
		s.Reason = fmt.Sprintf("unstable: last %d windows vary by %.1f%% (limit %.0f%%)",
			count, 100*s.Variation, 100*threshold)
	}
	return s
}

// Percentile returns the p'th percentile (p in [0, 100]) of xs by linear
// interpolation between the two nearest order statistics: with xs sorted and
// h = (n-1)·p/100, the result is xs[⌊h⌋] + (h-⌊h⌋)·(xs[⌊h⌋+1]-xs[⌊h⌋]).
// This is Hyndman & Fan's type 7, the default of NumPy and R, so numbers can
// be checked against either. xs is not modified; NaN when xs is empty or p is
// out of range.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 || !(p >= 0 && p <= 100) {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return percentileSorted(s, p)
}

func percentileSorted(s []float64, p float64) float64 {
	h := float64(len(s)-1) * p / 100
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// Latencies are the latency percentiles workbench reports.
type Latencies struct {
	P50, P95, P99 time.Duration
	// N is the number of latencies summarised.
	N int
}

// ErrNoLatencies is returned by LatencyPercentiles for an empty input.
var ErrNoLatencies = errors.New("no latencies recorded")

// LatencyPercentiles returns the p50, p95 and p99 of ds using Percentile's
// linear interpolation, rounded to the nearest nanosecond.
func LatencyPercentiles(ds []time.Duration) (Latencies, error) {
	if len(ds) == 0 {
		return Latencies{}, ErrNoLatencies
	}
	s := make([]float64, len(ds))
	for i, d := range ds {
		s[i] = float64(d)
	}
	slices.Sort(s)
	at := func(p float64) time.Duration { return time.Duration(math.Round(percentileSorted(s, p))) }
	return Latencies{P50: at(50), P95: at(95), P99: at(99), N: len(ds)}, nil
}

// AddTo stores the percentiles in m under their registry names
// (latency_p50, latency_p95, latency_p99), in seconds.
func (l Latencies) AddTo(m map[string]float64) {
	m[MetricLatencyP50] = l.P50.Seconds()
	m[MetricLatencyP95] = l.P95.Seconds()
	m[MetricLatencyP99] = l.P99.Seconds()
}
