package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"
)

// ExecutionOptions configure a StreamingExecutor.
type ExecutionOptions struct {
	// Limits are the global resources. A zero CPU means the machine's cores;
	// a zero ObjectStoreMemory means 25% of RAM. GPU comes from telemetry or
	// a flag.
	Limits ExecutionResources
	// OverrideLimits marks Limits as deliberately set by the user, so asking
	// for more CPUs than the machine has is the user's choice, not a
	// misconfiguration to warn about.
	OverrideLimits bool
	// DisableBackpressure removes the memory budget policy, so queues grow
	// without bound (the no-backpressure mistake).
	DisableBackpressure bool
	// PreserveOrder releases each operator's outputs in input order. When
	// off, order is whatever is fastest.
	PreserveOrder bool
	// SnapshotInterval is how often snapshots are published (default 250ms).
	SnapshotInterval time.Duration
	// Bus receives snapshots; nil publishes nowhere.
	Bus *EventBus
	// Warnf reports configuration warnings, such as oversubscription.
	Warnf func(format string, args ...any)
	// Detect configures the straggler and stall detectors; the zero
	// value is their defaults.
	Detect DetectOptions
}

// ctorMu serialises constructors while their new OS threads are attributed
// to them, so two actors starting at once do not claim each other's threads.
var ctorMu sync.Mutex

type task struct {
	seq     int64
	in      RefBundle
	reserve int64 // output bytes reserved for it in the memory budget
	attempt int   // retries before this run (FaultTolerance)
	// watch is the detectors' view of the task: the worker stamps when
	// it begins.
	watch *taskWatch
}

type opState struct {
	op           *MapOperator
	metrics      OpMetrics
	inQ          []RefBundle
	inRows       int
	inBytes      int64
	upstreamDone bool
	running      int
	runningIn    int64 // input bytes held by running tasks
	reservedOut  int64 // estimated output bytes of running tasks
	outRatio     float64
	outSamples   int
	nextSeq      int64
	nextRelease  int64
	held         map[int64]RefBundle
	// udfHeld is what each actor's UDF keeps between calls (Holder); a
	// task pool's UDF ends with its task and keeps nothing.
	udfHeld map[*actor]int64
	// retryQ holds tasks whose actor failed, to run again on another one
	// before any new input.
	retryQ []task
	pool   pool
	done   bool
	hold   hold // why the last dispatch stopped short
	// tasks are the dispatched tasks not yet reported back, by sequence
	// number, and stall the stall detector's state: what the issue
	// detectors read.
	tasks map[int64]*taskWatch
	stall stallWatch
}

// StreamingExecutor runs a chain of MapOperators with one scheduling loop,
// as Ray Data's streaming executor does: collect finished tasks, pick the
// operator to run, dispatch its next task, update operator states.
type StreamingExecutor struct {
	opts      ExecutionOptions
	ops       []*opState
	rm        *ResourceManager
	policies  []BackpressurePolicy
	results   chan taskResult
	actorEvts chan actorEvent
	wg        sync.WaitGroup
	start     time.Time
	last      time.Time
	rowsTotal int64 // rows the source yields; 0 until known
	// rowsListed counts rows the source has yielded so far.
	rowsListed int64
	srcCh      chan sourceItem
	fatal      error
	// ctx is the tasks' context, for actors started from the loop (a
	// replacement for one that failed).
	ctx context.Context
	// detectOpts are opts.Detect with the defaults filled in.
	detectOpts DetectOptions
}

