package tui

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"workbench/nvml"
	"workbench/tui/backend"
	"workbench/tui/common"
	"workbench/tui/pages/jobs"
	"workbench/tui/pages/race"
	"workbench/tui/pages/sweep"
	"workbench/tui/pages/tune"
	"workbench/tui/pages/workshop"
)

// The teatest timeouts bound a broken test; no assertion depends on them.
const patience = 10 * time.Second

// probeMsg asks the running program for its screen. The program's filter
// answers it on the event loop, so a test reads the live model without a
// data race and without parsing the diffing renderer's output.
type probeMsg struct{ reply chan string }

func probe(m tea.Model, msg tea.Msg) tea.Msg {
	if p, ok := msg.(probeMsg); ok {
		p.reply <- ansi.Strip(m.(*Model).Render())
		return nil
	}
	return msg
}

func start(t *testing.T, f *backend.Fake, o Options) *teatest.TestModel {
	t.Helper()
	o.NoColor = true
	o.Width, o.Height = 160, 48
	m := New(context.Background(), f, o)
	return teatest.NewTestModel(t, m, teatest.WithInitialTermSize(160, 48),
		teatest.WithProgramOptions(tea.WithFilter(probe)))
}

// waitFor polls the live screen until it shows text. The deadline only
// bounds a broken test.
func waitFor(t *testing.T, tm *teatest.TestModel, text string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	last := ""
	for time.Now().Before(deadline) {
		reply := make(chan string, 1)
		tm.Send(probeMsg{reply})
		select {
		case last = <-reply:
			if strings.Contains(last, text) {
				return
			}
		case <-time.After(patience):
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("screen never showed %q; last screen:\n%s", text, last)
}

func final(t *testing.T, tm *teatest.TestModel) *Model {
	t.Helper()
	tm.Send(keyPress("q"))
	return tm.FinalModel(t, teatest.WithFinalTimeout(patience)).(*Model)
}

func TestRaceFromHome(t *testing.T) {
	t.Parallel()
	tm := start(t, &backend.Fake{}, Options{})
	tm.Send(keyPress("enter"))
	waitFor(t, tm, "within runs: optimized is")
	m := final(t, tm)
	if m.Page() != "race" {
		t.Fatalf("page %q, want race", m.Page())
	}
	r := m.Active().(*race.Model)
	if !r.Finished() {
		t.Fatal("race not finished")
	}
	s := ansi.Strip(m.Render())
	for _, want := range []string{"optimized is", "faster than slow", "top diagnosis", "done"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
}

func TestRacePickAndExport(t *testing.T) {
	t.Parallel()
	f := &backend.Fake{}
	tm := start(t, f, Options{})
	// Cursor starts on A (slow); move to tiny-batch and make it B.
	tm.Send(keyPress("down"))
	tm.Send(keyPress("down"))
	tm.Send(keyPress("b"))
	tm.Send(keyPress("r"))
	waitFor(t, tm, "than slow")
	tm.Send(keyPress("e"))
	waitFor(t, tm, "report written to reports/race.html")
	m := final(t, tm)
	s := ansi.Strip(m.Render())
	if !strings.Contains(s, "B tiny-batch") {
		t.Errorf("right pane is not tiny-batch:\n%s", s)
	}
	if len(f.Exported) != 1 || f.Exported[0] != "race" {
		t.Errorf("exports %v, want [race]", f.Exported)
	}
}

func TestWorkshopWalk(t *testing.T) {
	t.Parallel()
	f := &backend.Fake{}
	tm := start(t, f, Options{Start: common.PageWorkshop})
	waitFor(t, tm, "Step 1 of 4")
	waitFor(t, tm, "result ")
	for i := 2; i <= 4; i++ {
		tm.Send(keyPress("space"))
		waitFor(t, tm, "Step "+itoa(i)+" of 4")
		waitFor(t, tm, "this step vs the previous step") // measured
	}
	tm.Send(keyPress("space"))
	waitFor(t, tm, "What each fix bought")
	tm.Send(keyPress("backspace"))
	m := final(t, tm)
	w := m.Active().(*workshop.Model)
	if w.Step() != 3 {
		t.Errorf("after backspace on the summary the step is %d, want 3", w.Step())
	}
}

func TestTuneRunAndSave(t *testing.T) {
	t.Parallel()
	f := &backend.Fake{}
	tm := start(t, f, Options{})
	tm.Send(keyPress("t")) // tune the selected scenario (slow)
	waitFor(t, tm, "knobs (from slow)")
	tm.Send(keyPress("right")) // batch 1 → 2
	waitFor(t, tm, "◂ 2 ▸")
	tm.Send(keyPress("enter")) // run
	waitFor(t, tm, "×1.00")    // the first history row
	tm.Send(keyPress("right")) // batch 2 → 4
	waitFor(t, tm, "◂ 4 ▸")
	tm.Send(keyPress("enter"))                // run again
	waitFor(t, tm, "2 batch=4 concurrency=1") // the second history row
	tm.Send(keyPress("S"))                    // save the best
	waitFor(t, tm, "saved scenarios/slow-tuned.yaml")
	m := final(t, tm)
	tu := m.Active().(*tune.Model)
	if n := len(tu.History()); n != 2 {
		t.Fatalf("history has %d trials, want 2", n)
	}
	if len(f.Saved) != 1 || f.Saved[0].Batch != 4 {
		t.Errorf("saved %+v, want the batch-4 configuration (the fastest)", f.Saved)
	}
}

// TestSweepFromForm fills the form by keys, q and j included (text in a
// field, not quit and down), runs the fake's three-axis sweep, and
// exports the best cell three ways, each key's result said on screen.
func TestSweepFromForm(t *testing.T) {
	t.Parallel()
	f := &backend.Fake{}
	tm := start(t, f, Options{})
	tm.Send(keyPress("s"))
	waitFor(t, tm, "batch sizes")
	tm.Send(keyPress("tab"))
	tm.Send(keyPress("tab")) // read blocks
	for _, k := range "8,16" {
		tm.Send(keyPress(string(k)))
	}
	tm.Send(keyPress("down"))
	tm.Send(keyPress("down")) // constraints
	for _, k := range "qj?" { // text here, not quit, down and help
		tm.Send(keyPress(string(k)))
	}
	waitFor(t, tm, "constraints qj?")
	for range 3 {
		tm.Send(keyPress("backspace"))
	}
	for _, k := range "latency_p95<2s" {
		tm.Send(keyPress(string(k)))
	}
	waitFor(t, tm, "constraints latency_p95<2s")
	tm.Send(keyPress("enter"))
	waitFor(t, tm, "finished")
	waitFor(t, tm, "best: batch 128, concurrency 2, blocks 8")
	tm.Send(keyPress("S"))
	waitFor(t, tm, "scenario written to scenarios/slow-tuned.yaml")
	tm.Send(keyPress("R"))
	waitFor(t, tm, "Ray job written to ray-slow")
	tm.Send(keyPress("e"))
	waitFor(t, tm, "report written to reports/sweep.html")
	m := final(t, tm)
	s := m.Active().(*sweep.Model)
	if s.Phase() != sweep.Finished {
		t.Fatalf("phase %v, want finished", s.Phase())
	}
	if k := f.Saved[0]; k.Batch != 128 || k.Concurrency != 2 || k.Blocks != 8 {
		t.Errorf("saved %+v, want the best cell's knobs", k)
	}
	if got := s.Result().Constraints.String(); got != "latency_p95<2s" {
		t.Errorf("the sweep ran with constraints %q, want the typed ones", got)
	}
}

func TestHelpToggleAndResize(t *testing.T) {
	t.Parallel()
	m, _ := newApp(t, 80, 24)
	short := m.Render()
	m.Update(keyPress("?"))
	full := m.Render()
	if short == full || !strings.Contains(ansi.Strip(full), "esc") {
		t.Errorf("? did not show the full help:\n%s", ansi.Strip(full))
	}
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	checkFrame(t, m.Render(), 160, 48)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	checkFrame(t, m.Render(), 80, 24)
}

// TestQuitCancelsRuns starts a race whose run blocks until cancelled and
// checks that q ends Run cleanly: the run sees its context end and Run
// waits for it.
func TestQuitCancelsRuns(t *testing.T) {
	t.Parallel()
	f := &backend.Fake{Gate: make(chan struct{})}
	in, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), f, Options{Start: common.PageRace, NoColor: true, Width: 80, Height: 24},
			tea.WithInput(in), tea.WithOutput(io.Discard), tea.WithWindowSize(80, 24))
	}()
	if _, err := w.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("Run did not return after q")
	}
	w.Close()
}

