package pipeline

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"time"
)

// OpMetrics is one operator's runtime metrics, in the spirit of Ray's
// OpRuntimeMetrics. Fields change only through the On… callbacks, which the
// executor's scheduling loop calls from a single goroutine; everyone else reads
// copies (Snapshot). Each field's tag names its metric, group and meaning, so
// the stats text, reports and TUI list metrics without hard-coding them.
//
// CPU time is measured per task with getrusage(RUSAGE_THREAD) on the task's
// locked OS thread, plus, for actors, the CPU time of the OS threads their
// constructor started (read from /proc/self/task), which is where ONNX
// Runtime's intra-op thread pool lives.
type OpMetrics struct {
	RowsIn    int64 `metric:"rows_in" group:"inputs" desc:"rows received"`
	BlocksIn  int64 `metric:"blocks_in" group:"inputs" desc:"blocks received"`
	BytesIn   int64 `metric:"bytes_in" group:"inputs" unit:"bytes" desc:"bytes received"`
	RowsOut   int64 `metric:"rows_out" group:"outputs" desc:"rows produced"`
	BlocksOut int64 `metric:"blocks_out" group:"outputs" desc:"blocks produced"`
	BytesOut  int64 `metric:"bytes_out" group:"outputs" unit:"bytes" desc:"bytes produced"`
	ErrorRows int64 `metric:"error_rows" group:"outputs" desc:"rows that carry an error"`

	TasksSubmitted int64 `metric:"tasks_submitted" group:"tasks" desc:"tasks dispatched"`
	TasksRunning   int64 `metric:"tasks_running" group:"tasks" desc:"tasks running now"`
	TasksFinished  int64 `metric:"tasks_finished" group:"tasks" desc:"tasks finished"`
	TasksFailed    int64 `metric:"tasks_failed" group:"tasks" desc:"tasks whose UDF returned an error"`
	Batches        int64 `metric:"batches" group:"tasks" desc:"UDF calls (batches)"`
	TaskRetries    int64 `metric:"task_retries" group:"tasks" desc:"tasks run again after the actor running them failed"`
	FailedBatches  int64 `metric:"failed_batches" group:"tasks" desc:"tasks that failed every retry; their rows carry the error"`
	Stragglers     int64 `metric:"stragglers" group:"tasks" desc:"tasks that ran past the operator's mean + k·σ task duration"`
	Stalls         int64 `metric:"stalls" group:"tasks" desc:"times input waited while no task finished for the stall timeout"`

	ActorsAlive      int64         `metric:"actors_alive" group:"actors" desc:"actors running their loop"`
	ActorsPending    int64         `metric:"actors_pending" group:"actors" desc:"actors starting or waiting for resources"`
	ActorRestarts    int64         `metric:"actor_restarts" group:"actors" desc:"actors replaced after a failure"`
	ConstructorCalls int64         `metric:"constructor_calls" group:"actors" desc:"constructor calls (model loads)"`
	ConstructorTime  time.Duration `metric:"constructor_time" group:"actors" unit:"seconds" desc:"time spent in constructors"`

	Wall         time.Duration `metric:"wall_time" group:"time" unit:"seconds" desc:"execution start to the operator's last completion"`
	BusyTime     time.Duration `metric:"busy_time" group:"time" unit:"seconds" desc:"sum of task execution time"`
	CPUTime      time.Duration `metric:"cpu_time" group:"time" unit:"seconds" desc:"CPU time of task and actor threads"`
	StarvedTime  time.Duration `metric:"starved_time" group:"time" unit:"seconds" desc:"time with free capacity but no input"`
	BlockedTime  time.Duration `metric:"backpressured_time" group:"time" unit:"seconds" desc:"time with input held back by backpressure"`
	PendingTime  time.Duration `metric:"pending_time" group:"time" unit:"seconds" desc:"time with input waiting for resources"`
	CapacityTime time.Duration `metric:"capacity_time" group:"time" unit:"seconds" desc:"integral of available task slots over time"`

	QueuedRows      int64 `metric:"queued_rows" group:"queues" desc:"rows waiting in the input queue"`
	QueuedBytes     int64 `metric:"queued_bytes" group:"queues" unit:"bytes" desc:"bytes waiting in the input and output queues"`
	PeakQueuedBytes int64 `metric:"peak_queued_bytes" group:"queues" unit:"bytes" desc:"peak bytes in queues"`
	HeldBytes       int64 `metric:"held_bytes" group:"queues" unit:"bytes" desc:"bytes the UDFs keep in memory between batches (a take_all sink)"`
	PeakHeldBytes   int64 `metric:"peak_held_bytes" group:"queues" unit:"bytes" desc:"peak bytes the UDFs kept between batches"`
	RowsCopied      int64 `metric:"rows_copied" group:"queues" desc:"rows copied to build batches that straddle blocks"`
	RowsConverted   int64 `metric:"rows_converted" group:"outputs" desc:"rows converted one by one from per-row objects to columns"`

	// BackpressuredBy names the policy that last said no, "" when none did.
	BackpressuredBy string `json:"backpressured_by,omitempty"`
	// State is what the operator is doing now: running, starved,
	// backpressured, pending or done.
	State State `json:"state"`
	// ScalingEvents records the actor pool's autoscaling decisions.
	ScalingEvents []ScalingEvent `json:"scaling_events,omitempty"`
	// Detections are the stragglers and stalls found (the first
	// maxDetections; Stragglers and Stalls count them all), each kept up
	// to date until its task ends or the operator moves again.
	Detections []Detection `json:"detections,omitempty"`
	// WorstStraggler is the straggler that ran longest, nil when none.
	WorstStraggler *Detection `json:"worst_straggler,omitempty"`

	durations []time.Duration // task durations, bounded reservoir
	// durN, durMean and durM2 are Welford's running mean and variance of
	// every task duration, durMax the longest: what the detectors judge by.
	durN           int64
	durMean, durM2 float64
	durMax         time.Duration
	seen           int64
	rng            *rand.Rand
	start          time.Time
}

