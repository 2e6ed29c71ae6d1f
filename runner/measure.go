package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"workbench/bench"
	"workbench/classify"
	"workbench/datasource"
	"workbench/model"
	"workbench/nvml"
	"workbench/pipeline"
	"workbench/vision"
)

// Run resolves cfg and executes it: the one run path. A run that fails
// returns its error and, when it got as far as running, a record with
// Status "failed" and the reason.
func Run(ctx context.Context, cfg Config) (*bench.Record, error) {
	p, err := Resolve(cfg)
	if err != nil {
		return nil, err
	}
	return Execute(ctx, p)
}

// Execute runs a resolved plan and measures it into a record. The output
// goes to the plan's Config.Out, or into a temporary folder removed
// afterwards; the pipeline's log goes to Config.Log, or to a temporary
// file whose lines are counted.
func Execute(ctx context.Context, p *Plan) (*bench.Record, error) {
	rec, _, err := execute(ctx, p)
	return rec, err
}

// execute is Execute that also returns the job, for tests that look at
// its operators.
func execute(ctx context.Context, p *Plan) (*bench.Record, *classify.Job, error) {
	dir, err := os.MkdirTemp("", "workbench-run-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	out := p.Config.Out
	if out == "" || datasource.IsRemote(out) {
		// A remote --out is written here first, then committed (remoteOut).
		out = filepath.Join(dir, "out"+p.Ext())
	}
	logw := &lineCounter{w: p.Config.Log}
	if logw.w == nil {
		f, err := os.Create(filepath.Join(dir, "run.log"))
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		logw.w = f
	}
	jc := p.Job
	if p.Streams && p.Source == nil {
		// A fresh walk per execution: a listing that streams is used once
		// (a datasource takes a fresh pass by itself).
		if jc.Listing, err = classify.ImageSource(p.Config.Data); err != nil {
			return nil, nil, &DataError{What: "data", Err: err}
		}
	}
	proto := p.protocol()
	cycled := 1.0
	if p.Config.Cycle && len(jc.Files) > 0 {
		if f := proto.CycleFactor(len(jc.Files), jc.BatchSize, jc.Concurrency.Max); f > 1 {
			jc.Files = classify.CycleFiles(jc.Files, proto.RowsNeeded(jc.BatchSize, jc.Concurrency.Max))
			cycled = f
		}
	}
	if p.Effective.HotPathLogging && jc.HotPathLog == nil {
		jc.HotPathLog = logw
	}
	if p.Config.Out != "" {
		// Before any work: a folder the output cannot go to fails now.
		if err := checkWritable(filepath.Dir(out)); err != nil {
			return nil, nil, &DataError{What: "out", Err: err}
		}
	}
	if p.Config.Checkpoint != "" {
		if jc.Checkpoint, err = openCheckpoint(p); err != nil {
			return nil, nil, err
		}
		// The write closes it first; this covers a run that never got there.
		defer jc.Checkpoint.Close(false)
	}
	job, err := classify.NewJob(jc)
	if err != nil {
		return nil, nil, &ConfigError{Problems: []error{err}}
	}
	stopThreads := sampleThreads()
	rec, err := measure(ctx, job, p, out)
	if cycled > 1 {
		rec.Cycled = cycled
		// The read saw the cycled rows; the dataset is the distinct files.
		rec.Fingerprint.DatasetN = len(p.Job.Files)
		rec.Warnings = append(rec.Warnings, fmt.Sprintf("cycled: %.1f× over %d images, so that the windows at batch %d fill",
			cycled, len(p.Job.Files), jc.BatchSize))
	}
	rec.PeakThreads = stopThreads()
	rec.LogLines = logw.lines.Load()
	rec.OutputBytes = fileSize(out)
	rec.PreprocessSetups = job.Counters.Preprocessors.Load()
	rec.Warnings = append(rec.Warnings, p.Notes...)
	rec.Notes = p.Notes
	if ck := jc.Checkpoint; ck != nil {
		rec.Config.Checkpoint = p.Config.Checkpoint
		rec.Computed, rec.FromCheckpoint = rec.Images, ck.Restored()
		rec.Images += ck.Restored()
		rec.Errors += ck.RestoredErrors()
		if err != nil && ck.Rows() > 0 {
			err = &ResumeError{Err: err, Checkpoint: p.Config.Checkpoint, Rows: ck.Rows()}
			rec.Reason = err.Error()
		}
	}
	if err == nil && datasource.IsRemote(p.Config.Out) {
		err = commitRemote(ctx, p.Config.Out, out)
	}
	if err != nil {
		return rec, job, err
	}
	if p.Config.Ceiling {
		c, cerr := bench.Ceiling(ctx, bench.CeilingOptions{Model: jc.Model, Session: jc.Session,
			Batch: jc.BatchSize, Sessions: jc.Concurrency.Max, Warmup: 1, Iters: 6})
		if cerr != nil {
			return rec, job, fmt.Errorf("ceiling: %w", cerr)
		}
		rec.CeilingTput = c.Summary.Center
	}
	if p.Config.Peak {
		pk, perr := model.CachedPeak(jc.Session)
		if perr != nil {
			rec.Warnings = append(rec.Warnings, "compute peak: "+perr.Error())
		} else {
			rec.PeakGFLOPS = pk.GFLOPs
		}
	}
	return rec, job, nil
}

// measure executes job into out and measures it.
func measure(ctx context.Context, job *classify.Job, p *Plan, out string) (*bench.Record, error) {
	// Hand the previous run's garbage (Go and C heaps) back to the OS
	// first: the peak is reset to the current RSS, which would otherwise
	// include it.
	debug.FreeOSMemory()
	trimCHeap()
	pipeline.ResetPeakRSS()
	hz := p.Config.SampleHz
	if hz == 0 {
		hz = -1 // bench's convention for off
	}
	stopTelemetry := bench.StartTelemetry(ctx, hz, job.Config.Exec.Bus, nil)
	cpu0 := pipeline.ProcessCPU()
	growth := bench.NewRSSSampler()
	stopGrowth := sampleGrowth(growth, &job.Counters.ImagesInferred)
	t0 := time.Now()
	err := job.Write(ctx, out, p.Format, p.TakeAll)
	wall := time.Since(t0)
	stopGrowth()
	tel := stopTelemetry(job.Counters.ImagesInferred.Load())
	cpu := pipeline.ProcessCPU() - cpu0
	rec := newRecord(job, p, out)
	rec.WallSeconds = wall.Seconds()
	rec.CPUPercent = 100 * cpu.Seconds() / wall.Seconds()
	rec.PeakRSS = pipeline.PeakRSS()
	if g, spread, ok := growth.Growth(); ok {
		rec.RSSGrowthPer1k, rec.RSSGrowthPer1kSpread = g, spread
	}
	fillFromMetrics(rec, job, wall, p.protocol())
	sourceStats(rec, job, p)
	rec.Telemetry = tel
	if err != nil {
		rec.Status = "failed"
		rec.Reason = err.Error()
		return rec, err
	}
	return rec, nil
}

func newRecord(job *classify.Job, p *Plan, out string) *bench.Record {
	c := job.Config
	m := c.Model
	format := p.Format
	label := p.Config.Label
	if label == "" {
		label = p.Scenario.Name
	}
	knobs := p.Effective
	if knobs.Blocks < 0 && p.Streams {
		// Decided by the rows the run read (effective): say what it did.
		knobs.Blocks = job.Dataset.NumBlocks()
	}
	rec := &bench.Record{
		SchemaVersion: bench.SchemaVersion, Kind: "run", Scenario: p.Scenario.Name, Label: label, Repeat: p.Config.Repeat,
		Notice: m.Notice(), Status: "ok",
		Config: bench.RunConfig{
			Data: c.Data, Model: m.Name, ModelFile: m.Path, GFLOPs: m.GFLOPs(), Params: m.Params,
			Device: c.Session.Device.String(), Session: c.Session.String(),
			IntraOp: c.Session.IntraOpThreads, InterOp: c.Session.InterOpThreads, GraphOpt: c.Session.GraphOptimization,
			BatchSize: c.BatchSize, Concurrency: c.Concurrency.String(), Blocks: job.Dataset.NumBlocks(),
			Output: p.Config.Out, Format: format,
			Knobs: KnobValues(&knobs), Asked: KnobValues(&p.Asked), Sources: sourceNames(p.Sources),
		},
		Fingerprint: fingerprint(),
		BatchProbe:  p.BatchProbe,
	}
	fp := &rec.Fingerprint
	if len(p.Files) > 0 {
		fp.Dataset = commonDir(p.Files)
	} else if datasource.IsRemote(c.Data) {
		fp.Dataset = c.Data // a URI: Clean would fold its "//"
	} else if c.Data != "" {
		fp.Dataset = filepath.Clean(c.Data)
	}
	// The dataset's size as the read saw it: listing and statting every
	// file beforehand is what a streamed listing avoids.
	rows, files, bytes := job.Dataset.ReadTotals()
	fp.DatasetN = int(rows)
	if files > 0 {
		fp.MeanBytes = float64(bytes) / float64(files)
	}
	r := job.Recipe()
	rec.Config.Input, rec.Config.Recipe, rec.Config.RecipeFrom = m.InputShape(), r.String(), recipeFrom(m.RecipeSource, p.Asked.Recipe)
	if pr := vision.PresetOf(r); pr != "" {
		rec.Config.Recipe = pr + ": " + rec.Config.Recipe
	}
	rec.Config.Provider = "CPUExecutionProvider"
	if c.Session.Device.Kind == model.DeviceCUDA {
		rec.Config.Provider = "CUDAExecutionProvider"
	}
	rec.Fingerprint.Provider = rec.Config.Provider
	if c.Decoder != nil {
		rec.Fingerprint.Decoder = c.Decoder.Name()
	}
	return rec
}

// sourceNames lists the knobs set above the defaults with their layer.
func sourceNames(src map[string]Layer) map[string]string {
	out := map[string]string{}
	for k, l := range src {
		if l != LayerDefault {
			out[k] = l.String()
		}
	}
	return out
}

func fillFromMetrics(rec *bench.Record, job *classify.Job, wall time.Duration, proto bench.Protocol) {
	ops := job.Dataset.Metrics()
	for _, s := range ops {
		mm := s.Metrics
		_, p50, p95 := mm.TaskDurations()
		rec.Ops = append(rec.Ops, bench.OpRecord{
			Name: s.Name, Tasks: mm.TasksFinished, RowsOut: mm.RowsOut,
			WallSeconds: mm.Wall.Seconds(), BusySeconds: mm.BusyTime.Seconds(), CPUSeconds: mm.CPUTime.Seconds(),
			StarvedSeconds: mm.StarvedTime.Seconds(), BackpressSeconds: mm.BlockedTime.Seconds(),
			PendingSeconds: mm.PendingTime.Seconds(), Utilization: s.Utilization,
			ConstructorCalls: mm.ConstructorCalls, PeakQueuedBytes: mm.PeakQueuedBytes,
			PeakHeldBytes: mm.PeakHeldBytes,
			RowsConverted: mm.RowsConverted,
			TaskP50:       p50.Seconds(), TaskP95: p95.Seconds(),
			Restarts: mm.ActorRestarts, Retries: mm.TaskRetries, FailedBatches: mm.FailedBatches,
			Stragglers: mm.Stragglers, Stalls: mm.Stalls, Detections: bench.OpDetections(mm),
		})
		rec.ActorRestarts += mm.ActorRestarts
		rec.TaskRetries += mm.TaskRetries
		rec.FailedBatches += mm.FailedBatches
	}
	if len(ops) > 0 {
		last := ops[len(ops)-1].Metrics
		rec.Images = int(last.RowsOut)
		rec.Bottleneck = pipeline.FindBottleneck(ops).String()
	}
	rec.Errors = job.Errors()
	if wall > 0 {
		rec.Throughput = float64(rec.Images) / wall.Seconds()
	}
	rec.ModelLoads = job.Counters.ModelLoads.Load()
	rec.ForwardPasses = job.Counters.ForwardPasses.Load()
	if ts, ok := job.TensorStats(); ok {
		rec.TensorPool = ts.String()
	}
	n, first, lat := job.Counters.BatchStats()
	rec.Batches = int(n)
	if n > 0 {
		rec.TTFRSeconds = first.Seconds()
	}
	batches := job.Counters.Batches()
	events := make([]bench.Event, len(batches))
	for i, b := range batches {
		events[i] = bench.Event{At: b.At, Rows: b.Rows}
	}
	if l, err := bench.LatencyPercentiles(lat); err == nil {
		rec.LatencyP50, rec.LatencyP95, rec.LatencyP99 = l.P50.Seconds(), l.P95.Seconds(), l.P99.Seconds()
	}
	proto.ApplyRun(rec, events, wall, job.Config.Concurrency.Max)
}

// protocol is the plan's measurement protocol, defaults filled in.
func (p *Plan) protocol() bench.Protocol {
	if p.Config.Protocol != nil {
		return p.Config.Protocol.WithDefaults()
	}
	return bench.DefaultProtocol
}

// inventory is probed once per process: NVML is initialised at most once
// anyway, and the machine does not change between runs.
var inventory = sync.OnceValue(nvml.Probe)

// fingerprint is the machine and build a record ran on; the dataset's part
// is filled in from what the run read (newRecord).
func fingerprint() bench.Fingerprint {
	inv := inventory()
	b := bench.Build()
	fp := bench.Fingerprint{
		CPUModel: inv.Host.CPUModel, Cores: inv.Host.UsableCores, MemoryBytes: int64(inv.Host.MemTotalBytes),
		Driver:     inv.DriverVersion,
		ORTVersion: model.Version(), ORTLibrary: model.LoadedLibrary(),
		Version: b.Version, Commit: b.Revision, Time: time.Now().UTC(),
	}
	if len(inv.GPUs) > 0 {
		fp.GPU = fmt.Sprintf("%d× %s", len(inv.GPUs), inv.GPUs[0].Name)
		if inv.CUDADriverVersion != "" {
			fp.Driver += " (CUDA " + inv.CUDADriverVersion + ")"
		}
	} else {
		fp.GPU = inv.NVMLReason
	}
	return fp
}

func commonDir(files []string) string {
	dir := files[0]
	for _, f := range files[1:] {
		for !strings.HasPrefix(f, dir) {
			i := strings.LastIndexByte(strings.TrimSuffix(dir, "/"), '/')
			if i < 0 {
				return "."
			}
			dir = dir[:i+1]
		}
	}
	return strings.TrimSuffix(dir, "/")
}

// lineCounter counts newlines written through it.
type lineCounter struct {
	w     io.Writer
	lines atomic.Int64
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.lines.Add(int64(bytes.Count(p, []byte{'\n'})))
	return c.w.Write(p)
}

// fileSize returns the size of the file at path, 0 when it is missing.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// sampleThreads polls the process's OS thread count every 20ms until the
// returned function is called, which returns the peak. Reading
// /proc/self/status is a few microseconds, so the sampling costs nothing
// measurable.
// sampleGrowth feeds s the process's RSS against the rows inferred so far,
// every 20 ms until stop is called, for rss_growth_per_1k_images. It polls
// rather than following the event bus, which a run may not have.
func sampleGrowth(s *bench.RSSSampler, rows *atomic.Int64) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				s.Add(rows.Load(), bench.CurrentRSS())
				return
			case <-t.C:
				s.Add(rows.Load(), bench.CurrentRSS())
			}
		}
	}()
	return func() { close(quit); <-done }
}

func sampleThreads() (stop func() int64) {
	var peak atomic.Int64
	quit, done := make(chan struct{}), make(chan struct{})
	sample := func() {
		if n := pipeline.OSThreads(); n > peak.Load() {
			peak.Store(n)
		}
	}
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(quit)
		<-done
		return peak.Load()
	}
}

// recipeFrom says where the applied recipe came from: the model's source,
// and the knobs set over it.
func recipeFrom(modelSource string, knobs map[string]string) string {
	if len(knobs) == 0 {
		return modelSource
	}
	keys := slices.Sorted(maps.Keys(knobs))
	return modelSource + ", then knobs " + strings.Join(keys, ", ")
}
