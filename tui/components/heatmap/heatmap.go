// Package heatmap draws one slice of a sweep's grid, any two of its axes,
// as labelled cells: each completed cell is shaded by its objective value
// and shows it with its spread ("412 ± 3%"), failed cells show ✗ and their
// status, skipped cells a dot, cells not yet run an ellipsis. The best cell
// is marked ★ and reversed, cells tied with it =, unstable (unranked) cells
// ?, and cells that violate the constraints !, so the map reads without
// colour too. The caller decides the marks; the map only draws them.
package heatmap

import (
	"fmt"
	"math"
	"strings"

	"charm.land/lipgloss/v2"

	"workbench/bench"
	"workbench/tui/common"
)

// Mark is how a completed cell stands in the ranking (Ranked, too, while
// the sweep has not ranked it yet).
type Mark int

// Marks, each with its symbol in the cell.
const (
	Ranked   Mark = iota // ranked, not tied with the best: no symbol
	Best                 // ★ rank 1
	Tied                 // = its interval overlaps the best's (or the medians are within the tie margin)
	Unstable             // ? not ranked: the protocol found it unstable
	Violates             // ! ranked behind every cell that meets the constraints
)

// symbol is the mark's prefix in a cell.
func (k Mark) symbol() string {
	switch k {
	case Best:
		return "★ "
	case Tied:
		return "= "
	case Unstable:
		return "? "
	case Violates:
		return "! "
	}
	return ""
}

// Cell is one grid point's state.
type Cell struct {
	Status string // "" not run yet, "ok", "skipped", or a failure status
	// Summary is the cell's objective: its median and interval.
	Summary bench.Summary
	Mark    Mark
	Reason  string
}

// Model is a grid of Rows × Cols, each axis named and valued.
type Model struct {
	common           common.Common
	RowName, ColName string
	Rows, Cols       []int
	// HigherIsBetter shades the largest value hottest; false (a latency
	// objective) shades the smallest.
	HigherIsBetter bool
	// Unit is written with each value ("320ms"); "" leaves it to the
	// caller's title, as a rate's "img/s" would crowd the cells.
	Unit  string
	cells map[[2]int]Cell
}

// New returns an empty grid of rows (named rowName) × cols (colName),
// higher values better.
func New(c common.Common, rowName string, rows []int, colName string, cols []int) Model {
	return Model{common: c, RowName: rowName, ColName: colName, Rows: rows, Cols: cols, HigherIsBetter: true, cells: map[[2]int]Cell{}}
}

// SetCommon hands the grid new styles and sizes.
func (m *Model) SetCommon(c common.Common) { m.common = c }

// Set records the cell at (row value, col value).
func (m *Model) Set(row, col int, c Cell) { m.cells[[2]int{row, col}] = c }

// Get returns the cell at (row value, col value).
func (m *Model) Get(row, col int) Cell { return m.cells[[2]int{row, col}] }

// View draws the grid in at most w columns.
func (m *Model) View(w int) string {
	st := m.common.Styles
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range m.cells {
		if c.Status == bench.StatusOK {
			lo, hi = min(lo, c.Summary.Center), max(hi, c.Summary.Center)
		}
	}
	corner := short(m.RowName) + " \\ " + short(m.ColName)
	rowHead := lipgloss.Width(corner) // the row labels' column
	for _, r := range m.Rows {
		rowHead = max(rowHead, lipgloss.Width(fmt.Sprintf("%s %d", m.RowName, r)))
	}
	cw := max(7, min(14, (w-rowHead)/max(1, len(m.Cols))-1))
	var b strings.Builder
	b.WriteString(st.Label.Render(common.Fit(corner, rowHead)))
	for _, c := range m.Cols {
		b.WriteString(" " + st.Header.Render(common.FitLeft(fmt.Sprint(c), cw)))
	}
	b.WriteByte('\n')
	for _, r := range m.Rows {
		b.WriteString(st.Header.Render(common.Fit(fmt.Sprintf("%s %d", m.RowName, r), rowHead)))
		for _, c := range m.Cols {
			x := m.Get(r, c)
			var text string
			var style lipgloss.Style
			switch x.Status {
			case "":
				text, style = "…", st.Faint
			case bench.StatusOK:
				text, style = x.Mark.symbol()+fitValue(x.Summary, m.Unit, cw-1-len([]rune(x.Mark.symbol()))), m.shade(x.Summary.Center, lo, hi)
				if x.Mark == Best {
					style = st.Best
				}
			case bench.StatusSkipped:
				text, style = "· skip", st.Skipped
			default:
				text, style = "✗ "+x.Status, st.Failed
			}
			b.WriteString(" " + style.Render(common.FitLeft(text+" ", cw)))
		}
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// fitValue renders a summary as "412 ± 3%" (Format), closing up the
// spaces, then dropping the spread, when w cells are too few.
func fitValue(s bench.Summary, unit string, w int) string {
	text := Format(s, unit)
	if len([]rune(text)) > w {
		text = strings.ReplaceAll(text, " ± ", "±")
	}
	if len([]rune(text)) > w {
		text = bench.FormatValue(s.Center, unit)
	}
	return text
}

// Format renders a cell's summary as bench does, "412 img/s ± 3%": the
// median and the spread in whole percent; a single sample, which has no
// spread, as its value alone, as the CLI's sweep table prints it.
func Format(s bench.Summary, unit string) string {
	if s.N <= 1 {
		return bench.FormatValue(s.Center, unit)
	}
	return s.Format(unit)
}

// short abbreviates an axis name for the corner label.
func short(name string) string {
	if name == "concurrency" {
		return "conc"
	}
	return name
}

// shade picks the heat colour for v between lo and hi.
func (m *Model) shade(v, lo, hi float64) lipgloss.Style {
	st := m.common.Styles
	if len(st.Heat) == 0 {
		return st.Value
	}
	f := 1.0
	if hi > lo {
		f = (v - lo) / (hi - lo)
	}
	if !m.HigherIsBetter {
		f = 1 - f
	}
	i := int(math.Round(f * float64(len(st.Heat)-1)))
	return lipgloss.NewStyle().Background(st.Heat[i]).Foreground(lipgloss.Color("#FFFFFF"))
}