// ScalingEvent is one autoscaling decision of an actor pool, with its reason,
// like Ray's scaling requests.
type ScalingEvent struct {
	At     time.Duration `json:"at"`
	Delta  int           `json:"delta"`
	Actors int           `json:"actors"`
	Reason string        `json:"reason"`
}

const maxDurations = 4096

// OnInput records a bundle entering the operator's input queue.
func (m *OpMetrics) OnInput(b RefBundle) {
	m.RowsIn += int64(b.Rows)
	m.BlocksIn += int64(len(b.Blocks))
	m.BytesIn += b.Bytes
}

// OnQueue records the current queue occupancy.
func (m *OpMetrics) OnQueue(rows int, bytes int64) {
	m.QueuedRows = int64(rows)
	m.QueuedBytes = bytes
	m.PeakQueuedBytes = max(m.PeakQueuedBytes, bytes)
}

// OnTaskSubmitted records a dispatched task.
func (m *OpMetrics) OnTaskSubmitted(now time.Time) {
	if m.start.IsZero() {
		m.start = now
	}
	m.TasksSubmitted++
	m.TasksRunning++
}

// OnTaskFinished records a finished task and its output.
func (m *OpMetrics) OnTaskFinished(now time.Time, r taskResult) {
	m.TasksRunning--
	m.TasksFinished++
	if r.failed {
		m.TasksFailed++
	}
	m.Batches += int64(r.batches)
	m.BusyTime += r.duration
	m.CPUTime += r.cpu
	m.RowsCopied += int64(r.rowsCopied)
	m.RowsConverted += int64(r.rowsConverted)
	m.ConstructorCalls += int64(r.constructorCalls)
	m.ConstructorTime += r.constructorTime
	m.RowsOut += int64(r.out.Rows)
	m.BlocksOut += int64(len(r.out.Blocks))
	m.BytesOut += r.out.Bytes
	for _, b := range r.out.Blocks {
		m.ErrorRows += int64(errorRows(b))
	}
	m.Wall = now.Sub(m.start)
	if r.actorErr == nil {
		// A batch handed back by a failed actor did not run; its duration
		// says nothing about how long the operator's tasks take.
		m.onTaskDuration(r.duration)
	}
	m.seen++
	if len(m.durations) < maxDurations {
		m.durations = append(m.durations, r.duration)
	} else {
		// Reservoir sampling (Algorithm R) keeps quantiles unbiased however
		// many tasks run; a fixed seed keeps runs reproducible.
		if m.rng == nil {
			m.rng = rand.New(rand.NewPCG(1, 2))
		}
		if i := m.rng.Int64N(m.seen); i < maxDurations {
			m.durations[i] = r.duration
		}
	}
}

// OnConstructor records an actor constructor call.
func (m *OpMetrics) OnConstructor(d time.Duration) {
	m.ConstructorCalls++
	m.ConstructorTime += d
}

// OnActorRestart records an actor replaced after it failed.
func (m *OpMetrics) OnActorRestart() { m.ActorRestarts++ }

// OnTaskRetry records a task queued to run again after its actor failed.
func (m *OpMetrics) OnTaskRetry() { m.TaskRetries++ }

