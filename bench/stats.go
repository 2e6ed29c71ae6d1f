package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

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
// The interval is computed exactly as benchstat's (golang.org/x/perf/benchmath
// AssumeNothing, via go-moremath's QuantileCI): the number of measurements
// below the population median is Binomial(N, 0.5); starting from its mode,
// probability mass is added from whichever neighbour is larger (the left one on
// ties) until the requested confidence is reached. One deliberate difference:
// benchstat switches to a normal approximation above N=30, while Summarize
// sums the exact binomial for every N, which can widen or narrow a large
// sample's interval by one order statistic.
//
// With fewer samples than the level needs (6 at 0.95) the interval is
// unbounded and Warnings holds, e.g.,
// "need >= 6 samples for confidence interval at level 0.95".
func Summarize(xs []float64, confidence float64) Summary {
	n := len(xs)
	if n == 0 {
		return Summary{Center: math.NaN(), Lo: math.NaN(), Hi: math.NaN(),
			Warnings: []string{"no samples"}}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	sum := Summary{Center: median(s), N: n}
	lo, hi, conf := medianCI(n, confidence)
	sum.Confidence = conf
	sum.Lo, sum.Hi = orderStat(s, lo), orderStat(s, hi)
	if math.IsInf(sum.Lo, 0) || math.IsInf(sum.Hi, 0) {
		op, need := medianSamplesNeeded(confidence)
		sum.Warnings = append(sum.Warnings,
			fmt.Sprintf("need %s %d samples for confidence interval at level %v", op, need, confidence))
	}
	return sum
}

// median of a sorted, non-empty slice.
func median(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// orderStat returns the k'th order statistic (1-based) of sorted s, or an
// infinity when k falls outside the sample, meaning that side is unbounded.
func orderStat(s []float64, k int) float64 {
	switch {
	case k < 1:
		return math.Inf(-1)
	case k > len(s):
		return math.Inf(1)
	}
	return s[k-1]
}

// medianCI returns the 1-based order statistics bounding the confidence
// interval of the median of n samples, and the confidence achieved.
//
// Interval k of the binomial support is the gap between order statistics k and
// k+1 (k=0 is the gap below the minimum). Summing PMF(k) over k in [l, r)
// gives the probability that the population median lies between order
// statistics l and r.
func medianCI(n int, confidence float64) (lo, hi int, achieved float64) {
	if confidence >= 1 {
		return 0, n + 1, 1
	}
	pmf := func(k int) float64 { return binomPMFHalf(n, k) }
	x := int(math.Ceil(float64(n+1)*0.5)) - 1
	accum := pmf(x)
	l, r := x, x+1
	lp, rp := pmf(l-1), pmf(r)
	for accum < confidence && (lp > 0 || rp > 0) {
		if lp >= rp { // left bias, as benchstat
			accum += lp
			l--
			lp = pmf(l - 1)
		} else {
			accum += rp
			r++
			rp = pmf(r)
		}
	}
	if l <= 0 && r >= n+1 {
		accum = 1 // the whole line: certain, whatever rounding says
	}
	return max(l, 0), min(r, n+1), accum
}

// binomPMFHalf is the Binomial(n, 1/2) probability mass at k, computed in log
// space so that it stays finite for large n. It is evaluated at min(k, n-k)
// so that the two tails are bit-for-bit equal: medianCI's left bias depends
// on comparing them exactly.
func binomPMFHalf(n, k int) float64 {
	if k < 0 || k > n {
		return 0
	}
	return math.Exp(lchoose(n, min(k, n-k)) - float64(n)*math.Ln2)
}

func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// medianSamplesNeeded is the smallest sample size whose median interval at
// the given confidence is bounded on both sides; benchstat's medianSamples.
func medianSamplesNeeded(confidence float64) (op string, n int) {
	const limit = 50
	for n = 2; n <= limit; n++ {
		lo, hi, _ := medianCI(n, confidence)
		if lo > 0 && hi <= n {
			return ">=", n
		}
	}
	return ">", limit
}

// Spread returns the half-width of the confidence interval as a percentage of
// the median: max(Hi-Center, Center-Lo)/|Center|*100, so 3.2 means "± 3.2%". It is
// +Inf when the interval is unbounded, 0 when Center, Lo and Hi are all 0, and
// NaN when the interval straddles zero or the sample is empty (no percentage
// is meaningful then).
func (s Summary) Spread() float64 {
	return spreadPct(s.Center, s.Lo, s.Hi)
}

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
	// Absolute distances keep this right for negative values, where Lo is
	// further from zero than Center.
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
// test) of the null hypothesis that a and b come from the same distribution.
//
// U is the smaller of the two U statistics, with ties counted as one half, so
// it lies in [0, len(a)*len(b)/2]. p is the two-sided p-value. It follows
// benchstat (go-moremath's MannWhitneyUTest) exactly:
//
//   - Without ties and with both samples of at most 50, p comes from the
//     exact distribution of U: p = 2·P(U ≤ u), capped at 1, and exactly 1 when
//     u is the centre of the distribution.
//   - With ties and both samples of at most 9, p comes from the exact
//     distribution of U conditional on the observed tie pattern (Klotz 1966),
//     using mid-ranks. R's wilcox.test would use the normal approximation
//     here, so it disagrees for small tied samples.
//   - Otherwise p comes from the normal approximation with tie correction and
//     continuity correction.
//
// An empty sample, or two samples whose values are all equal, carry no
// evidence of a difference: p is 1. Compare explains such cases in Warnings.
func MannWhitney(a, b []float64) (U float64, p float64) {
	n1, n2 := len(a), len(b)
	if n1 == 0 || n2 == 0 {
		return 0, 1
	}
	x1, x2 := slices.Clone(a), slices.Clone(b)
	slices.Sort(x1)
	slices.Sort(x2)
	merged, from1 := labeledMerge(x1, x2)

	// Tie groups in ascending order, and twice the rank sum of a (twice, so
	// that mid-ranks such as 2.5 stay integral).
	var groups []int
	r1x2 := 0
	for i := 0; i < len(merged); {
		start, in1 := i, 0
		for ; i < len(merged) && merged[i] == merged[start]; i++ {
			if from1[i] {
				in1++
			}
		}
		t := i - start
		groups = append(groups, t)
		r1x2 += in1 * (2*start + t + 1) // mid-rank (start+1+i)/2, doubled
	}
	hasTies := len(groups) < len(merged)
	if len(groups) == 1 {
		return float64(n1*n2) / 2, 1 // all values equal
	}
	u1x2 := r1x2 - n1*(n1+1) // 2·U of a
	u2x2 := 2*n1*n2 - u1x2
	umin := min(u1x2, u2x2)
	U = float64(umin) / 2

	exact := (!hasTies && n1 <= 50 && n2 <= 50) || (hasTies && n1 <= 9 && n2 <= 9)
	if exact {
		if u1x2 == u2x2 {
			return U, 1
		}
		return U, min(1, 2*uCDF(n1, groups, umin))
	}
	// Normal approximation with tie and continuity corrections.
	N := float64(n1 + n2)
	var t float64
	for _, g := range groups {
		t += float64(g*g*g - g)
	}
	mu := float64(n1*n2) / 2
	sigma := math.Sqrt(float64(n1*n2) * ((N + 1) - t/(N*(N-1))) / 12)
	if sigma == 0 {
		return U, 1
	}
	num := U - mu
	num -= float64(sign(num)) * 0.5
	z := num / sigma
	return U, min(1, math.Erfc(math.Abs(z)/math.Sqrt2))
}

// labeledMerge merges sorted x1 and x2; from1[i] says merged[i] came from x1.
func labeledMerge(x1, x2 []float64) (merged []float64, from1 []bool) {
	merged = make([]float64, 0, len(x1)+len(x2))
	from1 = make([]bool, 0, len(x1)+len(x2))
	i, j := 0, 0
	for i < len(x1) || j < len(x2) {
		if j == len(x2) || (i < len(x1) && x1[i] < x2[j]) {
			merged, from1 = append(merged, x1[i]), append(from1, true)
			i++
		} else {
			merged, from1 = append(merged, x2[j]), append(from1, false)
			j++
		}
	}
	return merged, from1
}

// uCDF returns P(2·U ≤ limit2) where U is the U statistic of a sample of
// size n1 drawn without replacement from the pooled, tie-grouped sample (all
// C(N, n1) selections equally likely): the exact null distribution given the
// tie pattern.
//
// A dynamic program walks the tie groups in ascending order with state (m,
// 2U): m values of the first sample chosen so far, and twice their U so far.
// Choosing k of a group of t values, with s values before the group, adds
// 2k(s-m) (each chosen value beats the s-m earlier values of the other
// sample) plus k(t-k) (half a point per tied pair), in C(t, k) ways. Updates
// run in place from high m to low, like a knapsack. U only grows, so states
// past the limit are never stored, which keeps small U cheap.
func uCDF(n1 int, groups []int, limit2 int) float64 {
	if limit2 < 0 {
		return 0
	}
	w := limit2 + 1
	dp := make([]float64, (n1+1)*w) // dp[m*w+u]: ways to reach (m, u)
	dp[0] = 1
	start := 0
	for _, t := range groups {
		for m := min(n1, start); m >= 0; m-- {
			src := dp[m*w : (m+1)*w]
			c := 1.0 // C(t, k), built up multiplicatively
			for k := 1; k <= t && m+k <= n1; k++ {
				c = c * float64(t-k+1) / float64(k)
				add := 2*k*(start-m) + k*(t-k)
				if add > limit2 {
					continue
				}
				dst := dp[(m+k)*w : (m+k+1)*w]
				for u, v := range src[:w-add] {
					if v != 0 {
						dst[u+add] += c * v
					}
				}
			}
		}
		start += t
	}
	var hits float64
	for _, v := range dp[n1*w:] {
		hits += v
	}
	return hits / math.Exp(lchoose(start, n1))
}

// uTestMinP is the smallest p-value a two-sided exact U test can reach with
// two untied samples of n each: 2/C(2n, n).
func uTestMinP(n int) float64 {
	return 2 / math.Exp(lchoose(2*n, n))
}

// uTestSamplesNeeded is benchstat's uTestSamples: the smallest equal sample
// size at which a difference could be significant at alpha at all.
func uTestSamplesNeeded(alpha float64) (op string, n int) {
	const limit = 9
	for n = 1; n <= limit; n++ {
		if uTestMinP(n) <= alpha {
			return ">=", n
		}
	}
	return ">", limit
}

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
// and Comparison does not judge that.
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
	c.U, c.P = MannWhitney(a, b)
	c.Significant = c.P <= alpha
	switch {
	case c.N1 == 0 || c.N2 == 0:
		c.Warnings = append(c.Warnings, "nothing to compare: a sample is empty")
	case allEqual(a, b):
		c.Warnings = append(c.Warnings, "all samples are equal")
	case !c.Significant:
		if op, need := uTestSamplesNeeded(alpha); c.N1 < need && c.N2 < need {
			c.Warnings = append(c.Warnings,
				fmt.Sprintf("need %s %d samples to detect a difference at alpha level %v", op, need, alpha))
		}
	}
	return c
}

func allEqual(a, b []float64) bool {
	v := a[0]
	for _, x := range a {
		if x != v {
			return false
		}
	}
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
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
