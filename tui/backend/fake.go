package backend

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"workbench/bench"
	"workbench/nvml"
	"workbench/pipeline"
)

// Fake is a deterministic Backend for tests and demos: its runs publish a
// fixed script of snapshots and telemetry, computed from the knobs, with no
// sleeping and no randomness, then return a record that agrees with them.
type Fake struct {
	// Cores is the machine the fake pretends to be (default 2).
	Cores int
	// Steps is how many snapshots a run publishes (default 8).
	Steps int
	// Total is the rows each run processes (default 240).
	Total int64
	// Gate, when set, is received from before a run's last snapshot, so a
	// test can look at a run in flight.
	Gate chan struct{}
	// Cluster, when set, is the Ray cluster the Jobs screen shows.
	Cluster *FakeJobs
	// GPU, when set, makes each sampler the GPU screen watches (FakeGPUs);
	// without it the screen sees a machine without a GPU (FakeNoGPU).
	GPU func() nvml.Sampler

	mu       sync.Mutex
	Exported []string // kinds passed to Export, in order
	Saved    []Knobs
}

var _ Backend = (*Fake)(nil)

func (f *Fake) cores() int   { return cmpOr(f.Cores, 2) }
func (f *Fake) steps() int   { return cmpOr(f.Steps, 8) }
func (f *Fake) total() int64 { return int64(cmpOr(int(f.Total), 240)) }
func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Info implements Backend.
func (f *Fake) Info() Info {
	return Info{
		Device: fmt.Sprintf("cpu · %d cores · no NVIDIA GPU (fake)", f.cores()), Cores: f.cores(),
		Dataset: "data/synth (240 synthetic JPEGs)", Model: "tiny", Images: int(f.total()),
		Notice: "model tiny: untrained weights: throughput is representative, labels are not",
		Note:   "fake backend: numbers are scripted, not measured", Left: "slow", Right: "optimized",
	}
}

// FakeScenarios are the fake's scenarios: the slow pipeline, the optimized
// one, and one mistake.
var FakeScenarios = []Scenario{
	{Name: "slow", Title: "Everything the slow way",
		Mistake: "def classify(batch):\n    model = ort.InferenceSession(\"model.onnx\")          # loaded every call\n" +
			"    img = preprocess(Image.open(path), Resize(...))  # transform rebuilt, decoded here\n" +
			"ds.map_batches(classify, batch_size=1).take_all()  → json\n" +
			"batch 1, one block, the model loaded in every task",
		Why: "each image pays a model load and a forward pass of its own; one block means one task at a time",
		Fix: "use an actor pool, batch 64, 16 blocks", Expect: "an order of magnitude slower",
		Knobs: Knobs{Batch: 1, Concurrency: 1, Blocks: 1, IntraOp: 1, Device: "cpu"}},
	{Name: "optimized", Title: "The right way",
		Mistake: "none", Why: "actors load the model once, batches amortise each call, blocks keep every stage busy",
		Fix: "—", Expect: "CPU-bound in the model",
		Knobs: Knobs{Batch: 64, Concurrency: 2, Blocks: 16, IntraOp: 1, Device: "cpu"}},
	{Name: "tiny-batch", Title: "Batch size 1",
		Mistake: "batch_size=1", Why: "a forward pass has a fixed cost that a batch of one never amortises",
		Fix: "raise batch_size to 32–64", Expect: "2–4× slower than optimized",
		Knobs: Knobs{Batch: 1, Concurrency: 2, Blocks: 16, IntraOp: 1, Device: "cpu"}},
}

// Scenarios implements Backend.
func (f *Fake) Scenarios() []Scenario { return FakeScenarios }

// Rate is the fake's throughput for knobs: more batch and concurrency help
// with diminishing returns, so sweeps and tuning have a shape to find.
func Rate(k Knobs) float64 {
	b := math.Log2(float64(max(k.Batch, 1))) + 1
	c := math.Min(float64(max(k.Concurrency, 1)), 2)
	blocks := math.Min(float64(max(k.Blocks, 1)), 8)
	return math.Round(10 * b * c * (0.5 + blocks/16))
}

func (f *Fake) knobs(spec RunSpec) Knobs {
	if spec.Knobs != nil {
		return *spec.Knobs
	}
	if s, ok := Find(FakeScenarios, spec.Scenario); ok {
		return s.Knobs
	}
	return FakeScenarios[1].Knobs
}

