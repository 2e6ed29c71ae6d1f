package chart

import (
	"testing"

	"charm.land/lipgloss/v2"

	"workbench/tui/common"
)

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
