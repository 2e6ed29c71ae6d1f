package pipeline

// BackpressurePolicy decides whether an operator may take more input, i.e.
// dispatch another task. Any single "no" holds the operator back, and the
// executor records which policy said it, as Ray's progress bar does with
// "[backpressured: outputs]".
type BackpressurePolicy interface {
	Name() string
	CanAddInput(v OpView) bool
}

// OpView is what a policy may look at for one operator.
type OpView struct {
	Name    string
	Index   int
	Running int // tasks running
	Cap     int // concurrency cap on tasks, 0 when none
	// OutputBytes is the memory this operator's outputs pin: blocks queued
	// for, or held by, the next operator, plus the estimated output of its
	// own running tasks.
	OutputBytes int64
	// NumOps is the number of operators that produce outputs.
	NumOps int
	// QueuedDownstream is the rows waiting in the next operator's input
	// queue; DownstreamCapacity is how many tasks that operator can run at
	// once, and DownstreamBundle the rows one of its tasks takes.
	QueuedDownstream, DownstreamCapacity, DownstreamBundle int
}

// MemoryBudgetPolicy is Ray's object-store budget: the bytes of blocks in
// flight between operators. The budget is shared equally among operators
// that produce outputs. An operator whose outputs pin nothing may always run
// one task, so a single block larger than the share cannot deadlock the
// pipeline; the budget is therefore exceeded by at most one task's output
// per operator.
type MemoryBudgetPolicy struct{ Budget int64 }

// Name implements BackpressurePolicy.
func (MemoryBudgetPolicy) Name() string { return "memory" }

// CanAddInput implements BackpressurePolicy.
func (p MemoryBudgetPolicy) CanAddInput(v OpView) bool {
	if v.OutputBytes == 0 {
		return true
	}
	return v.OutputBytes < p.Budget/int64(max(v.NumOps, 1))
}

// ConcurrencyCapPolicy holds a task pool at its concurrency cap.
type ConcurrencyCapPolicy struct{}

// Name implements BackpressurePolicy.
func (ConcurrencyCapPolicy) Name() string { return "concurrency" }

// CanAddInput implements BackpressurePolicy.
func (ConcurrencyCapPolicy) CanAddInput(v OpView) bool { return v.Cap == 0 || v.Running < v.Cap }

// DownstreamCapacityPolicy is Ray's DownstreamCapacityBackpressurePolicy:
// an operator may not run further ahead of its consumer than Ratio times
// what the consumer can work on at once. It keeps memory flat as the dataset
// grows, where the memory budget alone would let a fast read fill a quarter
// of RAM before anything pushes back.
type DownstreamCapacityPolicy struct{ Ratio int }

// Name implements BackpressurePolicy.
func (DownstreamCapacityPolicy) Name() string { return "downstream capacity" }

// CanAddInput implements BackpressurePolicy.
func (p DownstreamCapacityPolicy) CanAddInput(v OpView) bool {
	if v.DownstreamCapacity == 0 {
		return true
	}
	return v.QueuedDownstream < p.Ratio*v.DownstreamCapacity*max(v.DownstreamBundle, 1)
}
