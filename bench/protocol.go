package bench

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Protocol is the one measurement protocol every command that compares
// configurations follows (race, ablate, sweep, tune, run --repeat, the TUI),
// modelled on Triton's perf_analyzer and MLPerf LoadGen. Every record
// carries the protocol it was measured under.
//
// A run (one sample) is measured as follows. The first WarmupBatches batches
// of every actor (its session's first batches at the cell's shape) are
// unmeasured. The rest is cut into windows of WindowBatches consecutive
// batch completions (whole rounds of the actors); counting batches rather than
// seconds keeps a window's rate free of the quantisation a fixed-length
// window suffers when it holds few batches. The run is stable when its last
// StableWindows windows agree within Threshold (max/min ≤ 1+Threshold).
// Runs are sized for Windows windows: when the dataset is too small, the
// read cycles over it and the record says by how much (Record.Cycled).
//
// A cell (one configuration) repeats runs until it has MinSamples samples
// and its last run is stable, or until MaxRuns runs or its time limit. Its
// samples are the runs' steady throughputs, or the windows themselves when
// they pass an independence test (IndependentWindows). A cell that never
// stabilises is reported unstable and not ranked.
//
// Cells are ranked by the median of their samples. A cell whose confidence
// interval overlaps the best cell's, or whose median is within TieMargin of
// it, is tied with it; ties are broken by the Secondary objective and the
// output says so.
type Protocol struct {
	// WarmupBatches are each actor's first batches, left unmeasured.
	WarmupBatches int `json:"warmup_batches"`
	// WindowBatches is the least number of batches in a window.
	WindowBatches int `json:"window_batches"`
	// Windows is how many windows a run is sized for.
	Windows int `json:"windows"`
	// StableWindows and Threshold are perf_analyzer's stability rule.
	StableWindows int     `json:"stable_windows"`
	Threshold     float64 `json:"stability_threshold"`
	// MinSamples is the least number of samples a ranked cell has.
	MinSamples int `json:"min_samples"`
	// MaxRuns caps the runs of one cell (the time limit in runs).
	MaxRuns int `json:"max_runs"`
	// CellSeconds caps the time spent on one cell; 0 is no limit. A
	// budgeted sweep sets it per cell.
	CellSeconds float64 `json:"cell_time_limit_seconds,omitempty"`
	// Confidence is the level of the medians' intervals; with too few
	// samples for it the widest interval the samples give is used.
	Confidence float64 `json:"confidence"`
	// TieMargin: medians closer than this fraction are tied whatever
	// their intervals, so a difference below the noise floor of a shared
	// machine is never a finding. 0 is the default; negative is none.
	TieMargin float64 `json:"tie_margin"`
	// Secondary breaks ties: a metric name, lower p95 latency by default.
	Secondary string `json:"secondary"`
}

// DefaultProtocol is the protocol's defaults: one warm-up batch per
// session, windows of at least 3 batches, runs sized for 6 windows, the
// last 3 within 10%, at least 3 samples, at most 5 runs, 95% intervals, a
// 3% tie margin, ties broken by lower p95 latency.
var DefaultProtocol = Protocol{
	WarmupBatches: 1, WindowBatches: 3, Windows: 6,
	StableWindows: StabilityWindows, Threshold: StabilityThreshold,
	MinSamples: 3, MaxRuns: 5, Confidence: DefaultConfidence, TieMargin: 0.03,
	Secondary: MetricLatencyP95,
}

// WithDefaults fills the zero fields of p from DefaultProtocol.
func (p Protocol) WithDefaults() Protocol {
	d := DefaultProtocol
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&p.WarmupBatches, d.WarmupBatches)
	set(&p.WindowBatches, d.WindowBatches)
	set(&p.Windows, d.Windows)
	set(&p.StableWindows, d.StableWindows)
	set(&p.MinSamples, d.MinSamples)
	set(&p.MaxRuns, d.MaxRuns)
	if p.Threshold <= 0 {
		p.Threshold = d.Threshold
	}
	if p.Confidence <= 0 || p.Confidence >= 1 {
		p.Confidence = d.Confidence
	}
	if p.TieMargin == 0 {
		p.TieMargin = d.TieMargin
	}
	p.TieMargin = max(p.TieMargin, 0) // negative: no margin
	if p.Secondary == "" {
		p.Secondary = d.Secondary
	}
	p.Windows = max(p.Windows, p.StableWindows)
	p.MaxRuns = max(p.MaxRuns, p.MinSamples)
	return p
}

