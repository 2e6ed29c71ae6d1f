package pipeline

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// DetectOptions configure the executor's issue detectors, after Ray Data's
// (HangingExecutionIssueDetector): a straggler is a task running far longer
// than its operator's finished tasks took; a stall is an operator whose
// input waits while none of its tasks finishes. They run on the executor's
// snapshot tick, read only what the scheduling loop already keeps, and
// report each task or episode once: as an Event whose Payload is the
// Detection, and in the operator's OpMetrics (counts, the worst straggler,
// the detections themselves).
//
// The zero value is the defaults. A negative StragglerSigma or
// StallTimeout turns that detector off.
type DetectOptions struct {
	// StragglerSigma is k: a running task is a straggler once it has run
	// longer than mean + k·σ of its operator's finished tasks (0 =
	// DefaultStragglerSigma).
	StragglerSigma float64
	// StragglerMinTasks is how many tasks the operator must have finished
	// before its mean and σ are trusted (0 = DefaultStragglerMinTasks).
	StragglerMinTasks int
	// StragglerMin is the least a task must run to be called a straggler,
	// however tight its operator's σ, so that scheduling noise on
	// millisecond tasks never fires (0 = DefaultStragglerMin).
	StragglerMin time.Duration
	// StallTimeout is N: an operator stalls when input waits for it, it
	// has tasks running or actors starting, and none of its tasks has
	// finished for N, or for twice its longest finished task when that is
	// longer (0 = DefaultStallTimeout).
	StallTimeout time.Duration
}

// Defaults of DetectOptions. k = 5 lies between a normal tail's 3 and
// Ray's 10: task durations have heavy tails (GC pauses, a shared
// machine), and one-sided Chebyshev (Cantelli) only promises 1/(1+k²) of
// tasks past mean + k·σ, 10% at k = 3, which a long run turns into noise.
// The absolute minimum keeps jitter on short tasks from counting: in a
// resnet18 run on 2 shared cores, 3 of 100 read and write tasks of a few
// milliseconds went past 3σ, none of them near a second.
const (
	DefaultStragglerSigma    = 5.0
	DefaultStragglerMinTasks = 10
	DefaultStragglerMin      = time.Second
	DefaultStallTimeout      = 10 * time.Second
)

// resolved fills the defaults in.
func (o DetectOptions) resolved() DetectOptions {
	if o.StragglerSigma == 0 {
		o.StragglerSigma = DefaultStragglerSigma
	}
	if o.StragglerMinTasks <= 0 {
		o.StragglerMinTasks = DefaultStragglerMinTasks
	}
	if o.StragglerMin <= 0 {
		o.StragglerMin = DefaultStragglerMin
	}
	if o.StallTimeout == 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	return o
}

// IssueKind is what a detector found.
type IssueKind string

// The issues the detectors report.
const (
	// IssueStraggler: one task ran past its operator's mean + k·σ.
	IssueStraggler IssueKind = "straggler"
	// IssueStall: an operator with waiting input finished no task for the
	// stall timeout.
	IssueStall IssueKind = "stall"
)

// Detection is one straggler or stall, reported once, when found, and then
// kept up to date in OpMetrics until the task ends or the operator moves
// again. Times are since execution start.
type Detection struct {
	Kind IssueKind `json:"kind"`
	// Op is the operator's name.
	Op string `json:"op"`
	// Task is the straggler's task: its input's sequence number within
	// the operator (the order the operator took its input in); -1 for a
	// stall.
	Task int64 `json:"task"`
	// At is when the detector found it.
	At time.Duration `json:"at"`
	// Start is when the task began, or when the stalled operator last
	// finished a task (or got work, if later).
	Start time.Duration `json:"start"`
	// Duration is how long the task ran or the stall lasted: final once
	// Ongoing is false, the time so far while it is true.
	Duration time.Duration `json:"duration"`
	// Threshold is the time it went past: mean + k·σ (at least the
	// detector's minimum) for a straggler, the stall timeout (or twice the
	// longest task) for a stall.
	Threshold time.Duration `json:"threshold"`
	// Mean and Std describe the operator's finished tasks when it was
	// found, and Completed counts them. A stall with Completed 0 came
	// before the operator's first task finished: a slow start (a model
	// load, a first batch) or a hang.
	Mean      time.Duration `json:"mean"`
	Std       time.Duration `json:"std"`
	Completed int64         `json:"completed"`
	// Queued is the rows waiting in the operator's input when it was found.
	Queued int64 `json:"queued_rows"`
	// Ongoing is true while the task still runs or the stall lasts.
	Ongoing bool `json:"ongoing,omitempty"`
}

