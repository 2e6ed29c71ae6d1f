package common

import (
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
)

func TestThresholdColours(t *testing.T) {
	t.Parallel()
	s := NewStyles(false)
	for _, c := range []struct {
		pct  float64
		want lipgloss.Style
	}{
		{0, s.Dim}, {9.9, s.Dim}, {10, s.OK}, {75, s.OK}, {75.1, s.Warn}, {100, s.Warn},
	} {
		if got := s.Util(c.pct); got.Render("x") != c.want.Render("x") {
			t.Errorf("Util(%v) = %q, want %q", c.pct, got.Render("x"), c.want.Render("x"))
		}
	}
	for _, c := range []struct {
		pct  float64
		warn bool
	}{{50, false}, {80, false}, {80.5, true}} {
		if got := s.MemUsed(c.pct).Render("x") == s.Warn.Render("x"); got != c.warn {
			t.Errorf("MemUsed(%v) warns = %v, want %v", c.pct, got, c.warn)
		}
	}
}

func TestNoColorHasNoColour(t *testing.T) {
	t.Parallel()
	s := NewStyles(true)
	for _, st := range []lipgloss.Style{s.Title, s.Warn, s.OK, s.Left, s.Right, s.Selected, s.Pane} {
		out := st.Render("x")
		// 38;/48; introduce foreground and background colours.
		if strings.Contains(out, "38;") || strings.Contains(out, "48;") {
			t.Errorf("NO_COLOR style still colours: %q", out)
		}
	}
	if len(s.Heat) != 0 {
		t.Error("NO_COLOR heat scale is not empty")
	}
}

func TestFitAndBlock(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		w    int
		want string
	}{{"abc", 5, "abc  "}, {"abcdef", 4, "abc…"}, {"", 2, "  "}} {
		if got := Fit(c.in, c.w); got != c.want {
			t.Errorf("Fit(%q, %d) = %q, want %q", c.in, c.w, got, c.want)
		}
	}
	b := Block("a\nbb\nccc\nd", 2, 3)
	if b != "a \nbb\ncc" && b != "a \nbb\nc…" {
		t.Errorf("Block = %q", b)
	}
	if got := lipgloss.Height(Block("a", 3, 4)); got != 4 {
		t.Errorf("Block pads to %d lines, want 4", got)
	}
}

func TestBar(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		frac float64
		want string
	}{{0, "░░░░"}, {1, "████"}, {0.5, "██░░"}, {2, "████"}, {-1, "░░░░"}} {
		if got := Bar(c.frac, 4); got != c.want {
			t.Errorf("Bar(%v) = %q, want %q", c.frac, got, c.want)
		}
	}
}
