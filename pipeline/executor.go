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
}

// ctorMu serialises constructors while their new OS threads are attributed
// to them, so two actors starting at once do not claim each other's threads.
var ctorMu sync.Mutex

type actor struct {
	idx      int
	gpu      int
	inbox    chan task
	inflight int
	ready    bool
	exited   bool
	ok       bool // set before inbox closes: did the run succeed?
}

type task struct {
	seq     int64
	in      RefBundle
	reserve int64 // output bytes reserved for it in the memory budget
}

type actorEvent struct {
	op    int
	actor *actor
	kind  string // ready, failed, exited
	err   error
	res   taskResult // constructor accounting
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
	actors       []*actor
	pending      int // actors waiting for resources
	starting     int
	done         bool
	blockedBy    string
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
	rowsTotal int64
	fatal     error
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
		opts:      opts,
		rm:        NewResourceManager(ExecutionResources{CPU: opts.Limits.CPU, GPU: opts.Limits.GPU, ObjectStoreMemory: math.MaxInt64}),
		results:   make(chan taskResult, 64),
		actorEvts: make(chan actorEvent, 64),
	}
	e.policies = append(e.policies, ConcurrencyCapPolicy{})
	if !opts.DisableBackpressure {
		e.policies = append(e.policies, MemoryBudgetPolicy{Budget: opts.Limits.ObjectStoreMemory}, DownstreamCapacityPolicy{Ratio: 4})
	}
	for _, op := range ops {
		e.ops = append(e.ops, &opState{op: op, held: map[int64]RefBundle{}, metrics: OpMetrics{State: StateIdle}})
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

// Execute runs the operators over the source bundles. It returns when every
// operator is done, the first fatal error, or ctx is cancelled; in every case
// all goroutines it started have ended.
func (e *StreamingExecutor) Execute(ctx context.Context, source []RefBundle) (err error) {
	e.checkOversubscription()
	for _, s := range e.ops {
		if s.op.resource.GPU > 0 && e.opts.Limits.GPU == 0 {
			for _, b := range source {
				b.Release()
			}
			return fmt.Errorf("%s needs %g GPU per actor, but no GPU is available: use --device cpu, or --gpus N if NVML cannot see the GPU", s.op.Name(), s.op.resource.GPU)
		}
	}
	taskCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.start = time.Now()
	e.last = e.start
	for _, s := range e.ops {
		// Every operator's clock starts with the execution, so time spent
		// starved before its first input counts against the same wall.
		s.metrics.start = e.start
	}
	first := e.ops[0]
	for _, b := range source {
		e.rowsTotal += int64(b.Rows)
		e.enqueue(first, b)
	}
	first.upstreamDone = true
	for i, s := range e.ops {
		if s.op.actors {
			for range s.op.pool.InitialSize {
				e.requestActor(taskCtx, i)
			}
		}
	}
	ticker := time.NewTicker(e.opts.SnapshotInterval)
	defer ticker.Stop()

	for !e.finished() && e.fatal == nil {
		e.updateStates()
		e.retryPending(taskCtx)
		e.dispatch(taskCtx)
		e.retireActors()
		if e.finished() {
			break
		}
		if e.stuck() {
			e.fatal = fmt.Errorf("the pipeline cannot make progress: %s", e.describe())
			break
		}
		select {
		case r := <-e.results:
			e.onResult(r)
		case ev := <-e.actorEvts:
			e.onActorEvent(taskCtx, ev)
		case <-ticker.C:
			e.autoscale(taskCtx)
			e.publish(false)
		case <-ctx.Done():
			e.fatal = ctx.Err()
		}
	}
	e.updateStates()
	e.shutdown(cancel)
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
		if s.running > 0 || s.starting > 0 {
			return false
		}
		for _, a := range s.actors {
			if a.inbox == nil && !a.exited {
				return false // closing down
			}
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
		parts = append(parts, fmt.Sprintf("%s has %d rows queued, %d actors pending, held back by %q (needs %s; limits %s)",
			s.op.Name(), s.inRows, s.pending, s.blockedBy, s.op.resource, e.rm.Limits()))
	}
	return strings.Join(parts, "; ")
}

func (e *StreamingExecutor) finished() bool {
	for _, s := range e.ops {
		if !s.done {
			return false
		}
		for _, a := range s.actors {
			if !a.exited {
				return false
			}
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
	v := OpView{Name: s.op.Name(), Index: i, Running: s.running, NumOps: len(e.ops) - 1}
	if !s.op.actors {
		v.Cap = s.op.taskCap
	}
	v.OutputBytes = s.reservedOut
	for _, b := range s.held {
		v.OutputBytes += b.Bytes
	}
	if i+1 < len(e.ops) {
		d := e.ops[i+1]
		v.OutputBytes += d.inBytes + d.runningIn
		v.QueuedDownstream = d.inRows
		v.DownstreamCapacity = e.capacity(d)
		if d.op.actors {
			v.DownstreamCapacity *= d.op.pool.MaxTasksInFlightPerActor
		}
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
		s.blockedBy = ""
		for {
			if len(s.inQ) == 0 || (s.inRows < s.op.minRows && !s.upstreamDone) {
				break
			}
			if p := e.backpressured(i); p != "" {
				s.blockedBy = p
				break
			}
			if s.op.actors {
				a := e.freeActor(s)
				if a == nil {
					break
				}
				b, _ := e.takeBundle(s)
				reserve := e.submit(s, b)
				a.inflight++
				a.inbox <- task{seq: b.Seq, in: b, reserve: reserve}
				continue
			}
			if !e.rm.TryAcquire(s.op.Name(), s.op.resource) {
				s.blockedBy = "resources"
				break
			}
			b, _ := e.takeBundle(s)
			reserve := e.submit(s, b)
			e.wg.Add(1)
			go e.runTask(ctx, i, b, reserve)
		}
	}
}

// retryPending starts actors that earlier did not fit, now that resources
// may have been released.
func (e *StreamingExecutor) retryPending(ctx context.Context) {
	for i, s := range e.ops {
		for s.pending > 0 && !s.done {
			s.pending--
			before := len(s.actors)
			e.requestActor(ctx, i)
			if len(s.actors) == before {
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

func (e *StreamingExecutor) freeActor(s *opState) *actor {
	var best *actor
	for _, a := range s.actors {
		if a.ready && !a.exited && a.inflight < s.op.pool.MaxTasksInFlightPerActor && (best == nil || a.inflight < best.inflight) {
			best = a
		}
	}
	return best
}

// runTask runs one task-pool task: constructor (if any), UDF, teardown.
func (e *StreamingExecutor) runTask(ctx context.Context, i int, b RefBundle, reserve int64) {
	defer e.wg.Done()
	s := e.ops[i]
	res := taskResult{op: i, seq: b.Seq, in: b, outReserve: reserve, reserved: s.op.resource}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0, cpu0 := time.Now(), threadCPU()
	udf := s.op.opts.Fn
	var tids []int
	if c := s.op.opts.FnConstructor; c != nil {
		var err error
		var d time.Duration
		udf, tids, d, err = construct(ctx, c, ActorInfo{Op: s.op.Name(), Index: -1, GPU: -1})
		res.constructorCalls, res.constructorTime = 1, d
		if err != nil {
			res.err = fmt.Errorf("%s: constructor failed: %w", s.op.Name(), err)
			res.duration = time.Since(t0)
			e.results <- res
			return
		}
	}
	blocks := s.op.process(ctx, udf, b, &res)
	res.out = newBundle(b.Seq, blocks...)
	res.cpu = threadCPU() - cpu0 + threadsCPU(tids)
	if err := closeUDF(ctx, udf, s.op.opts.FnConstructor != nil, true); err != nil && res.err == nil {
		res.err = fmt.Errorf("%s: %w", s.op.Name(), err)
	}
	res.duration = time.Since(t0)
	e.results <- res
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

// leastLoadedGPU picks the GPU with the fewest live actors, the lowest id
// on a tie: round-robin while actors only start, and a replacement for a
// failed actor takes the GPU it left rather than doubling up on another.
func leastLoadedGPU(actors []*actor, gpus int) int {
	load := make([]int, gpus)
	for _, a := range actors {
		if !a.exited && a.gpu >= 0 && a.gpu < gpus {
			load[a.gpu]++
		}
	}
	best := 0
	for g := range load {
		if load[g] < load[best] {
			best = g
		}
	}
	return best
}

func (e *StreamingExecutor) requestActor(ctx context.Context, i int) {
	s := e.ops[i]
	if !e.actorFits(s) || !e.rm.TryAcquire(s.op.Name(), s.op.resource) {
		s.pending++
		s.metrics.OnActors(e.aliveActors(s), s.pending+s.starting)
		return
	}
	gpu := -1
	if s.op.resource.GPU > 0 && e.opts.Limits.GPU >= 1 {
		gpu = leastLoadedGPU(s.actors, int(e.opts.Limits.GPU))
	}
	a := &actor{idx: len(s.actors), gpu: gpu, inbox: make(chan task, s.op.pool.MaxTasksInFlightPerActor)}
	s.actors = append(s.actors, a)
	s.starting++
	s.metrics.OnActors(e.aliveActors(s), s.pending+s.starting)
	e.wg.Add(1)
	go e.runActor(ctx, i, a, a.inbox)
}

// actorFits keeps actor pools from starving the task-pool stages they
// depend on: beyond its first actor, a pool may not take CPUs that would
// leave a running task pool without room for one task. Without this, two
// one-CPU actors on a two-core machine would hold every CPU and the reads
// feeding them could never run. The actors that do not fit wait as pending.
func (e *StreamingExecutor) actorFits(s *opState) bool {
	if len(s.actors)-e.exitedActors(s) == 0 || s.op.resource.CPU == 0 {
		return true
	}
	var reserve float64
	for _, o := range e.ops {
		if !o.op.actors && !o.done {
			reserve = max(reserve, o.op.resource.CPU)
		}
	}
	now, _ := e.rm.Total()
	return now.CPU+s.op.resource.CPU+reserve <= e.opts.Limits.CPU+1e-9
}

func (e *StreamingExecutor) aliveActors(s *opState) int {
	n := 0
	for _, a := range s.actors {
		if a.ready && !a.exited {
			n++
		}
	}
	return n
}

// runActor is one actor: constructor once, then tasks from its inbox until
// the inbox closes.
// The inbox is passed in because the scheduler nils a.inbox when it closes it.
func (e *StreamingExecutor) runActor(ctx context.Context, i int, a *actor, inbox <-chan task) {
	defer e.wg.Done()
	s := e.ops[i]
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	udf := s.op.opts.Fn
	var tids []int
	ev := actorEvent{op: i, actor: a, kind: "ready"}
	if c := s.op.opts.FnConstructor; c != nil {
		var err error
		var d time.Duration
		cpu0 := threadCPU()
		udf, tids, d, err = construct(ctx, c, ActorInfo{Op: s.op.Name(), Index: a.idx, GPU: a.gpu})
		ev.res.constructorCalls, ev.res.constructorTime = 1, d
		ev.res.cpu = threadCPU() - cpu0
		if err != nil {
			ev.kind, ev.err = "failed", fmt.Errorf("%s actor %d: constructor failed: %w", s.op.Name(), a.idx, err)
			e.actorEvts <- ev
			// Drain until told to stop, so the scheduler never blocks on us.
			for t := range inbox {
				e.results <- taskResult{op: i, seq: t.seq, in: t.in, outReserve: t.reserve, actor: a, err: ev.err}
			}
			e.actorEvts <- actorEvent{op: i, actor: a, kind: "exited"}
			return
		}
	}
	e.actorEvts <- ev
	actx := context.WithValue(ctx, actorKey{}, ActorInfo{Op: s.op.Name(), Index: a.idx, GPU: a.gpu})
	lastPool := threadsCPU(tids)
	for t := range inbox {
		res := taskResult{op: i, seq: t.seq, in: t.in, outReserve: t.reserve, actor: a}
		t0, cpu0 := time.Now(), threadCPU()
		blocks := s.op.process(actx, udf, t.in, &res)
		res.out = newBundle(t.seq, blocks...)
		pool := threadsCPU(tids)
		res.cpu = threadCPU() - cpu0 + pool - lastPool
		lastPool = pool
		res.duration = time.Since(t0)
		e.results <- res
	}
	exit := actorEvent{op: i, actor: a, kind: "exited"}
	if err := closeUDF(ctx, udf, s.op.opts.FnConstructor != nil, a.ok); err != nil {
		exit.err = fmt.Errorf("%s actor %d: %w", s.op.Name(), a.idx, err)
	}
	e.actorEvts <- exit
}

func (e *StreamingExecutor) onActorEvent(ctx context.Context, ev actorEvent) {
	s := e.ops[ev.op]
	switch ev.kind {
	case "ready":
		s.starting--
		ev.actor.ready = true
		if ev.res.constructorCalls > 0 {
			s.metrics.OnConstructor(ev.res.constructorTime)
			s.metrics.OnExtraCPU(ev.res.cpu)
		}
	case "failed":
		s.starting--
		s.metrics.OnConstructor(ev.res.constructorTime)
		if e.fatal == nil {
			e.fatal = ev.err
		}
	case "exited":
		ev.actor.exited = true
		e.rm.Release(s.op.Name(), s.op.resource)
		if ev.err != nil && e.fatal == nil {
			e.fatal = ev.err
		}
		if e.fatal == nil {
			e.retryPending(ctx)
		}
	}
	s.metrics.OnActors(e.aliveActors(s), s.pending+s.starting)
}

func (e *StreamingExecutor) onResult(r taskResult) {
	s := e.ops[r.op]
	now := time.Now()
	s.running--
	s.runningIn -= r.in.Bytes
	s.reservedOut -= r.outReserve
	if r.in.Bytes > 0 {
		s.outSamples++
		s.outRatio += (float64(r.out.Bytes)/float64(r.in.Bytes) - s.outRatio) / float64(s.outSamples)
	}
	if r.actor != nil {
		r.actor.inflight--
	} else {
		e.rm.Release(s.op.Name(), r.reserved)
	}
	if s.op.sink {
		r.out.Rows = r.in.Rows
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
		if !s.done && s.upstreamDone && len(s.inQ) == 0 && s.running == 0 && len(s.held) == 0 && s.starting == 0 {
			s.done = true
			if i+1 < len(e.ops) {
				e.ops[i+1].upstreamDone = true
			}
		}
		capacity := e.capacity(s)
		state := StateIdle
		switch {
		case s.done:
			state = StateDone
		case s.blockedBy != "" && s.blockedBy != "resources":
			state = StateBackpressured
		case (s.blockedBy == "resources" || s.pending > 0 || s.starting > 0) && len(s.inQ) > 0:
			state = StatePending
		case s.running < capacity && len(s.inQ) == 0 && !s.upstreamDone:
			state = StateStarved
		case s.running > 0:
			state = StateRunning
		}
		s.metrics.OnState(state, d, capacity, s.blockedBy)
		if s.running > 0 || !s.done {
			s.metrics.Wall = now.Sub(e.start)
		}
	}
}

// capacity is the number of tasks the operator could run at once now.
func (e *StreamingExecutor) capacity(s *opState) int {
	if s.op.actors {
		return e.aliveActors(s)
	}
	n := s.op.taskCap
	if c := s.op.resource.CPU; c > 0 {
		// CPUs held by actor pools are not available to tasks.
		free := e.opts.Limits.CPU
		for _, o := range e.ops {
			if o.op.actors {
				free -= e.rm.Usage(o.op.Name()).CPU
			}
		}
		byCPU := int(free / c)
		if n == 0 || byCPU < n {
			n = max(byCPU, 1)
		}
	}
	return max(n, 1)
}

// autoscale grows an actor pool while its actors are busy and input waits,
// and records why, like Ray's autoscaling requests.
func (e *StreamingExecutor) autoscale(ctx context.Context) {
	for i, s := range e.ops {
		if !s.op.actors || s.done {
			continue
		}
		p := s.op.pool
		size := len(s.actors) - e.exitedActors(s) + s.pending
		alive := e.aliveActors(s)
		if alive == 0 || s.starting > 0 || s.pending > 0 {
			continue
		}
		inflight := 0
		for _, a := range s.actors {
			if a.ready && !a.exited {
				inflight += a.inflight
			}
		}
		util := float64(inflight) / float64(alive*p.MaxTasksInFlightPerActor)
		if size < p.MaxSize && util >= 0.5 && s.inRows >= max(s.op.minRows, 1) {
			reason := fmt.Sprintf("utilisation %.0f%% with %d rows queued", util*100, s.inRows)
			e.requestActor(ctx, i)
			s.metrics.OnScaling(ScalingEvent{At: time.Since(e.start), Delta: +1, Actors: size + 1, Reason: reason})
		}
	}
}

func (e *StreamingExecutor) exitedActors(s *opState) int {
	n := 0
	for _, a := range s.actors {
		if a.exited {
			n++
		}
	}
	return n
}

// retireActors closes the inboxes of a finished operator's actors, so they
// run their teardown (a writer commits its file) while later operators go on.
func (e *StreamingExecutor) retireActors() {
	for _, s := range e.ops {
		if !s.op.actors {
			continue
		}
		if s.done {
			s.pending = 0
			for _, a := range s.actors {
				if a.ready && !a.exited && a.inbox != nil {
					a.ok = e.fatal == nil
					close(a.inbox)
					a.inbox = nil
				}
			}
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
		for _, a := range s.actors {
			if a.inbox != nil {
				a.ok = e.fatal == nil
				close(a.inbox)
				a.inbox = nil
			}
		}
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	for {
		select {
		case r := <-e.results:
			e.onResult(r)
		case ev := <-e.actorEvts:
			// Every inbox is already closed, so a late "ready" actor stops
			// on its own.
			e.onActorEvent(context.Background(), ev)
		case <-done:
			e.drain()
			for _, s := range e.ops {
				for _, b := range s.inQ {
					b.Release()
				}
				s.inQ = nil
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
			e.onActorEvent(context.Background(), ev)
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
