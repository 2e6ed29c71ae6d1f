package bench

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/aclements/go-moremath/stats"
	"golang.org/x/perf/benchmath"
)

// This file adapts golang.org/x/perf/benchmath, the statistics benchstat
// itself uses, to bench's types: medians with distribution-free confidence
// intervals (benchmath.AssumeNothing) and the Mann-Whitney U test. What
// benchmath does not decide (how a spread, a delta or a ratio is printed,
// the wording for empty samples) stays here, so reports read as before.

// DefaultConfidence is the confidence level of the median intervals that
// Compare and the reports print, as in benchstat.
const DefaultConfidence = 0.95

// DefaultAlpha is the significance level below which Compare calls a
// difference real, as in benchstat.
const DefaultAlpha = 0.05

// A Summary describes a sample of repeated measurements by its median and a
// confidence interval of the median.
//
// The interval is distribution-free: it is bounded by two order statistics
// chosen so that, whatever the distribution, the population median lies
// between them with probability at least Confidence. When the sample is too
// small for the requested level, Lo is -Inf and/or Hi is +Inf and Warnings
// explains how many samples are needed.
type Summary struct {
	// Center is the sample median (the mean of the two middle values when
	// N is even). NaN when N is 0.
	Center float64
	// Lo and Hi bound the confidence interval of the median.
	Lo, Hi float64
	// Confidence is the confidence actually achieved by [Lo, Hi]. Order
	// statistics give discrete levels, so it is at least the requested
	// level, and 1 when the interval is unbounded.
	Confidence float64
	// N is the number of measurements.
	N int
	// Warnings are reasons to distrust the summary, worded as benchstat
	// words them; render them with Footnotes.
	Warnings []string
}

// Summarize returns the median of xs and its confidence interval at the given
// level (0.95 for 95%). xs is not modified.
//
// It is benchstat's summary: benchmath.AssumeNothing, whose interval comes
// from go-moremath's QuantileCI. The number of measurements below the
// population median is Binomial(N, 0.5); from its mode, probability mass is
// added from whichever neighbour is larger (the left one on ties) until the
// requested confidence is reached. Above N=30 the binomial is replaced by a
// normal approximation, exactly as benchstat does.
//
// With fewer samples than the level needs (6 at 0.95) the interval is
// unbounded and Warnings holds, e.g.,
// "need >= 6 samples for confidence interval at level 0.95".
func Summarize(xs []float64, confidence float64) Summary {
	n := len(xs)
	if n == 0 {
		// benchmath has no answer for an empty sample; say so plainly.
		return Summary{Center: math.NaN(), Lo: math.NaN(), Hi: math.NaN(),
			Warnings: []string{"no samples"}}
	}
	// NewSample sorts its argument in place: give it a copy.
	s := benchmath.NewSample(slices.Clone(xs), &benchmath.DefaultThresholds)
	bs := benchmath.AssumeNothing.Summary(s, confidence)
	return Summary{Center: bs.Center, Lo: bs.Lo, Hi: bs.Hi, Confidence: bs.Confidence,
		N: n, Warnings: errorStrings(bs.Warnings)}
}

