package heatmap

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"workbench/bench"
	"workbench/tui/common"
)

func summary(center, lo, hi float64) bench.Summary {
	return bench.Summary{Center: center, Lo: lo, Hi: hi, N: 6, Confidence: 0.95}
}

// TestMarks: every state a cell can be in draws its symbol, and a value
// carries its spread, closed up when the column is narrow.
func TestMarks(t *testing.T) {
	t.Parallel()
	m := New(common.New(80, 24, true), "concurrency", []int{1, 2}, "batch", []int{8, 64, 256})
	m.Set(1, 8, Cell{Status: bench.StatusOK, Summary: summary(40, 39, 41)})
	m.Set(1, 64, Cell{Status: bench.StatusOK, Summary: summary(90, 88, 92), Mark: Best})
	m.Set(1, 256, Cell{Status: "oom"})
	m.Set(2, 8, Cell{Status: bench.StatusSkipped})
	m.Set(2, 64, Cell{Status: bench.StatusOK, Summary: summary(89, 86, 91), Mark: Tied})
	v := ansi.Strip(m.View(80))
	for _, want := range []string{"conc \\ batch", "concurrency 2", "★ 90.0 ± 2%", "= 89.0 ± 3%", "✗ oom", "· skip", "…", "40.0 ± 2%"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	narrow := ansi.Strip(m.View(50))
	if !strings.Contains(narrow, "★ 90.0±2%") {
		t.Errorf("a narrow view should close up the spread:\n%s", narrow)
	}
	for _, mk := range []struct {
		mark Mark
		sym  string
	}{{Unstable, "? 40.0"}, {Violates, "! 40.0"}} {
		m.Set(1, 8, Cell{Status: bench.StatusOK, Summary: summary(40, 39, 41), Mark: mk.mark})
		if v := ansi.Strip(m.View(80)); !strings.Contains(v, mk.sym) {
			t.Errorf("mark %d: view lacks %q:\n%s", mk.mark, mk.sym, v)
		}
	}
}
