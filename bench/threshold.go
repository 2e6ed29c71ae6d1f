package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Process exit codes, taken from k6 (go.k6.io/k6/errext/exitcodes) so that
// CI scripts written for k6 read workbench the same way.
const (
	// ExitThresholdFailed means the run completed but at least one
	// --threshold failed (k6's ThresholdsHaveFailed). The results are
	// still written.
	ExitThresholdFailed = 99
	// ExitInvalidConfig means the command line or configuration was
	// rejected before anything ran (k6's InvalidConfig).
	ExitInvalidConfig = 104
)

// An Op is a comparison operator of a Condition.
type Op string

// The operators, longest first so that parsing prefers "<=" to "<".
const (
	OpLE Op = "<="
	OpGE Op = ">="
	OpEQ Op = "=="
	OpLT Op = "<"
	OpGT Op = ">"
)

var allOps = []Op{OpLE, OpGE, OpEQ, OpLT, OpGT}

// Holds reports whether "v op bound" is true. NaN never satisfies anything.
func (o Op) Holds(v, bound float64) bool {
	switch o {
	case OpLT:
		return v < bound
	case OpLE:
		return v <= bound
	case OpGT:
		return v > bound
	case OpGE:
		return v >= bound
	case OpEQ:
		return v == bound
	}
	return false
}

// A Condition is one parsed "metric op value" expression.
type Condition struct {
	Metric MetricInfo
	Op     Op
	// Value is the bound in the metric's base unit (seconds, bytes, …).
	Value float64
	// Text is the expression as the user wrote it, spaces removed, so
	// messages quote the user's own units ("latency_p95<250ms").
	Text string
}

// String returns the condition as written.
func (c Condition) String() string { return c.Text }

// A ConditionSet is a parsed --threshold or --constraint flag.
type ConditionSet struct {
	// Flag names the flag without dashes ("threshold", "constraint"); it
	// prefixes messages.
	Flag  string
	Conds []Condition
}

// ParseConditions parses a comma-separated list of conditions such as
// "throughput>100,latency_p95<250ms" given to --flag. Each is "metric op
// value" with op one of < <= > >= ==, spaces allowed around parts. Metric
// names must be in KnownMetrics; the error lists them. Units must suit the
// metric: durations need one of ns us µs ms s m h, sizes accept B KB MB GB TB
// (powers of 1000) and KiB MiB GiB TiB (powers of 1024) or a plain byte
// count, percentages accept an optional %, and rates and counts are plain
// numbers. An empty spec gives an empty set.
func ParseConditions(flag, spec string) (ConditionSet, error) {
	set := ConditionSet{Flag: flag}
	if strings.TrimSpace(spec) == "" {
		return set, nil
	}
	for _, part := range strings.Split(spec, ",") {
		c, err := parseCondition(part)
		if err != nil {
			return ConditionSet{}, fmt.Errorf("--%s %s: %w", flag, strings.TrimSpace(part), err)
		}
		set.Conds = append(set.Conds, c)
	}
	return set, nil
}

// ParseThresholds parses --threshold: conditions whose failure makes the
// command exit with ExitThresholdFailed.
func ParseThresholds(spec string) (ConditionSet, error) { return ParseConditions("threshold", spec) }

// ParseConstraints parses --constraint: conditions a sweep cell must meet to
// count as satisfies_constraints.
func ParseConstraints(spec string) (ConditionSet, error) { return ParseConditions("constraint", spec) }

func parseCondition(s string) (Condition, error) {
	text := strings.Join(strings.Fields(s), "")
	if text == "" {
		return Condition{}, fmt.Errorf("empty condition; write e.g. latency_p95<250ms")
	}
	at, op := -1, Op("")
	for i := range text {
		for _, o := range allOps {
			if strings.HasPrefix(text[i:], string(o)) {
				at, op = i, o
				break
			}
		}
		if at >= 0 {
			break
		}
	}
	if at < 0 {
		return Condition{}, fmt.Errorf("no comparison operator; use one of < <= > >= ==, e.g. latency_p95<250ms")
	}
	name, val := text[:at], text[at+len(op):]
	if name == "" {
		return Condition{}, fmt.Errorf("missing metric name before %s; known metrics: %s", op, knownMetricNames())
	}
	m, ok := LookupMetric(name)
	if !ok {
		return Condition{}, fmt.Errorf("unknown metric %q; known metrics: %s", name, knownMetricNames())
	}
	v, err := parseValue(m, val)
	if err != nil {
		return Condition{}, err
	}
	return Condition{Metric: m, Op: op, Value: v, Text: text}, nil
}

