package tui

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"workbench/bench"
	"workbench/nvml"
	"workbench/tui/backend"
	"workbench/tui/common"
	"workbench/tui/pages/race"
	"workbench/tui/pages/sweep"
	"workbench/tui/pages/workshop"
)

// updating reports the -update flag, which teatest's golden package
// already defines for the whole test binary.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// sizes are the terminals every golden screen is drawn at: the smallest
// supported, a common laptop split, and a large one.
var sizes = []struct{ w, h int }{{80, 24}, {120, 36}, {160, 48}}

// golden compares got, stripped of ANSI styling, with testdata/name.golden.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = ansi.Strip(got)
	path := filepath.Join("testdata", name+".golden")
	if updating() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden file; run go test ./tui -update and review the diff.\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// checkFrame asserts the screen is exactly w×h cells: every line drawn in
// full, none too wide, so a resize never leaves debris.
func checkFrame(t *testing.T, s string, w, h int) {
	t.Helper()
	lines := strings.Split(s, "\n")
	if len(lines) != h {
		t.Errorf("screen has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if got := ansi.StringWidth(l); got > w {
			t.Errorf("line %d is %d cells wide, more than %d: %q", i, got, w, ansi.Strip(l))
		}
	}
}

func newApp(t *testing.T, w, h int) (*Model, *backend.Fake) {
	t.Helper()
	f := &backend.Fake{}
	m := New(context.Background(), f, Options{Width: w, Height: h, NoColor: true})
	return m, f
}

// feedRace plays the fake's script into a race: all of side A and, when
// finished, all of side B; otherwise B stops halfway.
func feedRace(r *race.Model, f *backend.Fake, finished bool) {
	for side, name := range []string{"slow", "optimized"} {
		sc, _ := backend.Find(backend.FakeScenarios, name)
		evs := backend.Script(sc.Knobs, 240, 8, 2)
		if side == 1 && !finished {
			evs = evs[:7]
		}
		r.Panes()[side].Start()
		for _, e := range evs {
			r.Apply(side, e)
		}
		if side == 0 || finished {
			// Three interleaved runs a side, a little apart, as a
			// repeated race files them; the pane shows the last.
			var rec *bench.Record
			for i := range r.Repeat() {
				rec = backend.Record(name, sc.Knobs, 240, 8)
				scale := 1 + 0.03*float64((i+side)%3-1)
				rec.Throughput *= scale
				rec.SteadyTput *= scale
				rec.TTFRSeconds /= scale
				r.AddRecord(side, rec)
			}
			r.Panes()[side].Finish(rec, nil, f.Diagnose(rec))
		}
	}
}

// sweepSpec is the golden screens' sweep: three axes, with cells the
// fake makes equal (concurrency 2 and 4, blocks 8 and 16) so ties show,
// and a batch (256) that fails out of memory.
var sweepSpec = backend.SweepSpec{Scenario: "optimized", Batch: []int{8, 32, 128, 256}, Concurrency: []int{1, 2, 4},
	Blocks: []int{8, 16}, Objective: "steady", Constraints: "latency_p95<2s"}

// openGPU opens the GPU screen on f's fake sampler feed (none: a machine
// without a GPU) and lets it start: every sample of the feed is drawn.
func openGPU(t *testing.T, m *Model, f *backend.Fake, feed func() nvml.Sampler) {
	t.Helper()
	f.GPU = feed
	_, cmd := m.Update(common.NavMsg{Page: common.PageGPU})
	if cmd == nil {
		t.Fatal("opening the GPU screen starts nothing")
	}
	m.Update(cmd()) // the sampler started; its tick is not run
}

