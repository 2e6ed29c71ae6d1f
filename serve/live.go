package serve

import (
	"sync"
	"time"

	"workbench/bench"
	"workbench/pipeline"
)

// historyCap bounds a live run's kept events: at the engine's 4
// snapshots and 4 telemetry samples a second, ten minutes of run.
const historyCap = 4800

// Live is one run in progress as others see it: every event it has
// published so far, so a spectator who arrives late sees its charts from
// the start, and a fan-out to the spectators watching now. Publishing
// never blocks: a spectator that falls behind loses events, never the run.
type Live struct {
	Owner, Who, Label string
	// Key identifies the run's spec, so a participant following the
	// instructor's screen finds the instructor's run for the page it shows.
	Key string
	// Epoch is the instructor's page generation when the run started.
	Epoch   int
	Started time.Time

	mu      sync.Mutex
	events  []pipeline.Event
	subs    map[chan pipeline.Event]struct{}
	done    chan struct{}
	rec     *bench.Record
	err     error
	dropped int
}

func newLive(owner, who, label, key string, epoch int) *Live {
	return &Live{Owner: owner, Who: who, Label: label, Key: key, Epoch: epoch, Started: time.Now(),
		subs: map[chan pipeline.Event]struct{}{}, done: make(chan struct{})}
}

// Publish records e and hands it to every watcher with room for it.
func (l *Live) Publish(e pipeline.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) < historyCap {
		l.events = append(l.events, e)
	}
	for ch := range l.subs {
		select {
		case ch <- e:
		default:
			l.dropped++
		}
	}
}

// Watch returns the events so far and a channel of those to come, buffered
// to size; stop ends the subscription. The channel is closed when the run
// ends.
func (l *Live) Watch(size int) (history []pipeline.Event, ch <-chan pipeline.Event, stop func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := make(chan pipeline.Event, max(size, 1))
	history = append([]pipeline.Event(nil), l.events...)
	select {
	case <-l.done:
		close(c)
		return history, c, func() {}
	default:
	}
	l.subs[c] = struct{}{}
	return history, c, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if _, ok := l.subs[c]; ok {
			delete(l.subs, c)
			close(c)
		}
	}
}

// Finish ends the run with its result and closes every watcher.
func (l *Live) Finish(rec *bench.Record, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rec, l.err = rec, err
	for ch := range l.subs {
		close(ch)
	}
	l.subs = map[chan pipeline.Event]struct{}{}
	close(l.done)
}

// Done is closed when the run has ended.
func (l *Live) Done() <-chan struct{} { return l.done }

// Result is the run's record and error, once Done.
func (l *Live) Result() (*bench.Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rec, l.err
}
