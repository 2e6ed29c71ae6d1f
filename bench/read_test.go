package bench

import (
	"strings"
	"testing"
)

// TestDiagnoseReadBound: a run that waits on object GETs is named
// read-bound, and the knob it names follows the read stats: --blocks with
// few read tasks, --get-concurrency with many, fewer requests when the
// store throttles.
func TestDiagnoseReadBound(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		blocks   int
		read     ReadStats
		wantKnob string
	}{
		{"few read tasks", 1, ReadStats{Requests: 240, Gets: 240, GetP50: 0.02, GetConcurrency: 8}, "--blocks"},
		{"enough tasks, one GET each", 64, ReadStats{Requests: 240, Gets: 240, GetP50: 0.02, GetConcurrency: 1}, "--get-concurrency"},
		{"throttled", 64, ReadStats{Requests: 300, Retries: 60, Gets: 240, GetP50: 0.02, GetConcurrency: 32}, "throttling"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := fixtureRun("anything", 64, 1, 1, 240, nil)
			r.Config.Blocks = c.blocks
			r.Ops[0].Name, r.Ops[0].Utilization = "ReadImages", 0.97
			r.Ops[0].Read = &c.read
			r.Ops[2].Utilization, r.Ops[2].StarvedSeconds = 0.3, 0.7*r.WallSeconds
			var got *Diagnosis
			for _, d := range Diagnose(r) {
				if d.Rule == "read-bound" {
					got = &d
				}
			}
			if got == nil {
				t.Fatal("read-bound did not fire")
			}
			if !strings.Contains(got.Knob, c.wantKnob) || !strings.Contains(got.Finding, "ReadImages") {
				t.Errorf("finding %q, knob %q: want the knob to name %s", got.Finding, got.Knob, c.wantKnob)
			}
		})
	}
}
