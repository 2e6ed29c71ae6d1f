package bench

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"workbench/pipeline"
)

// A Diagnosis is one finding about a run: what the numbers show and which
// knob to turn. Diagnose derives them from measured stats only; the scenario
// name never enters, so a user's own pipeline is diagnosed the same way.
type Diagnosis struct {
	// Rule names the rule that fired, e.g. "inference-bound".
	Rule string `json:"rule"`
	// Severity is "bottleneck" (limits throughput now), "waste" (work
	// that need not happen) or "note" (trust or hygiene).
	Severity string `json:"severity"`
	// Finding states the measurement, with numbers.
	Finding string `json:"finding"`
	// Knob is the change to try, naming the flag or scenario key.
	Knob string `json:"knob"`
}

// Thresholds of the diagnosis rules. They are judgement, not measurement:
// "busy" is the pipeline's own saturation line, and a stage waiting half
// its time is waiting on something.
const (
	diagBusy       = 0.90 // utilisation at which an operator is saturated
	diagStarved    = 0.50 // share of wall time an operator waits for input
	diagGPUIdle    = 50.0 // mean GPU utilisation (%) below which it is underfed
	diagSmallBatch = 8.0  // images per forward pass below which overhead dominates
	diagRSSShare   = 0.5  // peak RSS as a share of RAM that risks the OOM killer
	// diagGrowth is the rss_growth_per_1k_images (bytes per 1,000 rows)
	// above which memory is said to grow: 64 KB, 64 bytes an image, the
	// goal for the whole job; streaming runs measure far less, a take_all
	// of result rows more.
	diagGrowth = 64 << 10
	// diagHeld is the held_bytes_per_1k_images above which a stage is said
	// to collect results: 1 KB, a byte an image. It is an exact count, so
	// the bound only has to clear 0; a result row is 100 bytes or more.
	diagHeld = 1 << 10
)

// holdingOp returns the operator that kept the most bytes between batches,
// and false when none kept any.
func holdingOp(r *Record) (OpRecord, bool) {
	var worst OpRecord
	for _, o := range r.Ops {
		if o.PeakHeldBytes > worst.PeakHeldBytes {
			worst = o
		}
	}
	return worst, worst.PeakHeldBytes > 0
}

// opView is an operator's record with its shares of wall time.
type opView struct {
	OpRecord
	busy, starved, backpressured float64
}

func viewOp(o OpRecord) opView {
	v := opView{OpRecord: o, busy: o.Utilization}
	if o.WallSeconds > 0 {
		v.starved = o.StarvedSeconds / o.WallSeconds
		v.backpressured = o.BackpressSeconds / o.WallSeconds
	}
	return v
}

// findOp returns the first operator whose name contains any of the
// fragments (case-insensitive). Operator names are the engine's stage
// names (ReadImages, Preprocess, Inference, Write), not scenario names.
func findOp(r *Record, frags ...string) (opView, bool) {
	for _, o := range r.Ops {
		n := strings.ToLower(o.Name)
		for _, f := range frags {
			if strings.Contains(n, f) {
				return viewOp(o), true
			}
		}
	}
	return opView{}, false
}

// A diagRule inspects a record and reports a finding when it applies.
type diagRule struct {
	name, severity string
	check          func(r *Record) (finding, knob string, ok bool)
}

