package bench

import "testing"

func TestBestCell(t *testing.T) {
	t.Parallel()
	rec := func(label string, tput float64, rank int, status string) *Record {
		return &Record{Label: label, Scenario: "optimized", Throughput: tput, Rank: rank, Status: status}
	}
	cases := []struct {
		name string
		recs []*Record
		want string // "" = none
	}{
		{"rank wins over throughput", []*Record{rec("a", 100, 2, StatusOK), rec("b", 50, 1, StatusOK)}, "b"},
		{"highest median without ranks", []*Record{rec("a", 100, 0, StatusOK), rec("a", 10, 0, StatusOK), rec("a", 10, 0, StatusOK),
			rec("b", 40, 0, StatusOK), rec("b", 40, 0, StatusOK)}, "b"},
		{"failed runs left out", []*Record{rec("a", 900, 0, "failed"), rec("b", 1, 0, StatusOK)}, "b"},
		{"nothing completed", []*Record{rec("a", 900, 0, "oom")}, ""},
	}
	for _, c := range cases {
		b, ok := BestCell(c.recs)
		if got := map[bool]string{true: b.Label}[ok]; got != c.want {
			t.Errorf("%s: best %q (ok %v), want %q", c.name, b.Label, ok, c.want)
		}
	}
}
