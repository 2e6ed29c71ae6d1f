package bench

import (
	"strings"
)

// Names of the metrics in the registry that code refers to by name.
const (
	MetricThroughput     = "throughput"
	MetricSteadyTput     = "steady_throughput"
	MetricLatencyP50     = "latency_p50"
	MetricLatencyP95     = "latency_p95"
	MetricLatencyP99     = "latency_p99"
	MetricTTFR           = "ttfr"
	MetricPeakRSS        = "peak_rss"
	MetricGPUMem         = "gpu_mem"
	MetricCPUPct         = "cpu_pct"
	MetricGPUUtil        = "gpu_util"
	MetricImagesPerJoule = "images_per_joule"
	// The GPM metrics (Hopper and newer) and NVJPG: absent, not zero,
	// where the GPU cannot give them.
	MetricSMActivity     = "sm_activity"
	MetricSMOccupancy    = "sm_occupancy"
	MetricTensorActivity = "tensor_activity"
	MetricDRAMBWUtil     = "dram_bw_util"
	MetricNVJPGUtil      = "nvjpg_util"
	MetricErrors         = "errors"
	MetricModelLoads     = "model_loads"
	MetricForwardPasses  = "forward_passes"
)

// A Kind says what a metric's values measure, which fixes the units its
// thresholds may be written in and how its values print.
type Kind int

const (
	KindRate     Kind = iota // per second; plain numbers
	KindDuration             // seconds; needs a unit: ns us µs ms s m h
	KindBytes                // bytes; plain number or B KB MB GB TB KiB MiB GiB TiB
	KindPercent              // percent; plain number or with %
	KindCount                // whole numbers; print without decimals
)

// MetricInfo describes one metric of a run: the one registry that
// thresholds, sweep objectives and constraints, scenario expectations, the
// race table, reports and the TUI all read, so a metric has the same name,
// unit and better direction everywhere.
type MetricInfo struct {
	// Name is the canonical name, the key in metric maps.
	Name string
	// Aliases are other accepted spellings.
	Aliases []string
	// Label is the name tables print ("p95 batch latency").
	Label string
	// Kind fixes units and formatting.
	Kind Kind
	// Unit is the unit values print in (FormatValue's unit argument).
	Unit string
	// HigherIsBetter tells an Objective which direction wins.
	HigherIsBetter bool
	// Doc is a one-line description for help texts.
	Doc string
	// value extracts the metric from a record; ok is false when the run
	// did not measure it (GPU utilisation without a GPU).
	value func(r *Record) (float64, bool)
}

// Value extracts the metric from r; ok is false when r did not measure
// it.
func (m MetricInfo) Value(r *Record) (float64, bool) {
	if r == nil || m.value == nil {
		return 0, false
	}
	return m.value(r)
}

// Format prints v in the metric's unit; counts print as integers.
func (m MetricInfo) Format(v float64) string {
	if m.Kind == KindCount {
		return FormatCount(v)
	}
	return FormatValue(v, m.Unit)
}

func always(f func(r *Record) float64) func(*Record) (float64, bool) {
	return func(r *Record) (float64, bool) { return f(r), true }
}

func telemetry(name string) func(*Record) (float64, bool) {
	return func(r *Record) (float64, bool) {
		v, ok := r.Telemetry.Metrics()[name]
		return v, ok
	}
}

func opValue(name string, f func(o *OpRecord) float64) func(*Record) (float64, bool) {
	return func(r *Record) (float64, bool) {
		for i := range r.Ops {
			if r.Ops[i].Name == name {
				return f(&r.Ops[i]), true
			}
		}
		return 0, false
	}
}