// Script returns the events a fake run with knobs publishes: steps
// snapshots evenly spaced over the run's wall time (total rows at Rate),
// each followed by a telemetry sample, the last one Done.
func Script(k Knobs, total int64, steps, cores int) []pipeline.Event {
	wall := fakeWall(k, total)
	evs := []pipeline.Event{{Payload: pipeline.Stat{Name: "batch_size", Value: int64(k.Batch)}}}
	names := []string{"ReadImages", "MapBatches(Preprocess)", "MapBatches(Classify)", "Write"}
	for i := 1; i <= steps; i++ {
		at := time.Duration(float64(wall) * float64(i) / float64(steps))
		// A small deterministic wobble, so charts have a shape.
		done := min(total, int64(float64(total)*float64(i)/float64(steps)*(1+0.04*float64(i%3-1))))
		last := i == steps
		if last {
			done = total
		}
		ops := make([]pipeline.OpSnapshot, len(names))
		for j, n := range names {
			m := pipeline.OpMetrics{
				RowsOut: min(total, done+int64((len(names)-1-j)*k.Batch)), State: pipeline.StateRunning,
				TasksRunning: int64(min(j+1, k.Concurrency)), QueuedRows: int64((3 - j) * k.Batch),
				QueuedBytes: int64((3-j)*k.Batch) * 150528 * 4, Batches: done / int64(max(k.Batch, 1)),
			}
			util := []float64{0.2, 0.5, 0.95, 0.1}[j]
			if j == 1 {
				m.State, m.BackpressuredBy = pipeline.StateBackpressured, "outputs"
			}
			if j == 2 {
				m.ConstructorCalls = int64(k.Concurrency)
				if k.Batch == 1 && k.Blocks == 1 {
					m.ConstructorCalls = done // the model loaded in every task
				}
			}
			if last {
				m.State, m.TasksRunning, m.QueuedRows, m.QueuedBytes, m.BackpressuredBy = pipeline.StateDone, 0, 0, 0, ""
				m.RowsOut = total
			}
			ops[j] = pipeline.OpSnapshot{Name: n, Metrics: m, Utilization: util}
		}
		evs = append(evs, pipeline.Event{Snapshot: &pipeline.Snapshot{At: at, Ops: ops, RowsDone: done, RowsTotal: total, Done: last}})
		cpu := math.Min(float64(cores), 0.4+float64(k.Concurrency)*0.7)
		evs = append(evs, pipeline.Event{Payload: nvml.Sample{ElapsedS: at.Seconds(),
			Host: nvml.HostSample{ProcCPUCores: cpu * (0.9 + 0.05*float64(i%3)), ProcRSSBytes: uint64(200+20*i) << 20}}})
	}
	return evs
}

// fakeWall is how long a fake run of total rows at Rate takes.
func fakeWall(k Knobs, total int64) time.Duration {
	return time.Duration(float64(total) / Rate(k) * float64(time.Second))
}

// Record returns the record a fake run with knobs ends with.
func Record(name string, k Knobs, total int64, steps int) *bench.Record {
	rate := Rate(k)
	wall := fakeWall(k, total).Seconds()
	ws := make([]float64, 10)
	for i := range ws {
		ws[i] = rate * (0.97 + 0.01*float64(i%4))
	}
	return &bench.Record{
		SchemaVersion: bench.SchemaVersion, Kind: "run", Scenario: name, Label: k.String(), Status: "ok",
		Config: bench.RunConfig{Model: "tiny", BatchSize: k.Batch, Concurrency: strconv.Itoa(k.Concurrency), Blocks: k.Blocks, IntraOp: k.IntraOp, Device: k.Device},
		Images: int(total), WallSeconds: wall, Throughput: float64(total) / wall, SteadyTput: rate, Windows: ws,
		Batches:     int((total + int64(max(k.Batch, 1)) - 1) / int64(max(k.Batch, 1))),
		TTFRSeconds: wall / float64(steps), LatencyP95: 1.2 * float64(max(k.Batch, 1)) / rate, ModelLoads: int64(k.Concurrency), PeakRSS: 360 << 20,
		Bottleneck: "MapBatches(Classify) (busy 95%; the other operators kept up)",
		Params:     map[string]string{"batch": strconv.Itoa(k.Batch), "concurrency": strconv.Itoa(k.Concurrency)},
	}
}

