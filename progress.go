package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"workbench/pipeline"
)

// Progress output: per-operator lines in the style of Ray Data's progress
// bars, drawn from the pipeline's event bus. The formatting functions are
// pure (snapshot in, text out) so the TUI can reuse them; the progress type
// only decides when and where to draw.

// progressBarWidth is the width of the row bar in TTY mode.
const progressBarWidth = 20

// formatOpLine renders one operator as Ray does:
//
//   - Inference: Tasks: 1; Actors: 1; Queued: 32 rows, 1.2 MiB; [backpressured: memory] 48/64 ▕███████████████░░░░░▏ 75%
func formatOpLine(o pipeline.OpSnapshot, total int64) string {
	m := o.Metrics
	var b strings.Builder
	fmt.Fprintf(&b, "- %s%s: Tasks: %d", o.Name, issueMark(m), m.TasksRunning)
	if m.ActorsAlive > 0 || m.ActorsPending > 0 {
		fmt.Fprintf(&b, "; Actors: %d", m.ActorsAlive)
		if m.ActorsPending > 0 {
			fmt.Fprintf(&b, " (+%d pending)", m.ActorsPending)
		}
	}
	fmt.Fprintf(&b, "; Queued: %d rows, %s", m.QueuedRows, pipeline.FormatBytes(m.QueuedBytes))
	state := m.State.String()
	if m.State == pipeline.StateBackpressured && m.BackpressuredBy != "" {
		state += ": " + m.BackpressuredBy
	}
	if state != "" {
		fmt.Fprintf(&b, "; [%s]", state)
	}
	fmt.Fprintf(&b, " %s", formatRows(m.RowsOut, total))
	return b.String()
}

// issueMark is " !stall" or " !straggler" when the engine's detectors
// found one in the operator, as the TUI marks its line; "" otherwise.
func issueMark(m pipeline.OpMetrics) string {
	if issue := m.Issue(); issue != "" {
		return " !" + string(issue)
	}
	return ""
}

// rowsOf renders "48/64 rows", or "48 rows (counting…)" while a listing
// that streams has not ended, so its total is not known yet.
func rowsOf(s *pipeline.Snapshot) string {
	if s.RowsTotal <= 0 && !s.Done {
		return fmt.Sprintf("%d rows (counting…)", s.RowsDone)
	}
	return fmt.Sprintf("%d/%d rows", s.RowsDone, max(s.RowsTotal, s.RowsDone))
}

// formatRows renders "48/64 ▕████░░░░▏ 75%", or "48 rows" before the total
// is known.
func formatRows(done, total int64) string {
	if total <= 0 {
		return fmt.Sprintf("%d rows", done)
	}
	frac := min(1, float64(done)/float64(total))
	full := int(frac*progressBarWidth + 0.5)
	return fmt.Sprintf("%d/%d ▕%s%s▏ %3.0f%%", done, total,
		strings.Repeat("█", full), strings.Repeat("░", progressBarWidth-full), 100*frac)
}

// formatHeader renders the run's first line: label, rows, elapsed time,
// rate and resources in use.
func formatHeader(label string, s *pipeline.Snapshot) string {
	mark := "Running"
	if s.Done {
		mark = "✔ Done"
	}
	rate := 0.0
	if s.At > 0 {
		rate = float64(s.RowsDone) / s.At.Seconds()
	}
	return fmt.Sprintf("%s %s: %s in %s (%.1f row/s); %s CPU, %s GPU, %s in flight",
		mark, label, rowsOf(s), s.At.Round(100*time.Millisecond), rate,
		trimNum(s.Resources.CPU)+"/"+trimNum(s.Limits.CPU), trimNum(s.Resources.GPU)+"/"+trimNum(s.Limits.GPU),
		pipeline.FormatBytes(s.InFlightBytes))
}

// formatCompact renders a snapshot as one line for logs that are not a
// terminal: "[optimized 3.2s] 48/64 rows · Preprocess running 1 · Inference backpressured".
func formatCompact(label string, s *pipeline.Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s %s] %s", label, s.At.Round(100*time.Millisecond), rowsOf(s))
	for _, o := range s.Ops {
		m := o.Metrics
		fmt.Fprintf(&b, " · %s%s %s", o.Name, issueMark(m), m.State)
		if m.TasksRunning > 0 {
			fmt.Fprintf(&b, " %d", m.TasksRunning)
		}
		if m.State == pipeline.StateBackpressured && m.BackpressuredBy != "" {
			fmt.Fprintf(&b, " (%s)", m.BackpressuredBy)
		}
	}
	return b.String()
}

