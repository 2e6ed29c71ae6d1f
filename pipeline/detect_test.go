package pipeline

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// detectWait bounds how long a blocking UDF waits for the detector before
// giving up (and the test failing on a missing detection): far beyond any
// threshold here, so a loaded machine only makes the test slower.
const detectWait = 60 * time.Second

// detectRun is one pipeline read → Slow → write over 40 one-row blocks in
// order, so Slow's task n is file n, with the detections seen on the bus.
type detectRun struct {
	events []Detection
	ops    []OpSnapshot
	stats  string
}

// runDetect runs the pipeline; udf gets a channel closed once the bus
// carried a detection of kind wait (never closed when wait is "").
func runDetect(t *testing.T, o DetectOptions, compute Compute, conc Concurrency, wait IssueKind, udf func(found <-chan struct{}) UDF) detectRun {
	t.Helper()
	files := makeFiles(t, 40)
	bus := NewEventBus()
	ch := bus.Subscribe(4096)
	found := make(chan struct{})
	var once sync.Once
	var run detectRun
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if d, ok := ev.Payload.(Detection); ok {
				run.events = append(run.events, d)
				if d.Kind == wait {
					once.Do(func() { close(found) })
				}
			}
		}
	}()
	ds := ReadBinaryFiles(files, ReadOptions{OverrideNumBlocks: 40}).
		MapBatches(MapOptions{Name: "Slow", Fn: udf(found), BatchSize: 1, Compute: compute, Concurrency: conc}).
		WithExecutionOptions(ExecutionOptions{PreserveOrder: true, Bus: bus, Detect: o, SnapshotInterval: 20 * time.Millisecond})
	err := ds.WriteParquet(context.Background(), filepath.Join(t.TempDir(), "o.parquet"), WriteOptions{})
	bus.Close()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	run.ops, run.stats = ds.Metrics(), ds.Stats()
	return run
}

// blockOn is a UDF that sleeps pause per row (sleepUDF) and, on the row
// from file block, blocks until the detector has reported (or detectWait
// passes).
func blockOn(block string, pause time.Duration) func(found <-chan struct{}) UDF {
	return func(found <-chan struct{}) UDF {
		steady := sleepUDF(pause)
		return UDFFunc(func(ctx context.Context, b Block) (any, error) {
			if block != "" && hasPath(b, block) {
				select {
				case <-found:
				case <-time.After(detectWait):
				}
				return lengths(ctx, b)
			}
			return steady.Call(ctx, b)
		})
	}
}

