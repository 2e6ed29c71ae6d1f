package pipeline

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// pool is how a MapOperator runs its tasks, as Ray's map operator is built
// with either a task pool or an actor pool. The scheduling loop drives both
// through this interface alone: it asks whether one more task fits and
// dispatches it, hands back what a finished task held, and lets the pool
// grow, retire and close its workers. What differs lives behind it:
//
//   - taskPool starts one goroutine per task, which holds the operator's
//     resources only while it runs and builds its UDF (if a constructor is
//     given) every time;
//   - actorPool keeps long-lived actors, each holding its resources from
//     start to exit and running its constructor once, and sends each task
//     to the least loaded one.
type pool interface {
	// start launches what must exist before the first task: an actor
	// pool's initial actors.
	start(ctx context.Context)
	// tryLaunch runs one task, on what take pops from the input queue, if
	// one more fits now. Otherwise it does not call take and returns false
	// with what holds the operator back: a typed hold, or none when only
	// its own workers are busy.
	tryLaunch(ctx context.Context, take func() task) (bool, hold)
	// finished gives back what a finished task held: its actor's slot, or
	// its resources.
	finished(r taskResult)
	// capacity is the number of tasks the operator can run at once now.
	capacity() int
	// perWorker is the number of tasks one worker takes at once: 1 for a
	// task, max_tasks_in_flight_per_actor for an actor.
	perWorker() int
	// taskCap is the concurrency cap the ConcurrencyCapPolicy enforces, 0
	// when none does (an actor pool is capped by its actors).
	taskCap() int
	// counts returns the actors alive, waiting for resources, and starting;
	// zeros for a task pool.
	counts() (alive, pending, starting int)
	// retry starts actors that did not fit earlier, now that resources may
	// have been released.
	retry(ctx context.Context)
	// scale is the periodic autoscaling decision.
	scale(ctx context.Context)
	// retire lets a finished operator's workers end (an actor runs its
	// teardown, so a writer commits its file); ok says whether the run has
	// succeeded so far.
	retire(ok bool)
	// close ends every worker still taking tasks, ready or not, at
	// shutdown.
	close(ok bool)
	// quiet reports that no worker is starting or closing, so the pool
	// will send no event on its own.
	quiet() bool
	// exited reports that every worker the pool started has ended.
	exited() bool
}

// holdKind says why an operator with input does not dispatch it.
type holdKind uint8

const (
	// holdNone: nothing outside the operator holds it back.
	holdNone holdKind = iota
	// holdResources: the resource manager cannot grant one more task's or
	// actor's CPUs or GPUs (the operator is pending).
	holdResources
	// holdBackpressure: a named backpressure policy said no.
	holdBackpressure
)

// hold is why an operator is held back. policy is the backpressure
// policy's name, set only for holdBackpressure.
type hold struct {
	kind   holdKind
	policy string
}

func (h hold) String() string {
	switch h.kind {
	case holdResources:
		return "resources"
	case holdBackpressure:
		return "backpressure: " + h.policy
	}
	return "nothing"
}

// newPool builds the pool the operator's configuration asks for.
func newPool(e *StreamingExecutor, i int) pool {
	s := e.ops[i]
	if s.op.actors {
		return &actorPool{e: e, i: i, s: s, cfg: s.op.pool}
	}
	return &taskPool{e: e, i: i, s: s}
}

// taskPool runs one stateless task per bundle, each on its own goroutine.
type taskPool struct {
	e *StreamingExecutor
	i int
	s *opState
}

func (p *taskPool) start(context.Context) {}

func (p *taskPool) tryLaunch(ctx context.Context, take func() task) (bool, hold) {
	op := p.s.op
	if !p.e.rm.TryAcquire(op.Name(), op.resource) {
		return false, hold{kind: holdResources}
	}
	t := take()
	p.e.wg.Add(1)
	go p.run(ctx, t)
	return true, hold{}
}

func (p *taskPool) finished(r taskResult) { p.e.rm.Release(p.s.op.Name(), r.reserved) }