// String says what was found in one line, e.g. "straggler: Inference task
// 12 ran 3.2s (threshold 800ms: mean 500ms + 5σ)".
func (d Detection) String() string {
	still := ""
	if d.Ongoing {
		still = " so far"
	}
	switch d.Kind {
	case IssueStraggler:
		return fmt.Sprintf("straggler: %s task %d ran %s%s (threshold %s; %d tasks averaged %s ± %s)",
			d.Op, d.Task, round(d.Duration), still, round(d.Threshold), d.Completed, round(d.Mean), round(d.Std))
	case IssueStall:
		s := fmt.Sprintf("stall: %s finished no task for %s%s, from %s into the run, with %d rows queued (threshold %s)",
			d.Op, round(d.Duration), still, round(d.Start), d.Queued, round(d.Threshold))
		if d.Completed == 0 {
			s += ", before its first task finished"
		}
		return s
	}
	return fmt.Sprintf("%s: %s", d.Kind, d.Op)
}

// maxDetections bounds the detections an operator keeps; the counts go on.
const maxDetections = 64

// OnDetection records a new detection. It returns the detection's index in
// Detections, for OnDetectionUpdate, or -1 when the list is full.
func (m *OpMetrics) OnDetection(d Detection) int {
	switch d.Kind {
	case IssueStraggler:
		m.Stragglers++
	case IssueStall:
		m.Stalls++
	}
	m.worst(d)
	if len(m.Detections) >= maxDetections {
		return -1
	}
	m.Detections = append(m.Detections, d)
	return len(m.Detections) - 1
}

// OnDetectionUpdate replaces detection i (from OnDetection; -1 keeps only
// the worst straggler) with d: its duration grown, or ended.
func (m *OpMetrics) OnDetectionUpdate(i int, d Detection) {
	if i >= 0 && i < len(m.Detections) {
		m.Detections[i] = d
	}
	m.worst(d)
}

func (m *OpMetrics) worst(d Detection) {
	if d.Kind != IssueStraggler {
		return
	}
	if w := m.WorstStraggler; w == nil || w.sameIssue(d) || d.Duration > w.Duration {
		m.WorstStraggler = &d
	}
}

// Issue names what the detectors found in the operator, a stall before a
// straggler (the stall explains more); "" when nothing. It is what a
// progress line marks the operator with.
func (m *OpMetrics) Issue() IssueKind {
	switch {
	case m.Stalls > 0:
		return IssueStall
	case m.Stragglers > 0:
		return IssueStraggler
	}
	return ""
}

// DetectionList returns the detections kept, with the worst straggler
// appended when the list was full before it came.
func (m *OpMetrics) DetectionList() []Detection {
	out := slices.Clone(m.Detections)
	if w := m.WorstStraggler; w != nil && !slices.ContainsFunc(out, w.sameIssue) {
		out = append(out, *w)
	}
	return out
}

// sameIssue reports whether o is d, perhaps at another update.
func (d Detection) sameIssue(o Detection) bool {
	return d.Kind == o.Kind && d.Op == o.Op && d.Task == o.Task && d.Start == o.Start
}

// onTaskDuration feeds a finished task's duration to the running mean and
// variance (Welford's algorithm: exact over every task, unlike the bounded
// reservoir the quantiles use) and the longest one.
func (m *OpMetrics) onTaskDuration(d time.Duration) {
	m.durN++
	x := float64(d)
	delta := x - m.durMean
	m.durMean += delta / float64(m.durN)
	m.durM2 += delta * (x - m.durMean)
	m.durMax = max(m.durMax, d)
}

// TaskDurationStats returns how many tasks finished (failed actors'
// hand-backs excluded), their mean and sample standard deviation, and the
// longest.
func (m *OpMetrics) TaskDurationStats() (n int64, mean, std, longest time.Duration) {
	if m.durN == 0 {
		return 0, 0, 0, 0
	}
	if m.durN > 1 {
		std = time.Duration(math.Sqrt(m.durM2 / float64(m.durN-1)))
	}
	return m.durN, time.Duration(m.durMean), std, m.durMax
}

// taskWatch is what the detectors know of one dispatched task. begun is
// written once by the worker that runs the task and read by the scheduling
// loop; every other field belongs to the loop.
type taskWatch struct {
	// begun is when the worker started the task, since execution start,
	// plus one, so that 0 means not yet (queued on an actor).
	begun   atomic.Int64
	flagged bool
	idx     int // the detection's index in OpMetrics, -1 when not kept
	det     Detection
}

// begin stamps the task's start; nil-safe for tasks built outside the
// loop's dispatch.
func (w *taskWatch) begin(since time.Duration) {
	if w != nil {
		w.begun.Store(int64(since) + 1)
	}
}

// started returns when the task began and whether it has.
func (w *taskWatch) started() (time.Duration, bool) {
	b := w.begun.Load()
	return time.Duration(b - 1), b != 0
}

// stallWatch is the stall detector's state for one operator.
type stallWatch struct {
	// progress is when a task of the operator last finished; since is
	// when it last got work (-1 while it has none): the quiet time runs
	// from the later of the two.
	progress, since time.Duration
	open            bool
	idx             int
	det             Detection
}