// TestJobsScreenNeedsACluster: c opens the Jobs screen only when a Ray
// cluster is configured, and esc returns home.
func TestJobsScreenNeedsACluster(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		f := &backend.Fake{}
		if cluster {
			f.Cluster = backend.NewFakeJobs()
		}
		m := New(context.Background(), f, Options{NoColor: true, Width: 120, Height: 30})
		_, cmd := m.Update(tea.KeyPressMsg{Code: 'c', Text: "c"})
		if cmd != nil {
			if msg := cmd(); msg != nil {
				m.Update(msg)
			}
		}
		want := map[bool]string{false: "home", true: "jobs"}[cluster]
		if m.Page() != want {
			t.Errorf("cluster %v: c opened %q, want %q", cluster, m.Page(), want)
		}
		if cluster {
			_, cmd = m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
			if cmd != nil {
				m.Update(cmd())
			}
			if m.Page() != "home" {
				t.Errorf("esc left the Jobs screen for %q, want home", m.Page())
			}
		}
	}
}

// TestJobsScreenPoll: --poll reaches the Jobs screen (Options.Poll), and
// without it the screen polls as submit --follow does by default.
func TestJobsScreenPoll(t *testing.T) {
	for _, tc := range []struct{ poll, want time.Duration }{{5 * time.Second, 5 * time.Second}, {0, 2 * time.Second}} {
		f := &backend.Fake{Cluster: backend.NewFakeJobs()}
		m := New(context.Background(), f, Options{NoColor: true, Width: 120, Height: 30, Start: common.PageJobs, Poll: tc.poll})
		m.Update(m.Init()())
		j, ok := m.Active().(*jobs.Model)
		if !ok {
			t.Fatalf("opened %q, want the Jobs screen", m.Page())
		}
		if j.Poll() != tc.want {
			t.Errorf("--poll %s: the screen polls every %s, want %s", tc.poll, j.Poll(), tc.want)
		}
	}
}