// median of a sorted, non-empty slice: the middle value, or the mean of the
// two middle values, as Summarize's Center. Reports use it where they need
// the median alone, without building a benchmath sample.
func median(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// errorStrings turns benchmath's warnings into the strings Footnotes takes.
func errorStrings(errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// Spread returns the half-width of the confidence interval as a percentage of
// the median: max(Hi-Center, Center-Lo)/|Center|*100, so 3.2 means "± 3.2%". It is
// +Inf when the interval is unbounded, 0 when Center, Lo and Hi are all 0, and
// NaN when the interval straddles zero or the sample is empty (no percentage
// is meaningful then).
func (s Summary) Spread() float64 {
	return spreadPct(s.Center, s.Lo, s.Hi)
}

// spreadPct is benchmath's Summary.PctRangeString as a number. It measures
// distances as absolute values, where PctRangeString divides by a negative
// Center and turns the range of a negative median negative.
func spreadPct(center, lo, hi float64) float64 {
	if math.IsNaN(center) || math.IsNaN(lo) || math.IsNaN(hi) {
		return math.NaN()
	}
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return math.Inf(1)
	}
	cs := sign(center)
	if cs != sign(lo) || cs != sign(hi) {
		return math.NaN()
	}
	if center == 0 {
		return 0
	}
	return 100 * math.Max(math.Abs(hi-center), math.Abs(center-lo)) / math.Abs(center)
}

func sign(x float64) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// formatSpread renders a Spread percentage the way benchstat's
// PctRangeString does: whole percent, "∞" when unbounded, "?" when undefined.
func formatSpread(pct float64) string {
	switch {
	case math.IsNaN(pct):
		return "?"
	case math.IsInf(pct, 1):
		return "∞"
	}
	return fmt.Sprintf("%.0f%%", pct)
}

// Format renders the summary benchstat-style as "412 img/s ± 3%": the median
// in three significant figures (see FormatValue for units) and the spread in
// whole percent. An unbounded interval (too few samples, e.g. N=1) prints as
// "412 img/s ± ∞", following benchstat; the explanation belongs in a footnote
// made from Warnings, not in the cell.
func (s Summary) Format(unit string) string {
	return FormatValue(s.Center, unit) + " ± " + formatSpread(s.Spread())
}

// MannWhitney performs a two-sided Mann-Whitney U test (the Wilcoxon rank-sum
// test) of the null hypothesis that a and b come from the same distribution,
// with go-moremath's MannWhitneyUTest, the test benchstat runs.
//
// U is the smaller of the two U statistics, with ties counted as one half, so
// it lies in [0, len(a)*len(b)/2]. p is the two-sided p-value, at most 1: from
// the exact distribution of U without ties and both samples of at most 50
// (moremath's MannWhitneyExactLimit), from the exact distribution given the
// tie pattern (Klotz 1966) with ties and both samples of at most 25
// (MannWhitneyTiesExactLimit), and otherwise from the normal approximation
// with tie and continuity corrections.
//
// An empty sample, or two samples whose values are all equal, carry no
// evidence of a difference: p is 1. Compare explains such cases in Warnings.
// Neither input is modified.
func MannWhitney(a, b []float64) (U float64, p float64) {
	n1, n2 := len(a), len(b)
	res, err := stats.MannWhitneyUTest(a, b, stats.LocationDiffers)
	switch {
	case errors.Is(err, stats.ErrSampleSize):
		return 0, 1
	case err != nil: // all values equal: every U is the centre
		return float64(n1*n2) / 2, 1
	}
	// moremath reports a's U; the smaller one is symmetric in a and b.
	return math.Min(res.U, float64(n1*n2)-res.U), capP(res.P)
}

// capP keeps a p-value in [0, 1]. moremath doubles a one-sided tail
// without capping it in the tied exact case, where the tail holding the
// observed U can carry more than half the mass (e.g. [1 1] against
// [1 3 1] gives 1.2); benchstat would print p=1.200.
func capP(p float64) float64 { return math.Min(p, 1) }

// A Comparison is the result of comparing sample B against baseline A.
type Comparison struct {
	// A and B summarise the two samples at DefaultConfidence.
	A, B Summary
	// Ratio is B's median over A's (NaN when A's median is 0); Delta is
	// the same as a percentage change, (Ratio-1)·100.
	Ratio, Delta float64
	// U and P are MannWhitney's statistic and two-sided p-value.
	U, P float64
	// N1 and N2 are the sizes of A and B.
	N1, N2 int
	// Alpha is the significance level the comparison was judged at.
	Alpha float64
	// Significant is true when P ≤ Alpha: benchstat prints "~" only when
	// P > Alpha.
	Significant bool
	// Warnings are the test's own warnings, such as "need >= 4 samples to
	// detect a difference at alpha level 0.05"; the samples' warnings stay
	// in A.Warnings and B.Warnings, so each can be footnoted on its own cell.
	Warnings []string
}

// Compare tests whether b differs from the baseline a at significance level
// alpha (use DefaultAlpha), and reports the change of medians from a to b.
// Values are compared as given: whether a rise is good depends on the metric,
// and Comparison does not judge that. Neither input is modified.
//
// The test and its warnings are benchmath.AssumeNothing's Compare, so a
// difference is significant here exactly when benchstat would not print "~".
func Compare(a, b []float64, alpha float64) Comparison {
	c := Comparison{
		A:     Summarize(a, DefaultConfidence),
		B:     Summarize(b, DefaultConfidence),
		N1:    len(a),
		N2:    len(b),
		Alpha: alpha,
	}
	c.Ratio = c.B.Center / c.A.Center
	if c.A.Center == 0 {
		c.Ratio = math.NaN()
		if c.B.Center == 0 {
			c.Ratio = 1
		}
	}
	c.Delta = (c.Ratio - 1) * 100
	th := &benchmath.Thresholds{CompareAlpha: alpha}
	bc := benchmath.AssumeNothing.Compare(
		benchmath.NewSample(slices.Clone(a), th), benchmath.NewSample(slices.Clone(b), th))
	c.P = capP(bc.P)
	c.U, _ = MannWhitney(a, b) // benchmath keeps U to itself
	c.Significant = c.P <= alpha
	for _, w := range bc.Warnings {
		if errors.Is(w, stats.ErrSampleSize) {
			// moremath says "sample is too small", which reads as if
			// more runs would help; an empty sample is a missing arm.
			c.Warnings = append(c.Warnings, "nothing to compare: a sample is empty")
			continue
		}
		c.Warnings = append(c.Warnings, w.Error())
	}
	return c
}

// FormatDelta is the change column alone: "+12.3%", "-4.0%", "0.0%", "~" when
// not significant, or "?" when the baseline median is 0.
func (c Comparison) FormatDelta() string {
	switch {
	case !c.Significant:
		return "~"
	case math.IsNaN(c.Ratio):
		return "?"
	}
	if c.Ratio == 1 {
		return "0.0%"
	}
	return fmt.Sprintf("%+.1f%%", c.Delta)
}

// String renders the comparison as "+12.3% (p=0.008 n=5+5)", or
// "~ (p=0.310 n=5+5)" when the difference is not significant, so that a
// reader never mistakes noise for a change.
func (c Comparison) String() string {
	return fmt.Sprintf("%s (p=%.3f n=%d+%d)", c.FormatDelta(), c.P, c.N1, c.N2)
}

// A Ratio is a ratio of two medians with an interval, such as a speedup.
type Ratio struct {
	// Center is the ratio of the medians.
	Center float64
	// Lo and Hi bound the ratio; see NewRatio.
	Lo, Hi float64
}

// NewRatio returns num.Center/den.Center with an interval derived from the
// two confidence intervals by interval arithmetic: [num.Lo/den.Hi,
// num.Hi/den.Lo]. For a speedup pass the faster sample as num when higher is
// better (throughput: NewRatio(new, old)) and as den when lower is better
// (latency: NewRatio(old, new)).
//
// Why interval arithmetic rather than pairwise ratios of interleaved runs:
// it needs neither equal sample sizes nor runs that were actually
// interleaved, it reuses the distribution-free intervals already printed next
// to each median, and it never understates the uncertainty (it is the
// worst case of both intervals, so it is conservative — roughly the sum of the
// two spreads). Pairwise ratios would be tighter only when run-to-run drift is
// shared by both arms, which workbench cannot guarantee.
//
// The interval is meaningful only for positive values; otherwise Lo and Hi
// are NaN and the spread prints as "?". With too few samples the interval is
// unbounded and prints as "∞".
func NewRatio(num, den Summary) Ratio {
	r := Ratio{Center: num.Center / den.Center}
	switch {
	case !(num.Center > 0 && den.Center > 0):
		r.Lo, r.Hi = math.NaN(), math.NaN()
	case math.IsInf(num.Lo, 0) || math.IsInf(num.Hi, 0) || math.IsInf(den.Lo, 0) || math.IsInf(den.Hi, 0):
		r.Lo, r.Hi = math.Inf(-1), math.Inf(1) // too few samples on one side
	case num.Lo < 0 || den.Lo < 0:
		r.Lo, r.Hi = math.NaN(), math.NaN()
	default:
		r.Lo = num.Lo / den.Hi
		r.Hi = num.Hi / den.Lo // den.Lo == 0 gives +Inf: honestly unbounded
	}
	return r
}

// Spread is the half-width of the interval as a percentage of Center, as
// Summary.Spread.
func (r Ratio) Spread() float64 {
	return spreadPct(r.Center, r.Lo, r.Hi)
}

// String renders the ratio as "×3.41 ± 4%" (three significant figures, as
// FormatValue), or "×? ± ?" when the ratio is negative or undefined.
func (r Ratio) String() string {
	return "×" + sig3OrUnknown(r.Center) + " ± " + formatSpread(r.Spread())
}

func sig3OrUnknown(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
		return "?"
	}
	return sig3(x)
}

