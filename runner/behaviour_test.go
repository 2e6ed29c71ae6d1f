package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"workbench/bench"
	"workbench/classify"
	"workbench/model"
	"workbench/pipeline"
	"workbench/vision"
)

// Behavioural tests: one per mistake, each asserting the mechanism (what
// is loaded, counted, queued or written), never a timing. They run the
// real pipeline with the tiny model on a few dozen synthetic JPEGs.

var testData = sync.OnceValues(func() (string, error) {
	if _, err := model.InitFromFlag(""); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "scenarios-test-")
	if err != nil {
		return "", err
	}
	_, err = vision.Synthesize(dir, 48, 3)
	return dir, err
})

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := testData(); err == nil && dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// harness is one scenario run: its knobs, the plan and what came out.
type harness struct {
	name   string
	images int
	set    map[string]string
	tweak  func(*classify.JobConfig)

	plan   *Plan
	job    *classify.Job
	rec    *bench.Record
	ops    []pipeline.OpSnapshot
	out    string
	log    *strings.Builder
	warn   []string
	runErr error
}

func (h *harness) run(t *testing.T) *harness {
	t.Helper()
	dir, err := testData()
	if err != nil {
		t.Skipf("no ORT or data: %v", err)
	}
	h.log = &strings.Builder{}
	var mu sync.Mutex
	cfg := Config{Scenario: h.name, Set: settings(h.set), Model: "tiny", Data: dir, Images: h.images, Log: syncWriter{&mu, h.log},
		Warnf: func(f string, a ...any) { mu.Lock(); h.warn = append(h.warn, f); mu.Unlock() }}
	return h.execute(t, cfg, t.TempDir())
}

// settings turns a knob map into --set settings, in name order.
func settings(m map[string]string) []Setting {
	var out []Setting
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, Setting{Knob: k, Value: m[k]})
	}
	return out
}

// testMachine is 2 cores and gpus GPUs whose CUDA provider always loads.
func testMachine(gpus int) machine {
	return machine{cores: 2, gpus: gpus, probe: func(int) error { return nil }}
}

