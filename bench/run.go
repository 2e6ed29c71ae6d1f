package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"workbench/classify"
	"workbench/model"
	"workbench/nvml"
	"workbench/pipeline"
)

// RunOptions say where a run writes and how it is measured.
type RunOptions struct {
	Out     string // output file
	JSON    bool   // write JSON lines instead of Parquet
	TakeAll bool   // materialise every result before writing
	// Warmup is excluded from steady-state throughput; Window is the
	// length of each measured window.
	Warmup, Window time.Duration
	Scenario       string
	Label          string
	Repeat         int
	Knobs          map[string]string
	Version        string
	Commit         string
	// SampleHz is the telemetry rate; 0 means nvml's default (4 Hz) and a
	// negative rate turns telemetry off.
	SampleHz float64
	// OnNoGPU is told once why no GPU is visible.
	OnNoGPU func(reason string)
}

// Run executes a planned job and measures it into a Record. A run that
// fails returns its error and a record with Status "failed" and the reason.
func Run(ctx context.Context, job *classify.Job, o RunOptions) (*Record, error) {
	// Hand the previous run's garbage (Go and C heaps) back to the OS
	// first: the peak is reset to the current RSS, which would otherwise
	// include it.
	debug.FreeOSMemory()
	trimCHeap()
	resetPeakRSS()
	stopTelemetry := startTelemetry(ctx, o.SampleHz, job.Config.Exec.Bus, o.OnNoGPU)
	cpu0 := pipeline.ProcessCPU()
	t0 := time.Now()
	err := job.Write(ctx, o.Out, o.JSON, o.TakeAll)
	wall := time.Since(t0)
	tel := stopTelemetry(job.Counters.ImagesInferred.Load())
	cpu := pipeline.ProcessCPU() - cpu0
	rec := newRecord(job, o)
	rec.WallSeconds = wall.Seconds()
	rec.CPUPercent = 100 * cpu.Seconds() / wall.Seconds()
	rec.PeakRSS = peakRSS()
	fillFromMetrics(rec, job, wall, o)
	rec.Telemetry = tel
	if err != nil {
		rec.Status = "failed"
		rec.Reason = err.Error()
		return rec, err
	}
	return rec, nil
}