func newExecutor(ops []*MapOperator, opts ExecutionOptions) *StreamingExecutor {
	if opts.Limits.CPU == 0 {
		opts.Limits.CPU = float64(runtime.NumCPU())
	}
	if opts.Limits.ObjectStoreMemory == 0 {
		opts.Limits.ObjectStoreMemory = DefaultMemoryBudget()
	}
	if opts.SnapshotInterval == 0 {
		opts.SnapshotInterval = 250 * time.Millisecond
	}
	e := &StreamingExecutor{
		opts:       opts,
		detectOpts: opts.Detect.resolved(),
		rm:         NewResourceManager(ExecutionResources{CPU: opts.Limits.CPU, GPU: opts.Limits.GPU, ObjectStoreMemory: math.MaxInt64}),
		results:    make(chan taskResult, 64),
		actorEvts:  make(chan actorEvent, 64),
	}
	e.policies = append(e.policies, ConcurrencyCapPolicy{})
	if !opts.DisableBackpressure {
		e.policies = append(e.policies, MemoryBudgetPolicy{Budget: opts.Limits.ObjectStoreMemory}, DownstreamCapacityPolicy{Ratio: 4})
	}
	for _, op := range ops {
		e.ops = append(e.ops, &opState{op: op, held: map[int64]RefBundle{}, metrics: OpMetrics{State: StateIdle},
			tasks: map[int64]*taskWatch{}, stall: stallWatch{since: -1, idx: -1}})
	}
	for i, s := range e.ops {
		s.pool = newPool(e, i)
	}
	return e
}

// DefaultMemoryBudget is Ray's default object-store share: 25% of RAM.
func DefaultMemoryBudget() int64 {
	if total := totalMemory(); total > 0 {
		return total / 4
	}
	return 2 << 30
}

func (e *StreamingExecutor) warnf(format string, args ...any) {
	if e.opts.Warnf != nil {
		e.opts.Warnf(format, args...)
	}
}

// checkOversubscription warns when a stage asks for more CPUs than exist
// and the user did not override the limits.
func (e *StreamingExecutor) checkOversubscription() {
	for _, s := range e.ops {
		op := s.op
		n := op.taskCap
		if op.actors {
			n = op.pool.MaxSize
		}
		if need := float64(n) * op.resource.CPU; n > 0 && need > e.opts.Limits.CPU && !e.opts.OverrideLimits {
			e.warnf("warning: %s asks for concurrency %d × %g CPU = %g CPUs, but this machine has %g; "+
				"the extra tasks will wait (shown as pending). Oversubscribing on purpose? Raise the limit with --cpus.",
				op.Name(), n, op.resource.CPU, need, e.opts.Limits.CPU)
		}
		if op.resource.GPU > 0 && e.opts.Limits.GPU == 0 {
			e.warnf("warning: %s asks for %g GPU per actor but no GPU is available; it will wait forever. Use --device cpu or --gpus N.",
				op.Name(), op.resource.GPU)
		}
	}
}

// Source yields the read operator's input one bundle at a time (each the
// input of one read task) so that no listing is ever held whole. Next
// returns io.EOF after the last bundle. Total is the number of rows it will
// yield when known up front, or -1: the executor then reports RowsTotal 0
// ("counting…") until Next has returned io.EOF. Next is called with the
// execution's context, so a listing waiting on the network (an object
// store's next page) gives up when the run ends.
type Source struct {
	Next  func(ctx context.Context) (RefBundle, error)
	Total int64
}

// SliceSource is a Source over bundles already built.
func SliceSource(bundles []RefBundle) Source {
	var total int64
	for _, b := range bundles {
		total += int64(b.Rows)
	}
	i := 0
	return Source{Total: total, Next: func(context.Context) (RefBundle, error) {
		if i == len(bundles) {
			return RefBundle{}, io.EOF
		}
		i++
		return bundles[i-1], nil
	}}
}

// sourceItem is one pull from a Source, sent by the feeding goroutine.
type sourceItem struct {
	b   RefBundle
	err error // io.EOF at the end
}

// feed pulls src on its own goroutine, so that a slow listing (a large
// directory, an object store's next page) never stalls the scheduling
// loop, and hands each bundle over ch; the loop receives only while the
// read operator's queue is short, which is what keeps the listing lazy.
func (e *StreamingExecutor) feed(ctx context.Context, src Source, ch chan<- sourceItem) {
	defer e.wg.Done()
	for {
		b, err := src.Next(ctx)
		select {
		case ch <- sourceItem{b, err}:
		case <-ctx.Done():
			b.Release()
			return
		}
		if err != nil {
			return
		}
	}
}

