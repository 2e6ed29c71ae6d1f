package race

import (
	"strings"
	"testing"

	"workbench/bench"
)

func TestVerdict(t *testing.T) {
	t.Parallel()
	rec := func(tput float64, ws ...float64) *bench.Record { return &bench.Record{Throughput: tput, Windows: ws} }
	cases := []struct {
		name string
		a, b *bench.Record
		want []string
	}{
		{"faster", rec(10, 10, 11, 9, 10, 10, 10, 11, 9), rec(40, 40, 41, 39, 40, 40, 40, 41, 39), []string{"B is 4.00× faster than A", "±", "windows"}},
		{"slower", rec(40, 40, 41, 39, 40, 40, 40, 41, 39), rec(10, 10, 11, 9, 10, 10, 10, 11, 9), []string{"B is 4.00× slower than A"}},
		{"same", rec(10, 10, 11, 9, 10, 12, 8), rec(10, 11, 10, 9, 10, 8, 12), []string{"B ~ A", "no significant difference"}},
		{"too short", rec(10), rec(30, 0), []string{"3.00×", "too short for a spread"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := Verdict("A", "B", c.a, c.b)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("Verdict = %q, lacks %q", got, w)
				}
			}
		})
	}
}

// TestSpeedupOverRuns: with repeated runs the verdict is the CLI race's,
// over whole runs: significant with 6 a side, "~" with 3 (a Mann-Whitney
// test of 3 against 3 cannot reach p ≤ 0.05), and one run a side falls
// back to the windows.
func TestSpeedupOverRuns(t *testing.T) {
	t.Parallel()
	runs := func(base float64, n int) []*bench.Record {
		var out []*bench.Record
		for i := range n {
			out = append(out, &bench.Record{Throughput: base * (1 + 0.01*float64(i%3)), SteadyTput: base, ModelLoads: 2})
		}
		return out
	}
	cases := []struct {
		name string
		a, b []*bench.Record
		want []string
	}{
		{"six a side", runs(10, 6), runs(40, 6), []string{"B runs at ×4.00 ± ", "the throughput of A", "6/6 runs", "p=0.002"}},
		{"three a side", runs(10, 3), runs(40, 3), []string{"B vs A: ×4.00 ± ∞ ~ not significant", "p=0.100", "need >= 4 samples"}},
		{"one a side", runs(10, 1), runs(40, 1), []string{"4.00×", "whole runs"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := Speedup("A", "B", c.a, c.b)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("Speedup = %q, lacks %q", got, w)
				}
			}
		})
	}
	tab := Table("A", "B", runs(10, 6), runs(40, 6))
	for _, w := range []string{"images/s", "+", "model loads", "2 → 2"} {
		if !strings.Contains(tab, w) {
			t.Errorf("Table lacks %q:\n%s", w, tab)
		}
	}
}
