package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"workbench/pipeline"
	"workbench/pipeline/outfile"
)

// SchemaVersion is the version of the Record JSON schema. It changes only
// when a field changes meaning or disappears; new fields do not bump it.
const SchemaVersion = 1

// Record is one measured run, the type every command writes and `workbench
// report` reads back, like vegeta's Result. Durations are in seconds, sizes
// in bytes, rates in images per second.
type Record struct {
	SchemaVersion int    `json:"schema_version"`
	Kind          string `json:"kind"` // KindRun, or KindCluster for a job watched on Ray
	Scenario      string `json:"scenario,omitempty"`
	Label         string `json:"label,omitempty"` // the configuration, e.g. "batch=64 concurrency=2"
	Repeat        int    `json:"repeat"`
	Notice        string `json:"notice,omitempty"`
	Status        string `json:"status"` // ok, failed, oom, skipped
	Reason        string `json:"reason,omitempty"`

	Config      RunConfig   `json:"config"`
	Fingerprint Fingerprint `json:"fingerprint"`

	Images int `json:"images"`
	Errors int `json:"errors"`
	// FromCheckpoint is the rows a resumed run took from its checkpoint
	// rather than computing; Computed the rows it computed now. Images is
	// their sum and Throughput counts Computed only. Both are 0 for a run
	// without a checkpoint.
	FromCheckpoint int       `json:"from_checkpoint,omitempty"`
	Computed       int       `json:"computed,omitempty"`
	WallSeconds    float64   `json:"wall_seconds"`
	Throughput     float64   `json:"throughput"`        // images/s over the whole run
	SteadyTput     float64   `json:"steady_throughput"` // images/s after warm-up
	Stable         bool      `json:"stable"`
	Windows        []float64 `json:"windows,omitempty"` // per-window images/s
	TTFRSeconds    float64   `json:"ttfr_seconds"`
	// Protocol is the measurement protocol the run was judged under
	// (warm-up, windows, stability rule, samples); Variation is the
	// stability check's max/min-1 over the last windows (-1 when unknown);
	// Autocorr the windows' lag-1 autocorrelation (-1 when unknown) and
	// WindowsIndependent whether they may count as samples.
	Protocol           *Protocol `json:"protocol,omitempty"`
	Variation          float64   `json:"stability_variation"`
	Autocorr           float64   `json:"windows_autocorr"`
	WindowsIndependent bool      `json:"windows_independent"`
	// Cycled is how many times the read went over the dataset to give the
	// windows enough batches (3.2 means 3.2×), 0 or 1 when it did not.
	Cycled float64 `json:"cycled,omitempty"`
	// Cold-start cost, kept apart from the steady state: ColdStartSeconds
	// is what the run took beyond its images at the steady rate (session
	// creation, first result, drain); WarmupSeconds when the warm-up
	// batches were done; DrainSeconds from the last batch to the end.
	ColdStartSeconds float64 `json:"cold_start_seconds"`
	WarmupSeconds    float64 `json:"warmup_seconds"`
	DrainSeconds     float64 `json:"drain_seconds"`
	LatencyP50       float64 `json:"latency_p50"`
	LatencyP95       float64 `json:"latency_p95"`
	LatencyP99       float64 `json:"latency_p99"`
	CPUPercent       float64 `json:"cpu_pct"` // process CPU time over wall time, 100 = one core
	PeakRSS          int64   `json:"peak_rss"`
	// RSSGrowthPer1k is rss_growth_per_1k_images: resident bytes gained
	// per 1,000 rows over the steady state (Growth), and its spread; both
	// 0 when the run was too short to say.
	RSSGrowthPer1k       float64 `json:"rss_growth_per_1k_images,omitempty"`
	RSSGrowthPer1kSpread float64 `json:"rss_growth_per_1k_images_spread,omitempty"`
	ModelLoads           int64   `json:"model_loads"`
	// ActorRestarts, TaskRetries and FailedBatches are the run's recovery
	// from failing actors, summed over operators (OpRecord has each's):
	// actors replaced, batches run again on another actor, and batches
	// that failed every retry, whose rows carry the error.
	ActorRestarts int64 `json:"actor_restarts,omitempty"`
	TaskRetries   int64 `json:"task_retries,omitempty"`
	FailedBatches int64 `json:"failed_batches,omitempty"`
	ForwardPasses int64 `json:"forward_passes"`
	Batches       int   `json:"batches"`
	// OutputBytes is the size of the file the run wrote; LogLines the
	// lines the pipeline wrote to its log; PeakThreads the most OS threads
	// the process had (ORT's pools live there); PreprocessSetups the
	// preprocessing states built (kernels, tables, buffers).
	OutputBytes      int64 `json:"output_bytes,omitempty"`
	LogLines         int64 `json:"log_lines,omitempty"`
	PeakThreads      int64 `json:"peak_threads,omitempty"`
	PreprocessSetups int64 `json:"preprocess_setups,omitempty"`
	// TensorPool summarises the batch tensor pool (buffers mapped, reuses,
	// pinning); empty when the run made a fresh tensor per batch.
	TensorPool  string  `json:"tensor_pool,omitempty"`
	CeilingTput float64 `json:"ceiling_throughput,omitempty"`
	// BatchProbe is batch_size: auto's probe (the ceiling at each size
	// tried and the size picked); nil when the batch size was given.
	BatchProbe *BatchProbe `json:"batch_probe,omitempty"`
	// PeakGFLOPS is the device's measured GEMM peak (model.CachedPeak),
	// when the run asked for it; 0 otherwise.
	PeakGFLOPS float64 `json:"peak_gflops,omitempty"`
	Bottleneck string  `json:"bottleneck"`
	// Source names where the rows came from when it is not a local folder
	// ("s3://b/p/ (s3, images, 40 objects)"); Accuracy is set when the
	// source carried labels.
	Source   string     `json:"source,omitempty"`
	Accuracy *Accuracy  `json:"accuracy,omitempty"`
	Ops      []OpRecord `json:"ops"`
	Warnings []string   `json:"warnings,omitempty"`
	// Notes are what the run path said about the configuration on this
	// machine ("identical to optimized here"); they are in Warnings too.
	Notes []string `json:"notes,omitempty"`

	// Telemetry is filled by the nvml sampler when it runs.
	Telemetry *Telemetry `json:"telemetry,omitempty"`
	// Cluster is set on a Kind "cluster" record: the job on Ray (see
	// NewClusterRecord).
	Cluster *ClusterInfo `json:"cluster,omitempty"`

	// The fields below are filled by Sweep for records that belong to a
	// sweep cell, so that a results file alone (JSON, CSV or Parquet)
	// carries what the report needs to rank and mark the cells.

	// Params are the sweep cell's parameters by dimension name, such as
	// {"batch": "64", "concurrency": "2"}; Label renders them in order.
	Params map[string]string `json:"params,omitempty"`
	// Objective is the metric the sweep ranked cells by.
	Objective string `json:"objective,omitempty"`
	// Constraints is the sweep's --constraint text.
	Constraints string `json:"constraints,omitempty"`
	// SatisfiesConstraints is nil outside a sweep and for cells that did
	// not complete; otherwise whether the cell's medians met every
	// constraint (Triton Model Analyzer's satisfies_constraints).
	SatisfiesConstraints *bool `json:"satisfies_constraints,omitempty"`
	// Violations lists the constraints the cell failed, as Violation.String.
	Violations []string `json:"violations,omitempty"`
	// Rank is the cell's place by the objective among completed cells,
	// constraint-satisfying cells first (1 = best); 0 when unranked.
	Rank int `json:"rank,omitempty"`
	// CellStable is nil outside a sweep; otherwise whether the cell's
	// measurement stabilised (an unstable cell is not ranked).
	CellStable *bool `json:"cell_stable,omitempty"`
	// CellMedian, CellLo and CellHi are the cell's objective median and
	// its interval at CellConfidence over CellSamples samples
	// (SamplesFromWindows when the windows counted as samples).
	CellMedian         float64 `json:"cell_median,omitempty"`
	CellLo             float64 `json:"cell_lo,omitempty"`
	CellHi             float64 `json:"cell_hi,omitempty"`
	CellConfidence     float64 `json:"cell_confidence,omitempty"`
	CellSamples        int     `json:"cell_samples,omitempty"`
	SamplesFromWindows bool    `json:"samples_from_windows,omitempty"`
	// Tied marks a cell whose interval overlaps the best cell's; TieBreak
	// says how the tie was broken.
	Tied     bool   `json:"tied,omitempty"`
	TieBreak string `json:"tie_break,omitempty"`
	// RanAlone says whether this run had the host's pipeline slots to
	// itself from start to end, as the run queue of `workbench serve`
	// admitted it: false when another run overlapped it, so its numbers
	// share cores or a GPU. Nil where no queue was in charge (the CLI).
	RanAlone *bool `json:"ran_alone,omitempty"`
}