// Run implements Backend: it publishes Script and returns Record.
func (f *Fake) Run(ctx context.Context, spec RunSpec, bus *pipeline.EventBus) (*bench.Record, error) {
	k := f.knobs(spec)
	evs := Script(k, f.total(), f.steps(), f.cores())
	for i, e := range evs {
		if f.Gate != nil && i == len(evs)-2 {
			select {
			case <-f.Gate:
			case <-ctx.Done():
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		bus.Publish(e)
	}
	return Record(spec.Scenario, k, f.total(), f.steps()), nil
}

// Sweep implements Backend through the real bench.Sweep, measured by the
// default protocol with Model Analyzer's early exit as the CLI's sweep is:
// each cell is one scripted run whose windows (Record's, ±1.5% about Rate)
// are its samples, so cells whose Rates lie within a few percent tie;
// cells with batch above 128 fail out of memory, and larger batches at the
// same other settings are then skipped.
func (f *Fake) Sweep(ctx context.Context, spec SweepSpec, onRecord func(*bench.Record)) (*bench.SweepResult, error) {
	var g bench.Grid
	for _, a := range spec.Axes() {
		if err := g.AddInts(a.Name, a.Values); err != nil {
			return nil, err
		}
	}
	obj, err := bench.ParseObjective(cmp.Or(spec.Objective, "steady"))
	if err != nil {
		return nil, err
	}
	cons, err := bench.ParseConstraints(spec.Constraints)
	if err != nil {
		return nil, err
	}
	proto := bench.DefaultProtocol.WithDefaults()
	opts := bench.SweepOptions{Grid: g, Objective: obj, Constraints: cons, Scenario: spec.Scenario, Protocol: &proto,
		EarlyExit: &bench.DefaultEarlyExit, OnRecord: func(r *bench.Record) { c := *r; onRecord(&c) }}
	return bench.Sweep(ctx, opts, func(ctx context.Context, cell map[string]string, repeat int) (*bench.Record, error) {
		k := f.knobs(RunSpec{Scenario: spec.Scenario})
		k.Batch, _ = strconv.Atoi(cell["batch"])
		k.Concurrency, _ = strconv.Atoi(cell["concurrency"])
		if b, ok := cell["blocks"]; ok {
			k.Blocks, _ = strconv.Atoi(b)
		}
		rec := Record(spec.Scenario, k, f.total(), f.steps())
		rec.Label, rec.Protocol, rec.Stable, rec.WindowsIndependent = "", &proto, true, true
		if k.Batch > 128 {
			return nil, fmt.Errorf("batch %d: CUDA failure 2: out of memory", k.Batch)
		}
		return rec, nil
	})
}

// ExportRay implements Backend: it records the export and names the folder
// it would write.
func (f *Fake) ExportRay(scenario string, recs []*bench.Record) (string, error) {
	if _, ok := bench.BestCell(recs); !ok {
		return "", fmt.Errorf("no completed cell to export")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Exported = append(f.Exported, "ray")
	return "ray-" + scenario, nil
}

// Diagnose implements Backend.
func (f *Fake) Diagnose(rec *bench.Record) string {
	if rec.Config.BatchSize == 1 {
		return "batch size 1: each forward pass pays its fixed cost for one image"
	}
	return "CPU-bound in MapBatches(Classify): the model is the bottleneck, as it should be"
}

// Export implements Backend.
func (f *Fake) Export(kind string, recs []*bench.Record) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Exported = append(f.Exported, kind)
	return "reports/" + kind + ".html", nil
}

// SaveScenario implements Backend.
func (f *Fake) SaveScenario(base string, k Knobs) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Saved = append(f.Saved, k)
	return "scenarios/" + base + "-tuned.yaml", nil
}

// Lesson implements Backend: slow, then each fix in turn.
func (f *Fake) Lesson() []Step {
	ks := []Knobs{
		{Batch: 1, Concurrency: 1, Blocks: 1, IntraOp: 1, Device: "cpu"},
		{Batch: 1, Concurrency: 1, Blocks: 16, IntraOp: 1, Device: "cpu"},
		{Batch: 64, Concurrency: 1, Blocks: 16, IntraOp: 1, Device: "cpu"},
		{Batch: 64, Concurrency: 2, Blocks: 16, IntraOp: 1, Device: "cpu"},
	}
	titles := []string{"The slow pipeline", "Split the data into blocks", "Batch the model calls", "Two actors, one per core"}
	mistakes := []string{"everything the slow way", "one block", "batch size 1", "one actor"}
	out := make([]Step, len(ks))
	for i := range ks {
		out[i] = Step{Title: titles[i], Mistake: mistakes[i],
			Explain: "Scripted explanation of step " + strconv.Itoa(i) + ": what changes and why it helps.",
			Spec:    RunSpec{Scenario: "step" + strconv.Itoa(i), Label: titles[i], Knobs: &ks[i]}}
	}
	return out
}

// Jobs implements JobsBackend: the fake cluster, or none.
func (f *Fake) Jobs() Jobs {
	if f.Cluster == nil {
		return nil
	}
	return f.Cluster
}