// TestDetectors: a task that runs far longer than the rest is a straggler,
// an operator whose UDF blocks while input waits is a stall, each found
// once, in its stage, on the bus and in the stats; a steady pipeline has
// neither, even with tight settings.
func TestDetectors(t *testing.T) {
	t.Parallel()
	// Generous minimums: the blocked task waits for its detection, so no
	// threshold makes the test slower to pass, while a loaded machine
	// must not make a 2 ms task look like a straggler.
	tight := DetectOptions{StragglerSigma: 3, StragglerMin: 500 * time.Millisecond, StallTimeout: 5 * time.Second}
	cases := []struct {
		name    string
		opts    DetectOptions
		compute Compute
		conc    Concurrency
		block   string // the file whose row blocks; "" = none
		wait    IssueKind
		// want: detections in Slow (none elsewhere), and the straggler's
		// task (its file's index) and finished tasks when it stalled.
		stragglers, stalls int64
		task               int64
		completed          int64
	}{
		{"straggler in a task pool", tight, TaskPool{}, Fixed(2), "f00025.jpg", IssueStraggler, 1, 0, 25, -1},
		{"straggler in an actor pool", tight, ActorPool{MaxTasksInFlightPerActor: 2}, Fixed(2), "f00025.jpg", IssueStraggler, 1, 0, 25, -1},
		{"stall after progress", DetectOptions{StallTimeout: 300 * time.Millisecond}, TaskPool{}, Fixed(1), "f00005.jpg", IssueStall, 0, 1, -1, 5},
		{"stall before the first task", DetectOptions{StallTimeout: 300 * time.Millisecond}, ActorPool{MaxTasksInFlightPerActor: 1}, Fixed(1), "f00000.jpg", IssueStall, 0, 1, -1, 0},
		{"steady, defaults", DetectOptions{}, TaskPool{}, Fixed(2), "", "", 0, 0, -1, -1},
		{"steady, tight", tight, ActorPool{}, Fixed(2), "", "", 0, 0, -1, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			run := runDetect(t, c.opts, c.compute, c.conc, c.wait, blockOn(c.block, 2*time.Millisecond))
			t.Log("\n" + run.stats)
			var slow OpMetrics
			for _, op := range run.ops {
				m := op.Metrics
				if op.Name != "Slow" {
					if m.Stragglers+m.Stalls > 0 || len(m.Detections) > 0 {
						t.Errorf("%s: %d stragglers, %d stalls (%v), want none outside Slow", op.Name, m.Stragglers, m.Stalls, m.Detections)
					}
					continue
				}
				slow = m
			}
			if slow.Stragglers != c.stragglers || slow.Stalls != c.stalls {
				t.Fatalf("Slow: %d stragglers, %d stalls, want %d and %d: %v\n%s", slow.Stragglers, slow.Stalls, c.stragglers, c.stalls, slow.Detections, run.stats)
			}
			// Each detection is one event, published when found.
			if len(run.events) != len(slow.Detections) {
				t.Errorf("%d detection events on the bus, %d detections kept: %v", len(run.events), len(slow.Detections), run.events)
			}
			for i, d := range slow.Detections {
				if d.Op != "Slow" || d.Ongoing || d.Duration <= d.Threshold || d.Start > d.At {
					t.Errorf("detection %v: want Slow, ended, past its threshold, found after it began", d)
				}
				if i < len(run.events) && (run.events[i].Kind != d.Kind || run.events[i].Task != d.Task) {
					t.Errorf("event %v does not match the kept detection %v", run.events[i], d)
				}
				switch d.Kind {
				case IssueStraggler:
					if d.Task != c.task || d.Completed < DefaultStragglerMinTasks {
						t.Errorf("straggler %v: want task %d, judged on at least %d finished tasks", d, c.task, DefaultStragglerMinTasks)
					}
					if w := slow.WorstStraggler; w == nil || w.Task != d.Task {
						t.Errorf("worst straggler %v, want task %d", w, d.Task)
					}
				case IssueStall:
					if d.Completed != c.completed || d.Queued == 0 {
						t.Errorf("stall %v: want %d tasks finished before it, rows queued", d, c.completed)
					}
				}
				if !strings.Contains(run.stats, string(d.Kind)+": Slow") {
					t.Errorf("stats do not list the %s:\n%s", d.Kind, run.stats)
				}
			}
		})
	}
}

// TestTaskDurationStats: the detectors' mean, σ and longest are exact over
// every task, against a direct computation.
func TestTaskDurationStats(t *testing.T) {
	t.Parallel()
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	cases := []struct {
		name string
		d    []time.Duration
	}{
		{"none", nil},
		{"one", ms(7)},
		{"steady", ms(10, 10, 10, 10)},
		{"spread", ms(1, 2, 3, 4, 100, 5, 6)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m OpMetrics
			for _, d := range c.d {
				m.OnTaskFinished(time.Now(), taskResult{duration: d})
			}
			n, mean, std, longest := m.TaskDurationStats()
			var sum, sq float64
			for _, d := range c.d {
				sum += float64(d)
			}
			wantMean := 0.0
			if len(c.d) > 0 {
				wantMean = sum / float64(len(c.d))
			}
			for _, d := range c.d {
				sq += (float64(d) - wantMean) * (float64(d) - wantMean)
			}
			wantStd := 0.0
			if len(c.d) > 1 {
				wantStd = math.Sqrt(sq / float64(len(c.d)-1))
			}
			wantMax := time.Duration(0)
			if len(c.d) > 0 {
				wantMax = slices.Max(c.d)
			}
			if n != int64(len(c.d)) || math.Abs(float64(mean)-wantMean) > 1 || math.Abs(float64(std)-wantStd) > 1 || longest != wantMax {
				t.Errorf("got n %d mean %v std %v max %v, want %d %v %v %v", n, mean, std, longest,
					len(c.d), time.Duration(wantMean), time.Duration(wantStd), wantMax)
			}
		})
	}
}