// RunConfig is the configuration a run used.
type RunConfig struct {
	Data        string  `json:"data"`
	Model       string  `json:"model"`
	ModelFile   string  `json:"model_file"`
	GFLOPs      float64 `json:"gflops"`
	Params      int64   `json:"params"`
	Device      string  `json:"device"`
	Provider    string  `json:"provider"`
	Session     string  `json:"session"`
	IntraOp     int     `json:"intra_op_threads"`
	InterOp     int     `json:"inter_op_threads"`
	GraphOpt    string  `json:"graph_optimization"`
	BatchSize   int     `json:"batch_size"`
	Concurrency string  `json:"concurrency"`
	Blocks      int     `json:"blocks"`
	Output      string  `json:"output"`
	// Checkpoint is the run's checkpoint folder, "" when it had none.
	Checkpoint string `json:"checkpoint,omitempty"`
	// Input is the model input as fed, e.g. "N×3×224×224 float32 NCHW";
	// Recipe the preprocessing applied, in one line, and RecipeFrom where
	// it came from (model metadata, the default preset, knobs).
	Input      string `json:"input,omitempty"`
	Recipe     string `json:"recipe,omitempty"`
	RecipeFrom string `json:"recipe_from,omitempty"`
	Format     string `json:"format"`
	// Knobs is every knob as it ran, auto values resolved; Asked the same
	// knobs as the user's layers left them ("auto" stays "auto"); Sources
	// the layer (scenario, set, flag) that set each knob above the
	// built-in default.
	Knobs   map[string]string `json:"knobs,omitempty"`
	Asked   map[string]string `json:"knobs_asked,omitempty"`
	Sources map[string]string `json:"knob_sources,omitempty"`
}