// diagRules are evaluated in order; the order is the order of the report,
// bottlenecks first.
var diagRules = []diagRule{
	// A stall comes first: whatever else the numbers say, a stage that
	// stopped moving explains the run before any ratio does.
	{"stalled", "bottleneck", func(r *Record) (string, string, bool) {
		d, finding, ok := detectionFinding(r, pipeline.IssueStall, "longest")
		if !ok {
			return "", "", false
		}
		knob := "find what its UDF waits on (a lock, a remote call, a device, a full disk)"
		if d.TasksCompleted == 0 {
			knob = "if it is a slow start (a model load, the first batch on a device), raise --stall-timeout; otherwise " + knob
		}
		return finding, knob, true
	}},
	{"inference-bound", "bottleneck", func(r *Record) (string, string, bool) {
		inf, ok := findOp(r, "infer")
		if !ok || inf.busy < diagBusy {
			return "", "", false
		}
		up := "upstream stages keep up"
		if pre, ok := findOp(r, "preprocess"); ok {
			up = fmt.Sprintf("preprocess is busy %.0f%%, starved %.0f%%, backpressured %.0f%%",
				100*pre.busy, 100*pre.starved, 100*pre.backpressured)
		}
		return fmt.Sprintf("inference is busy %.0f%% of its capacity while %s", 100*inf.busy, up),
			"raise the batch size (--batch) so each forward pass does more, or add inference actors (--concurrency) while the CPU/GPU has headroom", true
	}},
	{"preprocess-bound", "bottleneck", func(r *Record) (string, string, bool) {
		pre, ok1 := findOp(r, "preprocess")
		inf, ok2 := findOp(r, "infer")
		if !ok1 || !ok2 || pre.busy < diagBusy || inf.starved < diagStarved {
			return "", "", false
		}
		return fmt.Sprintf("preprocess is busy %.0f%% while inference is starved %.0f%% of the time", 100*pre.busy, 100*inf.starved),
			"add preprocessing concurrency (more CPU workers for decode/resize), or decode smaller (DCT downscale)", true
	}},
	{"read-bound", "bottleneck", func(r *Record) (string, string, bool) {
		rd, ok1 := findOp(r, "read")
		inf, ok2 := findOp(r, "infer")
		if !ok1 || !ok2 || rd.busy < diagBusy || inf.starved < diagStarved {
			return "", "", false
		}
		finding := fmt.Sprintf("reading (%s) is busy %.0f%% while inference is starved %.0f%%", rd.Name, 100*rd.busy, 100*inf.starved)
		if st := rd.Read; st != nil {
			finding += fmt.Sprintf(": %d read tasks, %d GETs in flight each, GET p50 %s", rd.Tasks, st.GetConcurrency, FormatValue(st.GetP50, UnitSeconds))
		}
		return finding, readKnob(r, rd), true
	}},
	{"nothing-saturated", "bottleneck", func(r *Record) (string, string, bool) {
		if len(r.Ops) == 0 {
			return "", "", false
		}
		var top opView
		for _, o := range r.Ops {
			if v := viewOp(o); v.busy > top.busy {
				top = v
			}
		}
		if top.busy >= diagBusy || top.Name == "" {
			return "", "", false
		}
		return fmt.Sprintf("no stage is saturated: the busiest, %s, used %.0f%% of its capacity", top.Name, 100*top.busy),
			"raise concurrency (--concurrency) or batch size (--batch) until one stage saturates; check --cpus and the memory budget", true
	}},
	{"model-load-per-batch", "waste", func(r *Record) (string, string, bool) {
		if r.ModelLoads <= 1 || r.Batches == 0 || float64(r.ModelLoads) < 0.5*float64(r.Batches) {
			return "", "", false
		}
		per := float64(r.ModelLoads) / float64(max(r.Images, 1))
		return fmt.Sprintf("the model was loaded %d times for %d batches (%.2f loads per image)", r.ModelLoads, r.Batches, per),
			"load the model once per actor: in the actor's constructor, not inside the batch function", true
	}},
	{"constructor-per-task", "waste", func(r *Record) (string, string, bool) {
		inf, ok := findOp(r, "infer")
		if !ok || inf.ConstructorCalls <= 1 || inf.Tasks == 0 || float64(inf.ConstructorCalls) < 0.5*float64(inf.Tasks) {
			return "", "", false
		}
		return fmt.Sprintf("the inference constructor ran %d times for %d tasks", inf.ConstructorCalls, inf.Tasks),
			"run inference in an actor pool (compute=actors) so the constructor runs once per actor", true
	}},
	{"unbatched-forward", "waste", func(r *Record) (string, string, bool) {
		if r.Batches == 0 || r.ForwardPasses < 2*int64(r.Batches) {
			return "", "", false
		}
		return fmt.Sprintf("%d forward passes for %d batches (%.1f per batch)", r.ForwardPasses, r.Batches,
				float64(r.ForwardPasses)/float64(r.Batches)),
			"batch the forward pass: one session.Run per batch, not a loop over images", true
	}},
	{"small-batches", "bottleneck", func(r *Record) (string, string, bool) {
		if r.ForwardPasses == 0 || r.Images == 0 {
			return "", "", false
		}
		per := float64(r.Images) / float64(r.ForwardPasses)
		if per >= diagSmallBatch || r.ForwardPasses >= 2*int64(r.Batches) {
			return "", "", false // the unbatched-forward rule explains it
		}
		return fmt.Sprintf("forward passes carry %.1f images on average", per),
			"raise the batch size (--batch 32 or more) so per-call overhead is amortised", true
	}},
	{"oversubscribed", "bottleneck", func(r *Record) (string, string, bool) {
		actors := maxConcurrency(r.Config.Concurrency)
		cores := r.Fingerprint.Cores
		if cores == 0 {
			cores = runtime.NumCPU()
		}
		threads := actors * r.Config.IntraOp
		if r.Config.IntraOp == 0 || actors == 0 || threads <= cores || strings.Contains(r.Config.Device, "cuda") {
			return "", "", false
		}
		return fmt.Sprintf("%d actors × %d intra-op threads = %d threads on %d cores", actors, r.Config.IntraOp, threads, cores),
			fmt.Sprintf("size ORT's thread pool to the machine: --intra-op %d with %d actors", max(1, cores/actors), actors), true
	}},
	{"gpu-underfed", "bottleneck", func(r *Record) (string, string, bool) {
		if r.Telemetry == nil || !r.Telemetry.Summary.GPUAvailable {
			return "", "", false
		}
		m := r.Telemetry.Metrics()
		u, ok := m[MetricGPUUtil]
		if !ok || u >= diagGPUIdle || !strings.Contains(r.Config.Device, "cuda") {
			return "", "", false
		}
		return fmt.Sprintf("the GPU was busy %.0f%% of the time on average", u),
			"feed the GPU: preprocess in a separate CPU stage with more workers, raise the batch size", true
	}},
	{"one-block", "bottleneck", func(r *Record) (string, string, bool) {
		if r.Config.Blocks != 1 || r.Images <= 1 {
			return "", "", false
		}
		return fmt.Sprintf("all %d images were read as a single block, so only one task can run at a time", r.Images),
			"raise --blocks (for example 2-4 per core)", true
	}},
	{"tiny-blocks", "waste", func(r *Record) (string, string, bool) {
		if r.Images < 64 || r.Config.Blocks < r.Images {
			return "", "", false
		}
		return fmt.Sprintf("%d blocks for %d images: one task per image, so scheduling overhead dominates", r.Config.Blocks, r.Images),
			"lower --blocks so each block holds tens to hundreds of images", true
	}},
	{"json-output", "waste", func(r *Record) (string, string, bool) {
		if r.Config.Format != "json" {
			return "", "", false
		}
		return "results are written as JSON lines",
			"write Parquet (--out results.parquet): columnar, compressed and typed", true
	}},
	{"memory-pressure", "note", func(r *Record) (string, string, bool) {
		mem := r.Fingerprint.MemoryBytes
		if mem <= 0 || float64(r.PeakRSS) < diagRSSShare*float64(mem) {
			return "", "", false
		}
		return fmt.Sprintf("peak RSS %s is %.0f%% of RAM", FormatValue(float64(r.PeakRSS), UnitBytes), 100*float64(r.PeakRSS)/float64(mem)),
			"stream results to the writer instead of collecting them, and keep backpressure on (--memory-budget)", true
	}},
	{"memory-grows", "note", func(r *Record) (string, string, bool) {
		// Significant only when the slope exceeds the bound by more
		// than its spread, so a GC sawtooth does not fire it.
		if r.RSSGrowthPer1k-r.RSSGrowthPer1kSpread <= diagGrowth {
			return "", "", false
		}
		finding := fmt.Sprintf("resident memory grows %s per 1,000 images (± %s): it will not stay flat on a larger dataset",
			FormatValue(r.RSSGrowthPer1k, UnitBytes), FormatValue(r.RSSGrowthPer1kSpread, UnitBytes))
		// A stage that keeps rows between batches is the likely cause;
		// failing that, the one with the most queued bytes is where rows
		// pile up.
		if o, ok := holdingOp(r); ok {
			finding += fmt.Sprintf("; likely stage: %s (keeps %s between batches)", o.Name, FormatValue(float64(o.PeakHeldBytes), UnitBytes))
		} else {
			var worst OpRecord
			for _, o := range r.Ops {
				if o.PeakQueuedBytes > worst.PeakQueuedBytes {
					worst = o
				}
			}
			if worst.Name != "" {
				finding += fmt.Sprintf("; likely stage: %s (peak queued %s)", worst.Name, FormatValue(float64(worst.PeakQueuedBytes), UnitBytes))
			}
		}
		return finding, "stream to the sink instead of collecting results (take_all), keep backpressure on, and check what the UDFs keep per row", true
	}},
	{"results-held", "note", func(r *Record) (string, string, bool) {
		// Counted, not sampled, so it fires at any size: a take_all of
		// 100 images holds 100 results, which no RSS reading can see.
		o, ok := holdingOp(r)
		per1k, _ := HeldPer1k(r)
		if !ok || per1k < diagHeld {
			return "", "", false
		}
		return fmt.Sprintf("the %s stage kept %s of results in memory until its input ended, %s per 1,000 images: %s at ImageNet's 1.28 M in the results alone, and resident memory grows faster still (each held block keeps its Arrow objects and the GC's headroom)",
				o.Name, FormatValue(float64(o.PeakHeldBytes), UnitBytes), FormatValue(per1k, UnitBytes), FormatValue(per1k*1280, UnitBytes)),
			"write as results come instead of collecting them first: take_all: false (ds.write_parquet(out), not ds.take_all())", true
	}},
	{"stragglers", "note", func(r *Record) (string, string, bool) {
		_, finding, ok := detectionFinding(r, pipeline.IssueStraggler, "worst")
		if !ok {
			return "", "", false
		}
		return finding, "look for uneven inputs (a huge image, a slow object GET) or interference (another process, a GC pause); --straggler-sigma sets how far past the mean counts", true
	}},
	{"errors", "note", func(r *Record) (string, string, bool) {
		if r.Errors == 0 {
			return "", "", false
		}
		return fmt.Sprintf("%d of %d images failed", r.Errors, r.Images),
			"read the error column of the output; rerun with --fail-on-error in CI", true
	}},
	{"unstable", "note", func(r *Record) (string, string, bool) {
		if r.Stable || len(r.Windows) == 0 {
			return "", "", false
		}
		return "the last 3 throughput windows differ by more than 10%",
			"measure longer (--images) or repeat (--repeat 5) before trusting small differences", true
	}},
}