// splitNumber splits "250ms" into 250 and "ms".
func splitNumber(s string) (float64, string, error) {
	i := strings.IndexFunc(s, func(r rune) bool {
		return !(unicode.IsDigit(r) || r == '.' || r == '-' || r == '+' || r == 'e' || r == 'E')
	})
	// Back off an exponent marker that is really the start of a unit
	// ("5e" is not a number, "4GB" has no exponent).
	if i < 0 {
		i = len(s)
	}
	num, unit := s[:i], s[i:]
	for len(num) > 0 && (num[len(num)-1] == 'e' || num[len(num)-1] == 'E') {
		num, unit = num[:len(num)-1], s[len(num)-1:]
	}
	if num == "" {
		return 0, "", fmt.Errorf("missing number")
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, "", fmt.Errorf("%q is not a number", num)
	}
	return v, unit, nil
}

var durationUnits = map[string]float64{
	"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600,
}

var byteUnits = map[string]float64{
	"": 1, "B": 1,
	"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
}

func parseValue(m MetricInfo, s string) (float64, error) {
	if s == "" {
		return 0, fmt.Errorf("missing value after the operator; write e.g. %s", example(m))
	}
	v, unit, err := splitNumber(s)
	if err != nil {
		return 0, fmt.Errorf("%v; write e.g. %s", err, example(m))
	}
	switch m.Kind {
	case KindDuration:
		if unit == "" {
			return 0, fmt.Errorf("%s is a duration and needs a unit (ns, us, ms, s, m, h); write e.g. %s", m.Name, example(m))
		}
		if f, ok := durationUnits[unit]; ok {
			return v * f, nil
		}
	case KindBytes:
		if f, ok := byteUnits[unit]; ok {
			return v * f, nil
		}
	case KindPercent:
		if unit == "" || unit == "%" {
			return v, nil
		}
	default:
		if unit == "" {
			return v, nil
		}
	}
	return 0, fmt.Errorf("unit %q does not fit %s (%s); write e.g. %s", unit, m.Name, kindWords(m.Kind), example(m))
}

func kindWords(k Kind) string {
	switch k {
	case KindDuration:
		return "a duration"
	case KindBytes:
		return "a size in bytes: B, KB, MB, GB, KiB, MiB, GiB"
	case KindPercent:
		return "a percentage"
	case KindRate:
		return "a rate, written as a plain number"
	}
	return "a plain number"
}

func example(m MetricInfo) string {
	switch m.Kind {
	case KindDuration:
		return m.Name + "<250ms"
	case KindBytes:
		return m.Name + "<4GiB"
	case KindPercent:
		return m.Name + "<80%"
	case KindCount:
		return m.Name + "==0"
	}
	return m.Name + ">100"
}

// A Violation is a condition that did not hold.
type Violation struct {
	// Flag is the set's flag name ("threshold", "constraint").
	Flag string
	Cond Condition
	// Value is the measured value in base units; NaN when Missing.
	Value float64
	// Missing is true when the metric was not measured at all, which
	// counts as a failure so that a typo in a pipeline cannot pass CI.
	Missing bool
}

// String reads like "threshold latency_p95<250ms failed: 312ms", or
// "threshold gpu_mem<20GiB failed: gpu_mem was not measured".
func (v Violation) String() string {
	if v.Missing {
		return fmt.Sprintf("%s %s failed: %s was not measured", v.Flag, v.Cond, v.Cond.Metric.Name)
	}
	return fmt.Sprintf("%s %s failed: %s", v.Flag, v.Cond, v.Cond.Metric.Format(v.Value))
}

// Evaluate checks every condition against metrics (keyed by canonical metric
// name, values in base units) and returns the violations in condition order,
// or nil when all hold. A missing or NaN metric is a violation.
func (s ConditionSet) Evaluate(metrics map[string]float64) []Violation {
	var out []Violation
	for _, c := range s.Conds {
		v, ok := metrics[c.Metric.Name]
		switch {
		case !ok || math.IsNaN(v):
			out = append(out, Violation{Flag: s.Flag, Cond: c, Value: math.NaN(), Missing: true})
		case !c.Op.Holds(v, c.Value):
			out = append(out, Violation{Flag: s.Flag, Cond: c, Value: v})
		}
	}
	return out
}

// String returns the set as it could be written on the command line.
func (s ConditionSet) String() string {
	parts := make([]string, len(s.Conds))
	for i, c := range s.Conds {
		parts[i] = c.Text
	}
	return strings.Join(parts, ",")
}
