package tui

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"workbench/tui/backend"
	"workbench/tui/common"
	"workbench/tui/pages/race"
)

// processCPU is this process's user+system CPU time: on a shared machine a
// frame's CPU cost is steadier than its wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports CPU per frame and the share of the machine the screen
// takes at its ceiling of one redraw per tick.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	per := float64(processCPU()-cpu0) / float64(b.N)
	b.ReportMetric(per/1e6, "cpu-ms/frame")
	perSecond := float64(time.Second / common.TickInterval)
	b.ReportMetric(100*per*perSecond/1e9/float64(runtime.NumCPU()), "machine%")
}

// BenchmarkRaceFrame measures what one redraw of a running race costs at
// 160×48: folding a tick's events into both panes and rendering the screen.
// "machine%" is the share of the machine's CPU the screen would take
// redrawing on every tick.
func BenchmarkRaceFrame(b *testing.B) {
	m, f := newApp(&testing.T{}, 160, 48)
	m.Update(common.NavMsg{Page: common.PageRace, Left: "slow", Right: "optimized"})
	r := m.Active().(*race.Model)
	feedRace(r, f, false)
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		_ = m.Render()
	}
	reportCPU(b, cpu0)
}

// BenchmarkRaceFrameChanging is a redraw after the running pane took a new
// snapshot and telemetry sample: the worst case, paid at most ten times a
// second however fast events arrive.
func BenchmarkRaceFrameChanging(b *testing.B) {
	m, f := newApp(&testing.T{}, 160, 48)
	m.Update(common.NavMsg{Page: common.PageRace, Left: "slow", Right: "optimized"})
	r := m.Active().(*race.Model)
	feedRace(r, f, false)
	sc, _ := backend.Find(backend.FakeScenarios, "optimized")
	evs := backend.Script(sc.Knobs, 240, 8, 2)
	b.ResetTimer()
	cpu0 := processCPU()
	i := 0
	for b.Loop() {
		r.Apply(1, evs[i%len(evs)])
		r.Apply(1, evs[(i+1)%len(evs)])
		i += 2
		_ = m.Render()
	}
	reportCPU(b, cpu0)
}