// String is a one-line description for headers and footnotes.
func (p Protocol) String() string {
	s := fmt.Sprintf("warm-up %d batch/session unmeasured; windows of ≥%d batches, %d per run; stable when the last %d agree within %.0f%%; ≥%d samples, ≤%d runs per cell",
		p.WarmupBatches, p.WindowBatches, p.Windows, p.StableWindows, 100*p.Threshold, p.MinSamples, p.MaxRuns)
	if p.CellSeconds > 0 {
		s += fmt.Sprintf(", %s per cell", time.Duration(p.CellSeconds*float64(time.Second)).Round(time.Second))
	}
	return s
}

// windowBatches is the batches in one window at the given actor count: at
// least WindowBatches, rounded up to a whole number of rounds of the
// actors. Actors that start together finish together, so a window that
// cut a round in two would read as fast or slow by where it fell.
func (p Protocol) windowBatches(actors int) int {
	actors = max(actors, 1)
	rounds := (max(p.WindowBatches, 1) + actors - 1) / actors
	return rounds * actors
}

// BatchesNeeded is how many batches a run with the given number of actors
// needs for warm-up and p.Windows windows, plus one batch of drain.
func (p Protocol) BatchesNeeded(actors int) int {
	actors = max(actors, 1)
	return p.WarmupBatches*actors + p.Windows*p.windowBatches(actors) + 1
}

// RowsNeeded is BatchesNeeded in rows at the given batch size.
func (p Protocol) RowsNeeded(batch, actors int) int { return max(batch, 1) * p.BatchesNeeded(actors) }

// CycleFactor is how many times a read of n rows must cycle over the data to
// give a run the rows it needs: 1 when n suffices.
func (p Protocol) CycleFactor(n, batch, actors int) float64 {
	if n <= 0 {
		return 1
	}
	return math.Max(1, float64(p.RowsNeeded(batch, actors))/float64(n))
}

// A RunMeasure is what the protocol makes of one run's batch completions.
type RunMeasure struct {
	// Windows are the measurement windows in time order.
	Windows []Window
	// Steady is the rate over all windows together, NaN when none.
	Steady float64
	// Stability is the verdict on the last StableWindows windows.
	Stability Stability
	// Autocorr is the lag-1 autocorrelation of the window rates, and
	// Independent whether it lies inside the white-noise band (see
	// IndependentWindows).
	Autocorr    float64
	Independent bool
	// WarmupEnd is when the last warm-up batch finished; MeasuredEnd
	// when the last window closed.
	WarmupEnd, MeasuredEnd time.Duration
	// Warning explains a run too short to judge, "" otherwise.
	Warning string
}