// TestGPUScreenFromHome: g on the home screen opens the GPU screen, which
// draws the backend's feed (a machine without a GPU, or two Hoppers), and
// esc stops its sampler and returns home.
func TestGPUScreenFromHome(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		feed func() *backend.FakeSampler
		want string
	}{
		{"no GPU", func() *backend.FakeSampler { return backend.FakeNoGPU(10) }, "no NVIDIA GPU visible (libnvidia-ml.so.1 not found"},
		{"Hopper", func() *backend.FakeSampler { return backend.FakeGPUs("Hopper", 2, 10) }, "SM activity 13.0%"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var feeds []*backend.FakeSampler
			f := &backend.Fake{GPU: func() nvml.Sampler {
				mu.Lock()
				defer mu.Unlock()
				feeds = append(feeds, tc.feed())
				return feeds[len(feeds)-1]
			}}
			tm := start(t, f, Options{})
			waitFor(t, tm, "g GPU")
			tm.Send(keyPress("g"))
			waitFor(t, tm, tc.want)
			tm.Send(keyPress("esc"))
			waitFor(t, tm, "scenarios")
			m := final(t, tm)
			mu.Lock()
			defer mu.Unlock()
			if m.Page() != "home" || len(feeds) != 1 {
				t.Fatalf("page %q after esc, %d samplers made; want home, 1", m.Page(), len(feeds))
			}
			if !feeds[0].Stopped() {
				t.Error("the GPU screen's sampler still runs after esc")
			}
		})
	}
}