// wantsSource reports whether the read operator's queue is short enough to
// take one more bundle from the source: two per task it could run, so a
// read task never waits for the listing, and no more, so the listing stays
// lazy.
func (e *StreamingExecutor) wantsSource() bool {
	first := e.ops[0]
	return !first.upstreamDone && len(first.inQ) < 2*max(first.pool.capacity(), 1)+2
}

// Execute runs the operators over what src yields. It returns when every
// operator is done, the first fatal error, or ctx is cancelled; in every case
// all goroutines it started have ended.
func (e *StreamingExecutor) Execute(ctx context.Context, src Source) (err error) {
	e.checkOversubscription()
	for _, s := range e.ops {
		if s.op.resource.GPU > 0 && e.opts.Limits.GPU == 0 {
			return fmt.Errorf("%s needs %g GPU per actor, but no GPU is available: use --device cpu, or --gpus N if NVML cannot see the GPU", s.op.Name(), s.op.resource.GPU)
		}
	}
	taskCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.ctx = taskCtx
	e.start = time.Now()
	e.last = e.start
	for _, s := range e.ops {
		// Every operator's clock starts with the execution, so time spent
		// starved before its first input counts against the same wall.
		s.metrics.start = e.start
	}
	first := e.ops[0]
	if src.Total >= 0 {
		e.rowsTotal = src.Total
	}
	srcCh := make(chan sourceItem, 1)
	e.srcCh = srcCh
	e.wg.Add(1)
	go e.feed(taskCtx, src, srcCh)
	for _, s := range e.ops {
		s.pool.start(taskCtx)
	}
	ticker := time.NewTicker(e.opts.SnapshotInterval)
	defer ticker.Stop()

	for !e.finished() && e.fatal == nil {
		e.updateStates()
		for _, s := range e.ops {
			s.pool.retry(taskCtx)
		}
		e.dispatch(taskCtx)
		for _, s := range e.ops {
			s.pool.retire(e.fatal == nil)
		}
		if e.finished() {
			break
		}
		var pull <-chan sourceItem
		if e.wantsSource() {
			pull = srcCh
		}
		if pull == nil && e.stuck() {
			e.fatal = fmt.Errorf("the pipeline cannot make progress: %s", e.describe())
			break
		}
		select {
		case it := <-pull:
			switch {
			case it.err == io.EOF:
				first.upstreamDone = true
				e.rowsTotal = e.rowsListed
			case it.err != nil:
				e.fatal = fmt.Errorf("%s: %w", first.op.Name(), it.err)
			default:
				e.rowsListed += int64(it.b.Rows)
				e.enqueue(first, it.b)
			}
		case r := <-e.results:
			e.onResult(r)
		case ev := <-e.actorEvts:
			ev.pool.onEvent(taskCtx, ev)
		case <-ticker.C:
			for _, s := range e.ops {
				s.pool.scale(taskCtx)
			}
			e.detect(time.Since(e.start))
			e.publish(false)
		case <-ctx.Done():
			e.fatal = ctx.Err()
		}
	}
	e.updateStates()
	e.shutdown(cancel)
	e.endDetections(time.Since(e.start))
	e.publish(true)
	if e.fatal != nil {
		return e.fatal
	}
	return nil
}

// stuck reports that nothing runs or starts and nothing can be dispatched,
// so no event will ever arrive: a configuration whose resources can never be
// satisfied, such as an actor needing more CPUs than the limit minus what
// other actors hold.
func (e *StreamingExecutor) stuck() bool {
	for _, s := range e.ops {
		if s.running > 0 || !s.pool.quiet() {
			return false
		}
	}
	return true
}