func newRecord(job *classify.Job, o RunOptions) *Record {
	c := job.Config
	m := c.Model
	files := job.Dataset.Files()
	format := "parquet"
	if o.JSON {
		format = "json"
	}
	rec := &Record{
		SchemaVersion: SchemaVersion, Kind: "run", Scenario: o.Scenario, Label: o.Label, Repeat: o.Repeat,
		Notice: m.Notice(), Status: "ok",
		Config: RunConfig{
			Data: c.Data, Model: m.Name, ModelFile: m.Path, GFLOPs: m.GFLOPs(), Params: m.Params,
			Device: c.Session.Device.String(), Session: c.Session.String(),
			IntraOp: c.Session.IntraOpThreads, InterOp: c.Session.InterOpThreads, GraphOpt: c.Session.GraphOptimization,
			BatchSize: c.BatchSize, Concurrency: c.Concurrency.String(), Blocks: job.Dataset.NumBlocks(),
			Output: o.Out, Format: format, Knobs: o.Knobs,
		},
		Fingerprint: fingerprint(files, o),
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

func fillFromMetrics(rec *Record, job *classify.Job, wall time.Duration, o RunOptions) {
	ops := job.Dataset.Metrics()
	for _, s := range ops {
		mm := s.Metrics
		_, p50, p95 := mm.TaskDurations()
		rec.Ops = append(rec.Ops, OpRecord{
			Name: s.Name, Tasks: mm.TasksFinished, RowsOut: mm.RowsOut,
			WallSeconds: mm.Wall.Seconds(), BusySeconds: mm.BusyTime.Seconds(), CPUSeconds: mm.CPUTime.Seconds(),
			StarvedSeconds: mm.StarvedTime.Seconds(), BackpressSeconds: mm.BlockedTime.Seconds(),
			PendingSeconds: mm.PendingTime.Seconds(), Utilization: s.Utilization,
			ConstructorCalls: mm.ConstructorCalls, PeakQueuedBytes: mm.PeakQueuedBytes,
			TaskP50: p50.Seconds(), TaskP95: p95.Seconds(),
		})
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
	batches := job.Counters.Batches()
	rec.Batches = len(batches)
	if len(batches) > 0 {
		rec.TTFRSeconds = batches[0].At.Seconds()
	}
	lat := make([]time.Duration, len(batches))
	events := make([]Event, len(batches))
	for i, b := range batches {
		lat[i] = b.Latency
		events[i] = Event{At: b.At, Rows: b.Rows}
	}
	if l, err := LatencyPercentiles(lat); err == nil {
		rec.LatencyP50, rec.LatencyP95, rec.LatencyP99 = l.P50.Seconds(), l.P95.Seconds(), l.P99.Seconds()
	}
	var warn string
	rec.Windows, rec.SteadyTput, rec.Stable, warn = steadyState(events, wall, WindowConfig{Warmup: o.Warmup, Window: o.Window})
	if rec.SteadyTput == 0 {
		rec.SteadyTput = rec.Throughput
	}
	if warn != "" {
		rec.Warnings = append(rec.Warnings, warn)
	}
}

// steadyState cuts a run's batch completions into windows and judges them.
// With no window length given it uses up to twelve windows over the run,
// but never so short that a window holds fewer than about three batches: a
// window's throughput counts the batches that finished in it, so shorter
// windows read as 0 or a multiple of one batch, not a rate. With fewer than
// three windows it returns no windows and says why.
func steadyState(events []Event, wall time.Duration, cfg WindowConfig) (windows []float64, steady float64, stable bool, warn string) {
	if cfg.Window == 0 {
		perBatch := wall
		if len(events) > 0 {
			perBatch = wall / time.Duration(len(events))
		}
		cfg.Window = max(wall/12, 3*perBatch, 10*time.Millisecond)
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = cfg.Window
	}
	ws, err := Windows(events, cfg)
	switch {
	case err != nil:
		return nil, 0, false, "steady state: " + err.Error()
	case len(ws) < StabilityWindows:
		return nil, 0, false, fmt.Sprintf("steady state: only %d batches, too few for %d windows of 3 or more; "+
			"throughput is the whole run's and stability is unknown (use more images)", len(events), StabilityWindows)
	}
	stable = Stable(ws)
	if !stable {
		warn = "unstable: the last 3 throughput windows differ by more than 10%"
	}
	return Throughputs(ws), SteadyThroughput(ws), stable, warn
}

// inventory is probed once per process: NVML is initialised at most once
// anyway, and the machine does not change between runs.
var inventory = sync.OnceValue(nvml.Probe)

func fingerprint(files []string, o RunOptions) Fingerprint {
	inv := inventory()
	fp := Fingerprint{
		CPUModel: inv.Host.CPUModel, Cores: inv.Host.UsableCores, MemoryBytes: int64(inv.Host.MemTotalBytes),
		Driver:     inv.DriverVersion,
		ORTVersion: model.Version(), ORTLibrary: model.LoadedLibrary(),
		DatasetN: len(files), Version: o.Version, Commit: o.Commit, Time: time.Now().UTC(),
	}
	if len(inv.GPUs) > 0 {
		fp.GPU = fmt.Sprintf("%d× %s", len(inv.GPUs), inv.GPUs[0].Name)
		if inv.CUDADriverVersion != "" {
			fp.Driver += " (CUDA " + inv.CUDADriverVersion + ")"
		}
	} else {
		fp.GPU = inv.NVMLReason
	}
	if len(files) > 0 {
		fp.Dataset = commonDir(files)
		var total int64
		for _, f := range files {
			if st, err := os.Stat(f); err == nil {
				total += st.Size()
			}
		}
		fp.MeanBytes = float64(total) / float64(len(files))
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

// resetPeakRSS resets the kernel's VmHWM for this process (clear_refs value
// 5), so each run in one process reports its own peak.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is VmHWM from /proc/self/status, in bytes.
func peakRSS() int64 { return procStatusKB("/proc/self/status", "VmHWM:") * 1024 }

func procStatusKB(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}