func TestGoldenScreens(t *testing.T) {
	t.Parallel()
	type setup func(t *testing.T, m *Model, f *backend.Fake)
	open := func(n common.NavMsg) setup {
		return func(t *testing.T, m *Model, f *backend.Fake) {
			m.Update(n) // the returned command would start runs; tests feed events instead
		}
	}
	cases := []struct {
		name string
		prep setup
	}{
		{"home", func(*testing.T, *Model, *backend.Fake) {}},
		{"race_running", func(t *testing.T, m *Model, f *backend.Fake) {
			open(common.NavMsg{Page: common.PageRace, Left: "slow", Right: "optimized"})(t, m, f)
			feedRace(m.Active().(*race.Model), f, false)
		}},
		{"race_finished", func(t *testing.T, m *Model, f *backend.Fake) {
			open(common.NavMsg{Page: common.PageRace, Left: "slow", Right: "optimized"})(t, m, f)
			feedRace(m.Active().(*race.Model), f, true)
		}},
		{"sweep_form", func(t *testing.T, m *Model, f *backend.Fake) {
			open(common.NavMsg{Page: common.PageSweep, Scenario: "optimized"})(t, m, f)
			s := m.Active().(*sweep.Model)
			s.SetField(2, "8,16")
			s.SetField(4, "latency_p95<200")
			m.Update(keyPress("enter")) // refused: the constraint needs a unit
		}},
		{"sweep_partial", func(t *testing.T, m *Model, f *backend.Fake) {
			open(common.NavMsg{Page: common.PageSweep, Scenario: "optimized"})(t, m, f)
			s := m.Active().(*sweep.Model)
			s.Prepare(sweepSpec)
			// Partly filled: keep the first seven records only.
			n := 0
			_, _ = f.Sweep(context.Background(), sweepSpec, func(r *bench.Record) {
				if n < 7 {
					s.Add(r)
				}
				n++
			})
		}},
		{"sweep_finished", func(t *testing.T, m *Model, f *backend.Fake) {
			open(common.NavMsg{Page: common.PageSweep, Scenario: "optimized"})(t, m, f)
			s := m.Active().(*sweep.Model)
			s.Prepare(sweepSpec)
			s.End(f.Sweep(context.Background(), sweepSpec, s.Add))
		}},
		{"sweep_sliced", func(t *testing.T, m *Model, f *backend.Fake) {
			open(common.NavMsg{Page: common.PageSweep, Scenario: "optimized"})(t, m, f)
			s := m.Active().(*sweep.Model)
			s.Prepare(sweepSpec)
			s.End(f.Sweep(context.Background(), sweepSpec, s.Add))
			m.Update(keyPress("x")) // slice batch, at the best's 128: blocks × concurrency
			m.Update(keyPress("]"))
			m.Update(keyPress("[")) // back to 128
		}},
		{"gpu_nogpu", func(t *testing.T, m *Model, f *backend.Fake) { openGPU(t, m, f, nil) }},
		{"gpu_hopper", func(t *testing.T, m *Model, f *backend.Fake) {
			openGPU(t, m, f, func() nvml.Sampler { return backend.FakeGPUs("Hopper", 2, 90) })
		}},
		{"gpu_ampere", func(t *testing.T, m *Model, f *backend.Fake) {
			openGPU(t, m, f, func() nvml.Sampler { return backend.FakeGPUs("Ampere", 1, 90) })
		}},
		{"workshop_step2", func(t *testing.T, m *Model, f *backend.Fake) {
			open(common.NavMsg{Page: common.PageWorkshop})(t, m, f)
			w := m.Active().(*workshop.Model)
			for i, st := range f.Lesson()[:2] {
				for _, e := range backend.Script(*st.Spec.Knobs, 240, 8, 2) {
					w.Apply(i, e)
				}
				for r := range 3 { // three runs a step, a little apart
					rec := backend.Record(st.Spec.Scenario, *st.Spec.Knobs, 240, 8)
					rec.Throughput *= 1 + 0.03*float64(r-1)
					w.Finish(i, rec, nil)
				}
			}
			w.Update(keyPress("space"))
		}},
	}
	for _, c := range cases {
		for _, sz := range sizes {
			name := c.name + "_" + itoa(sz.w) + "x" + itoa(sz.h)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				m, f := newApp(t, sz.w, sz.h)
				c.prep(t, m, f)
				m.stopAll()
				s := m.Render()
				checkFrame(t, s, sz.w, sz.h)
				golden(t, name, s)
			})
		}
	}
}