func (e *StreamingExecutor) describe() string {
	var parts []string
	for _, s := range e.ops {
		if s.done {
			continue
		}
		_, pending, _ := s.pool.counts()
		parts = append(parts, fmt.Sprintf("%s has %d rows queued, %d actors pending, held back by %s (needs %s; limits %s)",
			s.op.Name(), s.inRows, pending, s.hold, s.op.resource, e.rm.Limits()))
	}
	return strings.Join(parts, "; ")
}

func (e *StreamingExecutor) finished() bool {
	for _, s := range e.ops {
		if !s.done || !s.pool.exited() {
			return false
		}
	}
	return true
}

func (e *StreamingExecutor) enqueue(s *opState, b RefBundle) {
	s.inQ = append(s.inQ, b)
	s.inRows += b.Rows
	s.inBytes += b.Bytes
	s.metrics.OnInput(b)
	s.metrics.OnQueue(s.inRows, s.inBytes)
}

// takeBundle pops bundles until there are at least minRows rows (Ray bundles
// small blocks up to the batch size before dispatching).
func (e *StreamingExecutor) takeBundle(s *opState) (RefBundle, bool) {
	if len(s.inQ) == 0 || (s.inRows < s.op.minRows && !s.upstreamDone) {
		return RefBundle{}, false
	}
	var out RefBundle
	out.Seq = s.nextSeq
	for len(s.inQ) > 0 && (out.Rows < s.op.minRows || out.Rows == 0) {
		b := s.inQ[0]
		if need := s.op.minRows - out.Rows; s.op.minRows > 0 && b.Rows > need {
			// Cut the head bundle at the batch boundary (zero-copy) so one
			// task never holds far more than a batch: a big block would
			// otherwise make a task, and its output, as large as the block.
			head, rest := splitBundle(b, need)
			s.inQ[0] = rest
			b = head
		} else {
			s.inQ[0] = RefBundle{}
			s.inQ = s.inQ[1:]
		}
		out.Blocks = append(out.Blocks, b.Blocks...)
		out.Rows += b.Rows
		out.Bytes += b.Bytes
	}
	s.inRows -= out.Rows
	s.inBytes -= out.Bytes
	s.metrics.OnQueue(s.inRows, s.inBytes)
	s.nextSeq++
	return out, true
}

func (e *StreamingExecutor) view(i int) OpView {
	s := e.ops[i]
	v := OpView{Name: s.op.Name(), Index: i, Running: s.running, NumOps: len(e.ops) - 1, Cap: s.pool.taskCap()}
	v.OutputBytes = s.reservedOut
	for _, b := range s.held {
		v.OutputBytes += b.Bytes
	}
	if i+1 < len(e.ops) {
		d := e.ops[i+1]
		v.OutputBytes += d.inBytes + d.runningIn
		v.QueuedDownstream = d.inRows
		v.DownstreamCapacity = d.pool.capacity() * d.pool.perWorker()
		// A consumer's task takes minRows rows; a sink takes whatever the
		// producer makes.
		v.DownstreamBundle = d.op.minRows
		if v.DownstreamBundle == 0 {
			v.DownstreamBundle = s.avgOutRows()
		}
	}
	return v
}

// backpressured returns the name of the first policy holding op i back.
func (e *StreamingExecutor) backpressured(i int) string {
	if e.ops[i].op.sink {
		return ""
	}
	v := e.view(i)
	for _, p := range e.policies {
		if !p.CanAddInput(v) {
			return p.Name()
		}
	}
	return ""
}

