package bench

import (
	"slices"
	"strings"
	"testing"

	"workbench/nvml"
	"workbench/pipeline"
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
			[]string{"preprocess-bound", "model-load-per-batch", "unbatched-forward", "small-batches", "oversubscribed", "nothing-saturated", "json-output", "stalled", "stragglers"}},
		{"a stall in inference", base(func(r *Record) {
			r.Ops[2].Stalls, r.Ops[2].Detections = 1, []Detection{fixtureStall("Inference", 12, 0)}
		}), []string{"stalled"}, []string{"stragglers"}},
		{"a straggler in preprocess", base(func(r *Record) {
			r.Ops[1].Stragglers, r.Ops[1].Detections = 1, []Detection{fixtureStraggler("Preprocess", 7, 3.2)}
		}), []string{"stragglers"}, []string{"stalled"}},
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
		{"results held", base(func(r *Record) { r.Ops[3].PeakHeldBytes = 20 << 10 }), []string{"results-held"}, []string{"memory-grows"}},
		{"streaming holds none", base(nil), nil, []string{"results-held"}},
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

func fixtureStall(stage string, seconds float64, completed int64) Detection {
	return Detection{Stage: stage, Kind: string(pipeline.IssueStall), Task: -1, AtSeconds: 13, StartSeconds: 1,
		DurationSeconds: seconds, ThresholdSeconds: 10, TasksCompleted: completed, QueuedRows: 64}
}

func fixtureStraggler(stage string, task int64, seconds float64) Detection {
	return Detection{Stage: stage, Kind: string(pipeline.IssueStraggler), Task: task, AtSeconds: 5, StartSeconds: 4,
		DurationSeconds: seconds, ThresholdSeconds: 1, TaskMeanSeconds: 0.2, TaskStdSeconds: 0.05, TasksCompleted: 20}
}

// TestDetectionsNamed: the summary and the diagnosis name the stage of
// each stall and straggler, the longest first, and count the rest.
func TestDetectionsNamed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		op         int
		stalls     []Detection
		stragglers []Detection
		count      int64 // stragglers counted, beyond those kept
		summary    []string
		diagnosis  []string
	}{
		{"a stall before the first task", 2, []Detection{fixtureStall("Inference", 12, 0)}, nil, 0,
			[]string{"\n  stall      Inference finished no task for 12s, from 1s into the run, with 64 rows queued (threshold 10s), before its first task finished"},
			[]string{"stall: Inference finished no task for 12s", "raise --stall-timeout"}},
		{"stragglers, the worst first", 1, nil,
			[]Detection{fixtureStraggler("Preprocess", 7, 1.5), fixtureStraggler("Preprocess", 9, 3.25)}, 6,
			[]string{"straggler  Preprocess task 9 ran 3.25s (threshold 1s; 20 tasks averaged 200ms ± 50ms)\n             Preprocess task 7 ran 1.5s",
				"… and 4 more in Preprocess"},
			[]string{"straggler: Preprocess task 9 ran 3.25s", "(the worst of 6 stragglers)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := fixtureRun("anything", 64, 1, 1, 240, nil)
			o := &r.Ops[c.op]
			o.Stalls, o.Stragglers = int64(len(c.stalls)), max(int64(len(c.stragglers)), c.count)
			o.Detections = append(slices.Clone(c.stalls), c.stragglers...)
			var sb strings.Builder
			WriteSummary(&sb, r)
			for _, want := range c.summary {
				if !strings.Contains(sb.String(), want) {
					t.Errorf("summary lacks %q:\n%s", want, sb.String())
				}
			}
			var diag []string
			for _, d := range Diagnose(r) {
				diag = append(diag, d.Finding+"; "+d.Knob)
			}
			all := strings.Join(diag, "\n")
			for _, want := range c.diagnosis {
				if !strings.Contains(all, want) {
					t.Errorf("diagnosis lacks %q:\n%s", want, all)
				}
			}
		})
	}
}