// maxConcurrency reads "4" or "1-4" and returns the largest actor count.
func maxConcurrency(s string) int {
	_, hi, ok := strings.Cut(s, "-")
	if !ok {
		hi = s
	}
	n, _ := strconv.Atoi(strings.TrimSpace(hi))
	return n
}

// Diagnose applies the diagnosis rules to one completed run and returns
// what fired, bottlenecks first. A record that did not complete gets no
// diagnosis.
func Diagnose(rec *Record) []Diagnosis {
	if rec == nil || (rec.Status != "" && rec.Status != StatusOK) {
		return nil
	}
	var out []Diagnosis
	for _, rule := range diagRules {
		if f, k, ok := rule.check(rec); ok {
			out = append(out, Diagnosis{Rule: rule.name, Severity: rule.severity, Finding: f, Knob: k})
		}
	}
	return out
}

// detectionFinding returns the run's longest detection of kind and the
// finding that says it, with how many the stages counted: "… (the
// longest of 3 stalls)".
func detectionFinding(r *Record, kind pipeline.IssueKind, which string) (Detection, string, bool) {
	var best Detection
	var n int64
	found := false
	for _, o := range r.Ops {
		if kind == pipeline.IssueStall {
			n += o.Stalls
		} else {
			n += o.Stragglers
		}
		for _, d := range o.Detections {
			if d.Kind == string(kind) && (!found || d.DurationSeconds > best.DurationSeconds) {
				best, found = d, true
			}
		}
	}
	if !found {
		return best, "", false
	}
	finding := best.String()
	if n > 1 {
		finding += fmt.Sprintf(" (the %s of %d %ss)", which, n, kind)
	}
	return best, finding, true
}