// dispatch starts as many tasks as policies and resources allow, most
// downstream operator first, so that memory drains before more is read.
func (e *StreamingExecutor) dispatch(ctx context.Context) {
	for i := len(e.ops) - 1; i >= 0; i-- {
		s := e.ops[i]
		s.hold = hold{}
		take := func() task {
			if len(s.retryQ) > 0 {
				t := s.retryQ[0]
				s.retryQ = s.retryQ[1:]
				t.reserve = e.submit(s, t.in)
				t.watch = e.watchTask(s, t.seq)
				return t
			}
			b, _ := e.takeBundle(s)
			return task{seq: b.Seq, in: b, reserve: e.submit(s, b), watch: e.watchTask(s, b.Seq)}
		}
		for len(s.retryQ) > 0 || (len(s.inQ) > 0 && (s.inRows >= s.op.minRows || s.upstreamDone)) {
			if p := e.backpressured(i); p != "" {
				s.hold = hold{kind: holdBackpressure, policy: p}
				break
			}
			ok, h := s.pool.tryLaunch(ctx, take)
			if !ok {
				s.hold = h
				break
			}
		}
	}
}

// submit accounts a dispatched task and returns the output bytes reserved
// for it: its input bytes times the operator's mean output/input ratio so
// far (1 before the first task finishes). The reservation is returned to
// the budget exactly when the task reports back.
func (e *StreamingExecutor) submit(s *opState, b RefBundle) (reserve int64) {
	s.running++
	s.runningIn += b.Bytes
	ratio := 1.0
	if s.outSamples > 0 {
		ratio = s.outRatio
	}
	reserve = int64(float64(b.Bytes) * ratio)
	s.reservedOut += reserve
	s.metrics.OnTaskSubmitted(time.Now())
	return reserve
}

// avgOutRows is the mean rows per output bundle so far (1 before any).
func (s *opState) avgOutRows() int {
	if s.metrics.TasksFinished == 0 {
		return 1
	}
	return int(s.metrics.RowsOut / s.metrics.TasksFinished)
}

// construct runs a constructor on the caller's locked thread and returns the
// OS threads it started, so their CPU time is attributed to the operator.
func construct(ctx context.Context, c Constructor, info ActorInfo) (UDF, []int, time.Duration, error) {
	ctx = context.WithValue(ctx, actorKey{}, info)
	ctorMu.Lock()
	before := threadIDs()
	t0 := time.Now()
	udf, err := c(ctx)
	d := time.Since(t0)
	after := threadIDs()
	ctorMu.Unlock()
	var tids []int
	for id := range after {
		if !before[id] {
			tids = append(tids, id)
		}
	}
	if err == nil && udf == nil {
		err = errors.New("constructor returned a nil UDF")
	}
	return udf, tids, d, err
}

func threadsCPU(tids []int) time.Duration {
	var d time.Duration
	for _, id := range tids {
		d += tidCPU(id)
	}
	return d
}

func closeUDF(ctx context.Context, udf UDF, owned, ok bool) error {
	if !owned || udf == nil {
		return nil
	}
	if f, isF := udf.(Finisher); isF {
		return f.Finish(ctx, ok)
	}
	if c, isC := udf.(io.Closer); isC {
		return c.Close()
	}
	return nil
}

func (e *StreamingExecutor) onResult(r taskResult) {
	s := e.ops[r.op]
	now := time.Now()
	s.running--
	s.runningIn -= r.in.Bytes
	s.reservedOut -= r.outReserve
	if r.in.Bytes > 0 && r.actorErr == nil {
		s.outSamples++
		s.outRatio += (float64(r.out.Bytes)/float64(r.in.Bytes) - s.outRatio) / float64(s.outSamples)
	}
	s.pool.finished(r)
	if r.holds && r.actor != nil {
		s.setHeld(r.actor, r.held)
	}
	e.taskDone(s, r, now.Sub(e.start))
	if s.op.sink {
		r.out.Rows = r.in.Rows
	}
	if r.actorErr != nil && e.recoverTask(s, &r) {
		s.metrics.OnTaskFinished(now, r)
		return
	}
	s.metrics.OnTaskFinished(now, r)
	r.in.Release()
	if r.err != nil {
		r.out.Release()
		if e.fatal == nil {
			e.fatal = r.err
		}
		return
	}
	if s.op.sink {
		return
	}
	r.out.Rows, r.out.Bytes = 0, 0
	for _, b := range r.out.Blocks {
		r.out.Rows += int(b.NumRows())
		r.out.Bytes += BlockBytes(b)
	}
	if !e.opts.PreserveOrder {
		e.handOff(r.op, r.out)
		return
	}
	s.held[r.seq] = r.out
	for {
		b, ok := s.held[s.nextRelease]
		if !ok {
			break
		}
		delete(s.held, s.nextRelease)
		s.nextRelease++
		e.handOff(r.op, b)
	}
}

