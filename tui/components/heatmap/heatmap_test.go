package heatmap

import (
	"strings"
	"testing"

	"workbench/bench"
	"workbench/tui/common"
)

func TestMarks(t *testing.T) {
	t.Parallel()
	m := New(common.New(80, 24, true), []int{1, 2}, []int{8, 64, 256})
	m.Set(1, 8, Cell{Status: bench.StatusOK, Value: 40})
	m.Set(1, 64, Cell{Status: bench.StatusOK, Value: 90})
	m.Set(1, 256, Cell{Status: "oom"})
	m.Set(2, 8, Cell{Status: bench.StatusSkipped})
	r, c, ok := m.Best()
	if !ok || r != 1 || c != 64 {
		t.Fatalf("Best = %d,%d,%v; want 1,64,true", r, c, ok)
	}
	if m.Done() != 4 {
		t.Errorf("Done = %d, want 4", m.Done())
	}
	v := m.View(80)
	for _, want := range []string{"★ 90.0", "✗ oom", "· skip", "…", "40.0"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
}