// formatSnapshot is the full TTY view of one run: header plus one line per
// operator.
func formatSnapshot(label string, s *pipeline.Snapshot) []string {
	lines := []string{formatHeader(label, s)}
	for _, o := range s.Ops {
		lines = append(lines, "  "+formatOpLine(o, s.RowsTotal))
	}
	return lines
}

func trimNum(f float64) string {
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%.1f", f)
}

// progress draws the latest snapshot of each attached run to w: redrawn in
// place at most 4 times a second on a terminal, and as a plain line every
// plainEvery (and once at the end) otherwise.
type progress struct {
	w          io.Writer
	tty        bool
	minGap     time.Duration
	plainEvery time.Duration

	mu        sync.Mutex
	live      []string // labels still running, in attach order
	latest    map[string]*pipeline.Snapshot
	drawn     int // lines of the live view on screen
	lastDraw  time.Time
	lastPlain map[string]time.Time
	ended     map[string]bool // plain mode printed the final line
}

// newProgress returns a progress writer for w; it draws in place only when
// w is a terminal. A nil w draws nothing.
func newProgress(w io.Writer) *progress {
	return &progress{
		w: w, tty: isTerminal(w), minGap: 250 * time.Millisecond, plainEvery: 5 * time.Second,
		latest: map[string]*pipeline.Snapshot{}, lastPlain: map[string]time.Time{}, ended: map[string]bool{},
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// attach follows bus under label until the bus closes; the returned
// function waits for that.
func (p *progress) attach(label string, bus *pipeline.EventBus) (wait func()) {
	ch := bus.Subscribe(16)
	p.mu.Lock()
	p.live = append(p.live, label)
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if ev.Snapshot != nil {
				p.update(label, ev.Snapshot)
			}
		}
		p.finish(label)
	}()
	return func() { <-done }
}

func (p *progress) update(label string, s *pipeline.Snapshot) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latest[label] = s
	now := time.Now()
	if !p.tty {
		if s.Done || now.Sub(p.lastPlain[label]) >= p.plainEvery {
			if !p.lastPlain[label].IsZero() || s.Done {
				fmt.Fprintln(p.w, formatCompact(label, s))
				p.ended[label] = s.Done
			}
			p.lastPlain[label] = now
		}
		return
	}
	if s.Done || now.Sub(p.lastDraw) >= p.minGap {
		p.redraw()
		p.lastDraw = now
	}
}

// finish draws a run's last state once more and retires it from the live
// view, leaving its lines on screen above the runs still going.
func (p *progress) finish(label string) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.latest[label]; !p.tty && s != nil && !p.ended[label] {
		// The bus drops events for a slow reader; never end without a line.
		fmt.Fprintln(p.w, formatCompact(label, s))
	}
	delete(p.ended, label)
	delete(p.lastPlain, label)
	if p.tty {
		p.redraw()
		// Commit this run's lines: move it out of the live block.
		s := p.latest[label]
		p.clear()
		if s != nil {
			for _, l := range formatSnapshot(label, s) {
				fmt.Fprintln(p.w, l)
			}
		}
	}
	for i, l := range p.live {
		if l == label {
			p.live = append(p.live[:i], p.live[i+1:]...)
			break
		}
	}
	delete(p.latest, label)
	if p.tty {
		p.redraw()
	}
}

// clear erases the live view.
func (p *progress) clear() {
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dF\x1b[J", p.drawn)
		p.drawn = 0
	}
}

// redraw replaces the live view with the latest snapshot of each run.
func (p *progress) redraw() {
	var lines []string
	for _, label := range p.live {
		if s := p.latest[label]; s != nil {
			lines = append(lines, formatSnapshot(label, s)...)
		}
	}
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dF", p.drawn)
	}
	for _, l := range lines {
		b.WriteString("\x1b[2K")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if len(lines) < p.drawn {
		b.WriteString("\x1b[J")
	}
	io.WriteString(p.w, b.String())
	p.drawn = len(lines)
}