// KnownMetrics is the registry, in the order help texts and tables list
// it.
var KnownMetrics = []MetricInfo{
	{Name: MetricThroughput, Aliases: []string{"wall"}, Label: "images/s", Kind: KindRate, Unit: "img/s", HigherIsBetter: true,
		Doc: "images per second over the whole run (first read to last write)", value: always(func(r *Record) float64 { return r.Throughput })},
	{Name: MetricSteadyTput, Aliases: []string{"steady"}, Label: "steady images/s", Kind: KindRate, Unit: "img/s", HigherIsBetter: true,
		Doc: "images per second in the steady-state windows (warm-up and drain excluded)", value: always(func(r *Record) float64 { return r.SteadyTput })},
	{Name: MetricTTFR, Aliases: []string{"time_to_first_result"}, Label: "time to first result", Kind: KindDuration, Unit: UnitSeconds,
		Doc: "time from start to the first inference result", value: always(func(r *Record) float64 { return r.TTFRSeconds })},
	{Name: MetricLatencyP50, Label: "p50 batch latency", Kind: KindDuration, Unit: UnitSeconds, Doc: "median batch latency",
		value: always(func(r *Record) float64 { return r.LatencyP50 })},
	{Name: MetricLatencyP95, Label: "p95 batch latency", Kind: KindDuration, Unit: UnitSeconds, Doc: "95th percentile batch latency",
		value: always(func(r *Record) float64 { return r.LatencyP95 })},
	{Name: MetricLatencyP99, Label: "p99 batch latency", Kind: KindDuration, Unit: UnitSeconds, Doc: "99th percentile batch latency",
		value: always(func(r *Record) float64 { return r.LatencyP99 })},
	{Name: MetricPeakRSS, Label: "peak RSS", Kind: KindBytes, Unit: UnitBytes, Doc: "peak resident memory of the process",
		value: always(func(r *Record) float64 { return float64(r.PeakRSS) })},
	{Name: MetricRSSGrowth, Label: "RSS growth per 1k images", Kind: KindBytes, Unit: UnitBytes,
		Doc:   "resident memory gained per 1,000 images in the steady state (0 when flat or too short to say)",
		value: always(func(r *Record) float64 { return r.RSSGrowthPer1k })},
	{Name: MetricHeldPer1k, Label: "held per 1k images", Kind: KindBytes, Unit: UnitBytes,
		Doc:   "most bytes of rows the stages kept in memory between batches, per 1,000 images (0 when streaming; a take_all keeps every result)",
		value: HeldPer1k},
	{Name: MetricCPUPct, Label: "CPU % (100 = 1 core)", Kind: KindPercent, Unit: UnitPercent, Doc: "process CPU time over wall time, 100 per busy core",
		value: always(func(r *Record) float64 { return r.CPUPercent })},
	{Name: MetricGPUMem, Label: "peak GPU memory", Kind: KindBytes, Unit: UnitBytes, Doc: "peak GPU memory used", value: telemetry(MetricGPUMem)},
	{Name: MetricGPUUtil, Label: "GPU util", Kind: KindPercent, Unit: UnitPercent, HigherIsBetter: true, Doc: "mean GPU utilisation", value: telemetry(MetricGPUUtil)},
	{Name: MetricSMActivity, Label: "SM activity", Kind: KindPercent, Unit: UnitPercent, HigherIsBetter: true,
		Doc: "mean share of SMs busy (GPM, Hopper or newer)", value: telemetry(MetricSMActivity)},
	{Name: MetricSMOccupancy, Label: "SM occupancy", Kind: KindPercent, Unit: UnitPercent, HigherIsBetter: true,
		Doc: "mean warps resident over the maximum (GPM, Hopper or newer)", value: telemetry(MetricSMOccupancy)},
	{Name: MetricTensorActivity, Label: "tensor activity", Kind: KindPercent, Unit: UnitPercent, HigherIsBetter: true,
		Doc: "mean time any tensor-core pipe was busy (GPM, Hopper or newer)", value: telemetry(MetricTensorActivity)},
	{Name: MetricDRAMBWUtil, Label: "DRAM bandwidth", Kind: KindPercent, Unit: UnitPercent, HigherIsBetter: true,
		Doc: "mean device-memory bandwidth used over its maximum (GPM, Hopper or newer)", value: telemetry(MetricDRAMBWUtil)},
	{Name: MetricNVJPGUtil, Label: "NVJPG util", Kind: KindPercent, Unit: UnitPercent,
		Doc: "mean time the hardware JPEG decoder was busy", value: telemetry(MetricNVJPGUtil)},
	{Name: MetricImagesPerJoule, Label: "images/J", Kind: KindRate, Unit: "img/J", HigherIsBetter: true, Doc: "images per joule of GPU energy", value: telemetry(MetricImagesPerJoule)},
	{Name: MetricModelLoads, Label: "model loads", Kind: KindCount, Unit: "loads", Doc: "ORT sessions created",
		value: always(func(r *Record) float64 { return float64(r.ModelLoads) })},
	{Name: MetricForwardPasses, Label: "forward passes", Kind: KindCount, Unit: "passes", Doc: "Session.Run calls",
		value: always(func(r *Record) float64 { return float64(r.ForwardPasses) })},
	{Name: MetricErrors, Label: "errors", Kind: KindCount, Doc: "failed rows",
		value: always(func(r *Record) float64 { return float64(r.Errors) })},
	{Name: "blocks", Label: "read blocks", Kind: KindCount, Unit: "blocks", Doc: "read blocks (read tasks)",
		value: always(func(r *Record) float64 { return float64(r.Config.Blocks) })},
	{Name: "peak_queued_bytes", Label: "peak queued", Kind: KindBytes, Unit: UnitBytes, Doc: "largest bytes queued in front of any operator",
		value: func(r *Record) (float64, bool) {
			var m int64
			for _, o := range r.Ops {
				m = max(m, o.PeakQueuedBytes)
			}
			return float64(m), len(r.Ops) > 0
		}},
	{Name: "output_bytes", Label: "output size", Kind: KindBytes, Unit: UnitBytes, Doc: "size of the output file",
		value: func(r *Record) (float64, bool) { return float64(r.OutputBytes), r.OutputBytes > 0 }},
	{Name: "log_lines", Label: "log lines", Kind: KindCount, Unit: "lines", Doc: "lines the pipeline wrote to the run's log",
		value: always(func(r *Record) float64 { return float64(r.LogLines) })},
	{Name: "preprocess_cpu", Label: "preprocess CPU", Kind: KindDuration, Unit: UnitSeconds, Doc: "CPU time of the Preprocess stage",
		value: opValue("Preprocess", func(o *OpRecord) float64 { return o.CPUSeconds })},
	{Name: "inference_busy", Label: "inference busy", Kind: KindDuration, Unit: UnitSeconds,
		Doc:   "time the inference workers spent in batches (decode included when it runs there)",
		value: opValue("Inference", func(o *OpRecord) float64 { return o.BusySeconds })},
	{Name: "rows_converted", Label: "rows converted", Kind: KindCount, Unit: "rows", Doc: "rows converted from per-row objects to columns",
		value: opValue("Inference", func(o *OpRecord) float64 { return float64(o.RowsConverted) })},
	{Name: "peak_threads", Label: "peak threads", Kind: KindCount, Unit: "threads", Doc: "most OS threads during the run (ORT thread pools included)",
		value: func(r *Record) (float64, bool) { return float64(r.PeakThreads), r.PeakThreads > 0 }},
	{Name: "preprocess_setups", Label: "preprocess setups", Kind: KindCount, Unit: "setups", Doc: "preprocessing states built (kernels, tables, buffers)",
		value: always(func(r *Record) float64 { return float64(r.PreprocessSetups) })},
	{Name: "stages", Label: "stages", Kind: KindCount, Unit: "stages", Doc: "operators in the pipeline, read and write included",
		value: func(r *Record) (float64, bool) { return float64(len(r.Ops)), len(r.Ops) > 0 }},
	{Name: "actor_restarts", Label: "actor restarts", Kind: KindCount, Unit: "restarts", Doc: "actors replaced after a failure (max_restarts bounds them)",
		value: always(func(r *Record) float64 { return float64(r.ActorRestarts) })},
	{Name: "read_requests", Label: "read requests", Kind: KindCount, Unit: "requests",
		Doc: "requests the read made to an object store (GETs and listing pages, retries included); absent for local data",
		value: func(r *Record) (float64, bool) {
			if len(r.Ops) == 0 || r.Ops[0].Read == nil {
				return 0, false
			}
			return float64(r.Ops[0].Read.Requests), true
		}},
	{Name: "task_retries", Label: "batch retries", Kind: KindCount, Unit: "retries", Doc: "batches run again on another actor after theirs failed",
		value: always(func(r *Record) float64 { return float64(r.TaskRetries) })},
}

// LookupMetric finds a metric by name or alias.
func LookupMetric(name string) (MetricInfo, bool) {
	for _, m := range KnownMetrics {
		if m.Name == name {
			return m, true
		}
		for _, a := range m.Aliases {
			if a == name {
				return m, true
			}
		}
	}
	return MetricInfo{}, false
}

// MetricNames lists the registry's names in its order.
func MetricNames() []string {
	names := make([]string, len(KnownMetrics))
	for i, m := range KnownMetrics {
		names[i] = m.Name
	}
	return names
}

func knownMetricNames() string { return strings.Join(MetricNames(), ", ") }

// Metrics returns the record's measured metrics by registry name: what
// thresholds, constraints and objectives judge.
func (r *Record) Metrics() map[string]float64 {
	m := map[string]float64{}
	for _, d := range KnownMetrics {
		if v, ok := d.Value(r); ok {
			m[d.Name] = v
		}
	}
	return m
}
