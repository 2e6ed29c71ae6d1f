package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"workbench/bench"
	"workbench/runner"
	"workbench/scenarios"
)

const ablateUsage = `ablate [flags]

Run optimized and every single-mistake scenario (each is optimized with one
knob flipped) on the same data and model, one after the other with the whole
machine each, and print what each mistake costs: its throughput as a ratio
to optimized, with the spread, and the metric the scenario says it moves
(model loads, forward passes, RSS, GPU utilisation, output size...), with a
check that it moved the expected way. Rows are sorted by cost, the most
expensive mistake first. With --repeat N the whole set runs N times,
interleaved, so drift hits every scenario alike.`

const ablateExamples = `  workbench ablate --model resnet50 --images 200
  workbench ablate --model resnet18 --images 64 --repeat 6 --json ablate.json
  workbench ablate --model tiny --only model-per-batch,tiny-batch`

func ablateCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("ablate", ablateUsage, ablateExamples, stderr)
	var f jobFlags
	f.register(fs)
	f.registerSet(fs)
	repeat := fs.Int("repeat", 1, "runs of each scenario, interleaved")
	only := fs.String("only", "", "comma-separated mistakes to run (default: all)")
	every := fs.Int("baseline-every", 4, "run optimized again after every N mistakes, so drift hits the baseline too")
	warmup := fs.Int("warmup", 1, "unmeasured runs of optimized first (model file, page cache, allocator)")
	pos, help, err := parseWithArgs(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) > 0 || f.scenario != "" {
		return usageErr("ablate: takes no scenario arguments; it runs optimized and every mistake (use --only to pick)")
	}
	if *repeat < 1 || *every < 1 || *warmup < 0 {
		return usageErr("ablate: --repeat and --baseline-every must be at least 1, --warmup at least 0")
	}
	if err := f.validate(); err != nil {
		return err
	}
	ss, err := newScenarioSession(&f, stderr)
	if err != nil {
		return err
	}
	names := runner.Library().Mistakes()
	if *only != "" {
		want := strings.Split(*only, ",")
		for _, w := range want {
			if !slices.Contains(names, strings.TrimSpace(w)) {
				return usageErr("ablate --only: %q is not a single-mistake scenario (want some of %s)", w, strings.Join(names, ", "))
			}
		}
		names = slices.DeleteFunc(names, func(n string) bool { return !slices.Contains(want, n) })
	}
	names = append([]string{"optimized"}, names...)
	var scs []*scenarios.Scenario
	for _, n := range slices.Clone(names) {
		s, err := ss.load(n)
		if err != nil {
			return err
		}
		given, _, err := runner.Data(ss.config(n, nil), s)
		why := s.MissingNeed(given)
		if err != nil && why == "" {
			why = err.Error()
		}
		if why != "" {
			fmt.Fprintf(stdout, "skipped: %s\n", why)
			names = slices.DeleteFunc(names, func(m string) bool { return m == n })
			continue
		}
		scs = append(scs, s)
	}
	for i := range *warmup {
		if r := ss.run(ctx, names[0], nil, "warm-up", "", i); r.err != nil {
			return fmt.Errorf("warm-up run of optimized failed: %w", r.err)
		}
	}
	runs := make([][]*scenarioRun, len(names))
	for rep := range *repeat {
		for _, i := range ablateSchedule(len(names)-1, *every) {
			runs[i] = append(runs[i], ss.run(ctx, names[i], nil, scs[i].Name, "", rep))
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	images := "all images"
	if f.images > 0 {
		images = fmt.Sprintf("%d images", f.images)
	}
	header := fmt.Sprintf("%s, %s from %s; one run at a time with the whole machine, %d repeat(s);\n"+
		"optimized ran %d times per repeat (first, after every %d mistakes, last); %d unmeasured warm-up run(s) first",
		f.modelName, images, f.data, *repeat, len(runs[0]) / *repeat, *every, *warmup)
	if n := zooNotice(f.modelName); n != "" {
		header += "\n" + n
	}
	writeAblate(stdout, scs, runs, header)
	writeAblateVerdict(stdout, scs, runs, *repeat)
	if f.json != "" {
		if err := bench.WriteJSONFile(f.json, records(runs...)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nrecords written to %s\n", f.json)
	}
	if err := f.writeBenchfmt(stdout, records(runs...)); err != nil {
		return err
	}
	return nil
}

// ablateSchedule orders one repeat: optimized (index 0) first, after every
// `every` mistakes, and last, so the baseline is measured across the same
// drift as the mistakes.
func ablateSchedule(mistakes, every int) []int {
	order := []int{0}
	for m := 1; m <= mistakes; m++ {
		order = append(order, m)
		if m%every == 0 || m == mistakes {
			order = append(order, 0)
		}
	}
	return order
}

// ablateRow is one scenario's line in the table.
type ablateRow struct {
	name   string
	tput   []float64
	ratio  float64 // median ratio to optimized; NaN when failed
	cells  []string
	failed bool
}

// writeAblate prints the cost table: optimized first, then mistakes by
// throughput ratio, lowest (most expensive) first; failed runs last.
func writeAblate(w io.Writer, scs []*scenarios.Scenario, runs [][]*scenarioRun, header string) {
	var notes bench.Footnotes
	base := runs[0]
	baseT := values(base, "throughput")
	var rows []ablateRow
	for i, s := range scs {
		r := ablateRow{name: s.Name, tput: values(runs[i], "throughput"), ratio: math.NaN()}
		if len(r.tput) > 0 && len(baseT) > 0 {
			r.ratio = median(r.tput) / median(baseT)
		}
		var failures []string
		for _, run := range runs[i] {
			if run.err != nil {
				failures = append(failures, run.err.Error())
			}
		}
		r.failed = len(r.tput) == 0
		ratio := "—"
		if i > 0 && !r.failed && len(baseT) > 0 {
			ratio = ratioCell(r.tput, baseT, &notes)
		} else if i == 0 {
			ratio = "(baseline)"
		}
		tput := metricCell(r.tput, throughputMetric, &notes)
		if len(failures) > 0 {
			tput = "failed" + notes.Mark(s.Name+": "+failures[0])
		}
		moved := "—"
		if i > 0 {
			moved = movedCell(s, base, runs[i], &notes)
		}
		name := s.Name
		if len(runs[i]) > 0 && len(runs[i][0].notes()) > 0 {
			name += notes.Mark(runs[i][0].notes()...)
		}
		r.cells = []string{name, tput, ratio, moved}
		rows = append(rows, r)
	}
	rest := rows[1:]
	slices.SortStableFunc(rest, func(a, b ablateRow) int {
		switch {
		case a.failed != b.failed:
			if a.failed {
				return 1
			}
			return -1
		case a.failed:
			return strings.Compare(a.name, b.name)
		}
		if a.ratio < b.ratio {
			return -1
		}
		if a.ratio > b.ratio {
			return 1
		}
		return 0
	})
	fmt.Fprintf(w, "ablate: what each mistake costs\n%s\n\n", header)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tIMAGES/S\tVS OPTIMIZED\tWHAT IT MOVES (optimized → this)")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r.cells, "\t"))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nVS OPTIMIZED is the throughput ratio (×0.25 = four times slower); ✓ marks a metric that moved the way the scenario expects, ✗ one that did not.")
	if notes.Len() > 0 {
		fmt.Fprintf(w, "\n%s", notes.String())
	}
}

// writeAblateVerdict judges each mistake against optimized by the
// measurement protocol, as race and sweep do: a mistake whose steady
// throughput interval overlaps optimized's costs nothing this machine can
// tell apart from noise, and saying so keeps a class from learning a lesson
// the numbers do not support.
func writeAblateVerdict(w io.Writer, scs []*scenarios.Scenario, runs [][]*scenarioRun, repeat int) {
	base := records(runs[0])
	var slower, tied, faster, unstable []string
	for i := 1; i < len(scs); i++ {
		rs := records(runs[i])
		if len(rs) == 0 {
			continue
		}
		v := bench.DefaultProtocol.Judge(bench.MetricSteadyTput, base, rs)
		switch {
		case v.Best < 0 || !v.Stable[0] || !v.Stable[1]:
			// this mistake, or optimized itself, never settled: nothing
			// to judge it against
			unstable = append(unstable, scs[i].Name)
		case len(v.Tied) > 0:
			tied = append(tied, scs[i].Name)
		case v.Best == 0:
			slower = append(slower, scs[i].Name)
		default:
			faster = append(faster, scs[i].Name)
		}
	}
	fmt.Fprintf(w, "\nverdict (steady throughput, the measurement protocol, %d repeat(s)):\n", repeat)
	line := func(what string, names []string) {
		if len(names) > 0 {
			fmt.Fprintf(w, "  %s: %s\n", what, strings.Join(names, ", "))
		}
	}
	line("slower than optimized beyond the noise", slower)
	line("tied with optimized (intervals overlap; a larger --repeat may separate them)", tied)
	line("faster than optimized", faster)
	line("unstable (not judged)", unstable)
	if len(slower)+len(tied)+len(faster)+len(unstable) == 0 {
		fmt.Fprintln(w, "  no mistake finished a run; nothing to judge")
	}
}

// movedCell shows the first expected metric (other than throughput, which
// has its own column) that this machine measured: its median for optimized
// and for the scenario, and whether it moved the expected way.
func movedCell(s *scenarios.Scenario, base, runs []*scenarioRun, notes *bench.Footnotes) string {
	var unmeasured []string
	for _, e := range s.Expect {
		if e.Metric == "throughput" {
			continue
		}
		m, _ := scenarios.Metric(e.Metric)
		a, b := values(base, e.Metric), values(runs, e.Metric)
		if len(b) == 0 {
			unmeasured = append(unmeasured, e.Metric)
			continue
		}
		before := "?"
		if len(a) > 0 {
			before = m.Format(median(a))
		}
		after := m.Format(median(b))
		mark := "✗"
		if len(a) > 0 && ((e.Direction == "up" && median(b) > median(a)) || (e.Direction == "down" && median(b) < median(a))) {
			mark = "✓"
		}
		return fmt.Sprintf("%s %s → %s %s", e, before, after, mark)
	}
	if len(unmeasured) > 0 {
		note := "not measured on this machine"
		if slices.Contains(unmeasured, "gpu_util") {
			note = "gpu_util needs a GPU visible to NVML; this machine has none"
		}
		return strings.Join(unmeasured, ", ") + " not measured" + notes.Mark(note)
	}
	return "throughput (its own column)"
}

func median(xs []float64) float64 {
	return bench.Summarize(xs, bench.DefaultConfidence).Center
}

func init() {
	register(command{name: "ablate", order: 42, summary: "measure every tutorial mistake's cost against optimized", run: ablateCmd})
}

var throughputMetric, _ = bench.LookupMetric(bench.MetricThroughput)
