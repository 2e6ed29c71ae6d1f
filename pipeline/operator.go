package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Compute selects how a MapBatches stage runs its UDF: a TaskPool or an
// ActorPool, as in Ray's `compute=` argument.
type Compute interface{ isCompute() }

// TaskPool runs one stateless task per input bundle. A constructor, if the
// stage has one, runs in every task. Size caps concurrent tasks; 0 leaves the
// cap to Concurrency and the CPU budget.
type TaskPool struct{ Size int }

// ActorPool runs the UDF in long-lived actors; each runs its constructor
// once, which is where a model loads. The pool starts InitialSize actors and
// scales between MinSize and MaxSize on utilisation.
// MaxTasksInFlightPerActor bounds the tasks queued on one actor (Ray's
// default is 4) so the next batch is ready the moment the current one ends.
type ActorPool struct {
	MinSize, MaxSize, InitialSize int
	MaxTasksInFlightPerActor      int
}

func (TaskPool) isCompute()  {}
func (ActorPool) isCompute() {}

// Concurrency is Ray's `concurrency=`: a fixed size (Min == Max) or an
// autoscaling (Min, Max) range. The zero value means unset.
type Concurrency struct{ Min, Max int }

// Fixed returns concurrency n.
func Fixed(n int) Concurrency { return Concurrency{n, n} }

// Range returns an autoscaling concurrency between lo and hi.
func Range(lo, hi int) Concurrency { return Concurrency{lo, hi} }

// IsSet reports whether c was given.
func (c Concurrency) IsSet() bool { return c.Max > 0 }

func (c Concurrency) String() string {
	if c.Min == c.Max {
		return fmt.Sprint(c.Max)
	}
	return fmt.Sprintf("(%d, %d)", c.Min, c.Max)
}

// MapOptions are MapBatches' arguments, named as in Ray.
type MapOptions struct {
	// Name labels the operator in stats and progress lines.
	Name string
	// Fn is a stateless batch function. Exactly one of Fn and FnConstructor
	// is set.
	Fn UDF
	// FnConstructor builds a stateful UDF (Ray's callable class).
	FnConstructor Constructor
	// BatchSize is the number of rows per UDF call; 0 passes whole bundles.
	BatchSize int
	// Compute picks a TaskPool or an ActorPool. When nil, a stage with a
	// FnConstructor gets an ActorPool sized by Concurrency, as Ray does for
	// callable classes, and a plain Fn gets a TaskPool.
	Compute Compute
	// Concurrency sizes the pool: an actor pool's (min, max), or a task
	// pool's cap on running tasks.
	Concurrency Concurrency
	// NumCPUs and NumGPUs are the logical resources one task or actor holds.
	// NumCPUs defaults to 1. NumGPUs may be fractional.
	NumCPUs, NumGPUs float64
	// Strict rejects per-row object outputs, as Ray ≥ 2.5 does.
	Strict bool
	// Allocator is the Arrow allocator for blocks this stage builds.
	Allocator memory.Allocator
	// FaultTolerance, on an actor-pool stage, replaces actors that fail and
	// retries their batches, as Ray's max_restarts and max_task_retries
	// do. Nil keeps the actor and turns a failing batch into error rows.
	FaultTolerance *FaultTolerance
}

// FaultTolerance is how an actor pool survives failing actors. An actor
// fails when its UDF panics or returns an error for a whole batch (an ORT
// failure, a CUDA error): it is torn down and replaced, and the batch it
// ran and those queued on it go to other actors.
type FaultTolerance struct {
	// MaxRestarts bounds the replacements over the run; one more failure
	// ends the run with an error naming it. -1 is unlimited.
	MaxRestarts int
	// MaxTaskRetries is how many times a batch is run again after the
	// actor running it failed. A batch that fails them all becomes error
	// rows naming the cause, and the run goes on.
	MaxTaskRetries int
	// InjectFailureEvery makes each actor fail its every Nth batch, before
	// running it: fault injection, to show what recovery costs. 0 = never.
	InjectFailureEvery int
}

// ActorInfo tells a constructor or UDF which actor it runs in and which
// GPU it was pinned to (-1 when none).
type ActorInfo struct {
	Op    string
	Index int
	GPU   int
}

type actorKey struct{}

