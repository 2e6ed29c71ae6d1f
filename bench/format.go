package bench

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Base units understood by FormatValue. Metric values are stored in these
// units; every other unit string is treated as an opaque rate or count label.
const (
	UnitSeconds = "s" // durations, stored as float64 seconds
	UnitBytes   = "B" // sizes, stored as float64 bytes
	UnitPercent = "%" // utilisation, stored as 0..100 (or more for multi-core CPU)
)

// FormatValue renders v, a value in the base unit named by unit, with three
// significant figures and a scaling prefix, as benchstat does:
//
//	FormatValue(0.312, "s")       == "312ms"
//	FormatValue(4.5*(1<<30), "B") == "4.50GiB"
//	FormatValue(412.3, "img/s")   == "412 img/s"
//	FormatValue(1234, "img/s")    == "1.23k img/s"
//	FormatValue(45.25, "%")       == "45.2%"
//
// Durations and sizes attach their unit directly, the way they are written in
// thresholds ("250ms", "4GiB"); other units follow a space. Bytes use binary
// (IEC) prefixes because memory limits are given in GiB; everything else uses
// SI prefixes. NaN renders as "?" and infinities as "∞"/"-∞", so a missing
// measurement can never print as a plausible number.
func FormatValue(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "?"
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "-∞"
	}
	switch unit {
	case UnitSeconds:
		return formatSeconds(v)
	case UnitBytes:
		return formatBytes(v)
	case UnitPercent:
		return sig3(v) + "%"
	}
	s := formatSI(v)
	if unit == "" {
		return s
	}
	return s + " " + unit
}

// sig3 prints x with three significant figures for |x| in [0.995, 999.5),
// and two decimals below that, matching benchstat's scaler bands (which round
// at 99.5 and 9.95 so that 99.96 becomes "100", not "100.0").
func sig3(x float64) string {
	a := math.Abs(x)
	switch {
	case a >= 99.5:
		return fmt.Sprintf("%.0f", x)
	case a >= 9.95:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

// scaleBands picks the largest prefix whose base, shrunk by the rounding
// margin 0.995, does not exceed |x|; thus 999.7 becomes "1.00k", not "1000".
func scaleBands(x, base float64, prefixes []string) (scaled float64, prefix string) {
	a := math.Abs(x)
	div := 1.0
	for i := len(prefixes) - 1; i > 0; i-- {
		d := math.Pow(base, float64(i))
		if a >= 0.995*d {
			div, prefix = d, prefixes[i]
			break
		}
	}
	return x / div, prefix
}

func formatSI(x float64) string {
	s, p := scaleBands(x, 1000, []string{"", "k", "M", "G", "T"})
	return sig3(s) + p
}

func formatBytes(x float64) string {
	if x == 0 {
		return "0B" // a measured nothing, not "0.00B"
	}
	s, p := scaleBands(x, 1024, []string{"", "Ki", "Mi", "Gi", "Ti"})
	return sig3(s) + p + "B"
}

// formatSeconds scales downwards too: latencies are usually fractions of a
// second and must read as "312ms", not "0.31s".
func formatSeconds(x float64) string {
	a := math.Abs(x)
	units := []struct {
		scale float64
		name  string
	}{{1, "s"}, {1e-3, "ms"}, {1e-6, "µs"}, {1e-9, "ns"}}
	if a == 0 {
		return "0s"
	}
	for _, u := range units {
		if a >= 0.995*u.scale {
			return sig3(x/u.scale) + u.name
		}
	}
	return sig3(x/1e-9) + "ns"
}

// superscriptDigits are the markers benchstat uses for footnotes.
var superscriptDigits = []rune("⁰¹²³⁴⁵⁶⁷⁸⁹")

// superscript renders a positive integer with Unicode superscript digits.
func superscript(n int) string {
	var b strings.Builder
	for _, c := range fmt.Sprint(n) {
		b.WriteRune(superscriptDigits[c-'0'])
	}
	return b.String()
}

// FormatCount prints a whole count (model loads, forward passes, errors)
// as an integer, "64" rather than "64.0"; a fractional value (a median of
// an even number of counts) keeps one decimal.
func FormatCount(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// FormatCounts renders a sample of whole counts taken over repeated runs.
// When every run counted the same the count is exact and prints alone
// ("64"): a spread of "± ∞" from too few runs would suggest an uncertainty
// the count does not have. Otherwise it is the median as FormatCount prints
// it with the confidence interval's spread, as Summary.Format. An empty
// sample prints "—".
func FormatCounts(xs []float64) string {
	if len(xs) == 0 {
		return "—"
	}
	same := true
	for _, x := range xs[1:] {
		same = same && x == xs[0]
	}
	if same {
		return FormatCount(xs[0])
	}
	s := Summarize(xs, DefaultConfidence)
	return FormatCount(s.Center) + " ± " + formatSpread(s.Spread())
}

// FormatSample renders a sample of the metric over repeated runs: counts
// with FormatCounts, everything else as Summary.Format in the metric's
// unit. The confidence interval's warnings are the caller's to footnote.
func (m MetricInfo) FormatSample(xs []float64) string {
	if m.Kind == KindCount {
		return FormatCounts(xs)
	}
	if len(xs) == 0 {
		return "—"
	}
	return Summarize(xs, DefaultConfidence).Format(m.Unit)
}

// WriteTable writes rows under header as aligned text columns, two spaces
// apart, every row padded to every column whatever it holds: a row with
// fewer cells (a failed sweep cell) gets empty ones, so no row can break
// the alignment of those below it, as tabwriter's column blocks do. Widths
// count runes, so "±" and "—" take one column. Trailing spaces are cut.
func WriteTable(w io.Writer, header []string, rows [][]string) error {
	all := append([][]string{header}, rows...)
	widths := make([]int, len(header))
	for _, r := range all {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
	}
	var b strings.Builder
	for _, r := range all {
		var line strings.Builder
		for i := range widths {
			c := ""
			if i < len(r) {
				c = r[i]
			}
			line.WriteString(c)
			if i < len(widths)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WrapText breaks s into lines of at most width runes at spaces, keeping
// s's leading blanks on the first line and starting each further line with
// indent; a word longer than a line is cut. Width 0 or less means no limit.
func WrapText(s string, width int, indent string) []string {
	if width <= 0 {
		return []string{s}
	}
	lead := len(s) - len(strings.TrimLeft(s, " "))
	var lines []string
	line := s[:lead]
	empty := true
	for _, w := range strings.Fields(s) {
		switch {
		case empty:
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) <= width:
			line += " "
		default:
			lines = append(lines, line)
			line = indent
		}
		for utf8.RuneCountInString(line)+utf8.RuneCountInString(w) > width && width > utf8.RuneCountInString(line) {
			room := width - utf8.RuneCountInString(line)
			r := []rune(w)
			lines = append(lines, line+string(r[:room]))
			line, w = indent, string(r[room:])
		}
		line += w
		empty = false
	}
	return append(lines, line)
}
