package main

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"workbench/bench"
	"workbench/pipeline"
	"workbench/tui/backend"
	"workbench/tui/common"
	"workbench/tui/components/runpane"
)

// testTUIBackend is the real TUI backend over n synthetic images and the
// tiny model.
func testTUIBackend(t *testing.T, n int, extra ...string) *tuiBackend {
	t.Helper()
	fs := newFlagSet("tui", "", "", io.Discard)
	var f jobFlags
	f.register(fs)
	f.registerSet(fs)
	args := append([]string{"--data", synthData(t, n, nil), "--model", "tiny", "--sample-hz", "0"}, extra...)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	b, err := newTUIBackend(&f, "slow", "optimized")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTUIPaneMatchesRecord runs real scenarios through the TUI backend,
// folds their event streams into a race pane as the screen does, and
// checks that at the end every number the pane shows is the record's:
// throughput (the headline and the result line), steady throughput, time
// to first result, p95 batch latency and model loads, at both pane sizes.
// For the slow scenario, which loads the model in every batch, the pane
// must also have seen the loads climb while the run went on (issue 21.7).
func TestTUIPaneMatchesRecord(t *testing.T) {
	b := testTUIBackend(t, 24)
	for _, sc := range []string{"slow", "optimized"} {
		t.Run(sc, func(t *testing.T) {
			bus := pipeline.NewEventBus()
			ch := bus.Subscribe(4096)
			var evs []pipeline.Event
			var wg sync.WaitGroup
			wg.Go(func() {
				for ev := range ch {
					evs = append(evs, ev)
				}
			})
			rec, err := b.Run(context.Background(), backend.RunSpec{Scenario: sc}, bus)
			bus.Close()
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			for _, sz := range []struct{ w, h int }{{80, 24}, {160, 48}} {
				c := common.New(sz.w, sz.h, true)
				p := runpane.New(c, "A", sc, "", c.Styles.Left, false, 2)
				p.Start()
				maxLoads := 0
				for _, ev := range evs {
					p.Apply(ev)
					maxLoads = max(maxLoads, int(p.Loads()))
				}
				p.Finish(rec, nil, "")
				if sc == "slow" && maxLoads < 2 {
					t.Errorf("%dx%d: the pane never showed more than %d model load(s) while the slow run loaded %d", sz.w, sz.h, maxLoads, rec.ModelLoads)
				}
				view := ansi.Strip(p.View(sz.w/2, sz.h-4, false))
				f := func(name string, v float64) string {
					m, _ := bench.LookupMetric(name)
					return m.Format(v)
				}
				want := []string{
					"throughput " + f(bench.MetricThroughput, rec.Throughput),
					"loads " + f(bench.MetricModelLoads, float64(rec.ModelLoads)) + " ",
				}
				if sz.w >= 160 { // the full pane
					want = append(want, "steady "+f(bench.MetricSteadyTput, rec.SteadyTput),
						"first result "+f(bench.MetricTTFR, rec.TTFRSeconds),
						"p95 batch latency "+f(bench.MetricLatencyP95, rec.LatencyP95),
						"result "+f(bench.MetricThroughput, rec.Throughput)+" · ")
				} else { // the compact one
					want = append(want, "steady "+bench.FormatValue(rec.SteadyTput, ""),
						"ttfr "+f(bench.MetricTTFR, rec.TTFRSeconds),
						"p95 "+f(bench.MetricLatencyP95, rec.LatencyP95),
						f(bench.MetricThroughput, rec.Throughput)+" in ")
				}
				for _, w := range want {
					if !strings.Contains(view, w) {
						t.Errorf("%dx%d: pane lacks %q\n%s", sz.w, sz.h, w, view)
					}
				}
			}
		})
	}
}
