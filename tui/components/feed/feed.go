// Package feed connects a run's event bus to a screen without ever slowing
// the run: the screen subscribes with a buffer, the bus drops events when
// the buffer is full, and the screen drains whatever is queued on its own
// tick, so many snapshots coalesce into one redraw.
package feed

import "workbench/pipeline"

// Buffer is the subscription size: at the engine's 4 snapshots and 4
// telemetry samples a second, about 30 seconds of events, far more than
// one 100ms tick ever leaves queued.
const Buffer = 256

// Feed is one run's bus and the screen's subscription to it.
type Feed struct {
	Bus *pipeline.EventBus
	ch  <-chan pipeline.Event
}

// New returns a feed with a fresh bus, already subscribed.
func New() *Feed {
	b := pipeline.NewEventBus()
	return &Feed{Bus: b, ch: b.Subscribe(Buffer)}
}

// Drain applies every queued event in order and returns how many there
// were. It never blocks.
func (f *Feed) Drain(apply func(pipeline.Event)) int {
	if f == nil {
		return 0
	}
	n := 0
	for {
		select {
		case ev, ok := <-f.ch:
			if !ok {
				return n
			}
			apply(ev)
			n++
		default:
			return n
		}
	}
}

// Close closes the bus; later publishes are ignored.
func (f *Feed) Close() {
	if f != nil {
		f.Bus.Close()
	}
}
