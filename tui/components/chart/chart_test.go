package chart

import (
	"strings"
	"testing"

	"charm.land/lipgloss/v2"

	"workbench/tui/common"
)

// TestBars: one bar per label, the tallest value reaching the top line,
// labels under their bars, and every line w cells wide.
func TestBars(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		w, h int
		vals []float64
	}{
		{40, 5, []float64{10, 40, 80, 60}},
		{80, 4, []float64{5, 5}},
		{20, 3, []float64{1, 2, 3, 4, 5}},
	} {
		m := New(common.New(80, 24, true), "t", common.Rate, lipgloss.NewStyle())
		var labels []string
		for i, v := range c.vals {
			m.Push(v)
			labels = append(labels, string(rune('a'+i)))
		}
		lines := strings.Split(m.Bars(labels, c.w, c.h), "\n")
		if len(lines) != c.h {
			t.Fatalf("%dx%d: %d lines, want %d", c.w, c.h, len(lines), c.h)
		}
		for i, l := range lines {
			if lipgloss.Width(l) != c.w {
				t.Errorf("%dx%d: line %d is %d wide", c.w, c.h, i, lipgloss.Width(l))
			}
		}
		if got := strings.Fields(lines[c.h-1]); strings.Join(got, "") != strings.Join(labels, "") {
			t.Errorf("%dx%d: axis %q, want the labels %v", c.w, c.h, lines[c.h-1], labels)
		}
		if !strings.Contains(lines[0], "█") {
			t.Errorf("%dx%d: the tallest bar does not reach the top line", c.w, c.h)
		}
	}
	var empty Model
	if empty.Bars([]string{"a"}, 10, 3) != "" {
		t.Error("a chart without values drew bars")
	}
}
