package pipeline

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// hasPath reports whether the batch holds a path ending in suffix.
func hasPath(b Block, suffix string) bool {
	paths := Column(b, PathColumn).(*array.String)
	for i := range paths.Len() {
		if strings.HasSuffix(paths.Value(i), suffix) {
			return true
		}
	}
	return false
}

// TestActorRecovery: actors that fail are replaced and their batches
// retried (Ray's max_restarts and max_task_retries). One actor with one
// task in flight makes every counter exact: 80 rows in 10 batches of 8.
func TestActorRecovery(t *testing.T) {
	t.Parallel()
	files := makeFiles(t, 80)
	var panicked atomic.Bool
	cases := []struct {
		name string
		udf  UDF
		ft   FaultTolerance
		// want
		errRows, restarts, retries, failedBatches int64
		errText                                   string // in the run's error; "" = the run succeeds
	}{
		{"a UDF that panics on one batch", UDFFunc(func(ctx context.Context, b Block) (any, error) {
			if hasPath(b, "f00017.jpg") && panicked.CompareAndSwap(false, true) {
				panic("index out of range")
			}
			return lengths(ctx, b)
		}), FaultTolerance{MaxRestarts: 3, MaxTaskRetries: 3}, 0, 1, 1, 0, ""},
		// Each actor runs two batches and fails its third: 10 batches
		// take 5 actors, so 4 restarts, each retrying one batch.
		{"an actor that dies every 3 batches", lengths,
			FaultTolerance{MaxRestarts: -1, MaxTaskRetries: 3, InjectFailureEvery: 3}, 0, 4, 4, 0, ""},
		// Every attempt fails its actor: 1 try + 2 retries, 3 restarts,
		// then the batch's 8 rows carry the cause and the rest goes on.
		{"a batch that always fails", UDFFunc(func(ctx context.Context, b Block) (any, error) {
			if hasPath(b, "f00042.jpg") {
				return nil, errors.New("CUDA error: an illegal memory access was encountered")
			}
			return lengths(ctx, b)
		}), FaultTolerance{MaxRestarts: -1, MaxTaskRetries: 2}, 8, 3, 2, 1, ""},
		{"past max_restarts the run stops", UDFFunc(func(ctx context.Context, b Block) (any, error) {
			if hasPath(b, "f00042.jpg") {
				return nil, errors.New("CUDA error: an illegal memory access was encountered")
			}
			return lengths(ctx, b)
		}), FaultTolerance{MaxRestarts: 1, MaxTaskRetries: 5}, 0, 1, 1, 0, "max_restarts 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ctorCalls atomic.Int64
			ft := c.ft
			ds := ReadBinaryFiles(files, ReadOptions{OverrideNumBlocks: 10}).MapBatches(MapOptions{
				Name: "Model", BatchSize: 8, FaultTolerance: &ft,
				Compute: ActorPool{MinSize: 1, MaxSize: 1, MaxTasksInFlightPerActor: 1},
				FnConstructor: func(context.Context) (UDF, error) {
					ctorCalls.Add(1)
					return c.udf, nil
				},
			})
			out := filepath.Join(t.TempDir(), "o.parquet")
			err := ds.WriteParquet(context.Background(), out, WriteOptions{})
			if c.errText != "" {
				if err == nil || !strings.Contains(err.Error(), c.errText) || !strings.Contains(err.Error(), "CUDA error") {
					t.Fatalf("err = %v, want one naming %q and the cause", err, c.errText)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			m := ds.Metrics()[1].Metrics
			got := []int64{m.ActorRestarts, m.TaskRetries, m.FailedBatches}
			if want := []int64{c.restarts, c.retries, c.failedBatches}; !slices.Equal(got, want) {
				t.Errorf("restarts, retries, failed batches = %v, want %v", got, want)
			}
			if m.ConstructorCalls != 1+c.restarts || ctorCalls.Load() != 1+c.restarts {
				t.Errorf("constructor calls %d (metric %d), want 1 + %d restarts", ctorCalls.Load(), m.ConstructorCalls, c.restarts)
			}
			if c.errText != "" {
				return
			}
			if m.ErrorRows != c.errRows {
				t.Errorf("error rows = %d, want %d", m.ErrorRows, c.errRows)
			}
			tbl := readTable(t, out)
			defer tbl.Release()
			seen := map[string]string{}
			for _, ch := range tbl.Column(tbl.Schema().FieldIndices(PathColumn)[0]).Data().Chunks() {
				for i := range ch.Len() {
					seen[ch.(*array.String).Value(i)] = ""
				}
			}
			if tbl.NumRows() != 80 || len(seen) != 80 {
				t.Fatalf("%d rows, %d distinct paths; want each of 80 once", tbl.NumRows(), len(seen))
			}
			if c.errRows > 0 {
				var msgs []string
				for _, ch := range tbl.Column(tbl.Schema().FieldIndices(ErrorColumn)[0]).Data().Chunks() {
					for i := range ch.Len() {
						if ch.IsValid(i) {
							msgs = append(msgs, ch.(*array.String).Value(i))
						}
					}
				}
				if len(msgs) == 0 || !strings.Contains(msgs[0], "CUDA error") || !strings.Contains(msgs[0], "failed on 3 actors") {
					t.Errorf("error rows say %q, want the cause and the attempts", msgs)
				}
			}
		})
	}
}

// TestPanicWithoutRecoveryFailsItsBatch: without FaultTolerance a panic in
// the UDF fails its batch's rows, like a returned error, never the process.
func TestPanicWithoutRecoveryFailsItsBatch(t *testing.T) {
	t.Parallel()
	files := makeFiles(t, 20)
	boom := UDFFunc(func(ctx context.Context, b Block) (any, error) {
		if hasPath(b, "f00004.jpg") {
			panic("boom")
		}
		return lengths(ctx, b)
	})
	ds := ReadBinaryFiles(files, ReadOptions{OverrideNumBlocks: 5}).MapBatches(MapOptions{Name: "Bad", Fn: boom, BatchSize: 4})
	out := filepath.Join(t.TempDir(), "o.parquet")
	if err := ds.WriteParquet(context.Background(), out, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := ds.Metrics()[1].Metrics.ErrorRows; n != 4 {
		t.Errorf("error rows = %d, want the panicking batch's 4", n)
	}
}

// holdingUDF keeps a count of the bytes it has seen, as a collecting UDF
// would keep the rows themselves.
type holdingUDF struct{ held int64 }

func (h *holdingUDF) Call(ctx context.Context, b Block) (any, error) {
	h.held += BlockBytes(b)
	return lengths(ctx, b)
}

func (h *holdingUDF) HeldBytes() int64 { return h.held }

// TestHeldBytesLeaveWithTheActor: what a replaced actor's UDF held is gone
// with it, so held_bytes counts only the live actor's, while the peak keeps
// the most any one held.
func TestHeldBytesLeaveWithTheActor(t *testing.T) {
	t.Parallel()
	files := makeFiles(t, 80)
	var udfs []*holdingUDF
	ft := FaultTolerance{MaxRestarts: -1, MaxTaskRetries: 3, InjectFailureEvery: 3}
	ds := ReadBinaryFiles(files, ReadOptions{OverrideNumBlocks: 10}).MapBatches(MapOptions{
		Name: "Hold", BatchSize: 8, FaultTolerance: &ft,
		Compute: ActorPool{MinSize: 1, MaxSize: 1, MaxTasksInFlightPerActor: 1},
		FnConstructor: func(context.Context) (UDF, error) {
			u := &holdingUDF{}
			udfs = append(udfs, u) // constructors run one at a time
			return u, nil
		},
	})
	if err := ds.WriteParquet(context.Background(), filepath.Join(t.TempDir(), "o.parquet"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	m := ds.Metrics()[1].Metrics
	if m.ActorRestarts == 0 || len(udfs) < 2 {
		t.Fatalf("%d restarts, %d actors: the test needs a replaced actor", m.ActorRestarts, len(udfs))
	}
	var most int64
	for _, u := range udfs {
		most = max(most, u.held)
	}
	if last := udfs[len(udfs)-1].held; m.HeldBytes != last {
		t.Errorf("held_bytes %d at the end, want the live actor's %d (the most any actor held: %d)", m.HeldBytes, last, most)
	}
	if m.PeakHeldBytes != most {
		t.Errorf("peak_held_bytes %d, want %d", m.PeakHeldBytes, most)
	}
}