// OpRecord is one operator's share of a run, from pipeline.OpMetrics.
type OpRecord struct {
	Name             string  `json:"name"`
	Tasks            int64   `json:"tasks"`
	RowsOut          int64   `json:"rows_out"`
	WallSeconds      float64 `json:"wall_seconds"`
	BusySeconds      float64 `json:"busy_seconds"`
	CPUSeconds       float64 `json:"cpu_seconds"`
	StarvedSeconds   float64 `json:"starved_seconds"`
	BackpressSeconds float64 `json:"backpressured_seconds"`
	PendingSeconds   float64 `json:"pending_seconds"`
	Utilization      float64 `json:"utilization"`
	ConstructorCalls int64   `json:"constructor_calls"`
	PeakQueuedBytes  int64   `json:"peak_queued_bytes"`
	// PeakHeldBytes is the most its UDFs kept in memory between batches
	// (pipeline.OpMetrics' peak_held_bytes): a take_all sink's results.
	PeakHeldBytes int64 `json:"peak_held_bytes,omitempty"`
	// Read is the read operator's storage stats (object stores, Parquet,
	// shards); nil elsewhere.
	Read *ReadStats `json:"read,omitempty"`
	// RowsConverted counts rows converted from per-row objects to columns.
	RowsConverted int64   `json:"rows_converted,omitempty"`
	TaskP50       float64 `json:"task_p50_seconds"`
	TaskP95       float64 `json:"task_p95_seconds"`
	// Restarts, Retries and FailedBatches are the operator's recovery:
	// pipeline.OpMetrics' actor_restarts, task_retries and failed_batches.
	Restarts      int64 `json:"actor_restarts,omitempty"`
	Retries       int64 `json:"task_retries,omitempty"`
	FailedBatches int64 `json:"failed_batches,omitempty"`
	// Stragglers and Stalls count what the engine's detectors found in
	// the stage (pipeline.DetectOptions); Detections lists them, the
	// worst straggler always among them.
	Stragglers int64       `json:"stragglers,omitempty"`
	Stalls     int64       `json:"stalls,omitempty"`
	Detections []Detection `json:"detections,omitempty"`
}