func (p *taskPool) capacity() int {
	e, op := p.e, p.s.op
	n := op.taskCap
	if c := op.resource.CPU; c > 0 {
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

func (p *taskPool) perWorker() int                         { return 1 }
func (p *taskPool) taskCap() int                           { return p.s.op.taskCap }
func (p *taskPool) counts() (alive, pending, starting int) { return 0, 0, 0 }
func (p *taskPool) retry(context.Context)                  {}
func (p *taskPool) scale(context.Context)                  {}
func (p *taskPool) retire(bool)                            {}
func (p *taskPool) close(bool)                             {}
func (p *taskPool) quiet() bool                            { return true }
func (p *taskPool) exited() bool                           { return true }

// run is one task: constructor (if any), UDF, teardown.
func (p *taskPool) run(ctx context.Context, t task) {
	e, op := p.e, p.s.op
	defer e.wg.Done()
	res := taskResult{op: p.i, seq: t.seq, in: t.in, outReserve: t.reserve, reserved: op.resource}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0, cpu0 := time.Now(), threadCPU()
	t.watch.begin(t0.Sub(e.start))
	udf := op.opts.Fn
	var tids []int
	if c := op.opts.FnConstructor; c != nil {
		var err error
		var d time.Duration
		udf, tids, d, err = construct(ctx, c, ActorInfo{Op: op.Name(), Index: -1, GPU: -1})
		res.constructorCalls, res.constructorTime = 1, d
		if err != nil {
			res.err = fmt.Errorf("%s: constructor failed: %w", op.Name(), err)
			res.duration = time.Since(t0)
			e.results <- res
			return
		}
	}
	blocks := op.process(ctx, udf, t.in, &res)
	res.out = newBundle(t.seq, blocks...)
	res.cpu = threadCPU() - cpu0 + threadsCPU(tids)
	if err := closeUDF(ctx, udf, op.opts.FnConstructor != nil, true); err != nil && res.err == nil {
		res.err = fmt.Errorf("%s: %w", op.Name(), err)
	}
	res.duration = time.Since(t0)
	e.results <- res
}

// actorPool keeps long-lived actors between cfg.MinSize and cfg.MaxSize.
// Every field is owned by the scheduling loop; actors talk to it only
// through the executor's event and result channels.
type actorPool struct {
	e        *StreamingExecutor
	i        int
	s        *opState
	cfg      ActorPool
	actors   []*actor
	pending  int // actors waiting for resources
	starting int // actors running their constructor
	restarts int // actors replaced after a failure
}

// actor is one actor's state as the scheduling loop sees it.
type actor struct {
	idx      int
	gpu      int
	inbox    chan task // nil once the loop has closed it
	inflight int
	ready    bool
	exited   bool
	ok       bool // set before inbox closes: did the run succeed?
	// dead: the actor failed (FaultTolerance) and takes no more tasks;
	// what is queued on it comes back for another actor.
	dead bool
}

// actorEventKind is what an actor reports about itself.
type actorEventKind uint8

const (
	// actorReady: the constructor succeeded; the actor takes tasks.
	actorReady actorEventKind = iota
	// actorFailed: the constructor failed; the run ends.
	actorFailed
	// actorExited: the actor's goroutine has ended and its resources
	// may be released.
	actorExited
)

// actorEvent is an actor's report to the scheduling loop.
type actorEvent struct {
	pool  *actorPool
	actor *actor
	kind  actorEventKind
	err   error
	res   taskResult // constructor accounting
}

func (p *actorPool) start(ctx context.Context) {
	for range p.cfg.InitialSize {
		p.request(ctx)
	}
}

func (p *actorPool) tryLaunch(_ context.Context, take func() task) (bool, hold) {
	a := p.free()
	if a == nil {
		return false, hold{}
	}
	a.inflight++
	a.inbox <- take()
	return true, hold{}
}

// free returns the ready actor with the fewest tasks in flight and room
// for one more, or nil.
func (p *actorPool) free() *actor {
	var best *actor
	for _, a := range p.actors {
		if a.ready && !a.exited && !a.dead && a.inflight < p.cfg.MaxTasksInFlightPerActor && (best == nil || a.inflight < best.inflight) {
			best = a
		}
	}
	return best
}

func (p *actorPool) finished(r taskResult) { r.actor.inflight-- }
func (p *actorPool) capacity() int         { return p.alive() }
func (p *actorPool) perWorker() int        { return p.cfg.MaxTasksInFlightPerActor }
func (p *actorPool) taskCap() int          { return 0 }

func (p *actorPool) counts() (alive, pending, starting int) {
	return p.alive(), p.pending, p.starting
}

func (p *actorPool) alive() int {
	n := 0
	for _, a := range p.actors {
		if a.ready && !a.exited && !a.dead {
			n++
		}
	}
	return n
}

func (p *actorPool) exitedCount() int {
	n := 0
	for _, a := range p.actors {
		if a.exited {
			n++
		}
	}
	return n
}

// request starts one actor, or counts it pending when it does not fit.
func (p *actorPool) request(ctx context.Context) {
	e, s := p.e, p.s
	if !p.fits() || !e.rm.TryAcquire(s.op.Name(), s.op.resource) {
		p.pending++
		s.metrics.OnActors(p.alive(), p.pending+p.starting)
		return
	}
	gpu := -1
	if s.op.resource.GPU > 0 && e.opts.Limits.GPU >= 1 {
		gpu = leastLoadedGPU(p.actors, int(e.opts.Limits.GPU))
	}
	a := &actor{idx: len(p.actors), gpu: gpu, inbox: make(chan task, p.cfg.MaxTasksInFlightPerActor)}
	p.actors = append(p.actors, a)
	p.starting++
	s.metrics.OnActors(p.alive(), p.pending+p.starting)
	e.wg.Add(1)
	go p.run(ctx, a, a.inbox)
}

// fits keeps actor pools from starving the task-pool stages they depend
// on: beyond its first actor, a pool may not take CPUs that would leave a
// running task pool without room for one task. Without this, two one-CPU
// actors on a two-core machine would hold every CPU and the reads feeding
// them could never run. The actors that do not fit wait as pending.
func (p *actorPool) fits() bool {
	e, s := p.e, p.s
	if len(p.actors)-p.exitedCount() == 0 || s.op.resource.CPU == 0 {
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

func (p *actorPool) retry(ctx context.Context) {
	for p.pending > 0 && !p.s.done {
		p.pending--
		before := len(p.actors)
		p.request(ctx)
		if len(p.actors) == before {
			break
		}
	}
}

// scale grows the pool while its actors are busy and input waits, and
// records why, like Ray's autoscaling requests.
func (p *actorPool) scale(ctx context.Context) {
	s := p.s
	if s.done {
		return
	}
	size := len(p.actors) - p.exitedCount() + p.pending
	alive := p.alive()
	if alive == 0 || p.starting > 0 || p.pending > 0 {
		return
	}
	inflight := 0
	for _, a := range p.actors {
		if a.ready && !a.exited && !a.dead {
			inflight += a.inflight
		}
	}
	util := float64(inflight) / float64(alive*p.cfg.MaxTasksInFlightPerActor)
	if size < p.cfg.MaxSize && util >= 0.5 && s.inRows >= max(s.op.minRows, 1) {
		reason := fmt.Sprintf("utilisation %.0f%% with %d rows queued", util*100, s.inRows)
		p.request(ctx)
		s.metrics.OnScaling(ScalingEvent{At: time.Since(p.e.start), Delta: +1, Actors: size + 1, Reason: reason})
	}
}

// retire closes the inboxes of a finished operator's ready actors, so they
// run their teardown while later operators go on.
func (p *actorPool) retire(ok bool) {
	if !p.s.done {
		return
	}
	p.pending = 0
	for _, a := range p.actors {
		if a.ready && !a.exited && a.inbox != nil {
			a.ok = ok
			close(a.inbox)
			a.inbox = nil
		}
	}
}

func (p *actorPool) close(ok bool) {
	for _, a := range p.actors {
		if a.inbox != nil {
			a.ok = ok
			close(a.inbox)
			a.inbox = nil
		}
	}
}

func (p *actorPool) quiet() bool {
	if p.starting > 0 {
		return false
	}
	for _, a := range p.actors {
		if a.inbox == nil && !a.exited {
			return false // closing down
		}
	}
	return true
}

func (p *actorPool) exited() bool {
	for _, a := range p.actors {
		if !a.exited {
			return false
		}
	}
	return true
}

// run is one actor: constructor once, then tasks from its inbox until the
// inbox closes. The inbox is passed in because the loop nils a.inbox when
// it closes it.
func (p *actorPool) run(ctx context.Context, a *actor, inbox <-chan task) {
	e, op, i := p.e, p.s.op, p.i
	defer e.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	udf := op.opts.Fn
	var tids []int
	ev := actorEvent{pool: p, actor: a, kind: actorReady}
	if c := op.opts.FnConstructor; c != nil {
		var err error
		var d time.Duration
		cpu0 := threadCPU()
		udf, tids, d, err = construct(ctx, c, ActorInfo{Op: op.Name(), Index: a.idx, GPU: a.gpu})
		ev.res.constructorCalls, ev.res.constructorTime = 1, d
		ev.res.cpu = threadCPU() - cpu0
		if err != nil {
			ev.kind, ev.err = actorFailed, fmt.Errorf("%s actor %d: constructor failed: %w", op.Name(), a.idx, err)
			e.actorEvts <- ev
			// Drain until told to stop, so the scheduler never blocks on us.
			for t := range inbox {
				e.results <- taskResult{op: i, seq: t.seq, in: t.in, outReserve: t.reserve, actor: a, err: ev.err}
			}
			e.actorEvts <- actorEvent{pool: p, actor: a, kind: actorExited}
			return
		}
	}
	e.actorEvts <- ev
	actx := context.WithValue(ctx, actorKey{}, ActorInfo{Op: op.Name(), Index: a.idx, GPU: a.gpu})
	lastPool := threadsCPU(tids)
	ft := op.opts.FaultTolerance
	var failed error // once set, this actor hands every task back
	ran := 0
	for t := range inbox {
		res := taskResult{op: i, seq: t.seq, in: t.in, outReserve: t.reserve, actor: a, attempt: t.attempt}
		if failed != nil {
			res.actorErr = failed
			e.results <- res
			continue
		}
		t0, cpu0 := time.Now(), threadCPU()
		t.watch.begin(t0.Sub(e.start))
		var blocks []Block
		if ran++; ft != nil && ft.InjectFailureEvery > 0 && ran%ft.InjectFailureEvery == 0 {
			res.actorErr = fmt.Errorf("injected failure (inject_actor_failure_every %d)", ft.InjectFailureEvery)
		} else {
			blocks = op.process(actx, udf, t.in, &res)
		}
		if res.actorErr != nil {
			for _, b := range blocks {
				b.Release()
			}
			blocks = nil
			failed = fmt.Errorf("%s actor %d failed: %w", op.Name(), a.idx, res.actorErr)
			res.actorErr = failed
		}
		res.out = newBundle(t.seq, blocks...)
		pool := threadsCPU(tids)
		res.cpu = threadCPU() - cpu0 + pool - lastPool
		lastPool = pool
		res.duration = time.Since(t0)
		e.results <- res
	}
	exit := actorEvent{pool: p, actor: a, kind: actorExited}
	if err := closeUDF(ctx, udf, op.opts.FnConstructor != nil, a.ok); err != nil {
		exit.err = fmt.Errorf("%s actor %d: %w", op.Name(), a.idx, err)
	}
	e.actorEvts <- exit
}

// onEvent applies an actor's report.
func (p *actorPool) onEvent(ctx context.Context, ev actorEvent) {
	e, s := p.e, p.s
	switch ev.kind {
	case actorReady:
		p.starting--
		ev.actor.ready = true
		if ev.res.constructorCalls > 0 {
			s.metrics.OnConstructor(ev.res.constructorTime)
			s.metrics.OnExtraCPU(ev.res.cpu)
		}
	case actorFailed:
		p.starting--
		s.metrics.OnConstructor(ev.res.constructorTime)
		if e.fatal == nil {
			e.fatal = ev.err
		}
	case actorExited:
		ev.actor.exited = true
		e.rm.Release(s.op.Name(), s.op.resource)
		// A failed actor's teardown may fail too; its replacement matters.
		if ev.err != nil && e.fatal == nil && !ev.actor.dead {
			e.fatal = ev.err
		}
		if e.fatal == nil {
			// Resources came back: any pool's pending actors may fit now.
			for _, o := range e.ops {
				o.pool.retry(ctx)
			}
		}
	}
	s.metrics.OnActors(p.alive(), p.pending+p.starting)
}

// replace retires an actor that failed and starts another in its place, as
// Ray restarts an actor: its inbox is closed, so what is queued there comes
// back for other actors, and one restart is counted. Past MaxRestarts the
// run ends with an error naming the failure.
func (p *actorPool) replace(a *actor, cause error) {
	e, s := p.e, p.s
	a.dead, a.ok = true, false
	if a.inbox != nil {
		close(a.inbox)
		a.inbox = nil
	}
	ft := s.op.opts.FaultTolerance
	if ft.MaxRestarts >= 0 && p.restarts >= ft.MaxRestarts {
		if e.fatal == nil {
			e.fatal = fmt.Errorf("%v; max_restarts %d replacements are used up, so the run stops (raise max_restarts, or find why the actors fail)", cause, ft.MaxRestarts)
		}
		return
	}
	p.restarts++
	s.metrics.OnActorRestart()
	if e.fatal == nil && !s.done {
		p.request(e.ctx)
	}
	s.metrics.OnActors(p.alive(), p.pending+p.starting)
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
