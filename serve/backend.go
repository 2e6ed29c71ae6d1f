package serve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"workbench/bench"
	"workbench/pipeline"
	"workbench/pipeline/outfile"
	"workbench/tui/backend"
)

// errHeld is what a held participant's run fails with.
var errHeld = errors.New("runs are held until the instructor releases them; meanwhile v watches the run in progress")

// specKey identifies a run's spec, so a follower finds the instructor's
// run for the page both show.
func specKey(s backend.RunSpec) string {
	k := ""
	if s.Knobs != nil {
		k = s.Knobs.String()
	}
	return fmt.Sprintf("%s|%s|%s|%v", s.Scenario, s.Label, k, s.Set)
}

// sessionBackend is one session's view of the host: the session's own
// backend (its data and model) for everything but the shared resources.
// Runs and sweeps wait in the server's queue, publish to a Live that
// spectators and followers watch, and are logged and filed for the
// workshop report; reports go to the server's reports folder.
type sessionBackend struct {
	backend.Backend
	srv *Server
	s   *session
}

func (b *sessionBackend) admit(ctx context.Context, label string) (*Ticket, error) {
	if !b.s.id.Instructor && b.srv.class.Held() {
		return nil, errHeld
	}
	t, err := b.srv.queue.Enqueue(b.s.id.Fingerprint, b.s.id.Name, label)
	if err != nil {
		return nil, err
	}
	b.s.setTicket(t)
	defer b.s.setTicket(nil)
	if err := t.Wait(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// Run implements backend.Backend.
func (b *sessionBackend) Run(ctx context.Context, spec backend.RunSpec, bus *pipeline.EventBus) (*bench.Record, error) {
	t, err := b.admit(ctx, spec.Label)
	if err != nil {
		return nil, err
	}
	live := newLive(t.Owner, t.Who, spec.Label, specKey(spec), b.srv.class.epochOf(b.s))
	t.setLive(live)
	if live.Epoch >= 0 {
		b.srv.class.addLive(live)
	}
	b.srv.logf("run start", "key", b.s.id.Fingerprint, "who", b.s.id.Name, "run", spec.Label, "scenario", spec.Scenario)
	// The run publishes on its own bus; one relay hands each event to the
	// screen's bus and the spectators', so none of them can slow the run.
	own := pipeline.NewEventBus()
	ch := own.Subscribe(1024)
	relayed := make(chan struct{})
	go func() {
		defer close(relayed)
		for ev := range ch {
			bus.Publish(ev)
			live.Publish(ev)
		}
	}()
	start := time.Now()
	rec, err := b.Backend.Run(ctx, spec, own)
	own.Close()
	<-relayed
	alone := t.Alone()
	if rec != nil {
		rec.RanAlone = &alone
	}
	live.Finish(rec, err)
	// File the run before giving the slot back: the next run in the queue
	// could otherwise finish and be filed first, and the classroom's
	// results would not be in the order the runs were served.
	b.finish(spec.Label, rec, err, start)
	t.Done()
	return rec, err
}

func (b *sessionBackend) finish(label string, rec *bench.Record, err error, start time.Time) {
	args := []any{"key", b.s.id.Fingerprint, "who", b.s.id.Name, "run", label, "seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds())}
	switch {
	case err != nil:
		b.srv.logf("run end", append(args, "error", err.Error())...)
	case rec != nil:
		b.srv.logf("run end", append(args, "status", rec.Status, "img_per_s", fmt.Sprintf("%.1f", rec.Throughput), "alone", fmt.Sprint(rec.RanAlone != nil && *rec.RanAlone))...)
		b.srv.class.Record(b.s.id.Name, rec)
	}
}

// Sweep implements backend.Backend: the whole grid holds one slot, its
// cells running one after the other, and each record, then the ranked
// result, is published for followers.
func (b *sessionBackend) Sweep(ctx context.Context, spec backend.SweepSpec, onRecord func(*bench.Record)) (*bench.SweepResult, error) {
	label := "sweep of " + spec.Scenario
	t, err := b.admit(ctx, label)
	if err != nil {
		return nil, err
	}
	live := newLive(t.Owner, t.Who, label, "sweep|"+fmt.Sprint(spec), b.srv.class.epochOf(b.s))
	t.setLive(live)
	if live.Epoch >= 0 {
		b.srv.class.addLive(live)
	}
	b.srv.logf("run start", "key", b.s.id.Fingerprint, "who", b.s.id.Name, "run", label)
	start := time.Now()
	res, err := b.Backend.Sweep(ctx, spec, func(rec *bench.Record) {
		live.Publish(pipeline.Event{Payload: rec})
		onRecord(rec)
	})
	if res != nil {
		live.Publish(pipeline.Event{Payload: res})
	}
	alone := t.Done()
	live.Finish(nil, err)
	b.srv.logf("run end", "key", b.s.id.Fingerprint, "who", b.s.id.Name, "run", label, "alone", fmt.Sprint(alone),
		"seconds", fmt.Sprintf("%.1f", time.Since(start).Seconds()), "error", fmt.Sprint(err))
	return res, err
}

// Export implements backend.Backend: an HTML report in the server's
// reports folder, written under a temporary name and renamed, so a
// disconnect mid-write leaves nothing behind.
func (b *sessionBackend) Export(kind string, recs []*bench.Record) (string, error) {
	return b.srv.writeReport(kind+"-"+b.s.id.Short(), func(f *os.File) error {
		return bench.WriteHTML(f, recs, bench.ReportOptions{Title: "workbench " + kind + " · " + b.s.id.Name})
	})
}

// SaveScenario implements backend.Backend: refused, since a participant's
// file would land on the host outside any shared folder.
func (b *sessionBackend) SaveScenario(string, backend.Knobs) (string, error) {
	return "", errors.New("saving scenarios is off on a shared server: the knobs are on screen; e writes a report")
}

// ExportRay implements backend.Backend: refused, as SaveScenario is, since
// the job folder would land on the host outside any shared folder.
func (b *sessionBackend) ExportRay(string, []*bench.Record) (string, error) {
	return "", errors.New("exporting Ray jobs is off on a shared server: e writes a report; export ray --from it on your machine")
}

// writeReport writes one file named after base into the reports folder.
func (s *Server) writeReport(base string, write func(*os.File) error) (string, error) {
	dir := s.cfg.ReportsDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.html", base, time.Now().Format("20060102-150405.000")))
	if _, err := s.roots.Check(path); err != nil {
		return "", err
	}
	f, err := outfile.CreateTemp(dir, ".report-*.tmp") // the umask's mode, not 0600
	if err != nil {
		return "", err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return path, os.Rename(f.Name(), path)
}

// mirror is a follower's backend: it runs nothing, and each Run or Sweep
// replays the broadcasting instructor's run of the same spec (waiting for
// it to start), so every follower's screen shows the instructor's live
// numbers without a single extra pipeline.
type mirror struct {
	c     *Classroom
	inner backend.Backend
	epoch int
}

func (m *mirror) Info() backend.Info              { return m.inner.Info() }
func (m *mirror) Scenarios() []backend.Scenario   { return m.inner.Scenarios() }
func (m *mirror) Diagnose(r *bench.Record) string { return m.inner.Diagnose(r) }
func (m *mirror) Lesson() []backend.Step          { return m.inner.Lesson() }
func (m *mirror) Export(string, []*bench.Record) (string, error) {
	return "", errors.New("following the instructor: reports are the instructor's")
}
func (m *mirror) SaveScenario(string, backend.Knobs) (string, error) {
	return "", errors.New("following the instructor: nothing to save")
}
func (m *mirror) ExportRay(string, []*bench.Record) (string, error) {
	return "", errors.New("following the instructor: nothing to export")
}

func (m *mirror) watch(ctx context.Context, key string, apply func(pipeline.Event)) (*Live, error) {
	for {
		l, changed := m.c.findLive(key, m.epoch)
		if l != nil {
			hist, ch, stop := l.Watch(1024)
			defer stop()
			for _, ev := range hist {
				apply(ev)
			}
			for {
				select {
				case ev, ok := <-ch:
					if !ok {
						return l, nil
					}
					apply(ev)
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Run implements backend.Backend by replaying the instructor's run.
func (m *mirror) Run(ctx context.Context, spec backend.RunSpec, bus *pipeline.EventBus) (*bench.Record, error) {
	l, err := m.watch(ctx, specKey(spec), bus.Publish)
	if err != nil {
		return nil, err
	}
	return l.Result()
}

// Sweep implements backend.Backend by replaying the instructor's sweep,
// its records and then its ranked result.
func (m *mirror) Sweep(ctx context.Context, spec backend.SweepSpec, onRecord func(*bench.Record)) (*bench.SweepResult, error) {
	var res *bench.SweepResult
	l, err := m.watch(ctx, "sweep|"+fmt.Sprint(spec), func(ev pipeline.Event) {
		switch p := ev.Payload.(type) {
		case *bench.Record:
			onRecord(p)
		case *bench.SweepResult:
			res = p
		}
	})
	if err != nil {
		return nil, err
	}
	_, err = l.Result()
	return res, err
}

// Jobs passes the session backend's Ray cluster through, if it has one.
func (b *sessionBackend) Jobs() backend.Jobs {
	if jb, ok := b.Backend.(backend.JobsBackend); ok {
		return jb.Jobs()
	}
	return nil
}

var (
	_ backend.Backend = (*sessionBackend)(nil)
	_ backend.Backend = (*mirror)(nil)
)
