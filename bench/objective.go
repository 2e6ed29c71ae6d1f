package bench

import (
	"fmt"
	"math"
	"slices"
)

// An Objective names the metric a sweep optimises. Its direction comes from
// the metric registry: throughput and images_per_joule are better higher,
// latencies lower.
type Objective struct {
	Metric MetricInfo
}

// ParseObjective parses --objective. Any known metric is accepted; the usual
// ones are throughput, latency_p95 and images_per_joule.
func ParseObjective(name string) (Objective, error) {
	m, ok := LookupMetric(name)
	if !ok {
		return Objective{}, fmt.Errorf("--objective %s: unknown metric; use throughput, latency_p95 or images_per_joule (known metrics: %s)",
			name, knownMetricNames())
	}
	return Objective{Metric: m}, nil
}

// String is the metric name.
func (o Objective) String() string { return o.Metric.Name }

// score maps a value to a number that is larger when better, with a missing
// or NaN value worst of all.
func (o Objective) score(v float64, ok bool) float64 {
	if !ok || math.IsNaN(v) {
		return math.Inf(-1)
	}
	if o.Metric.HigherIsBetter {
		return v
	}
	return -v
}

// Compare returns +1 when metrics a are better than b on the objective, -1
// when worse, 0 when equal. A cell without the metric (or with NaN) loses to
// any cell that has it.
func (o Objective) Compare(a, b map[string]float64) int {
	va, oka := a[o.Metric.Name]
	vb, okb := b[o.Metric.Name]
	sa, sb := o.score(va, oka), o.score(vb, okb)
	switch {
	case sa > sb:
		return 1
	case sa < sb:
		return -1
	}
	return 0
}

// Better reports whether a is strictly better than b.
func (o Objective) Better(a, b map[string]float64) bool { return o.Compare(a, b) > 0 }

// Gain is the relative improvement of to over from in the objective's
// direction: (to-from)/from when higher is better, (from-to)/from when lower
// is better. 0.05 means 5% better; negative means worse.
func (o Objective) Gain(from, to float64) float64 {
	if o.Metric.HigherIsBetter {
		return (to - from) / math.Abs(from)
	}
	return (from - to) / math.Abs(from)
}

// A Cell is one measured point of a sweep: the parameters it ran with, what
// it measured, and how it ended.
type Cell struct {
	Params  map[string]string
	Metrics map[string]float64
	// Status is "ok" (or "") for a completed run; anything else, such as
	// "error" or "oom", means its metrics cannot be ranked.
	Status string
	// SatisfiesConstraints and Violations are filled in by TopN.
	SatisfiesConstraints bool
	Violations           []Violation
}

// OK reports whether the cell completed.
func (c Cell) OK() bool { return c.Status == "" || c.Status == "ok" }

// TopN ranks the completed cells by the objective and returns the best n, as
// Triton Model Analyzer's top-N report does: cells that satisfy every
// constraint come first; only if fewer than n do, the best of the rest fill
// the list, marked SatisfiesConstraints=false with their Violations, so the
// user still sees how close the grid came. Equal cells keep their input
// order. Cells whose Status is not ok are left out. n ≤ 0 means all. The input
// is not modified.
func TopN(cells []Cell, obj Objective, constraints ConditionSet, n int) []Cell {
	var pass, fail []Cell
	for _, c := range cells {
		if !c.OK() {
			continue
		}
		c.Violations = constraints.Evaluate(c.Metrics)
		c.SatisfiesConstraints = len(c.Violations) == 0
		if c.SatisfiesConstraints {
			pass = append(pass, c)
		} else {
			fail = append(fail, c)
		}
	}
	byObjective := func(a, b Cell) int { return obj.Compare(b.Metrics, a.Metrics) }
	slices.SortStableFunc(pass, byObjective)
	slices.SortStableFunc(fail, byObjective)
	out := append(pass, fail...)
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// EarlyExit decides when to stop raising a sweep dimension, following Triton
// Model Analyzer (THROUGHPUT_MINIMUM_GAIN = 0.05 and
// THROUGHPUT_MINIMUM_CONSECUTIVE_*_TRIES = 4 in model_analyzer/constants.py,
// applied in ParameterSearch._has_objective_gain_saturated):
//
// Once at least Points measurements exist, take the last Points of them; the
// gain is the objective's relative improvement of the best of those over the
// first of those (Objective.Gain). Stop when the gain is below MinGain.
//
// For example, throughputs 100, 180, 185, 188, 190 with the defaults: the
// last 4 are 180..190, best 190 over first 180 is +5.6%, so go on; one more
// point at 189 makes the window 185..190, +2.7%, so stop.
//
// Failed points are NaN. They are ignored when finding the best; if the
// first of the window failed the gain counts as infinite (keep going: the
// dimension just started working), and if all failed it counts as 0 (stop).
type EarlyExit struct {
	MinGain float64
	Points  int
}

// DefaultEarlyExit is Model Analyzer's rule: stop when the gain is under 5%
// over the last 4 points.
var DefaultEarlyExit = EarlyExit{MinGain: 0.05, Points: 4}

// Gain returns the gain over the last e.Points values of history (objective
// values in the order measured), and false when there are too few values to
// judge yet.
func (e EarlyExit) Gain(obj Objective, history []float64) (float64, bool) {
	if e.Points < 2 || len(history) < e.Points {
		return 0, false
	}
	win := history[len(history)-e.Points:]
	first := win[0]
	best, found := math.NaN(), false
	for _, v := range win {
		if math.IsNaN(v) {
			continue
		}
		if !found || obj.Gain(best, v) > 0 {
			best, found = v, true
		}
	}
	switch {
	case !found:
		return 0, true
	case math.IsNaN(first):
		return math.Inf(1), true
	case first == 0:
		if best == first {
			return 0, true
		}
		return math.Inf(1), true
	}
	return obj.Gain(first, best), true
}

// ShouldStop reports whether the sweep along this dimension should stop.
func (e EarlyExit) ShouldStop(obj Objective, history []float64) bool {
	g, ok := e.Gain(obj, history)
	return ok && g < e.MinGain
}