// MeasureRun applies the protocol to one run's batch completions: it
// leaves out each actor's warm-up batches, cuts the rest into windows of
// consecutive completions, and judges their stability and independence.
// The last completions that do not fill a window (the drain) are left out
// too. The events need not be sorted; the slice is not modified.
func (p Protocol) MeasureRun(events []Event, actors int) RunMeasure {
	p = p.WithDefaults()
	ev := slices.Clone(events)
	slices.SortStableFunc(ev, func(a, b Event) int { return cmpDur(a.At, b.At) })
	warm := p.WarmupBatches * max(actors, 1)
	k := p.windowBatches(actors)
	m := RunMeasure{Steady: math.NaN(), Autocorr: math.NaN()}
	if warm >= len(ev) {
		m.Warning = fmt.Sprintf("steady state: all %d batches are warm-up; run longer", len(ev))
		m.Stability = CheckStability(nil, p.StableWindows, p.Threshold)
		return m
	}
	m.WarmupEnd = ev[warm-1].At
	start := m.WarmupEnd
	for i := warm; i+k <= len(ev); i += k {
		w := Window{Start: start, End: ev[i+k-1].At}
		for _, e := range ev[i : i+k] {
			w.Rows += e.Rows
		}
		start = w.End
		if w.End > w.Start {
			m.Windows = append(m.Windows, w)
		}
	}
	if len(m.Windows) > 0 {
		m.MeasuredEnd = m.Windows[len(m.Windows)-1].End
		m.Steady = SteadyThroughput(m.Windows)
	}
	xs := Throughputs(m.Windows)
	m.Stability = CheckStability(xs, p.StableWindows, p.Threshold)
	m.Autocorr = lag1Autocorr(xs)
	m.Independent = IndependentWindows(xs, p)
	if len(m.Windows) < p.StableWindows {
		m.Warning = fmt.Sprintf("steady state: %d batches make %d windows of %d; %d are needed to judge stability (use more images)",
			len(ev), len(m.Windows), k, p.StableWindows)
	} else if !m.Stability.Stable {
		m.Warning = m.Stability.Reason
	}
	return m
}

// IndependentWindows reports whether window rates xs may count as
// independent samples: at least 2×StableWindows of them, and a lag-1
// autocorrelation inside the white-noise band ±2/√n. A trend (warm caches,
// throttling, a neighbour starting) correlates consecutive windows and
// fails the test; then only whole runs count as samples.
func IndependentWindows(xs []float64, p Protocol) bool {
	p = p.WithDefaults()
	if len(xs) < 2*p.StableWindows {
		return false
	}
	r := lag1Autocorr(xs)
	return !math.IsNaN(r) && math.Abs(r) <= 2/math.Sqrt(float64(len(xs)))
}

// lag1Autocorr is the lag-1 sample autocorrelation of xs; 0 when xs is
// constant, NaN when there are fewer than 3 values.
func lag1Autocorr(xs []float64) float64 {
	n := len(xs)
	if n < 3 {
		return math.NaN()
	}
	var mean float64
	for _, x := range xs {
		mean += x
	}
	mean /= float64(n)
	var num, den float64
	for i, x := range xs {
		den += (x - mean) * (x - mean)
		if i > 0 {
			num += (x - mean) * (xs[i-1] - mean)
		}
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// ApplyRun fills rec's steady-state fields from the run's batch completions
// under p: the windows, the steady throughput, stability, independence,
// and the cold-start cost kept apart from the steady state. wall is the
// run's length and rec.Images its rows; the protocol itself is recorded.
func (p Protocol) ApplyRun(rec *Record, events []Event, wall time.Duration, actors int) {
	p = p.WithDefaults()
	m := p.MeasureRun(events, actors)
	rec.Protocol = &p
	rec.Windows = Throughputs(m.Windows)
	rec.Stable = m.Stability.Stable
	rec.Variation = finite(m.Stability.Variation)
	rec.Autocorr = finite(m.Autocorr)
	rec.WindowsIndependent = m.Independent
	rec.SteadyTput = rec.Throughput
	if !math.IsNaN(m.Steady) && m.Steady > 0 {
		rec.SteadyTput = m.Steady
		// Cold start: what the run took beyond its rows at the steady
		// rate (session creation, the first result, the drain).
		rec.ColdStartSeconds = math.Max(0, wall.Seconds()-float64(rec.Images)/m.Steady)
	}
	if len(events) > 0 {
		last := slices.MaxFunc(events, func(a, b Event) int { return cmpDur(a.At, b.At) }).At
		rec.DrainSeconds = math.Max(0, (wall - last).Seconds())
	}
	rec.WarmupSeconds = m.WarmupEnd.Seconds()
	if m.Warning != "" {
		rec.Warnings = append(rec.Warnings, m.Warning)
	}
}

// finite maps NaN and ±Inf to -1, which JSON can carry.
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return -1
	}
	return x
}

// CellSamples are a cell's samples of one metric and their summary.
type CellSamples struct {
	// Values are the samples: per-window rates when FromWindows, else one
	// value per completed run.
	Values      []float64
	FromWindows bool
	Summary     Summary
}

