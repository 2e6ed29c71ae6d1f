// Package chart is a titled history chart: a label, the latest value, the
// peak, and an ntcharts sparkline of the most recent values, nvitop's history
// sparklines in spirit.
package chart

import (
	"math"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/NimbleMarkets/ntcharts/v2/sparkline"

	"workbench/tui/common"
)

// Model keeps a whole history so a resize can redraw any width; only the
// last Width points are drawn.
type Model struct {
	common common.Common
	// Title labels the chart, e.g. "throughput".
	Title string
	// Format renders a value for the header, e.g. common.Rate.
	Format func(float64) string
	// Style colours the columns; ValueStyle, when set, styles the latest
	// value by a threshold (nvitop colours).
	Style      lipgloss.Style
	ValueStyle func(v float64) lipgloss.Style
	// Max, when positive, fixes the vertical scale (100 for percentages)
	// instead of scaling to the peak.
	Max float64
	// Keep, when positive, bounds the history to the latest Keep values,
	// for a chart that runs for as long as a screen stays open; Peak is
	// then the peak of those.
	Keep int
	data []float64
	// The last drawn sparkline: ntcharts renders cell by cell, so the
	// chart redraws only when a value arrives or the size changes.
	cacheKey [3]int
	cache    string
}

// New returns an empty chart.
func New(c common.Common, title string, format func(float64) string, style lipgloss.Style) Model {
	return Model{common: c, Title: title, Format: format, Style: style}
}

// Push appends a value; NaN and negative values are drawn as zero.
func (m *Model) Push(v float64) {
	if math.IsNaN(v) || v < 0 {
		v = 0
	}
	m.data = append(m.data, v)
	if m.Keep > 0 && len(m.data) >= 2*m.Keep {
		// Trimming at twice the bound copies once per Keep pushes.
		m.data = append(m.data[:0], m.data[len(m.data)-m.Keep:]...)
	}
	m.cache = ""
}

// Len is the number of values pushed.
func (m *Model) Len() int { return len(m.data) }

// Last is the latest value, 0 when there is none.
func (m *Model) Last() float64 {
	if len(m.data) == 0 {
		return 0
	}
	return m.data[len(m.data)-1]
}

// Peak is the largest value pushed (of the latest Keep, when set).
func (m *Model) Peak() float64 {
	p := 0.0
	data := m.data
	if m.Keep > 0 && len(data) > m.Keep {
		data = data[len(data)-m.Keep:]
	}
	for _, v := range data {
		p = max(p, v)
	}
	return p
}

// Header is the one-line summary: title, latest value and peak.
func (m *Model) Header(w int) string {
	s := m.common.Styles
	val := m.Format(m.Last())
	if m.ValueStyle != nil {
		val = m.ValueStyle(m.Last()).Render(val)
	} else {
		val = s.Value.Render(val)
	}
	h := s.Label.Render(m.Title+" ") + val
	if len(m.data) > 1 {
		h += s.Faint.Render("  peak " + m.Format(m.Peak()))
	}
	return common.Fit(h, w)
}

// View draws the header over a w×h sparkline (h ≥ 1).
func (m *Model) View(w, h int) string {
	return m.Header(w) + "\n" + m.Spark(w, h)
}

// Spark draws only the sparkline, w×h cells.
func (m *Model) Spark(w, h int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	key := [3]int{len(m.data), w, h}
	if m.cache != "" && key == m.cacheKey {
		return m.cache
	}
	sl := sparkline.New(w, h, sparkline.WithStyle(m.Style))
	if m.Max > 0 {
		sl.SetMax(m.Max)
		sl.AutoMaxValue = false
	}
	data := m.data
	if len(data) > w {
		data = data[len(data)-w:]
	}
	sl.PushAll(data)
	sl.Draw()
	m.cache, m.cacheKey = common.Block(strings.TrimRight(sl.View(), "\n"), w, h), key
	return m.cache
}

// ValueStyleOr is the style of the latest value: by threshold when the
// chart has one, def otherwise.
func (m *Model) ValueStyleOr(def lipgloss.Style) lipgloss.Style {
	if m.ValueStyle != nil {
		return m.ValueStyle(m.Last())
	}
	return def
}

// Bars draws the pushed values as bars side by side, one per label, across
// w cells: h-1 lines of bars over a line of their labels (a value against
// a category, e.g. throughput against batch size). Values beyond the
// labels are not drawn; h < 2 draws nothing.
func (m *Model) Bars(labels []string, w, h int) string {
	n := min(len(labels), len(m.data))
	if n == 0 || w <= 0 || h < 2 {
		return ""
	}
	slot := min(12, max(2, w/n)) // a bar and the gap after it
	var series []float64
	var axis strings.Builder
	for i, v := range m.data[:n] {
		for range slot - 1 {
			series = append(series, v)
		}
		series = append(series, 0)
		axis.WriteString(common.Fit(center(labels[i], slot-1), slot))
	}
	sl := sparkline.New(len(series), h-1, sparkline.WithStyle(m.Style))
	if m.Max > 0 {
		sl.SetMax(m.Max)
		sl.AutoMaxValue = false
	}
	sl.PushAll(series)
	sl.Draw()
	bars := common.Block(strings.TrimRight(sl.View(), "\n"), w, h-1)
	return bars + "\n" + common.Fit(axis.String(), w)
}

// center centres s in w cells (truncating when it is wider).
func center(s string, w int) string {
	pad := w - lipgloss.Width(s)
	if pad <= 0 {
		return common.Fit(s, w)
	}
	return strings.Repeat(" ", pad/2) + s + strings.Repeat(" ", pad-pad/2)
}
