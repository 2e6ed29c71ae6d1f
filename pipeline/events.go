package pipeline

import (
	"sync"
	"sync/atomic"
	"time"
)

// Snapshot is every operator's metrics at one instant, published on the
// event stream at a fixed interval and once more at the end.
type Snapshot struct {
	// At is the time since execution started.
	At        time.Duration
	Ops       []OpSnapshot
	Resources ExecutionResources // held now
	Limits    ExecutionResources
	// InFlightBytes is the bytes of blocks queued between operators or held
	// by running tasks.
	InFlightBytes int64
	RowsDone      int64 // rows the last operator has finished
	RowsTotal     int64 // rows the read found, 0 before it knows
	Done          bool
}

// OpSnapshot is one operator's copy of its metrics.
type OpSnapshot struct {
	Name        string
	Metrics     OpMetrics
	Utilization float64
}

// Stat is a named number a job publishes on the event stream beside the
// engine's snapshots: a count the engine cannot see (models loaded inside a
// UDF, begun rather than finished) or a setting a view needs (the batch
// size, to say how many batches are planned). Value is the latest total, not
// an increment, so a view that lost events still shows the truth.
type Stat struct {
	Name  string
	Value int64
}

// Event is one item on the event stream: a pipeline snapshot, or something
// else a run publishes alongside (telemetry samples, log lines).
type Event struct {
	Snapshot *Snapshot
	Payload  any
}

// EventBus fans events out to subscribers without ever blocking the
// publisher: a subscriber that falls behind loses events, which are counted,
// rather than slowing the pipeline.
type EventBus struct {
	mu      sync.Mutex
	subs    []chan Event
	dropped atomic.Int64
	closed  bool
}

// NewEventBus returns an empty bus.
func NewEventBus() *EventBus { return &EventBus{} }

// Subscribe returns a channel receiving events, buffered to size. It is
// closed when the bus closes.
func (b *EventBus) Subscribe(size int) <-chan Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan Event, max(size, 1))
	if b.closed {
		close(ch)
		return ch
	}
	b.subs = append(b.subs, ch)
	return ch
}

// Publish delivers e to every subscriber with room for it.
func (b *EventBus) Publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	for _, ch := range b.subs {
		select {
		case ch <- e:
		default:
			b.dropped.Add(1)
		}
	}
}

// Dropped returns how many deliveries were skipped because a subscriber was
// full.
func (b *EventBus) Dropped() int64 { return b.dropped.Load() }

// Close closes every subscriber channel. Later publishes are ignored.
func (b *EventBus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for _, ch := range b.subs {
		close(ch)
	}
}
