package feed

import (
	"testing"

	"workbench/pipeline"
)

// A full subscription must not block the publisher: the bus drops and
// counts, and Drain hands over what fit, in order.
func TestNeverBlocksPublisher(t *testing.T) {
	t.Parallel()
	f := New()
	for i := range Buffer + 10 {
		f.Bus.Publish(pipeline.Event{Payload: i})
	}
	if d := f.Bus.Dropped(); d != 10 {
		t.Errorf("dropped %d, want 10", d)
	}
	next := 0
	n := f.Drain(func(e pipeline.Event) {
		if e.Payload.(int) != next {
			t.Fatalf("event %v out of order, want %d", e.Payload, next)
		}
		next++
	})
	if n != Buffer {
		t.Errorf("drained %d, want %d", n, Buffer)
	}
	if f.Drain(func(pipeline.Event) {}) != 0 {
		t.Error("second drain found events")
	}
	f.Close()
	f.Close() // idempotent
	var nilFeed *Feed
	if nilFeed.Drain(nil) != 0 {
		t.Error("nil feed drained events")
	}
}