// setHeld records what actor a's UDF keeps between calls (Holder), or, with
// held < 0, that a is gone, and sums the operator's held_bytes.
func (s *opState) setHeld(a *actor, held int64) {
	if held < 0 {
		delete(s.udfHeld, a)
	} else {
		if s.udfHeld == nil {
			s.udfHeld = map[*actor]int64{}
		}
		s.udfHeld[a] = held
	}
	s.metrics.HeldBytes = 0
	for _, h := range s.udfHeld {
		s.metrics.HeldBytes += h
	}
	s.metrics.PeakHeldBytes = max(s.metrics.PeakHeldBytes, s.metrics.HeldBytes)
}

// recoverTask handles a task whose actor failed (FaultTolerance): the actor
// is replaced, once, and the task queued to run again, or, past
// MaxTaskRetries, its rows become error rows naming the cause (r.out, for
// onResult to hand on). It reports whether the task was queued again, in
// which case its input is kept rather than released.
func (e *StreamingExecutor) recoverTask(s *opState, r *taskResult) bool {
	ft := s.op.opts.FaultTolerance
	if p, ok := s.pool.(*actorPool); ok && r.actor != nil && !r.actor.dead {
		p.replace(r.actor, r.actorErr)
		// What the failed actor's UDF kept went with it.
		if _, held := s.udfHeld[r.actor]; held {
			s.setHeld(r.actor, -1)
		}
	}
	if e.fatal != nil {
		// The run is ending; shutdown releases the queued input.
		s.retryQ = append(s.retryQ, task{seq: r.seq, in: r.in})
		return true
	}
	if r.attempt < ft.MaxTaskRetries {
		s.retryQ = append(s.retryQ, task{seq: r.seq, in: r.in, attempt: r.attempt + 1})
		s.metrics.OnTaskRetry()
		return true
	}
	r.out.Release()
	msg := fmt.Sprintf("%s: the batch failed on %d actors in turn (max_task_retries %d): %v", s.op.Name(), r.attempt+1, ft.MaxTaskRetries, r.actorErr)
	var blocks []Block
	for _, b := range r.in.Blocks {
		blocks = append(blocks, failRows(s.op.opts.Allocator, b, msg))
	}
	r.out = newBundle(r.seq, blocks...)
	r.failed = true
	s.metrics.OnTaskGaveUp()
	return false
}

func (e *StreamingExecutor) handOff(i int, b RefBundle) {
	if i+1 >= len(e.ops) || len(b.Blocks) == 0 {
		b.Release()
		return
	}
	e.enqueue(e.ops[i+1], b)
}

// updateStates marks finished operators and accounts the time since the
// last update to each operator's state: running, starved, backpressured or
// pending. These times are what names the bottleneck.
func (e *StreamingExecutor) updateStates() {
	now := time.Now()
	d := now.Sub(e.last)
	e.last = now
	for i, s := range e.ops {
		_, pending, starting := s.pool.counts()
		if !s.done && s.upstreamDone && len(s.inQ) == 0 && len(s.retryQ) == 0 && s.running == 0 && len(s.held) == 0 && starting == 0 {
			s.done = true
			if i+1 < len(e.ops) {
				e.ops[i+1].upstreamDone = true
			}
		}
		capacity := s.pool.capacity()
		state := StateIdle
		switch {
		case s.done:
			state = StateDone
		case s.hold.kind == holdBackpressure:
			state = StateBackpressured
		case (s.hold.kind == holdResources || pending > 0 || starting > 0) && len(s.inQ) > 0:
			state = StatePending
		case s.running < capacity && len(s.inQ) == 0 && !s.upstreamDone:
			state = StateStarved
		case s.running > 0:
			state = StateRunning
		}
		s.metrics.OnState(state, d, capacity, s.hold.policy)
		if s.running > 0 || !s.done {
			s.metrics.Wall = now.Sub(e.start)
		}
	}
}

