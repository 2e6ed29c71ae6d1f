package scenarios

import (
	"slices"

	"workbench/bench"
	"workbench/pipeline"
)

// Result is one measured run of a scenario: the bench record plus the few
// measurements a record does not carry.
type Result struct {
	Record *bench.Record
	// Ops are the operators' final metrics (job.Dataset.Metrics()).
	Ops []pipeline.OpSnapshot
	// OutputBytes is the size of the file the run wrote.
	OutputBytes int64
	// LogLines counts lines written to the run's log by the pipeline.
	LogLines int64
	// PeakThreads is the most OS threads the process had during the run,
	// sampled with each progress snapshot (ORT's pools live there).
	PeakThreads int64
	// PreprocessSetups counts preprocessing states built
	// (job.Counters.Preprocessors).
	PreprocessSetups int64
}

// MetricDef describes one metric a scenario may expect to move.
type MetricDef struct {
	Name string
	Unit string // a bench.FormatValue unit
	Help string
	// HigherIsBetter says which direction is an improvement.
	HigherIsBetter bool
	value          func(r *Result) (float64, bool)
}

// Value extracts the metric from r; ok is false when the run did not
// measure it (GPU utilisation without a GPU).
func (m MetricDef) Value(r *Result) (float64, bool) { return m.value(r) }

func op(r *Result, name string) (pipeline.OpMetrics, bool) {
	for _, o := range r.Ops {
		if o.Name == name {
			return o.Metrics, true
		}
	}
	return pipeline.OpMetrics{}, false
}

func rec(f func(*bench.Record) float64) func(*Result) (float64, bool) {
	return func(r *Result) (float64, bool) { return f(r.Record), true }
}

var metricDefs = map[string]MetricDef{
	"throughput": {Unit: "img/s", Help: "images per second, whole run", HigherIsBetter: true,
		value: rec(func(r *bench.Record) float64 { return r.Throughput })},
	"ttfr": {Unit: bench.UnitSeconds, Help: "time to the first inference result",
		value: rec(func(r *bench.Record) float64 { return r.TTFRSeconds })},
	"latency_p95": {Unit: bench.UnitSeconds, Help: "p95 inference batch latency",
		value: rec(func(r *bench.Record) float64 { return r.LatencyP95 })},
	"peak_rss": {Unit: bench.UnitBytes, Help: "peak resident memory of the process",
		value: rec(func(r *bench.Record) float64 { return float64(r.PeakRSS) })},
	bench.MetricRSSGrowth: {Unit: bench.UnitBytes, Help: "resident memory gained per 1,000 images in the steady state",
		value: rec(func(r *bench.Record) float64 { return r.RSSGrowthPer1k })},
	"cpu_pct": {Unit: bench.UnitPercent, Help: "process CPU time over wall time (100% = one core)",
		value: rec(func(r *bench.Record) float64 { return r.CPUPercent })},
	"model_loads": {Unit: "loads", Help: "ORT sessions created",
		value: rec(func(r *bench.Record) float64 { return float64(r.ModelLoads) })},
	"forward_passes": {Unit: "passes", Help: "Session.Run calls",
		value: rec(func(r *bench.Record) float64 { return float64(r.ForwardPasses) })},
	"blocks": {Unit: "blocks", Help: "read blocks (read tasks)",
		value: rec(func(r *bench.Record) float64 { return float64(r.Config.Blocks) })},
	"gpu_util": {Unit: bench.UnitPercent, Help: "mean GPU utilisation", HigherIsBetter: true,
		value: func(r *Result) (float64, bool) {
			v, ok := r.Record.Telemetry.Metrics()[bench.MetricGPUUtil]
			return v, ok
		}},
	"peak_queued_bytes": {Unit: bench.UnitBytes, Help: "largest bytes queued in front of any operator",
		value: func(r *Result) (float64, bool) {
			var m int64
			for _, o := range r.Ops {
				m = max(m, o.Metrics.PeakQueuedBytes)
			}
			return float64(m), len(r.Ops) > 0
		}},
	"output_bytes": {Unit: bench.UnitBytes, Help: "size of the output file",
		value: func(r *Result) (float64, bool) { return float64(r.OutputBytes), r.OutputBytes > 0 }},
	"log_lines": {Unit: "lines", Help: "lines the pipeline wrote to the run's log",
		value: func(r *Result) (float64, bool) { return float64(r.LogLines), true }},
	"preprocess_cpu": {Unit: bench.UnitSeconds, Help: "CPU time of the Preprocess stage",
		value: func(r *Result) (float64, bool) {
			m, ok := op(r, "Preprocess")
			return m.CPUTime.Seconds(), ok
		}},
	"inference_busy": {Unit: bench.UnitSeconds, Help: "time the inference workers spent in batches (decode included when it runs there)",
		value: func(r *Result) (float64, bool) {
			m, ok := op(r, "Inference")
			return m.BusyTime.Seconds(), ok
		}},
	"rows_converted": {Unit: "rows", Help: "rows converted from per-row objects to columns",
		value: func(r *Result) (float64, bool) {
			m, ok := op(r, "Inference")
			return float64(m.RowsConverted), ok
		}},
	"peak_threads": {Unit: "threads", Help: "most OS threads during the run (ORT thread pools included)",
		value: func(r *Result) (float64, bool) { return float64(r.PeakThreads), r.PeakThreads > 0 }},
	"preprocess_setups": {Unit: "setups", Help: "preprocessing states built (kernels, tables, buffers)",
		value: func(r *Result) (float64, bool) { return float64(r.PreprocessSetups), true }},
	"stages": {Unit: "stages", Help: "operators in the pipeline, read and write included",
		value: func(r *Result) (float64, bool) { return float64(len(r.Ops)), len(r.Ops) > 0 }},
}

func init() {
	for name, d := range metricDefs {
		d.Name = name
		metricDefs[name] = d
	}
}

// Metric returns the definition of the metric called name.
func Metric(name string) (MetricDef, bool) {
	d, ok := metricDefs[name]
	return d, ok
}

// MetricNames lists the metrics an `expect:` entry may name, sorted.
func MetricNames() []string {
	out := make([]string, 0, len(metricDefs))
	for n := range metricDefs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
