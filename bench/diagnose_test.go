package bench

import (
	"slices"
	"testing"

	"workbench/nvml"
)

// TestDiagnose checks each rule against a run shaped to trigger it, and
// that a healthy run triggers none of the bottleneck or waste rules.
func TestDiagnose(t *testing.T) {
	t.Parallel()
	base := func(mut func(r *Record)) *Record {
		r := fixtureRun("anything", 64, 1, 1, 240, nil)
		r.Config.IntraOp = 8
		r.Ops[2].Utilization = 0.95 // inference saturated: the healthy end state
		if mut != nil {
			mut(r)
		}
		return r
	}
	cases := []struct {
		name string
		rec  *Record
		want []string // rules that must fire
		not  []string // rules that must not
	}{
		{"healthy optimized run", base(nil), []string{"inference-bound"},
			[]string{"preprocess-bound", "model-load-per-batch", "unbatched-forward", "small-batches", "oversubscribed", "nothing-saturated", "json-output"}},
		{"inference busy 98% while preprocess starves", base(func(r *Record) {
			r.Ops[2].Utilization = 0.98
			r.Ops[1].StarvedSeconds = 0.6 * r.WallSeconds
		}), []string{"inference-bound"}, []string{"preprocess-bound"}},
		{"preprocess 100%, inference starved 60%", base(func(r *Record) {
			r.Ops[1].Utilization = 1
			r.Ops[2].Utilization, r.Ops[2].StarvedSeconds = 0.4, 0.6*r.WallSeconds
		}), []string{"preprocess-bound"}, []string{"inference-bound"}},
		{"model loaded per batch", base(func(r *Record) { r.ModelLoads = int64(r.Batches) }), []string{"model-load-per-batch"}, nil},
		{"constructor per task", base(func(r *Record) { r.Ops[2].ConstructorCalls = r.Ops[2].Tasks }), []string{"constructor-per-task"}, nil},
		{"per-image forward passes", base(func(r *Record) { r.ForwardPasses = int64(r.Images) }), []string{"unbatched-forward"}, []string{"small-batches"}},
		{"tiny batches", base(func(r *Record) { r.Batches, r.ForwardPasses = 256, 256 }), []string{"small-batches"}, []string{"unbatched-forward"}},
		{"oversubscribed threads", base(func(r *Record) { r.Config.Concurrency, r.Config.IntraOp = "8", 8 }), []string{"oversubscribed"}, nil},
		{"nothing saturated", base(func(r *Record) { r.Ops[2].Utilization = 0.4 }), []string{"nothing-saturated"}, []string{"inference-bound"}},
		{"one block", base(func(r *Record) { r.Config.Blocks = 1 }), []string{"one-block"}, nil},
		{"one block per image", base(func(r *Record) { r.Config.Blocks = r.Images }), []string{"tiny-blocks"}, nil},
		{"JSON output", base(func(r *Record) { r.Config.Format = "json" }), []string{"json-output"}, nil},
		{"memory pressure", base(func(r *Record) { r.PeakRSS = r.Fingerprint.MemoryBytes * 3 / 4 }), []string{"memory-pressure"}, nil},
		{"errors", base(func(r *Record) { r.Errors = 3 }), []string{"errors"}, nil},
		{"memory grows", base(func(r *Record) { r.RSSGrowthPer1k, r.RSSGrowthPer1kSpread = 1.4e6, 1e5 }), []string{"memory-grows"}, nil},
		{"memory growth within its spread", base(func(r *Record) { r.RSSGrowthPer1k, r.RSSGrowthPer1kSpread = 70<<10, 20<<10 }), nil, []string{"memory-grows"}},
		{"unstable", base(func(r *Record) { r.Stable = false }), []string{"unstable"}, nil},
		{"GPU underfed", base(func(r *Record) {
			r.Config.Device = "cuda:0"
			r.Telemetry.Summary.GPUAvailable = true
			r.Telemetry.Summary.GPUs = append(r.Telemetry.Summary.GPUs, gpuSummary(31))
		}), []string{"gpu-underfed"}, []string{"oversubscribed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var fired []string
			for _, d := range Diagnose(c.rec) {
				fired = append(fired, d.Rule)
				if d.Finding == "" || d.Knob == "" || d.Severity == "" {
					t.Errorf("%s: incomplete diagnosis %+v", d.Rule, d)
				}
			}
			for _, w := range c.want {
				if !slices.Contains(fired, w) {
					t.Errorf("rule %s did not fire; fired %v", w, fired)
				}
			}
			for _, n := range c.not {
				if slices.Contains(fired, n) {
					t.Errorf("rule %s fired; fired %v", n, fired)
				}
			}
		})
	}
	if d := Diagnose(&Record{Status: StatusOOM}); d != nil {
		t.Errorf("failed run diagnosed: %v", d)
	}
}

func gpuSummary(util float64) nvml.GPUSummary {
	return nvml.GPUSummary{Name: "fixture GPU", UtilMeanPct: util}
}