// Samples collects a cell's samples of metric from its completed runs.
// For the steady throughput the windows count as samples when every run's
// windows passed the independence test; otherwise each run is one sample.
// The summary's interval is at p.Confidence, or, with too few samples for
// that level, the widest the samples give (min to max: 75% at 3 samples).
func (p Protocol) Samples(recs []*Record, metric string) CellSamples {
	p = p.WithDefaults()
	var cs CellSamples
	indep := metric == MetricSteadyTput
	var windows []float64
	for _, r := range recs {
		if r.Status != StatusOK && r.Status != "" {
			continue
		}
		if v, ok := r.Metrics()[metric]; ok {
			cs.Values = append(cs.Values, v)
		}
		indep = indep && r.WindowsIndependent && len(r.Windows) > 0
		windows = append(windows, r.Windows...)
	}
	if indep && len(windows) > len(cs.Values) {
		cs.Values, cs.FromWindows = windows, true
	}
	cs.Summary = SummarizeAtMost(cs.Values, p.Confidence)
	return cs
}

// SummarizeAtMost is Summarize at the given confidence, or, when there are
// too few samples for it, at the highest level the sample size allows
// (1-2^(1-n): the min-to-max interval), so a small sample still has a
// finite interval whose level Summary.Confidence states.
func SummarizeAtMost(xs []float64, confidence float64) Summary {
	n := len(xs)
	if n >= 2 {
		confidence = math.Min(confidence, 1-math.Pow(2, float64(1-n))-1e-9)
	}
	return Summarize(xs, confidence)
}

// Enough reports whether a cell's runs so far satisfy the protocol: at
// least MinSamples samples of metric and a stable last run. When the
// objective is not the steady state (wall time, latency), every run is one
// sample.
func (p Protocol) Enough(recs []*Record, metric string) bool {
	p = p.WithDefaults()
	if len(recs) == 0 {
		return false
	}
	if !recs[len(recs)-1].Stable {
		return false
	}
	return len(p.Samples(recs, metric).Values) >= p.MinSamples
}

// A Verdict compares configurations measured under one protocol: what race,
// ablate, run --repeat and the TUI's race show after their repeats.
type Verdict struct {
	// Samples holds each configuration's samples of the metric, in the
	// order given.
	Samples []CellSamples
	// Stable reports, per configuration, whether its last run was stable.
	Stable []bool
	// Best is the index of the configuration with the best median among
	// the stable ones (-1 when none is), and Tied the indices whose
	// interval overlaps the best's (the best included when any does).
	Best int
	Tied []int
}

// Judge compares the runs of several configurations on metric under p:
// each one's samples (windows when independent, else runs), the best
// median among stable configurations, and those tied with it. Front ends
// that repeat runs (race, the TUI) call it for their verdict, so it reads
// as a sweep's does.
func (p Protocol) Judge(metric string, runs ...[]*Record) Verdict {
	p = p.WithDefaults()
	obj, err := ParseObjective(metric)
	if err != nil {
		obj, _ = ParseObjective(MetricSteadyTput)
	}
	v := Verdict{Best: -1}
	for _, rs := range runs {
		v.Samples = append(v.Samples, p.Samples(rs, obj.String()))
		v.Stable = append(v.Stable, len(rs) > 0 && rs[len(rs)-1].Stable)
	}
	for i, s := range v.Samples {
		if !v.Stable[i] || s.Summary.N == 0 {
			continue
		}
		if v.Best < 0 || obj.Gain(v.Samples[v.Best].Summary.Center, s.Summary.Center) > 0 {
			v.Best = i
		}
	}
	if v.Best < 0 {
		return v
	}
	for i, s := range v.Samples {
		if i != v.Best && v.Stable[i] && p.Tied(obj, s.Summary, v.Samples[v.Best].Summary) {
			v.Tied = append(v.Tied, i)
		}
	}
	if len(v.Tied) > 0 {
		v.Tied = append([]int{v.Best}, v.Tied...)
	}
	return v
}
