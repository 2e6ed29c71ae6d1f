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

// TestKeepBoundsHistory: a chart that runs as long as a screen stays open
// keeps its latest Keep values, and its peak is theirs.
func TestKeepBoundsHistory(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		keep, pushes   int
		maxLen         int
		wantLast, peak float64
	}{
		{0, 1000, 1000, 999, 999}, // unbounded, as the run panes use it
		{10, 1000, 19, 999, 999},  // bounded: never more than twice Keep held
		{600, 100, 100, 99, 99},   // under the bound nothing is dropped
		{10, 25, 19, 24, 24},
	} {
		c := New(common.New(80, 24, true), "x", common.Pct, lipgloss.NewStyle())
		c.Keep = tc.keep
		for i := range tc.pushes {
			c.Push(float64(i))
		}
		if c.Len() > tc.maxLen || c.Last() != tc.wantLast || c.Peak() != tc.peak {
			t.Errorf("keep %d after %d pushes: len %d (max %d), last %v, peak %v; want last %v, peak %v",
				tc.keep, tc.pushes, c.Len(), tc.maxLen, c.Last(), c.Peak(), tc.wantLast, tc.peak)
		}
	}
	// The peak is of the kept window: an early spike ages out.
	c := New(common.New(80, 24, true), "x", common.Pct, lipgloss.NewStyle())
	c.Keep = 5
	c.Push(100)
	for range 20 {
		c.Push(1)
	}
	if c.Peak() != 1 {
		t.Errorf("peak %v after the spike left the window, want 1", c.Peak())
	}
}
