package main

import (
	"bytes"
	"strings"
	"testing"

	"workbench/bench"
	"workbench/scenarios"
)

// TestAblateVerdict checks that ablate judges each mistake by the
// measurement protocol: a mistake whose runs overlap optimized's is tied,
// not called a cost, and an unstable one is not judged at all.
func TestAblateVerdict(t *testing.T) {
	runs := func(stable bool, tputs ...float64) []*scenarioRun {
		var out []*scenarioRun
		for _, v := range tputs {
			out = append(out, &scenarioRun{rec: &bench.Record{Status: bench.StatusOK, SteadyTput: v, Throughput: v, Stable: stable}})
		}
		return out
	}
	scs := []*scenarios.Scenario{{Name: "optimized"}, {Name: "slow"}, {Name: "noise"}, {Name: "wobbly"}, {Name: "broken"}}
	all := [][]*scenarioRun{
		runs(true, 100, 101, 99, 100),
		runs(true, 40, 41, 39, 40),
		runs(true, 99, 102, 98, 100),
		runs(false, 60, 90, 30, 70),
		nil,
	}
	var buf bytes.Buffer
	writeAblateVerdict(&buf, scs, all, 4)
	out := buf.String()
	for _, want := range []string{
		"4 repeat(s)",
		"slower than optimized beyond the noise: slow\n",
		"tied with optimized (intervals overlap; a larger --repeat may separate them): noise\n",
		"unstable (not judged): wobbly\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verdict lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "broken") {
		t.Errorf("a scenario with no runs was judged:\n%s", out)
	}
}
