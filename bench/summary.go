package bench

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"workbench/pipeline"
)

// WriteSummary prints a run's summary: what ran, how fast, where the time
// went, and the bottleneck.
func WriteSummary(w io.Writer, r *Record) {
	c := r.Config
	fmt.Fprintf(w, "workbench run: %d images from %s → %s (%s)\n", r.Images, r.Fingerprint.Dataset, c.Output, c.Format)
	if r.Notice != "" {
		fmt.Fprintf(w, "  model      %s: %s\n", c.Model, r.Notice)
	}
	fmt.Fprintf(w, "  model      %s, %.3g GFLOPs/image, %s params (%s)\n", c.Model, c.GFLOPs, GroupThousands(c.Params), c.ModelFile)
	if c.Input != "" {
		fmt.Fprintf(w, "  input      %s\n", c.Input)
	}
	if c.Recipe != "" {
		fmt.Fprintf(w, "  recipe     %s (from %s)\n", c.Recipe, c.RecipeFrom)
	}
	fmt.Fprintf(w, "  session    ORT %s: %s\n", r.Fingerprint.ORTVersion, c.Session)
	fmt.Fprintf(w, "  pipeline   batch %d, concurrency %s, %d read blocks\n", c.BatchSize, c.Concurrency, c.Blocks)
	if r.BatchProbe != nil {
		fmt.Fprintf(w, "  batch      %s (inference ceiling per size; * the knee)\n", r.BatchProbe)
	}
	fmt.Fprintf(w, "  machine    %s, %d cores\n", r.Fingerprint.CPUModel, r.Fingerprint.Cores)
	if r.Source != "" {
		fmt.Fprintf(w, "  source     %s\n", r.Source)
	}
	fmt.Fprintf(w, "\n  images     %d (%d errors)\n", r.Images, r.Errors)
	if c.Checkpoint != "" {
		fmt.Fprintf(w, "  checkpoint %d rows from the checkpoint, %d computed now (%s)\n", r.FromCheckpoint, r.Computed, c.Checkpoint)
	}
	fmt.Fprintf(w, "  wall       %s\n", FormatValue(r.WallSeconds, UnitSeconds))
	fmt.Fprintf(w, "  throughput %s overall, %s steady state", FormatValue(r.Throughput, "img/s"), FormatValue(r.SteadyTput, "img/s"))
	if !r.Stable {
		fmt.Fprint(w, " (unstable)")
	}
	fmt.Fprintln(w)
	if c.GFLOPs > 0 && r.Throughput > 0 {
		fmt.Fprintf(w, "  compute    %.3g GFLOP/s achieved (%.3g GFLOPs/image × images/s)", c.GFLOPs*r.Throughput, c.GFLOPs)
		if r.PeakGFLOPS > 0 {
			fmt.Fprintf(w, ", %.0f%% of this device's measured peak (%.1f GFLOP/s, GEMM probe)", 100*c.GFLOPs*r.Throughput/r.PeakGFLOPS, r.PeakGFLOPS)
		}
		fmt.Fprintln(w)
	}
	if r.CeilingTput > 0 {
		fmt.Fprintf(w, "  ceiling    %s inference-only: this run reached %.0f%% of it\n", FormatValue(r.CeilingTput, "img/s"), 100*r.Throughput/r.CeilingTput)
	}
	fmt.Fprintf(w, "  first row  %s; batch latency p50 %s, p95 %s, p99 %s\n", FormatValue(r.TTFRSeconds, UnitSeconds),
		FormatValue(r.LatencyP50, UnitSeconds), FormatValue(r.LatencyP95, UnitSeconds), FormatValue(r.LatencyP99, UnitSeconds))
	fmt.Fprintf(w, "  resources  CPU %.0f%% (100%% = one core), peak RSS %s, model loads %d, forward passes %d\n",
		r.CPUPercent, FormatValue(float64(r.PeakRSS), UnitBytes), r.ModelLoads, r.ForwardPasses)
	writeMemorySummary(w, r)
	if r.ActorRestarts+r.TaskRetries+r.FailedBatches > 0 {
		fmt.Fprintf(w, "  recovery   %d actor restarts, %d batches retried, %d batches failed every retry\n",
			r.ActorRestarts, r.TaskRetries, r.FailedBatches)
	}
	if r.TensorPool != "" {
		fmt.Fprintf(w, "  tensors    %s\n", r.TensorPool)
	}
	writeReadSummary(w, r)
	fmt.Fprintf(w, "\n  %-12s %6s %9s %9s %9s %9s %9s %6s\n", "stage", "tasks", "busy", "cpu", "starved", "backpres", "pending", "util")
	for _, o := range r.Ops {
		fmt.Fprintf(w, "  %-12s %6d %9s %9s %9s %9s %9s %5.0f%%\n", o.Name, o.Tasks,
			FormatValue(o.BusySeconds, UnitSeconds), FormatValue(o.CPUSeconds, UnitSeconds),
			FormatValue(o.StarvedSeconds, UnitSeconds), FormatValue(o.BackpressSeconds, UnitSeconds),
			FormatValue(o.PendingSeconds, UnitSeconds), 100*o.Utilization)
	}
	writeDetectionSummary(w, r)
	fmt.Fprintf(w, "\n  bottleneck %s\n", r.Bottleneck)
	for _, wn := range r.Warnings {
		fmt.Fprintf(w, "  note: %s\n", wn)
	}
}