// watchTask registers a dispatched task with the detectors.
func (e *StreamingExecutor) watchTask(s *opState, seq int64) *taskWatch {
	w := &taskWatch{idx: -1}
	s.tasks[seq] = w
	return w
}

// taskDone is the detectors' side of a finished task: it ends the task's
// straggler detection with its measured duration, and any stall.
func (e *StreamingExecutor) taskDone(s *opState, r taskResult, now time.Duration) {
	if w := s.tasks[r.seq]; w != nil {
		delete(s.tasks, r.seq)
		if w.flagged {
			w.det.Duration, w.det.Ongoing = max(r.duration, w.det.Duration), false
			s.metrics.OnDetectionUpdate(w.idx, w.det)
		}
	}
	s.stall.progress = now
	e.endStall(s, now)
}

// detect runs both detectors over every operator. It is called from the
// scheduling loop's snapshot tick, so it costs one pass over the operators
// and their tasks in flight per tick.
func (e *StreamingExecutor) detect(now time.Duration) {
	for _, s := range e.ops {
		e.detectStragglers(s, now)
		e.detectStall(s, now)
	}
}

func (e *StreamingExecutor) detectStragglers(s *opState, now time.Duration) {
	o := e.detectOpts
	if o.StragglerSigma < 0 {
		return
	}
	n, mean, std, _ := s.metrics.TaskDurationStats()
	threshold := max(mean+time.Duration(o.StragglerSigma*float64(std)), o.StragglerMin)
	for seq, w := range s.tasks {
		begun, ok := w.started()
		if !ok {
			continue
		}
		ran := now - begun
		if w.flagged {
			w.det.Duration = ran
			s.metrics.OnDetectionUpdate(w.idx, w.det)
			continue
		}
		if n < int64(o.StragglerMinTasks) || ran <= threshold {
			continue
		}
		w.flagged = true
		w.det = Detection{Kind: IssueStraggler, Op: s.op.Name(), Task: seq, At: now, Start: begun, Duration: ran,
			Threshold: threshold, Mean: mean, Std: std, Completed: n, Queued: int64(s.inRows), Ongoing: true}
		w.idx = s.metrics.OnDetection(w.det)
		e.publishDetection(w.det)
	}
}

// detectStall opens a stall when the operator has waiting input (in its
// queue, or dispatched to an actor and not begun) and work under way
// (tasks in flight, actors starting), yet no task has finished for the
// threshold. An operator with input but nothing running is held back by
// someone else (backpressure, resources), and that someone is the one
// detected.
func (e *StreamingExecutor) detectStall(s *opState, now time.Duration) {
	o := e.detectOpts
	if o.StallTimeout < 0 {
		return
	}
	_, _, starting := s.pool.counts()
	waiting := len(s.inQ) > 0 || len(s.retryQ) > 0
	for _, w := range s.tasks {
		if _, ok := w.started(); !ok {
			waiting = true
			break
		}
	}
	st := &s.stall
	if s.done || !waiting || (s.running == 0 && starting == 0) {
		st.since = -1
		e.endStall(s, now)
		return
	}
	if st.since < 0 {
		st.since = now
	}
	if st.open {
		st.det.Duration = now - st.det.Start
		s.metrics.OnDetectionUpdate(st.idx, st.det)
		return
	}
	n, mean, std, longest := s.metrics.TaskDurationStats()
	threshold := max(o.StallTimeout, 2*longest)
	from := max(st.progress, st.since)
	if now-from <= threshold {
		return
	}
	st.open = true
	st.det = Detection{Kind: IssueStall, Op: s.op.Name(), Task: -1, At: now, Start: from, Duration: now - from,
		Threshold: threshold, Mean: mean, Std: std, Completed: n, Queued: int64(s.inRows), Ongoing: true}
	st.idx = s.metrics.OnDetection(st.det)
	e.publishDetection(st.det)
}

// endStall closes the operator's stall, if one is open, at now.
func (e *StreamingExecutor) endStall(s *opState, now time.Duration) {
	st := &s.stall
	if !st.open {
		return
	}
	st.open = false
	st.det.Duration, st.det.Ongoing = now-st.det.Start, false
	s.metrics.OnDetectionUpdate(st.idx, st.det)
}

// endDetections closes what is still open when execution ends: stalls,
// and stragglers whose task never reported back (a cancelled run).
func (e *StreamingExecutor) endDetections(now time.Duration) {
	for _, s := range e.ops {
		e.endStall(s, now)
		for _, w := range s.tasks {
			if w.flagged && w.det.Ongoing {
				begun, _ := w.started()
				w.det.Duration, w.det.Ongoing = now-begun, false
				s.metrics.OnDetectionUpdate(w.idx, w.det)
			}
		}
	}
}

func (e *StreamingExecutor) publishDetection(d Detection) {
	if e.opts.Bus != nil {
		e.opts.Bus.Publish(Event{Payload: d})
	}
}
