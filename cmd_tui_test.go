package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
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

// TestTUISweepAsCLI: the TUI's sweep goes the CLI's way. Three axes, an
// objective and a constraint are parsed as the flags are; every cell is
// measured by the protocol with the read cycled, its batch and blocks
// reach the run, and the cells are judged; the best exports as a Ray job
// by export ray's code. A spec the CLI refuses is refused before any run.
func TestTUISweepAsCLI(t *testing.T) {
	t.Chdir(t.TempDir()) // the Ray job folder lands in the working directory
	b := testTUIBackend(t, 16)
	if _, err := b.Sweep(context.Background(), backend.SweepSpec{Scenario: "optimized", Batch: []int{4}, Concurrency: []int{1},
		Objective: "speed", Constraints: "latency_p95<200"}, func(*bench.Record) { t.Error("a refused sweep ran a cell") }); err == nil ||
		!strings.Contains(err.Error(), "--objective speed") || !strings.Contains(err.Error(), "needs a unit") {
		t.Errorf("bad objective and constraint: %v, want both named as the CLI names them", err)
	}
	spec := backend.SweepSpec{Scenario: "optimized", Batch: []int{4, 8}, Concurrency: []int{1}, Blocks: []int{2, 4},
		Objective: "wall", Constraints: "peak_rss<64GiB"}
	seen := 0
	res, err := b.Sweep(context.Background(), spec, func(*bench.Record) { seen++ })
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(res.Records) || res.GridSize != 4 || res.Objective.String() != bench.MetricThroughput || res.Constraints.String() != "peak_rss<64GiB" {
		t.Fatalf("saw %d of %d records; grid %d, objective %s, constraints %s", seen, len(res.Records), res.GridSize, res.Objective, res.Constraints)
	}
	p := bench.DefaultProtocol
	for _, r := range res.Records {
		if r.Status != bench.StatusOK {
			t.Errorf("%s: %s %s", r.Label, r.Status, r.Reason)
			continue
		}
		batch, blocks := r.Params["batch"], r.Params["blocks"]
		need := p.RowsNeeded(atoi(batch), 1)
		if r.Protocol == nil || r.Images != need || strconv.Itoa(r.Config.BatchSize) != batch || strconv.Itoa(r.Config.Blocks) != blocks ||
			r.Objective != bench.MetricThroughput || r.Constraints != "peak_rss<64GiB" || r.CellStable == nil {
			t.Errorf("%s: protocol %v, %d images (want %d, cycled), batch %d, blocks %d, objective %q, constraints %q",
				r.Label, r.Protocol, r.Images, need, r.Config.BatchSize, r.Config.Blocks, r.Objective, r.Constraints)
		}
	}
	// Whether a cell is stable depends on the machine's load; the rule
	// that picks the best covers either case.
	best, ok := bench.BestCell(res.Records)
	if !ok {
		t.Fatal("no completed cell")
	}
	dir, err := b.ExportRay("optimized", res.Records)
	if err != nil {
		t.Fatal(err)
	}
	main, err := os.ReadFile(filepath.Join(dir, "main.py"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "batch_size=" + best.Params["batch"]; !strings.Contains(string(main), want) {
		t.Errorf("the job does not carry the best cell's %s (%s):\n%s", want, best.Label, main)
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