// testPlan resolves cfg on testMachine(gpus).
func testPlan(t *testing.T, cfg Config, gpus int) *Plan {
	t.Helper()
	s, src, err := LoadScenario(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := resolve(cfg, s, src, testMachine(gpus))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// execute plans cfg on a 2-core machine without a GPU, applies the
// harness's tweak and runs it, writing into dir.
func (h *harness) execute(t *testing.T, cfg Config, dir string) *harness {
	t.Helper()
	h.plan = testPlan(t, cfg, 0)
	if h.tweak != nil {
		h.tweak(&h.plan.Job)
	}
	h.out = filepath.Join(dir, "out"+h.plan.Ext())
	h.plan.Config.Out = h.out
	h.rec, h.job, h.runErr = execute(context.Background(), h.plan)
	if h.job != nil {
		h.ops = h.job.Dataset.Metrics()
	}
	return h
}

type syncWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (h *harness) mustOK(t *testing.T) *harness {
	t.Helper()
	if h.runErr != nil {
		t.Fatalf("%s: %v", h.name, h.runErr)
	}
	if got := h.rec.Images; got != h.images {
		t.Fatalf("%s: wrote %d rows, want %d", h.name, got, h.images)
	}
	return h
}

func (h *harness) op(t *testing.T, name string) pipeline.OpMetrics {
	t.Helper()
	i := slices.IndexFunc(h.ops, func(o pipeline.OpSnapshot) bool { return o.Name == name })
	if i < 0 {
		t.Fatalf("%s: no %s operator", h.name, name)
	}
	return h.ops[i].Metrics
}

func TestOptimizedMechanism(t *testing.T) {
	t.Parallel()
	h := (&harness{name: "optimized", images: 24}).run(t).mustOK(t)
	r := h.rec
	if r.ModelLoads != 1 {
		t.Errorf("model loads = %d, want 1 (one actor)", r.ModelLoads)
	}
	if r.ForwardPasses != int64(r.Batches) {
		t.Errorf("forward passes = %d, want one per batch (%d)", r.ForwardPasses, r.Batches)
	}
	h.op(t, "Preprocess")
	if h.plan.Job.Session.IntraOpThreads != 2 || h.plan.Job.Concurrency.Max != 1 {
		t.Errorf("actors × intra-op = %d × %d, want 1 × 2 = cores", h.plan.Job.Concurrency.Max, h.plan.Job.Session.IntraOpThreads)
	}
	if h.plan.Format != "parquet" || h.plan.Job.Exec.DisableBackpressure {
		t.Error("optimized must stream Parquet with backpressure")
	}
}

func TestModelPerBatchLoadsPerBatch(t *testing.T) {
	t.Parallel()
	h := (&harness{name: "model-per-batch", images: 24, set: map[string]string{"batch_size": "4"}}).run(t).mustOK(t)
	r := h.rec
	if r.Batches < 2 || r.ModelLoads != int64(r.Batches) {
		t.Errorf("model loads = %d for %d batches, want one per batch", r.ModelLoads, r.Batches)
	}
}

func TestCPUOnlyIdenticalWithoutGPU(t *testing.T) {
	t.Parallel()
	dir, err := testData()
	if err != nil {
		t.Skip(err)
	}
	plan := func(name string, gpus int) *Plan {
		return testPlan(t, Config{Scenario: name, Model: "tiny", Data: dir}, gpus)
	}
	cpu, opt := plan("cpu-only", 0), plan("optimized", 0)
	if !cpu.Effective.Equal(&opt.Effective) {
		t.Errorf("without a GPU cpu-only differs from optimized:\n%s\nvs\n%s", cpu.Effective.Dump(), opt.Effective.Dump())
	}
	if len(cpu.Notes) == 0 || !strings.Contains(cpu.Notes[0], "identical to optimized") {
		t.Errorf("cpu-only notes = %q, want it to say it is identical to optimized", cpu.Notes)
	}
	if len(opt.Notes) != 0 {
		t.Errorf("optimized notes = %q, want none", opt.Notes)
	}
	// With a GPU the two differ: optimized takes it, cpu-only leaves it.
	cpuG, optG := plan("cpu-only", 1), plan("optimized", 1)
	if optG.Job.Session.Device.Kind != model.DeviceCUDA || optG.Job.NumGPUs != 1 {
		t.Errorf("optimized with a GPU: device %v, num_gpus %g; want cuda, 1", optG.Job.Session.Device, optG.Job.NumGPUs)
	}
	if cpuG.Job.Session.Device.Kind != model.DeviceCPU || cpuG.Job.NumGPUs != 0 || len(cpuG.Notes) != 0 {
		t.Errorf("cpu-only with a GPU: device %v, num_gpus %g, notes %q; want cpu, 0, none", cpuG.Job.Session.Device, cpuG.Job.NumGPUs, cpuG.Notes)
	}
}

func TestPerImageForwardOnePassPerImage(t *testing.T) {
	t.Parallel()
	h := (&harness{name: "per-image-forward", images: 16}).run(t).mustOK(t)
	if got := h.rec.ForwardPasses; got != 16 {
		t.Errorf("forward passes = %d, want one per image (16)", got)
	}
}

func TestTinyBatchBatchesOfTwo(t *testing.T) {
	t.Parallel()
	h := (&harness{name: "tiny-batch", images: 16}).run(t).mustOK(t)
	for _, b := range h.job.Counters.Batches() {
		if b.Rows > 2 {
			t.Fatalf("a batch had %d rows, want at most 2", b.Rows)
		}
	}
	if got := h.rec.ForwardPasses; got < 8 {
		t.Errorf("forward passes = %d, want at least 16/2", got)
	}
}

func TestOversubscribedAdmitsEightSessions(t *testing.T) {
	t.Parallel()
	h := (&harness{name: "oversubscribed", images: 16}).run(t).mustOK(t)
	c := h.plan.Job
	if c.Concurrency.Max != 8 || c.Session.IntraOpThreads != 0 {
		t.Errorf("concurrency %v, intra-op %d; want 8 and 0 (ORT default: all cores)", c.Concurrency, c.Session.IntraOpThreads)
	}
	if !c.Exec.OverrideLimits || c.Exec.Limits.CPU != 2+8 {
		t.Errorf("limits %+v override %v; want CPU 10 (cores + pool) overridden", c.Exec.Limits, c.Exec.OverrideLimits)
	}
	if got := h.rec.ModelLoads; got != 8 {
		t.Errorf("model loads = %d, want 8 sessions", got)
	}
	for _, w := range h.warn {
		if strings.Contains(w, "asks for concurrency") {
			t.Errorf("oversubscription was warned about although limits are overridden: %s", w)
		}
	}
}

func TestTasksNotActorsConstructorPerTask(t *testing.T) {
	t.Parallel()
	h := (&harness{name: "tasks-not-actors", images: 24, set: map[string]string{"batch_size": "4", "blocks": "6"}}).run(t).mustOK(t)
	inf := h.op(t, "Inference")
	if inf.TasksFinished < 2 || inf.ConstructorCalls != inf.TasksFinished {
		t.Errorf("constructor calls = %d for %d tasks, want one per task", inf.ConstructorCalls, inf.TasksFinished)
	}
	if h.rec.ModelLoads != inf.TasksFinished {
		t.Errorf("model loads = %d, want %d (tasks)", h.rec.ModelLoads, inf.TasksFinished)
	}
}

// TestTransformPerBatchRebuilds is not parallel: it turns the garbage
// collector off so a collection cannot empty optimized's sync.Pool mid-run.
func TestTransformPerBatchRebuilds(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	set := map[string]string{"batch_size": "4", "preprocess_concurrency": "1"}
	per := (&harness{name: "transform-per-batch", images: 24, set: set}).run(t).mustOK(t)
	pre := per.op(t, "Preprocess")
	if got := per.job.Counters.Preprocessors.Load(); pre.Batches < 2 || got != pre.Batches {
		t.Errorf("preprocessors built = %d for %d batches, want one per batch", got, pre.Batches)
	}
	// Reused from a sync.Pool: a few are built (one per P; under -race the
	// pool also drops a quarter of what it is given), never one per batch.
	opt := (&harness{name: "optimized", images: 48, set: map[string]string{"batch_size": "2", "preprocess_concurrency": "1"}}).run(t).mustOK(t)
	got, batches := opt.job.Counters.Preprocessors.Load(), opt.op(t, "Preprocess").Batches
	if batches < 12 || got >= batches {
		t.Errorf("optimized built %d preprocessors for %d batches, want fewer than one per batch", got, batches)
	}
}

func TestHotPathLoggingEveryTenImages(t *testing.T) {
	t.Parallel()
	h := (&harness{name: "hot-path-logging", images: 35}).run(t).mustOK(t)
	lines := strings.Split(strings.TrimSpace(h.log.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("log has %d lines, want 3 (35 images, one line per 10):\n%s", len(lines), h.log)
	}
	if !strings.Contains(lines[0], "processed 10 images") {
		t.Errorf("first line %q, want the 10th image", lines[0])
	}
	quiet := (&harness{name: "optimized", images: 35}).run(t).mustOK(t)
	if quiet.log.Len() != 0 {
		t.Errorf("optimized logged %q, want nothing", quiet.log)
	}
}

func TestRowObjects(t *testing.T) {
	t.Parallel()
	h := (&harness{name: "row-objects", images: 16}).run(t).mustOK(t)
	if got := h.op(t, "Inference").RowsConverted; got != 16 {
		t.Errorf("rows converted = %d, want 16", got)
	}
	strict := (&harness{name: "row-objects", images: 16, set: map[string]string{"strict": "true"}}).run(t)
	if !errors.Is(strict.runErr, pipeline.ErrRowObjects) {
		t.Fatalf("strict run error = %v, want ErrRowObjects", strict.runErr)
	}
	if msg := strict.runErr.Error(); !strings.Contains(msg, `{"results": objects}`) || !strings.Contains(msg, "map_batches") {
		t.Errorf("strict error %q does not read like Ray's", msg)
	}
	if strict.rec.Status != "failed" {
		t.Errorf("record status %q, want failed", strict.rec.Status)
	}
}

func TestJSONOutputWritesJSONLines(t *testing.T) {
	t.Parallel()
	h := (&harness{name: "json-output", images: 12}).run(t).mustOK(t)
	if !strings.HasSuffix(h.out, ".jsonl") {
		t.Fatalf("output %s, want .jsonl", h.out)
	}
	f, err := os.Open(h.out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("line %d is not JSON: %v", n+1, err)
		}
		if _, ok := row["predicted_class"]; !ok {
			t.Fatalf("line %d lacks predicted_class: %v", n+1, row)
		}
	}
	if n != 12 {
		t.Errorf("%d JSON lines, want 12", n)
	}
}

// gate blocks the inference worker's second log write until open is
// closed (or 10 s pass, so a broken engine fails rather than hangs).
type gate struct {
	calls  int
	mu     sync.Mutex
	open   chan struct{}
	at     int // block on this call (1-based)
	closer sync.Once
}

func newGate(at int) *gate { return &gate{open: make(chan struct{}), at: at} }

func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	g.calls++
	n := g.calls
	g.mu.Unlock()
	if n == g.at {
		select {
		case <-g.open:
		case <-time.After(10 * time.Second):
		}
	}
	return len(p), nil
}

func (g *gate) release() { g.closer.Do(func() { close(g.open) }) }

// watch calls cond with every snapshot until it returns true, then
// releases g.
func watch(bus *pipeline.EventBus, g *gate, cond func(*pipeline.Snapshot) bool) {
	ch := bus.Subscribe(64)
	go func() {
		for ev := range ch {
			if ev.Snapshot != nil && (ev.Snapshot.Done || cond(ev.Snapshot)) {
				g.release()
			}
		}
		g.release()
	}()
}

func opIn(s *pipeline.Snapshot, name string) (pipeline.OpMetrics, bool) {
	for _, o := range s.Ops {
		if o.Name == name {
			return o.Metrics, true
		}
	}
	return pipeline.OpMetrics{}, false
}

// TestTakeAllMaterialises holds the second inference batch until the
// writer has finished its first task, then looks for the writer's
// temporary file: streaming has started writing, take-all has not.
func TestTakeAllMaterialises(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		wantPartial bool
	}{{"take-all", false}, {"optimized", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGate(2)
			bus := pipeline.NewEventBus()
			partial := make(chan bool, 1)
			outDir := t.TempDir()
			ch := bus.Subscribe(64)
			go func() {
				sent := false
				for ev := range ch {
					s := ev.Snapshot
					if s == nil || sent {
						continue
					}
					if w, ok := opIn(s, "Write"); ok && w.TasksFinished >= 1 && !s.Done {
						m, _ := filepath.Glob(filepath.Join(outDir, ".*.partial"))
						partial <- len(m) > 0
						sent = true
						g.release()
					}
				}
				g.release()
			}()
			h := &harness{name: tc.name, images: 32,
				set: map[string]string{"batch_size": "8", "blocks": "4", "hot_path_logging": "true", "log_every": "8"},
				tweak: func(c *classify.JobConfig) {
					c.HotPathLog = g
					c.Exec.Bus, c.Exec.SnapshotInterval = bus, 5*time.Millisecond
				}}
			h.runIn(t, outDir).mustOK(t)
			bus.Close()
			select {
			case got := <-partial:
				if got != tc.wantPartial {
					t.Errorf("writer file present mid-run = %v, want %v", got, tc.wantPartial)
				}
			default:
				t.Fatal("never saw the writer finish a task mid-run")
			}
			if !h.plan.TakeAll == (tc.name == "take-all") {
				t.Errorf("TakeAll = %v", h.plan.TakeAll)
			}
			// 32 images are far too few for RSS to show what take-all
			// keeps; the counted held bytes show it exactly.
			held, ok := bench.HeldPer1k(h.rec)
			if !ok || (held > 0) != !tc.wantPartial {
				t.Errorf("held_bytes_per_1k_images = %v (ok %v), want > 0 only for take-all", held, ok)
			}
		})
	}
}

