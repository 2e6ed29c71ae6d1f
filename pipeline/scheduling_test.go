package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// observer records invariants from every snapshot the executor publishes.
type observer struct {
	bus  *EventBus
	done chan struct{}
	mu   sync.Mutex
	snap []*Snapshot
}

func observe(size int) *observer {
	o := &observer{bus: NewEventBus(), done: make(chan struct{})}
	ch := o.bus.Subscribe(size)
	go func() {
		defer close(o.done)
		for e := range ch {
			if e.Snapshot != nil {
				o.mu.Lock()
				o.snap = append(o.snap, e.Snapshot)
				o.mu.Unlock()
			}
		}
	}()
	return o
}

func (o *observer) close() []*Snapshot {
	o.bus.Close()
	<-o.done
	return o.snap
}

// sleepUDF sleeps d per batch and passes the bytes column's length through.
func sleepUDF(d time.Duration) UDF {
	return UDFFunc(func(ctx context.Context, b Block) (any, error) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return lengths(ctx, b)
	})
}

func TestEveryRowExactlyOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		blocks   int
		batch    int
		compute  Compute
		conc     Concurrency
		preserve bool
	}{
		{"tasks unordered", 9, 7, TaskPool{}, Concurrency{}, false},
		{"tasks ordered", 9, 7, TaskPool{}, Concurrency{}, true},
		{"actors", 4, 16, ActorPool{}, Fixed(2), false},
		{"autoscaling actors", 30, 3, ActorPool{}, Range(1, 3), true},
		{"one block", 1, 5, TaskPool{}, Concurrency{}, false},
		{"block per row", 120, 50, ActorPool{}, Fixed(1), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			files := makeFiles(t, 120)
			out := filepath.Join(t.TempDir(), "out.parquet")
			var udf UDF = lengths
			o := MapOptions{Name: "Len", BatchSize: c.batch, Compute: c.compute, Concurrency: c.conc}
			if _, ok := c.compute.(ActorPool); ok {
				o.FnConstructor = func(context.Context) (UDF, error) { return udf, nil }
			} else {
				o.Fn = udf
			}
			ds := ReadBinaryFiles(files, ReadOptions{OverrideNumBlocks: c.blocks}).MapBatches(o).
				WithExecutionOptions(ExecutionOptions{PreserveOrder: c.preserve})
			if err := ds.WriteParquet(context.Background(), out, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			rows, paths := readParquet(t, out)
			if rows != 120 {
				t.Fatalf("rows = %d, want 120", rows)
			}
			seen := map[string]int{}
			for _, p := range paths {
				seen[p]++
			}
			for _, f := range files {
				if seen[f] != 1 {
					t.Errorf("%s seen %d times", f, seen[f])
				}
			}
			if c.preserve {
				for i, p := range paths {
					if p != files[i] {
						t.Fatalf("order broken at row %d: %s, want %s", i, p, files[i])
					}
				}
			}
		})
	}
}