// ActorFromContext returns the actor a constructor or UDF runs in.
func ActorFromContext(ctx context.Context) (ActorInfo, bool) {
	a, ok := ctx.Value(actorKey{}).(ActorInfo)
	return a, ok
}

// MapOperator is the physical operator for one MapBatches stage. Its
// configuration is fixed when the plan is built; the executor keeps its
// runtime state in opState.
type MapOperator struct {
	opts     MapOptions
	pool     ActorPool // resolved, when actors
	actors   bool
	taskCap  int // 0 = no cap beyond resources
	minRows  int // rows to bundle before dispatching a task
	resource ExecutionResources
	sink     bool
	target   int64 // split output blocks above this many bytes
}

// Name returns the operator's name.
func (op *MapOperator) Name() string { return op.opts.Name }

// IncrementalResourceUsage is what one more task (task pool) or one more
// actor (actor pool) would hold.
func (op *MapOperator) IncrementalResourceUsage() ExecutionResources { return op.resource }

func newMapOperator(o MapOptions) (*MapOperator, error) {
	if (o.Fn == nil) == (o.FnConstructor == nil) {
		return nil, fmt.Errorf("map_batches %q: set exactly one of Fn and FnConstructor", o.Name)
	}
	if o.BatchSize < 0 {
		return nil, fmt.Errorf("map_batches %q: batch_size %d must be positive", o.Name, o.BatchSize)
	}
	if o.Concurrency.Min < 0 || o.Concurrency.Max < o.Concurrency.Min {
		return nil, fmt.Errorf("map_batches %q: concurrency %v must be a positive int or a (min, max) pair with min <= max", o.Name, o.Concurrency)
	}
	if o.NumCPUs < 0 || o.NumGPUs < 0 {
		return nil, fmt.Errorf("map_batches %q: num_cpus and num_gpus must not be negative", o.Name)
	}
	if o.NumCPUs == 0 && o.NumGPUs == 0 {
		o.NumCPUs = 1
	}
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	op := &MapOperator{opts: o, minRows: o.BatchSize}
	op.resource = ExecutionResources{CPU: o.NumCPUs, GPU: o.NumGPUs}
	compute := o.Compute
	if compute == nil {
		if o.FnConstructor != nil {
			compute = ActorPool{}
		} else {
			compute = TaskPool{}
		}
	}
	switch c := compute.(type) {
	case TaskPool:
		op.taskCap = c.Size
		if o.Concurrency.IsSet() {
			op.taskCap = o.Concurrency.Max
		}
	case ActorPool:
		op.actors = true
		if o.Concurrency.IsSet() && c.MaxSize == 0 {
			c.MinSize, c.MaxSize = o.Concurrency.Min, o.Concurrency.Max
		}
		if c.MaxSize == 0 {
			c.MinSize, c.MaxSize = 1, 1
		}
		if c.MinSize == 0 {
			c.MinSize = 1
		}
		if c.MinSize > c.MaxSize {
			return nil, fmt.Errorf("map_batches %q: actor pool min_size %d > max_size %d", o.Name, c.MinSize, c.MaxSize)
		}
		if c.InitialSize == 0 {
			c.InitialSize = c.MinSize
		}
		c.InitialSize = min(max(c.InitialSize, c.MinSize), c.MaxSize)
		if c.MaxTasksInFlightPerActor == 0 {
			c.MaxTasksInFlightPerActor = 2
		}
		op.pool = c
	default:
		return nil, fmt.Errorf("map_batches %q: unknown compute %T", o.Name, compute)
	}
	return op, nil
}

// taskResult is what a finished task reports to the scheduling loop.
type taskResult struct {
	op         int
	seq        int64
	actor      *actor
	in         RefBundle
	outReserve int64 // output bytes reserved at dispatch
	out        RefBundle
	err        error // fatal: ends the run
	failed     bool  // a UDF batch failed; its rows carry the error
	// actorErr is a batch that failed its actor (FaultTolerance): the
	// actor is replaced and the task retried.
	actorErr      error
	attempt       int // retries before this run of the task
	batches       int
	rowsCopied    int
	rowsConverted int
	// held is what the UDF keeps between calls once the task is done,
	// when it is a Holder (holds).
	held             int64
	holds            bool
	constructorCalls int
	constructorTime  time.Duration
	duration         time.Duration
	cpu              time.Duration
	reserved         ExecutionResources
}