// runIn is run with the output in dir.
func (h *harness) runIn(t *testing.T, dir string) *harness {
	t.Helper()
	d, err := testData()
	if err != nil {
		t.Skip(err)
	}
	h.log = &strings.Builder{}
	return h.execute(t, Config{Scenario: h.name, Set: settings(h.set), Model: "tiny", Data: d, Images: h.images}, dir)
}

// TestNoBackpressureQueuesGrow holds the first inference batch until the
// stages upstream have either finished or been stopped by backpressure,
// then compares the bytes that queued in front of inference.
func TestNoBackpressureQueuesGrow(t *testing.T) {
	t.Parallel()
	peak := map[string]int64{}
	for _, name := range []string{"no-backpressure", "optimized"} {
		t.Run(name, func(t *testing.T) {
			g := newGate(1)
			bus := pipeline.NewEventBus()
			watch(bus, g, func(s *pipeline.Snapshot) bool {
				pre, _ := opIn(s, "Preprocess")
				read, _ := opIn(s, "ReadImages")
				return pre.RowsOut == s.RowsTotal && s.RowsTotal > 0 ||
					pre.State == pipeline.StateBackpressured || read.State == pipeline.StateBackpressured
			})
			h := &harness{name: name, images: 48,
				set: map[string]string{"batch_size": "8", "blocks": "6", "memory_budget": "1KiB",
					"hot_path_logging": "true", "log_every": "8"},
				tweak: func(c *classify.JobConfig) {
					c.HotPathLog = g
					c.Exec.Bus, c.Exec.SnapshotInterval = bus, 5*time.Millisecond
				}}
			h.runIn(t, t.TempDir()).mustOK(t)
			bus.Close()
			peak[name] = h.op(t, "Inference").PeakQueuedBytes
		})
	}
	block := int64(8 * 3 * 64 * 64 * 4) // one block's tensor bytes
	off, on := peak["no-backpressure"], peak["optimized"]
	if off < 3*block {
		t.Errorf("without backpressure %d bytes queued before inference, want at least 3 blocks (%d)", off, 3*block)
	}
	if on > 2*block || off < 2*on {
		t.Errorf("with a 1KiB budget %d bytes queued, without %d; want at most 2 blocks (%d) and less than half", on, off, 2*block)
	}
}

