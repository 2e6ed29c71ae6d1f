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

// WindowConfig says how to cut a run's events into measurement windows.
type WindowConfig struct {
	// Warmup excludes events at or before this time: model load, first
	// allocations and cold caches would otherwise drag the rate down.
	Warmup time.Duration
	// WarmupBatches excludes the first K events (in time order) as well.
	// When both are set, warm-up ends at whichever comes later.
	WarmupBatches int
	// Window is the length of each measurement window; it must be positive.
	Window time.Duration
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

// Windows excludes the warm-up and cuts the rest of the run into consecutive
// windows of cfg.Window, returned in time order. The events need not be
// sorted; the slice is not modified.
//
// The measured span runs from the end of warm-up (cfg.Warmup, or the time of
// the last warm-up batch, whichever is later; 0 with no warm-up) to the last
// event. Only whole windows are returned: a trailing partial window would
// over- or under-state the rate depending on where a batch happened to land.
// Events at the very instant warm-up ends count as warm-up.
//
// It fails when cfg.Window is not positive, when no batch finished after
// warm-up, or when the measured span is shorter than one window; the error
// says how to fix the run.
func Windows(events []Event, cfg WindowConfig) ([]Window, error) {
	if cfg.Window <= 0 {
		return nil, fmt.Errorf("window must be positive, got %v", cfg.Window)
	}
	ev := slices.Clone(events)
	slices.SortStableFunc(ev, func(a, b Event) int { return cmpDur(a.At, b.At) })

	start := max(cfg.Warmup, 0)
	if k := cfg.WarmupBatches; k > 0 {
		if k >= len(ev) {
			return nil, fmt.Errorf("all %d batches fall in the %d-batch warm-up; run longer or lower the warm-up", len(ev), k)
		}
		start = max(start, ev[k-1].At)
	}
	first := len(ev)
	for i, e := range ev {
		if e.At > start {
			first = i
			break
		}
	}
	if first == len(ev) {
		return nil, fmt.Errorf("no batch finished after the warm-up (which ends at %v); run longer or shorten the warm-up", start)
	}
	end := ev[len(ev)-1].At
	n := int((end - start) / cfg.Window)
	if n == 0 {
		return nil, fmt.Errorf("the measured span after warm-up (%v) is shorter than one %v window; run longer or use a shorter window",
			end-start, cfg.Window)
	}
	ws := make([]Window, n)
	for i := range ws {
		ws[i].Start = start + time.Duration(i)*cfg.Window
		ws[i].End = ws[i].Start + cfg.Window
	}
	for _, e := range ev[first:] {
		// Window i holds (Start, End]; an event exactly on a boundary
		// belongs to the window it closes.
		i := int((e.At - start - 1) / cfg.Window)
		if i < n {
			ws[i].Rows += e.Rows
		}
	}
	return ws, nil
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

// Stable applies perf_analyzer's rule with its defaults (the last 3 windows'
// throughputs within 10%, max/min ≤ 1.10) to ws.
func Stable(ws []Window) bool {
	return CheckStability(Throughputs(ws), StabilityWindows, StabilityThreshold).Stable
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

// SteadyState cuts a run's batch completions into windows and judges them.
// With no window length given it uses up to twelve windows over the run,
// but never so short that a window holds fewer than about three batches: a
// window's throughput counts the batches that finished in it, so shorter
// windows read as 0 or a multiple of one batch, not a rate. With fewer than
// three windows it returns no windows and says why.
func SteadyState(events []Event, wall time.Duration, cfg WindowConfig) (windows []float64, steady float64, stable bool, warn string) {
	if cfg.Window == 0 {
		perBatch := wall
		if len(events) > 0 {
			perBatch = wall / time.Duration(len(events))
		}
		cfg.Window = max(wall/12, 3*perBatch, 10*time.Millisecond)
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = cfg.Window
	}
	ws, err := Windows(events, cfg)
	switch {
	case err != nil:
		return nil, 0, false, "steady state: " + err.Error()
	case len(ws) < StabilityWindows:
		return nil, 0, false, fmt.Sprintf("steady state: only %d batches, too few for %d windows of 3 or more; "+
			"throughput is the whole run's and stability is unknown (use more images)", len(events), StabilityWindows)
	}
	stable = Stable(ws)
	if !stable {
		warn = "unstable: the last 3 throughput windows differ by more than 10%"
	}
	return Throughputs(ws), SteadyThroughput(ws), stable, warn
}