// process runs udf over a bundle: failed rows pass through, the rest is cut
// into batches, and each batch's output is converted to a block. A UDF error
// fails that batch's rows, not the run. The output keeps the input's row
// order, failed rows included, so PreserveOrder holds row by row.
func (op *MapOperator) process(ctx context.Context, udf UDF, in RefBundle, res *taskResult) []Block {
	var good, out []Block
	var runs []failedRun
	goodRows := 0
	for _, b := range in.Blocks {
		if op.sink {
			// A sink writes every row, failed ones included.
			b.Retain()
			good = append(good, b)
			continue
		}
		g, bad := splitErrors(b, goodRows)
		for _, x := range g {
			goodRows += int(x.NumRows())
		}
		good = append(good, g...)
		runs = append(runs, bad...)
	}
	defer func() {
		for _, g := range good {
			g.Release()
		}
		// Runs not handed on (an early return) are dropped here.
		for _, r := range runs {
			r.blk.Release()
		}
	}()
	// place appends a batch's output, with the failed runs around and
	// inside it, to out; a nil blk places only the runs before lo.
	place := func(blk Block, lo, n int) {
		var blocks []Block
		blocks, runs = interleave(blk, lo, n, runs)
		if blk != nil {
			blk.Release()
		}
		for _, b := range blocks {
			out = append(out, splitLarge(b, op.target)...)
		}
	}
	bt := batcher{mem: op.opts.Allocator, size: op.opts.BatchSize, blocks: good}
	if op.sink {
		bt.size = 0 // sinks take blocks whole
	}
	done := 0 // good rows already batched
	for {
		if ctx.Err() != nil {
			return out
		}
		batch, err := bt.next()
		if err != nil {
			res.err = err
			return out
		}
		if batch == nil {
			break
		}
		res.batches++
		n := int(batch.NumRows())
		ret, err := callUDF(ctx, udf, batch)
		if op.sink {
			// A sink's failure (a full disk, a closed writer) ends the run.
			batch.Release()
			if err != nil && ctx.Err() == nil {
				res.err = fmt.Errorf("%s: %w", op.opts.Name, err)
				return out
			}
			continue
		}
		var blk Block
		if err == nil {
			var conv int
			blk, conv, err = toBlock(op.opts.Allocator, ret, batch, op.opts.Strict)
			res.rowsConverted += conv
			if rel, ok := ret.(interface{ Release() }); ok {
				rel.Release()
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				batch.Release()
				return out
			}
			if op.opts.Strict && err == ErrRowObjects {
				res.err = fmt.Errorf("map_batches %q: %w", op.opts.Name, err)
				batch.Release()
				return out
			}
			if op.actors && op.opts.FaultTolerance != nil {
				// The actor failed: the whole task goes to another one.
				res.actorErr = err
				batch.Release()
				return out
			}
			res.failed = true
			blk = failRows(op.opts.Allocator, batch, err.Error())
		}
		batch.Release()
		place(blk, done, n)
		done += n
	}
	// Failed runs after the last good row, or a task with no good rows.
	place(nil, done, 0)
	if h, ok := udf.(Holder); ok {
		res.held, res.holds = h.HeldBytes(), true
	}
	for _, r := range runs {
		out = append(out, r.blk)
	}
	runs = nil
	res.rowsCopied = bt.copiedRow
	return out
}

// callUDF calls udf, turning a panic into the batch's error, so a UDF that
// panics fails its batch (or, with FaultTolerance, its actor), never the
// process.
func callUDF(ctx context.Context, udf UDF, batch Block) (ret any, err error) {
	defer func() {
		if r := recover(); r != nil {
			ret, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return udf.Call(ctx, batch)
}

// splitLarge cuts a block above target bytes into zero-copy slices of about
// target bytes each, as Ray does with target_max_block_size.
func splitLarge(b Block, target int64) []Block {
	size := BlockBytes(b)
	rows := b.NumRows()
	if target <= 0 || size <= target || rows <= 1 {
		return []Block{b}
	}
	parts := min((size+target-1)/target, rows)
	out := make([]Block, 0, parts)
	for i := range parts {
		lo, hi := i*rows/parts, (i+1)*rows/parts
		out = append(out, sliceBlock(b, lo, hi))
	}
	b.Release()
	return out
}