// Footnotes collects warnings while a table is built and numbers them in
// order of first use, the way benchstat prints
//
//	412 img/s ± ∞ ¹
//	…
//	¹ need >= 6 samples for confidence interval at level 0.95
//
// The same text always gets the same number. The zero value is ready to use.
type Footnotes struct {
	notes []string
	index map[string]int
}

// Mark registers each note and returns the markers to append to a cell, such
// as " ¹" or " ¹ ²" (with a leading space), or "" when there are no notes.
func (f *Footnotes) Mark(notes ...string) string {
	var b strings.Builder
	for _, n := range notes {
		b.WriteString(" ")
		b.WriteString(superscript(f.add(n)))
	}
	return b.String()
}

func (f *Footnotes) add(note string) int {
	if f.index == nil {
		f.index = make(map[string]int)
	}
	if i, ok := f.index[note]; ok {
		return i
	}
	f.notes = append(f.notes, note)
	f.index[note] = len(f.notes)
	return len(f.notes)
}

// Len is the number of distinct notes registered.
func (f *Footnotes) Len() int { return len(f.notes) }

// String renders the notes, one per line, each line ending in "\n", or ""
// when there are none.
func (f *Footnotes) String() string {
	var b strings.Builder
	for i, n := range f.notes {
		fmt.Fprintf(&b, "%s %s\n", superscript(i+1), n)
	}
	return b.String()
}