func TestTinyBlocksOneBlockPerImage(t *testing.T) {
	t.Parallel()
	h := (&harness{name: "tiny-blocks", images: 20}).run(t).mustOK(t)
	if got := h.rec.Config.Blocks; got != 20 {
		t.Errorf("blocks = %d, want 20 (one per image)", got)
	}
	if got := h.op(t, "ReadImages").TasksFinished; got != 20 {
		t.Errorf("read tasks = %d, want 20", got)
	}
}

func TestOneBlockNoParallelism(t *testing.T) {
	t.Parallel()
	h := (&harness{name: "one-block", images: 20}).run(t).mustOK(t)
	if got := h.rec.Config.Blocks; got != 1 {
		t.Errorf("blocks = %d, want 1", got)
	}
	// One block: one read task, and the preprocess stage cuts that block
	// into batches (batch_size auto may pick one smaller than 20).
	bs := int64(h.rec.Config.BatchSize)
	if r, p := h.op(t, "ReadImages").TasksFinished, h.op(t, "Preprocess").TasksFinished; r != 1 || p != (20+bs-1)/bs {
		t.Errorf("read tasks %d, preprocess tasks %d; want 1 and %d (batch %d)", r, p, (20+bs-1)/bs, bs)
	}
}

func TestPreprocessInActorHasNoPreprocessStage(t *testing.T) {
	t.Parallel()
	h := (&harness{name: "preprocess-in-actor", images: 12}).run(t).mustOK(t)
	var names []string
	for _, o := range h.ops {
		names = append(names, o.Name)
	}
	if got := strings.Join(names, ","); got != "ReadImages,Inference,Write" {
		t.Errorf("operators %s, want ReadImages,Inference,Write", got)
	}
}

