package pipeline

import (
	"fmt"
	"math"
	"sync"
)

// ExecutionResources is an immutable amount of CPU, GPU and object-store
// memory, as in Ray's executor. Operations return new values; a zero value is
// "nothing". Fractional CPUs and GPUs are allowed (num_gpus=0.5 means two
// actors share a GPU).
type ExecutionResources struct {
	CPU               float64
	GPU               float64
	ObjectStoreMemory int64
}

// Add returns r + o.
func (r ExecutionResources) Add(o ExecutionResources) ExecutionResources {
	return ExecutionResources{r.CPU + o.CPU, r.GPU + o.GPU, r.ObjectStoreMemory + o.ObjectStoreMemory}
}

// Subtract returns r - o. It may go negative; callers compare with
// SatisfiesLimit.
func (r ExecutionResources) Subtract(o ExecutionResources) ExecutionResources {
	return ExecutionResources{r.CPU - o.CPU, r.GPU - o.GPU, r.ObjectStoreMemory - o.ObjectStoreMemory}
}

// Scale returns r multiplied by f.
func (r ExecutionResources) Scale(f float64) ExecutionResources {
	return ExecutionResources{r.CPU * f, r.GPU * f, int64(float64(r.ObjectStoreMemory) * f)}
}

// SatisfiesLimit reports whether every component of r is within limit. A small
// epsilon absorbs float drift from adding fractional GPUs.
func (r ExecutionResources) SatisfiesLimit(limit ExecutionResources) bool {
	const eps = 1e-9
	return r.CPU <= limit.CPU+eps && r.GPU <= limit.GPU+eps && r.ObjectStoreMemory <= limit.ObjectStoreMemory
}

// IsZero reports whether r asks for nothing.
func (r ExecutionResources) IsZero() bool { return r == ExecutionResources{} }

// String renders r the way Ray's progress bar does: "2/4 CPU, 0.5 GPU, 1.2 GiB".
func (r ExecutionResources) String() string {
	return fmt.Sprintf("%s CPU, %s GPU, %s", trimFloat(r.CPU), trimFloat(r.GPU), FormatBytes(r.ObjectStoreMemory))
}

func trimFloat(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.2g", f)
}

// FormatBytes renders n in binary units with three significant figures.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.3g %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// ResourceManager knows the global limits and what each operator holds. An
// operator may start a task or an actor only when its incremental usage still
// fits; otherwise the request waits, and the executor measures that wait as
// "pending". It is safe for concurrent use.
type ResourceManager struct {
	mu     sync.Mutex
	limits ExecutionResources
	usage  map[string]ExecutionResources
	total  ExecutionResources
	peak   ExecutionResources
}

// NewResourceManager returns a manager enforcing limits.
func NewResourceManager(limits ExecutionResources) *ResourceManager {
	return &ResourceManager{limits: limits, usage: map[string]ExecutionResources{}}
}

// Limits returns the global limits.
func (m *ResourceManager) Limits() ExecutionResources { return m.limits }

// TryAcquire reserves r for op when the total stays within the limits. A
// request larger than the limits on its own is granted when nothing else is
// held, so an oversized task can still make progress instead of deadlocking.
func (m *ResourceManager) TryAcquire(op string, r ExecutionResources) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.total.Add(r)
	if !next.SatisfiesLimit(m.limits) && !(m.total.IsZero() && !r.IsZero()) {
		return false
	}
	m.total = next
	m.usage[op] = m.usage[op].Add(r)
	m.peak = maxResources(m.peak, m.total)
	return true
}

// Release returns r, previously acquired for op.
func (m *ResourceManager) Release(op string, r ExecutionResources) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.total = m.total.Subtract(r)
	m.usage[op] = m.usage[op].Subtract(r)
}

// Usage returns what op holds now.
func (m *ResourceManager) Usage(op string) ExecutionResources {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.usage[op]
}

// Total returns what all operators hold now, and the peak so far.
func (m *ResourceManager) Total() (now, peak ExecutionResources) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total, m.peak
}

func maxResources(a, b ExecutionResources) ExecutionResources {
	return ExecutionResources{math.Max(a.CPU, b.CPU), math.Max(a.GPU, b.GPU), max(a.ObjectStoreMemory, b.ObjectStoreMemory)}
}