// Detection is one straggler or stall the engine's detectors found in a
// stage: pipeline.Detection in seconds since the run's start.
type Detection struct {
	Stage string `json:"stage"`
	// Kind is "straggler" (a task past its stage's mean + k·σ) or
	// "stall" (input waited while no task finished).
	Kind string `json:"kind"`
	// Task is the straggler's task, numbered in the order the stage took
	// its input; -1 for a stall.
	Task int64 `json:"task"`
	// At is when it was found; Start when the task began or the stage
	// last moved; Duration how long the task ran or the stall lasted;
	// Threshold what it went past.
	AtSeconds        float64 `json:"at_seconds"`
	StartSeconds     float64 `json:"start_seconds"`
	DurationSeconds  float64 `json:"duration_seconds"`
	ThresholdSeconds float64 `json:"threshold_seconds"`
	// TaskMean and TaskStd describe the stage's finished tasks when it
	// was found, TasksCompleted counts them (0 on a stall: before the
	// first task finished); QueuedRows is the input then waiting.
	TaskMeanSeconds float64 `json:"task_mean_seconds"`
	TaskStdSeconds  float64 `json:"task_std_seconds"`
	TasksCompleted  int64   `json:"tasks_completed"`
	QueuedRows      int64   `json:"queued_rows"`
}

// NewDetection converts the engine's detection.
func NewDetection(d pipeline.Detection) Detection {
	return Detection{Stage: d.Op, Kind: string(d.Kind), Task: d.Task,
		AtSeconds: d.At.Seconds(), StartSeconds: d.Start.Seconds(), DurationSeconds: d.Duration.Seconds(),
		ThresholdSeconds: d.Threshold.Seconds(), TaskMeanSeconds: d.Mean.Seconds(), TaskStdSeconds: d.Std.Seconds(),
		TasksCompleted: d.Completed, QueuedRows: d.Queued}
}

// OpDetections converts an operator's detections for its OpRecord (see
// pipeline.OpMetrics.DetectionList).
func OpDetections(m pipeline.OpMetrics) []Detection {
	var out []Detection
	for _, d := range m.DetectionList() {
		out = append(out, NewDetection(d))
	}
	return out
}

// String says what was found in one line, in the engine's words.
func (d Detection) String() string {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	return pipeline.Detection{Kind: pipeline.IssueKind(d.Kind), Op: d.Stage, Task: d.Task,
		At: sec(d.AtSeconds), Start: sec(d.StartSeconds), Duration: sec(d.DurationSeconds), Threshold: sec(d.ThresholdSeconds),
		Mean: sec(d.TaskMeanSeconds), Std: sec(d.TaskStdSeconds), Completed: d.TasksCompleted, Queued: d.QueuedRows}.String()
}

// Detections lists every stage's stragglers and stalls, in stage order.
func (r *Record) Detections() []Detection {
	var out []Detection
	for _, o := range r.Ops {
		out = append(out, o.Detections...)
	}
	return out
}

// Fingerprint identifies the machine and software a record came from.
type Fingerprint struct {
	CPUModel    string    `json:"cpu_model"`
	Cores       int       `json:"cores"`
	MemoryBytes int64     `json:"memory_bytes"`
	GPU         string    `json:"gpu,omitempty"`
	Driver      string    `json:"driver,omitempty"`
	ORTVersion  string    `json:"ort_version"`
	ORTLibrary  string    `json:"ort_library"`
	Provider    string    `json:"execution_provider"`
	Decoder     string    `json:"decoder,omitempty"`
	Dataset     string    `json:"dataset"`
	DatasetN    int       `json:"dataset_count"`
	MeanBytes   float64   `json:"dataset_mean_bytes"`
	Version     string    `json:"workbench_version"`
	Commit      string    `json:"git_commit,omitempty"`
	Time        time.Time `json:"time"`
}

// WriteJSONFile writes records as one JSON document, atomically.
func WriteJSONFile(path string, recs []*Record) error {
	return writeAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			SchemaVersion int       `json:"schema_version"`
			Records       []*Record `json:"records"`
		}{SchemaVersion, recs})
	})
}

// writeAtomic writes through a temporary file renamed into place, so a
// reader never sees half a file and an interrupted write leaves none.
func writeAtomic(path string, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	// Like any output, the file gets 0666 masked by the umask, not the
	// 0600 of a temporary file.
	f, err := outfile.CreateTemp(dir, "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