func TestStarvedBudgetSetsTheBudget(t *testing.T) {
	t.Parallel()
	h := (&harness{name: "starved-budget", images: 12}).run(t).mustOK(t)
	if got := h.plan.Job.Exec.Limits.ObjectStoreMemory; got != 8<<20 {
		t.Errorf("object store budget = %d, want 8MiB", got)
	}
}

func TestSlowFinishes(t *testing.T) {
	t.Parallel()
	h := (&harness{name: "slow", images: 12}).run(t).mustOK(t)
	r := h.rec
	if r.ModelLoads != int64(r.Batches) || r.ForwardPasses != 12 {
		t.Errorf("model loads %d for %d batches, forward passes %d for 12 images; want one load per batch and one pass per image",
			r.ModelLoads, r.Batches, r.ForwardPasses)
	}
	if got := h.op(t, "Inference").RowsConverted; got != 12 {
		t.Errorf("rows converted = %d, want 12", got)
	}
	if !strings.HasSuffix(h.out, ".jsonl") || h.rec.OutputBytes == 0 {
		t.Errorf("output %s (%d bytes), want a JSON lines file", h.out, h.rec.OutputBytes)
	}
	if lines := strings.Count(h.log.String(), "\n"); lines == 0 {
		t.Error("slow wrote no hot-path log lines")
	}
}

