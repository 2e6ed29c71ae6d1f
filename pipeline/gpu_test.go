package pipeline

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// gpuProbe is a fake GPU model: its constructor records the GPU the actor
// was pinned to, and its UDF checks that the actor's context says the same.
type gpuProbe struct {
	mu      sync.Mutex
	ctorGPU map[int]int // actor index → GPU seen by the constructor
	udfGPU  map[int]int // actor index → GPU seen by the UDF
	calls   int         // constructor calls
	// hold, when set, blocks every batch until it is closed.
	hold chan struct{}
}

func newGPUProbe() *gpuProbe { return &gpuProbe{ctorGPU: map[int]int{}, udfGPU: map[int]int{}} }

func (p *gpuProbe) constructor(ctx context.Context) (UDF, error) {
	a, ok := ActorFromContext(ctx)
	if !ok {
		a = ActorInfo{Index: -2, GPU: -2}
	}
	p.mu.Lock()
	p.ctorGPU[a.Index] = a.GPU
	p.calls++
	p.mu.Unlock()
	return UDFFunc(func(ctx context.Context, b Block) (any, error) {
		if p.hold != nil {
			select {
			case <-p.hold:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		u, _ := ActorFromContext(ctx)
		p.mu.Lock()
		p.udfGPU[u.Index] = u.GPU
		p.mu.Unlock()
		return lengths(ctx, b)
	}), nil
}

// TestFractionalGPUPinning: num_gpus 0.5 on 2 GPUs fits 4 actors, pinned
// round-robin 0,1,0,1, and each actor's tasks see the same GPU as its
// constructor did.
func TestFractionalGPUPinning(t *testing.T) {
	t.Parallel()
	files := makeFiles(t, 40)
	p := newGPUProbe()
	ds := ReadBinaryFiles(files, ReadOptions{OverrideNumBlocks: 20}).
		MapBatches(MapOptions{Name: "FakeGPU", FnConstructor: p.constructor, BatchSize: 2,
			Concurrency: Fixed(4), NumGPUs: 0.5}).
		WithExecutionOptions(ExecutionOptions{Limits: ExecutionResources{GPU: 2}})
	out := filepath.Join(t.TempDir(), "out.parquet")
	if err := ds.WriteParquet(context.Background(), out, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if rows, _ := readParquet(t, out); rows != 40 {
		t.Errorf("rows = %d, want 40", rows)
	}
	want := map[int]int{0: 0, 1: 1, 2: 0, 3: 1}
	if p.calls != 4 {
		t.Errorf("constructor ran %d times, want 4 (2 GPUs ÷ 0.5 = 4 actors fit at once)", p.calls)
	}
	for idx, gpu := range want {
		if got, ok := p.ctorGPU[idx]; !ok || got != gpu {
			t.Errorf("actor %d constructor saw GPU %d (present %v), want %d", idx, got, ok, gpu)
		}
	}
	for idx, gpu := range p.udfGPU {
		if gpu != want[idx] {
			t.Errorf("actor %d UDF saw GPU %d, want %d", idx, gpu, want[idx])
		}
	}
	if len(p.ctorGPU) != 4 {
		t.Errorf("actors seen: %v", p.ctorGPU)
	}
}

// TestGPUOversubscribedActorsWait: num_gpus 1 on one GPU with concurrency 3
// fits one actor. The other two wait as pending (visible in the metrics
// while the first actor works) and the run completes on the one actor.
//
// The first actor's batches are held until a snapshot shows the pending
// actors, so the test never depends on timing.
func TestGPUOversubscribedActorsWait(t *testing.T) {
	t.Parallel()
	files := makeFiles(t, 12)
	p := newGPUProbe()
	p.hold = make(chan struct{})
	bus := NewEventBus()
	events := bus.Subscribe(1024)

	var maxPending int64
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		released := false
		for ev := range events {
			if ev.Snapshot == nil {
				continue
			}
			for _, op := range ev.Snapshot.Ops {
				if op.Name != "FakeGPU" {
					continue
				}
				maxPending = max(maxPending, op.Metrics.ActorsPending)
				if op.Metrics.ActorsPending > 0 && !released {
					released = true
					close(p.hold)
				}
			}
		}
		if !released {
			close(p.hold) // let the run finish so the test can report
		}
	}()

	ds := ReadBinaryFiles(files, ReadOptions{OverrideNumBlocks: 6}).
		MapBatches(MapOptions{Name: "FakeGPU", FnConstructor: p.constructor, BatchSize: 2,
			Concurrency: Fixed(3), NumGPUs: 1}).
		WithExecutionOptions(ExecutionOptions{Limits: ExecutionResources{GPU: 1},
			Bus: bus, SnapshotInterval: time.Millisecond})
	out := filepath.Join(t.TempDir(), "out.parquet")
	err := ds.WriteParquet(context.Background(), out, WriteOptions{})
	bus.Close()
	<-watched
	if err != nil {
		t.Fatal(err)
	}
	if rows, _ := readParquet(t, out); rows != 12 {
		t.Errorf("rows = %d, want 12", rows)
	}
	if maxPending < 1 {
		t.Errorf("ActorsPending never rose above 0; the extra actors should wait for the GPU")
	}
	if p.calls != 1 {
		t.Errorf("constructor ran %d times, want 1 (one GPU, num_gpus 1)", p.calls)
	}
	if gpu, ok := p.ctorGPU[0]; !ok || gpu != 0 {
		t.Errorf("actor 0 pinned to GPU %d (present %v), want 0", gpu, ok)
	}
	for _, op := range ds.Metrics() {
		if op.Name == "FakeGPU" && op.Metrics.PendingTime <= 0 {
			t.Errorf("FakeGPU PendingTime = %v, want > 0 while actors waited", op.Metrics.PendingTime)
		}
	}
	t.Log("\n" + ds.Stats())
}

func TestLeastLoadedGPU(t *testing.T) {
	live := func(gpus ...int) []*actor {
		var as []*actor
		for _, g := range gpus {
			as = append(as, &actor{gpu: g})
		}
		return as
	}
	dead := func(as []*actor, i int) []*actor { as[i].exited = true; return as }
	cases := []struct {
		name   string
		actors []*actor
		gpus   int
		want   int
	}{
		{"first actor", nil, 2, 0},
		{"round-robin", live(0), 2, 1},
		{"round-robin wraps", live(0, 1), 2, 0},
		{"half a GPU each", live(0, 1, 0), 2, 1},
		{"a failed actor's GPU is free again", dead(live(0, 1, 0, 1), 1), 2, 1},
		{"one GPU", live(0, 0, 0), 1, 0},
		{"three GPUs, uneven", dead(live(0, 1, 2, 0, 1), 2), 3, 2},
	}
	for _, c := range cases {
		if got := leastLoadedGPU(c.actors, c.gpus); got != c.want {
			t.Errorf("%s: GPU %d, want %d", c.name, got, c.want)
		}
	}
}