// shutdown cancels running work and waits for every goroutine, draining
// their reports so none blocks.
func (e *StreamingExecutor) shutdown(cancel context.CancelFunc) {
	if e.fatal != nil {
		cancel()
	}
	for _, s := range e.ops {
		s.pool.close(e.fatal == nil)
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	for {
		select {
		case r := <-e.results:
			e.onResult(r)
		case ev := <-e.actorEvts:
			// Every inbox is already closed, so a late ready actor stops
			// on its own.
			ev.pool.onEvent(context.Background(), ev)
		case it := <-e.srcCh:
			// The feeder stops once cancelled; what it sent is dropped.
			it.b.Release()
		case <-done:
			e.drain()
			for {
				select {
				case it := <-e.srcCh:
					it.b.Release()
					continue
				default:
				}
				break
			}
			for _, s := range e.ops {
				for _, b := range s.inQ {
					b.Release()
				}
				s.inQ = nil
				for _, t := range s.retryQ {
					t.in.Release()
				}
				s.retryQ = nil
				for _, b := range s.held {
					b.Release()
				}
				s.held = nil
			}
			return
		}
	}
}

// drain handles reports still buffered after every goroutine has ended.
func (e *StreamingExecutor) drain() {
	for {
		select {
		case r := <-e.results:
			e.onResult(r)
		case ev := <-e.actorEvts:
			ev.pool.onEvent(context.Background(), ev)
		default:
			return
		}
	}
}

func (e *StreamingExecutor) publish(done bool) {
	if e.opts.Bus == nil {
		return
	}
	e.opts.Bus.Publish(Event{Snapshot: e.snapshot(done)})
}

func (e *StreamingExecutor) snapshot(done bool) *Snapshot {
	now, _ := e.rm.Total()
	sn := &Snapshot{At: time.Since(e.start), Resources: now, Limits: e.opts.Limits, RowsTotal: e.rowsTotal, Done: done}
	for i, s := range e.ops {
		m := s.metrics.clone()
		sn.Ops = append(sn.Ops, OpSnapshot{Name: s.op.Name(), Metrics: m, Utilization: m.Utilization()})
		if i > 0 {
			// The read's input is the file list, not blocks in flight.
			sn.InFlightBytes += s.inBytes + s.runningIn
		}
		if i == len(e.ops)-1 {
			sn.RowsDone = m.RowsOut
		}
	}
	return sn
}

// Metrics returns a copy of every operator's metrics.
func (e *StreamingExecutor) Metrics() []OpSnapshot { return e.snapshot(true).Ops }

// splitBundle cuts b after n rows into two bundles of zero-copy slices.
func splitBundle(b RefBundle, n int) (head, rest RefBundle) {
	head.Seq, rest.Seq = b.Seq, b.Seq
	for _, blk := range b.Blocks {
		rows := int(blk.NumRows())
		switch {
		case n <= 0:
			rest.Blocks = append(rest.Blocks, blk)
			continue
		case rows <= n:
			head.Blocks = append(head.Blocks, blk)
		default:
			head.Blocks = append(head.Blocks, sliceBlock(blk, 0, int64(n)))
			rest.Blocks = append(rest.Blocks, sliceBlock(blk, int64(n), int64(rows)))
			blk.Release()
		}
		n -= rows
	}
	for _, x := range []*RefBundle{&head, &rest} {
		for _, blk := range x.Blocks {
			x.Rows += int(blk.NumRows())
			x.Bytes += BlockBytes(blk)
		}
	}
	return head, rest
}
