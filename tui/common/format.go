package common

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"workbench/bench"
)

// Rate renders images per second as the reports do ("412 img/s").
func Rate(v float64) string { return bench.FormatValue(v, "img/s") }

// Bytes renders a size with binary prefixes ("1.50GiB").
func Bytes(v float64) string { return bench.FormatValue(v, bench.UnitBytes) }

// Pct renders a percentage with three significant figures.
func Pct(v float64) string { return bench.FormatValue(v, bench.UnitPercent) }

// Duration renders d to the second, or tenths under ten seconds, which is
// as exact as a live ETA deserves.
func Duration(d time.Duration) string {
	if d < 0 {
		return "?"
	}
	if d < 10*time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// Fit pads or truncates s, which may hold ANSI styling, to exactly w cells.
func Fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if lipgloss.Width(s) > w {
		return ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", w-lipgloss.Width(s))
}

// FitLeft right-aligns s in w cells, truncating when it is too long.
func FitLeft(s string, w int) string {
	if lipgloss.Width(s) >= w {
		return ansi.Truncate(s, w, "…")
	}
	return strings.Repeat(" ", w-lipgloss.Width(s)) + s
}

// Block fits every line of s to w cells and the block to h lines, so panes
// laid side by side keep their edges whatever their content.
func Block(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if h >= 0 && len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		lines[i] = Fit(l, w)
	}
	for h >= 0 && len(lines) < h {
		lines = append(lines, strings.Repeat(" ", w))
	}
	return strings.Join(lines, "\n")
}

// Column is one column of a Table: a header, a width, and whether its cells
// are numbers (right-aligned).
type Column struct {
	Title   string
	Width   int
	Numeric bool
}

// Table renders rows under headers with one space between columns. Cells
// are fitted to their column; rowStyle, when set, styles a whole row (the
// bottleneck, the best configuration) after fitting, so styles never shift
// the columns.
func Table(s *Styles, cols []Column, rows [][]string, rowStyle func(i int) (lipgloss.Style, bool)) string {
	var b strings.Builder
	line := func(cells []string, style func(string) string) {
		parts := make([]string, len(cols))
		for i, c := range cols {
			v := ""
			if i < len(cells) {
				v = cells[i]
			}
			if c.Numeric {
				parts[i] = FitLeft(v, c.Width)
			} else {
				parts[i] = Fit(v, c.Width)
			}
		}
		b.WriteString(style(strings.Join(parts, " ")))
		b.WriteByte('\n')
	}
	heads := make([]string, len(cols))
	for i, c := range cols {
		heads[i] = c.Title
	}
	line(heads, func(x string) string { return s.Header.Render(x) })
	for i, r := range rows {
		st, ok := lipgloss.Style{}, false
		if rowStyle != nil {
			st, ok = rowStyle(i)
		}
		line(r, func(x string) string {
			if ok {
				return st.Render(x)
			}
			return x
		})
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Bar draws a w-cell bar filled to frac (0..1) with eighth blocks, the
// plain-text progress bar used where the animated one would redraw too
// often.
func Bar(frac float64, w int) string {
	if w <= 0 {
		return ""
	}
	if math.IsNaN(frac) || frac < 0 {
		frac = 0
	}
	frac = min(frac, 1)
	eighths := int(math.Round(frac * float64(w*8)))
	full, part := eighths/8, eighths%8
	s := strings.Repeat("█", full)
	if part > 0 {
		s += string([]rune(" ▏▎▍▌▋▊▉")[part])
	}
	return s + strings.Repeat("░", w-lipgloss.Width(s))
}

// codeLine matches a line of a code sample rather than prose: indented,
// a keyword that opens a statement, or an identifier followed by an
// assignment or a call (ds.map_batches(, model = ...).
var codeLine = regexp.MustCompile(`^(\s+\S|(def|class|import|from|return|for|with|if)\s|[A-Za-z_][\w.\[\]"']*\s*(=|\())`)

// IsCode reports whether line reads as a line of code.
func IsCode(line string) bool { return codeLine.MatchString(line) }

// Teaching lays out teaching text in w cells: prose lines wrap at word
// boundaries, while each statement of a code sample keeps its own line,
// since a statement wrapped mid-way reads as two. A code line too wide for
// w gives its trailing comment to a numbered legend under the code ("[1]"
// in the line, "[1] loaded every call" below); if it is still too wide it
// is cut with an ellipsis. code styles the code lines, prose the rest.
func Teaching(text string, w int, code, prose lipgloss.Style) string {
	if w <= 0 {
		return ""
	}
	var out, legend []string
	wrap := lipgloss.NewStyle().Width(w)
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if !IsCode(line) {
			out = append(out, prose.Render(wrap.Render(line)))
			continue
		}
		if lipgloss.Width(line) > w {
			if i := strings.Index(line, "  #"); i > 0 {
				n := len(legend) + 1
				legend = append(legend, fmt.Sprintf("[%d] %s", n, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line[i:]), "#"))))
				mark := fmt.Sprintf("  [%d]", n)
				body := strings.TrimRight(line[:i], " ")
				if lipgloss.Width(body)+len(mark) > w {
					body = ansi.Truncate(body, max(1, w-len(mark)), "…")
				}
				line = body + mark
			} else {
				line = ansi.Truncate(line, w, "…")
			}
		}
		out = append(out, code.Render(line))
	}
	for _, l := range legend {
		out = append(out, prose.Render(wrap.Render(l)))
	}
	return strings.Join(out, "\n")
}
