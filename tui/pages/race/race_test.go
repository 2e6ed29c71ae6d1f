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
