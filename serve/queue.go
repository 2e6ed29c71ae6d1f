package serve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Queue admits at most Slots pipelines at once, first come first served,
// so that measurements taken while a class shares one machine stay honest:
// a run either has its slot's share of the host or waits. It tracks, for
// each run, whether any other run overlapped it.
type Queue struct {
	mu      sync.Mutex
	slots   int
	perKey  int // most runs one key may have waiting
	running []*Ticket
	waiting []*Ticket
	recent  []time.Duration // durations of the last runs, for the ETA
	changed chan struct{}   // closed and replaced on every change
}

// ErrQueueFull is returned by Enqueue when the key already has its
// allowance of runs waiting.
var ErrQueueFull = errors.New("you already have a run waiting in the queue")

// NewQueue returns a queue of slots concurrent runs (at least one) that
// lets one key have at most perKey runs waiting (at least one).
func NewQueue(slots, perKey int) *Queue {
	return &Queue{slots: max(slots, 1), perKey: max(perKey, 1), changed: make(chan struct{})}
}

// Slots is how many runs may go at once.
func (q *Queue) Slots() int { return q.slots }

// Ticket is one run's place in the queue.
type Ticket struct {
	// Owner is the key fingerprint the run belongs to; Who the name shown.
	Owner, Who string
	// Label names the run on other participants' screens.
	Label   string
	q       *Queue
	ready   chan struct{}
	started time.Time
	alone   bool
	live    *Live
}

// Enqueue puts a run at the back of the queue. It fails with ErrQueueFull
// when owner already has its allowance waiting.
func (q *Queue) Enqueue(owner, who, label string) (*Ticket, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, t := range q.waiting {
		if t.Owner == owner {
			n++
		}
	}
	if n >= q.perKey {
		return nil, fmt.Errorf("%w (at most %d per participant)", ErrQueueFull, q.perKey)
	}
	t := &Ticket{Owner: owner, Who: who, Label: label, q: q, ready: make(chan struct{})}
	q.waiting = append(q.waiting, t)
	q.admitLocked()
	return t, nil
}

// admitLocked starts waiting runs while slots are free. A run admitted
// while another runs is not alone, nor is the one already running.
func (q *Queue) admitLocked() {
	for len(q.running) < q.slots && len(q.waiting) > 0 {
		t := q.waiting[0]
		q.waiting = q.waiting[1:]
		t.alone = len(q.running) == 0
		for _, r := range q.running {
			r.alone = false
		}
		t.started = time.Now()
		q.running = append(q.running, t)
		close(t.ready)
	}
	q.notifyLocked()
}

func (q *Queue) notifyLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// Changed returns a channel closed at the next change of the queue.
func (q *Queue) Changed() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.changed
}

// Wait blocks until the run is admitted or ctx ends; on ctx's end the run
// leaves the queue and Wait returns ctx's error.
func (t *Ticket) Wait(ctx context.Context) error {
	select {
	case <-t.ready:
		return nil
	case <-ctx.Done():
	}
	q := t.q
	q.mu.Lock()
	defer q.mu.Unlock()
	select {
	case <-t.ready: // admitted as ctx ended: give the slot back
		q.releaseLocked(t)
	default:
		q.waiting = slices.DeleteFunc(q.waiting, func(x *Ticket) bool { return x == t })
		q.notifyLocked()
	}
	return ctx.Err()
}

// Alone reports whether the run has so far had the machine to itself,
// without giving its slot back.
func (t *Ticket) Alone() bool {
	t.q.mu.Lock()
	defer t.q.mu.Unlock()
	return t.alone
}

// Done releases the run's slot and reports whether the run had the host
// to itself throughout.
func (t *Ticket) Done() (alone bool) {
	q := t.q
	q.mu.Lock()
	defer q.mu.Unlock()
	q.releaseLocked(t)
	return t.alone
}

func (q *Queue) releaseLocked(t *Ticket) {
	if i := slices.Index(q.running, t); i >= 0 {
		q.running = slices.Delete(q.running, i, i+1)
		q.recent = append(q.recent, time.Since(t.started))
		if len(q.recent) > 8 {
			q.recent = q.recent[1:]
		}
	}
	q.admitLocked()
}

// Place is where a run stands: Position 0 when running, else its place
// among the waiting (1 = next), with an estimate of the wait.
type Place struct {
	Position int
	Waiting  int
	Running  int
	// ETA estimates the wait from the median of the last runs' durations;
	// Known is false until one run has finished.
	ETA   time.Duration
	Known bool
}

// PlaceOf returns t's place now.
func (q *Queue) PlaceOf(t *Ticket) Place {
	q.mu.Lock()
	defer q.mu.Unlock()
	p := Place{Waiting: len(q.waiting), Running: len(q.running)}
	i := slices.Index(q.waiting, t)
	if i < 0 {
		return p
	}
	p.Position = i + 1
	if len(q.recent) == 0 {
		return p
	}
	typical := median(q.recent)
	// The first free slot opens when the oldest running run ends; each
	// full round of slots ahead of us takes a typical run more.
	first := time.Duration(0)
	if len(q.running) >= q.slots {
		first = typical
		for _, r := range q.running {
			first = min(first, max(0, typical-time.Since(r.started)))
		}
	}
	p.ETA, p.Known = first+time.Duration(i/q.slots)*typical, true
	return p
}

// Running returns the runs in progress, oldest first.
func (q *Queue) Running() []*Ticket {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.running)
}

// Live is the run's event history, once admitted.
func (t *Ticket) Live() *Live {
	t.q.mu.Lock()
	defer t.q.mu.Unlock()
	return t.live
}

func (t *Ticket) setLive(l *Live) {
	t.q.mu.Lock()
	t.live = l
	t.q.notifyLocked()
	t.q.mu.Unlock()
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