// TestResourceLimitsAndMemoryBudget checks, on every snapshot, that held
// resources stay within limits and that bytes in flight stay within the
// budget plus one block per producing operator.
func TestResourceLimitsAndMemoryBudget(t *testing.T) {
	t.Parallel()
	files := makeFiles(t, 200)
	obs := observe(4096)
	const budget = 2000 // bytes: far below the data, so backpressure must act
	limits := ExecutionResources{CPU: 3, ObjectStoreMemory: budget}
	ds := ReadBinaryFiles(files, ReadOptions{OverrideNumBlocks: 50}).
		MapBatches(MapOptions{Name: "Slow", Fn: sleepUDF(2 * time.Millisecond), BatchSize: 4}).
		WithExecutionOptions(ExecutionOptions{Limits: limits, OverrideLimits: true, Bus: obs.bus, SnapshotInterval: time.Millisecond})
	if err := ds.WriteParquet(context.Background(), filepath.Join(t.TempDir(), "o.parquet"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	snaps := obs.close()
	if len(snaps) < 3 {
		t.Fatalf("only %d snapshots", len(snaps))
	}
	var maxBlock int64
	for _, op := range ds.Metrics() {
		if op.Metrics.BlocksOut > 0 {
			maxBlock = max(maxBlock, op.Metrics.BytesOut/op.Metrics.BlocksOut*4)
		}
	}
	for _, s := range snaps {
		if !s.Resources.SatisfiesLimit(ExecutionResources{CPU: 3, ObjectStoreMemory: 1 << 62}) {
			t.Fatalf("at %v resources %v exceed limits %v", s.At, s.Resources, limits)
		}
		if s.InFlightBytes > budget+2*maxBlock {
			t.Fatalf("at %v %d bytes in flight exceed the budget %d by more than a block (%d)", s.At, s.InFlightBytes, budget, maxBlock)
		}
	}
	m := ds.Metrics()
	if m[0].Metrics.BlockedTime == 0 || m[0].Metrics.BackpressuredBy != "memory" {
		t.Errorf("read was never backpressured by memory: %+v", m[0].Metrics.BackpressuredBy)
	}
}

func TestNoBackpressureGrowsQueues(t *testing.T) {
	t.Parallel()
	peak := func(disable bool) int64 {
		files := makeFiles(t, 150)
		ds := ReadBinaryFiles(files, ReadOptions{OverrideNumBlocks: 50}).
			MapBatches(MapOptions{Name: "Slow", Fn: sleepUDF(3 * time.Millisecond), BatchSize: 3, Concurrency: Fixed(1)}).
			WithExecutionOptions(ExecutionOptions{Limits: ExecutionResources{CPU: 4, ObjectStoreMemory: 1000}, OverrideLimits: true, DisableBackpressure: disable})
		if err := ds.WriteParquet(context.Background(), filepath.Join(t.TempDir(), "o.parquet"), WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		return ds.Metrics()[1].Metrics.PeakQueuedBytes
	}
	with, without := peak(false), peak(true)
	if without <= 2*with {
		t.Errorf("peak queued bytes: %d without backpressure, %d with; want unbounded growth", without, with)
	}
}

func TestConstructorCounts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		compute Compute
		conc    Concurrency
		blocks  int
	}{
		{"actor pool of 3", ActorPool{}, Fixed(3), 12},
		{"task pool", TaskPool{}, Concurrency{}, 12},
		{"task pool one block", TaskPool{}, Concurrency{}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int64
			ds := ReadBinaryFiles(makeFiles(t, 48), ReadOptions{OverrideNumBlocks: c.blocks}).MapBatches(MapOptions{
				Name: "Model", BatchSize: 4, Compute: c.compute, Concurrency: c.conc,
				FnConstructor: func(context.Context) (UDF, error) { calls.Add(1); return lengths, nil },
			}).WithExecutionOptions(ExecutionOptions{Limits: ExecutionResources{CPU: 4}, OverrideLimits: true})
			if err := ds.WriteParquet(context.Background(), filepath.Join(t.TempDir(), "o.parquet"), WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			m := ds.Metrics()[1].Metrics
			want := m.TasksFinished
			if _, ok := c.compute.(ActorPool); ok {
				want = int64(c.conc.Max)
			}
			if calls.Load() != want || m.ConstructorCalls != want {
				t.Errorf("constructor ran %d times (metrics say %d), want %d", calls.Load(), m.ConstructorCalls, want)
			}
		})
	}
}

func TestBottleneckNamed(t *testing.T) {
	t.Parallel()
	ds := ReadBinaryFiles(makeFiles(t, 60), ReadOptions{OverrideNumBlocks: 20}).
		MapBatches(MapOptions{Name: "Fast", Fn: lengths, BatchSize: 3}).
		MapBatches(MapOptions{Name: "Sleepy", BatchSize: 3, Concurrency: Fixed(1),
			FnConstructor: func(context.Context) (UDF, error) {
				return UDFFunc(func(ctx context.Context, b Block) (any, error) {
					time.Sleep(10 * time.Millisecond)
					return Columns{"n": []int32{int32(b.NumRows())}}, nil
				}), nil
			}})
	if err := ds.WriteParquet(context.Background(), filepath.Join(t.TempDir(), "o.parquet"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	b := FindBottleneck(ds.Metrics())
	if b.Op != "Sleepy" {
		t.Fatalf("bottleneck = %+v, want Sleepy\n%s", b, ds.Stats())
	}
	if !strings.Contains(ds.Stats(), "Bottleneck: Sleepy") {
		t.Errorf("stats do not name the bottleneck:\n%s", ds.Stats())
	}
}

func TestUDFErrorFailsOnlyItsBatch(t *testing.T) {
	t.Parallel()
	files := makeFiles(t, 20)
	bad := UDFFunc(func(ctx context.Context, b Block) (any, error) {
		if strings.HasSuffix(Column(b, PathColumn).(*array.String).Value(0), "f00004.jpg") {
			return nil, errors.New("boom")
		}
		return lengths(ctx, b)
	})
	out := filepath.Join(t.TempDir(), "o.parquet")
	ds := ReadBinaryFiles(files, ReadOptions{OverrideNumBlocks: 5}).MapBatches(MapOptions{Name: "Bad", Fn: bad, BatchSize: 4})
	if err := ds.WriteParquet(context.Background(), out, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if rows, _ := readParquet(t, out); rows != 20 {
		t.Fatalf("rows = %d, want 20", rows)
	}
	if n := ds.Metrics()[1].Metrics.ErrorRows; n != 4 {
		t.Errorf("error rows = %d, want the failed batch's 4", n)
	}
}

func TestConstructorFailureEndsRun(t *testing.T) {
	t.Parallel()
	ds := ReadBinaryFiles(makeFiles(t, 10), ReadOptions{}).MapBatches(MapOptions{Name: "Model", Concurrency: Fixed(2),
		FnConstructor: func(context.Context) (UDF, error) { return nil, errors.New("no such model") }})
	out := filepath.Join(t.TempDir(), "o.parquet")
	err := ds.WriteParquet(context.Background(), out, WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "constructor failed: no such model") {
		t.Fatalf("err = %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*")); len(left) != 0 {
		t.Errorf("failed run left files: %v", left)
	}
}

func TestStrictRowObjects(t *testing.T) {
	t.Parallel()
	rowsUDF := UDFFunc(func(ctx context.Context, b Block) (any, error) {
		out := make(Rows, b.NumRows())
		for i := range out {
			out[i] = map[string]any{"n": int32(i)}
		}
		return out, nil
	})
	for _, strict := range []bool{false, true} {
		ds := ReadBinaryFiles(makeFiles(t, 8), ReadOptions{}).MapBatches(MapOptions{Name: "Rows", Fn: rowsUDF, BatchSize: 4, Strict: strict})
		err := ds.WriteParquet(context.Background(), filepath.Join(t.TempDir(), "o.parquet"), WriteOptions{})
		if strict && !errors.Is(err, ErrRowObjects) {
			t.Errorf("strict: err = %v, want ErrRowObjects", err)
		}
		if !strict && err != nil {
			t.Errorf("non-strict: %v", err)
		}
	}
}

// TestCancelWithinOneSecond: a cancelled context stops a run whose UDF would
// otherwise take minutes; TestMain's goleak check then proves every
// goroutine ended.
func TestCancelWithinOneSecond(t *testing.T) {
	t.Parallel()
	ds := ReadBinaryFiles(makeFiles(t, 40), ReadOptions{}).MapBatches(MapOptions{Name: "Slow", Fn: sleepUDF(time.Minute), BatchSize: 1, Concurrency: Fixed(2)})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	out := filepath.Join(t.TempDir(), "o.parquet")
	start := time.Now()
	err := ds.WriteParquet(ctx, out, WriteOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 1100*time.Millisecond {
		t.Errorf("cancellation took %v, want < 1s", d)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*")); len(m) != 0 {
		t.Errorf("cancelled run left files: %v", m)
	}
}

func TestDefaultNumBlocks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		bytes      int64
		files      int
		cpus, want int
	}{
		{1 << 30, 100000, 2, 200},   // Ray's minimum parallelism
		{1 << 30, 100000, 128, 256}, // at least 2× the CPUs
		{3 << 20, 100, 8, 3},        // blocks at least 1 MiB
		{100 << 30, 1e6, 2, 800},    // blocks at most 128 MiB
		{500, 3, 16, 1},             // tiny data: one block
		{100 << 20, 2, 8, 2},        // never more blocks than files
	}
	for _, c := range cases {
		if got := DefaultNumBlocks(c.bytes, c.files, c.cpus); got != c.want {
			t.Errorf("DefaultNumBlocks(%d, %d, %d) = %d, want %d", c.bytes, c.files, c.cpus, got, c.want)
		}
	}
}

// TestTaskDurationReservoir: past the reservoir's size, later durations
// still reach the quantiles.
func TestTaskDurationReservoir(t *testing.T) {
	t.Parallel()
	var m OpMetrics
	now := time.Now()
	for i := range 4 * maxDurations {
		d := time.Millisecond
		if i >= maxDurations {
			d = time.Second // the last three quarters are slow
		}
		m.OnTaskSubmitted(now)
		m.OnTaskFinished(now, taskResult{duration: d})
	}
	if _, p50, _ := m.TaskDurations(); p50 != time.Second {
		t.Errorf("p50 = %v, want 1s: the reservoir ignored later tasks", p50)
	}
}
