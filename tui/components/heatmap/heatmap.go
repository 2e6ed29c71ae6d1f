// Package heatmap draws a sweep's throughput over batch × concurrency as a
// grid of labelled cells: each completed cell is shaded by its value and
// shows it, failed cells show ✗ and their status, skipped cells a dot, cells
// not yet run an ellipsis, and the best cell is marked ★ and reversed, so
// the map reads without colour too.
package heatmap

import (
	"fmt"
	"math"
	"strings"

	"charm.land/lipgloss/v2"

	"workbench/bench"
	"workbench/tui/common"
)

// Cell is one grid point's state.
type Cell struct {
	Status string // "" not run yet, "ok", "skipped", or a failure status
	Value  float64
	Reason string
}

// Model is a grid of Rows (concurrency) × Cols (batch).
type Model struct {
	common common.Common
	Rows   []int
	Cols   []int
	cells  map[[2]int]Cell
}

// New returns an empty grid.
func New(c common.Common, rows, cols []int) Model {
	return Model{common: c, Rows: rows, Cols: cols, cells: map[[2]int]Cell{}}
}

// SetCommon hands the grid new styles and sizes.
func (m *Model) SetCommon(c common.Common) { m.common = c }

// Set records the cell at (row value, col value).
func (m *Model) Set(row, col int, c Cell) { m.cells[[2]int{row, col}] = c }

// Get returns the cell at (row value, col value).
func (m *Model) Get(row, col int) Cell { return m.cells[[2]int{row, col}] }

// Best returns the best completed cell's coordinates, ok false when none.
func (m *Model) Best() (row, col int, ok bool) {
	best := math.Inf(-1)
	for _, r := range m.Rows {
		for _, c := range m.Cols {
			if x := m.Get(r, c); x.Status == bench.StatusOK && x.Value > best {
				best, row, col, ok = x.Value, r, c, true
			}
		}
	}
	return row, col, ok
}

// Done counts cells that have a result of any kind.
func (m *Model) Done() int {
	n := 0
	for _, c := range m.cells {
		if c.Status != "" {
			n++
		}
	}
	return n
}

// View draws the grid in at most w columns.
func (m *Model) View(w int) string {
	st := m.common.Styles
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range m.cells {
		if c.Status == bench.StatusOK {
			lo, hi = min(lo, c.Value), max(hi, c.Value)
		}
	}
	br, bc, hasBest := m.Best()
	rowHead := 13
	cw := max(7, min(12, (w-rowHead)/max(1, len(m.Cols))-1))
	var b strings.Builder
	b.WriteString(st.Label.Render(common.Fit("conc \\ batch", rowHead)))
	for _, c := range m.Cols {
		b.WriteString(" " + st.Header.Render(common.FitLeft(fmt.Sprint(c), cw)))
	}
	b.WriteByte('\n')
	for _, r := range m.Rows {
		b.WriteString(st.Header.Render(common.Fit(fmt.Sprintf("concurrency %d", r), rowHead)))
		for _, c := range m.Cols {
			x := m.Get(r, c)
			var text string
			var style lipgloss.Style
			switch x.Status {
			case "":
				text, style = "…", st.Faint
			case bench.StatusOK:
				text = bench.FormatValue(x.Value, "")
				if hasBest && r == br && c == bc {
					text = "★ " + text
				}
				style = m.shade(x.Value, lo, hi)
			case bench.StatusSkipped:
				text, style = "· skip", st.Skipped
			default:
				text, style = "✗ "+x.Status, st.Failed
			}
			cell := style.Render(common.FitLeft(text+" ", cw))
			if hasBest && r == br && c == bc && x.Status == bench.StatusOK {
				cell = st.Best.Render(common.FitLeft(text+" ", cw))
			}
			b.WriteString(" " + cell)
		}
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
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
	i := int(math.Round(f * float64(len(st.Heat)-1)))
	return lipgloss.NewStyle().Background(st.Heat[i]).Foreground(lipgloss.Color("#FFFFFF"))
}