// writeMemorySummary prints whether the run's memory stays flat: the
// sampled RSS slope (when the run was long enough to measure one) and the
// counted bytes a stage kept between batches.
func writeMemorySummary(w io.Writer, r *Record) {
	var parts []string
	switch g, s := r.RSSGrowthPer1k, r.RSSGrowthPer1kSpread; {
	case g == 0 && s == 0:
	case g-s > 0:
		parts = append(parts, fmt.Sprintf("RSS grows %s ± %s per 1,000 images in the steady state",
			FormatValue(g, UnitBytes), FormatValue(s, UnitBytes)))
	default:
		// A short run's slope is mostly its start settling: say so
		// rather than print a growth its own spread contradicts.
		parts = append(parts, fmt.Sprintf("RSS growth not distinguishable from its noise (%s ± %s per 1,000 images)",
			FormatValue(g, UnitBytes), FormatValue(s, UnitBytes)))
	}
	if o, ok := holdingOp(r); ok {
		per1k, _ := HeldPer1k(r)
		parts = append(parts, fmt.Sprintf("%s kept %s of results until the end (%s per 1,000 images)",
			o.Name, FormatValue(float64(o.PeakHeldBytes), UnitBytes), FormatValue(per1k, UnitBytes)))
	} else if len(r.Ops) > 0 {
		parts = append(parts, "no stage kept results between batches")
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "  memory     %s\n", strings.Join(parts, "; "))
	}
}

// GroupThousands renders n with comma thousands separators: 25,530,472.
func GroupThousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

// summaryDetections is how many detections of one kind the summary names
// per stage; the record keeps them all.
const summaryDetections = 3

// writeDetectionSummary names each stage's stalls and stragglers under
// the stage table: each stall, each stage's worst stragglers, and how
// many more the record holds.
func writeDetectionSummary(w io.Writer, r *Record) {
	sep := "\n"
	for _, o := range r.Ops {
		for _, kind := range []string{string(pipeline.IssueStall), string(pipeline.IssueStraggler)} {
			var ds []Detection
			for _, d := range o.Detections {
				if d.Kind == kind {
					ds = append(ds, d)
				}
			}
			// The longest first: the one to look at.
			slices.SortStableFunc(ds, func(a, b Detection) int { return cmp.Compare(b.DurationSeconds, a.DurationSeconds) })
			n := o.Stalls
			if kind == string(pipeline.IssueStraggler) {
				n = o.Stragglers
			}
			for i, d := range ds[:min(len(ds), summaryDetections)] {
				label := ""
				if i == 0 {
					label = kind
				}
				fmt.Fprintf(w, "%s  %-10s %s\n", sep, label, strings.TrimPrefix(d.String(), kind+": "))
				sep = ""
			}
			if more := n - int64(min(len(ds), summaryDetections)); more > 0 {
				fmt.Fprintf(w, "%s  %-10s … and %d more in %s\n", sep, "", more, o.Name)
				sep = ""
			}
		}
	}
}