// OnTaskGaveUp records a task that failed every retry.
func (m *OpMetrics) OnTaskGaveUp() { m.FailedBatches++ }

// OnActors records the actor pool's size.
func (m *OpMetrics) OnActors(alive, pending int) {
	m.ActorsAlive, m.ActorsPending = int64(alive), int64(pending)
}

// OnExtraCPU adds CPU time measured outside tasks (actor thread pools).
func (m *OpMetrics) OnExtraCPU(d time.Duration) { m.CPUTime += d }

// OnState accumulates d in the operator's current state. policy names the
// backpressure policy holding it back; it is read only when state is
// StateBackpressured.
func (m *OpMetrics) OnState(state State, d time.Duration, capacity int, policy string) {
	m.State = state
	m.CapacityTime += d * time.Duration(capacity)
	switch state {
	case StateStarved:
		m.StarvedTime += d
	case StateBackpressured:
		m.BlockedTime += d
		m.BackpressuredBy = policy
	case StatePending:
		m.PendingTime += d
	}
}

// OnScaling records an autoscaling decision.
func (m *OpMetrics) OnScaling(e ScalingEvent) { m.ScalingEvents = append(m.ScalingEvents, e) }

// State is what an operator is doing, as its progress line shows it. It
// prints, and marshals to JSON and text, as the lower-case word (idle,
// running, …), so records and goldens read as they did when it was a
// string.
type State uint8

// Operator states. The zero value is StateIdle.
const (
	// StateIdle: nothing to do yet, and not waiting on anyone.
	StateIdle State = iota
	// StateRunning: tasks are running.
	StateRunning
	// StateStarved: free capacity, no input, upstream not finished.
	StateStarved
	// StateBackpressured: input waits because a backpressure policy said no.
	StateBackpressured
	// StatePending: input waits for resources (CPU, GPU) or for actors
	// that are starting.
	StatePending
	// StateDone: every input processed and handed on.
	StateDone
)

var stateNames = [...]string{"idle", "running", "starved", "backpressured", "pending", "done"}

// String returns the state's word, e.g. "backpressured".
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler (and so JSON): the word.
func (s State) MarshalText() ([]byte, error) {
	if int(s) >= len(stateNames) {
		return nil, fmt.Errorf("pipeline: invalid state %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; "" reads as idle, as
// records written before the state was typed may hold it.
func (s *State) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = StateIdle
		return nil
	}
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("pipeline: unknown operator state %q", b)
}

// TaskDurations returns the mean, p50 and p95 task duration.
func (m *OpMetrics) TaskDurations() (mean, p50, p95 time.Duration) {
	if len(m.durations) == 0 {
		return 0, 0, 0
	}
	d := slices.Clone(m.durations)
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	q := func(p float64) time.Duration { return d[int(p*float64(len(d)-1)+0.5)] }
	return sum / time.Duration(len(d)), q(0.5), q(0.95)
}

// Utilization is busy time over available task-slot time: 1.0 means every
// slot the operator had was executing a task the whole time.
func (m *OpMetrics) Utilization() float64 {
	if m.CapacityTime <= 0 {
		return 0
	}
	return min(1, float64(m.BusyTime)/float64(m.CapacityTime))
}

// MetricDesc describes one OpMetrics field.
type MetricDesc struct {
	Name, Group, Unit, Description string
	index                          int
}

// Descriptors lists the numeric OpMetrics fields in declaration order.
var Descriptors = func() []MetricDesc {
	var out []MetricDesc
	t := reflect.TypeOf(OpMetrics{})
	for i := range t.NumField() {
		f := t.Field(i)
		if name := f.Tag.Get("metric"); name != "" {
			out = append(out, MetricDesc{name, f.Tag.Get("group"), f.Tag.Get("unit"), f.Tag.Get("desc"), i})
		}
	}
	return out
}()

// Values returns every numeric metric by name, durations in seconds.
func (m *OpMetrics) Values() map[string]float64 {
	v := reflect.ValueOf(m).Elem()
	out := make(map[string]float64, len(Descriptors))
	for _, d := range Descriptors {
		f := v.Field(d.index)
		switch x := f.Interface().(type) {
		case time.Duration:
			out[d.Name] = x.Seconds()
		case int64:
			out[d.Name] = float64(x)
		}
	}
	return out
}

// clone returns a copy safe to hand to another goroutine.
func (m *OpMetrics) clone() OpMetrics {
	c := *m
	c.durations = slices.Clone(m.durations)
	c.ScalingEvents = slices.Clone(m.ScalingEvents)
	c.Detections = slices.Clone(m.Detections)
	return c
}