// TestCUDAKnobsReachTheProvider: the CUDA knobs arrive as ORT provider
// options, defaults tuned for throughput and every departure explicit; on
// CPU they change nothing.
func TestCUDAKnobsReachTheProvider(t *testing.T) {
	t.Parallel()
	dir, err := testData()
	if err != nil {
		t.Skip(err)
	}
	cases := []struct {
		set  map[string]string
		want map[string]string
	}{
		{nil, map[string]string{"cudnn_conv_algo_search": "EXHAUSTIVE", "arena_extend_strategy": "kNextPowerOfTwo",
			"do_copy_in_default_stream": "1", "use_tf32": "1", "device_id": "0"}},
		{map[string]string{"cudnn_conv_algo_search": "heuristic", "arena_extend_strategy": "ksameasrequested",
			"do_copy_in_default_stream": "false", "use_tf32": "false"},
			map[string]string{"cudnn_conv_algo_search": "HEURISTIC", "arena_extend_strategy": "kSameAsRequested",
				"do_copy_in_default_stream": "0", "use_tf32": "0"}},
	}
	for _, c := range cases {
		p := testPlan(t, Config{Scenario: "optimized", Set: settings(c.set), Model: "tiny", Data: dir}, 1)
		got := p.Job.Session.CUDA.ProviderOptions(0)
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("set %v: provider option %s = %q, want %q", c.set, k, got[k], v)
			}
		}
		if !p.Job.TensorPool || p.Job.InFlightPerActor != 2 {
			t.Errorf("tensor_pool %v, in flight %d; want true, 2", p.Job.TensorPool, p.Job.InFlightPerActor)
		}
	}
	s, _ := Library().Load("optimized")
	if err := s.Set("use_tf32", "maybe"); err == nil {
		t.Error("use_tf32=maybe accepted")
	}
}

// TestFP16OnCPUIsSaid: fp16 on a CPU is allowed and said, never hidden.
func TestFP16OnCPUIsSaid(t *testing.T) {
	t.Parallel()
	dir, err := testData()
	if err != nil {
		t.Skip(err)
	}
	p := testPlan(t, Config{Scenario: "optimized-fp16", Model: "resnet18", Data: dir}, 0)
	if p.Job.Model.Name != "resnet18-fp16" {
		t.Errorf("precision fp16 ran %s, want resnet18-fp16", p.Job.Model.Name)
	}
	said := false
	for _, n := range p.Notes {
		said = said || strings.Contains(n, "fp16 on the CPU")
	}
	if !said {
		t.Errorf("fp16 on the CPU not said; notes: %q", p.Notes)
	}
}
