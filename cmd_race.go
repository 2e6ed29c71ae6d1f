package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"

	"workbench/bench"
	"workbench/scenarios"
)

const raceUsage = `race A B [flags]

Run two scenarios on the same data and model and print them side by side:
images/s, time to first result, p95 batch latency, peak RSS, CPU %, model
loads and errors, with B's speedup over A and its spread.

By default the runs go one after the other with the whole machine each
(equal resources), interleaved A B A B when --repeat is above 1, so drift
hits both alike. --concurrent runs both at once, sharing the machine: that
shows how they compete, not what each costs alone. A and B are built-in
scenario names or .yaml files; job flags you set (--batch, --device, ...)
apply to both.`

const raceExamples = `  workbench race slow optimized --model resnet50 --images 200
  workbench race tiny-batch optimized --model resnet18 --repeat 6 --json race.json
  workbench race slow optimized --concurrent --model tiny`

func raceCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("race", raceUsage, raceExamples, stderr)
	var f jobFlags
	f.register(fs)
	f.registerSet(fs)
	repeat := fs.Int("repeat", 1, "runs of each scenario, interleaved A B A B")
	concurrent := fs.Bool("concurrent", false, "run both at once, sharing the machine")
	warmup := fs.Int("warmup", 1, "unmeasured runs of each scenario first (model file, page cache, allocator)")
	var th thresholdFlag
	th.register(fs)
	pos, help, err := parseWithArgs(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageErr("race: want two scenarios, e.g. workbench race slow optimized (got %d)", len(pos))
	}
	if f.scenario != "" {
		return usageErr("race: name the two scenarios as arguments, not with --scenario")
	}
	if *repeat < 1 || *warmup < 0 {
		return usageErr("race: --repeat %d must be at least 1 and --warmup %d at least 0", *repeat, *warmup)
	}
	if err := f.validate(); err != nil {
		return err
	}
	if err := th.parse(); err != nil {
		return err
	}
	ss, err := newScenarioSession(&f, stderr)
	if err != nil {
		return err
	}
	var scs [2]*scenarios.Scenario
	var errs []error
	for i, n := range pos {
		if scs[i], err = ss.load(n); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return &exitError{code: 2, err: errors.Join(errs...)}
	}
	labels := [2]string{scs[0].Name, scs[1].Name}
	if labels[0] == labels[1] {
		labels = [2]string{labels[0] + "#A", labels[1] + "#B"}
	}
	for w := range *warmup {
		for i := range 2 {
			if r := ss.run(ctx, pos[i], nil, "warm-up "+labels[i], "", w); r.err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	var runs [2][]*scenarioRun
	for rep := range *repeat {
		if *concurrent {
			var wg sync.WaitGroup
			var got [2]*scenarioRun
			for i := range 2 {
				wg.Go(func() { got[i] = ss.run(ctx, pos[i], nil, labels[i], "", rep) })
			}
			wg.Wait()
			runs[0], runs[1] = append(runs[0], got[0]), append(runs[1], got[1])
		} else {
			for i := range 2 {
				runs[i] = append(runs[i], ss.run(ctx, pos[i], nil, labels[i], "", rep))
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	header := raceHeader(&f, *repeat, *concurrent) + fmt.Sprintf("; %d unmeasured warm-up run(s) of each first", *warmup)
	if n := zooNotice(f.modelName); n != "" {
		header += "\n" + n
	}
	writeRace(stdout, labels, runs, header)
	writeVerdict(stdout, labels[:], records(runs[0]), records(runs[1]))
	if f.json != "" {
		if err := bench.WriteJSONFile(f.json, records(runs[0], runs[1])); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nrecords written to %s\n", f.json)
	}
	if err := f.writeBenchfmt(stdout, records(runs[0], runs[1])); err != nil {
		return err
	}
	// Thresholds judge the second scenario, the one being raced against
	// the first (usually optimized against slow), on its last run.
	if last := records(runs[1]); len(last) > 0 {
		return th.check(stderr, labels[1], last[len(last)-1].Metrics())
	}
	return nil
}

func raceHeader(f *jobFlags, repeat int, concurrent bool) string {
	mode := "one after the other, equal resources"
	if repeat > 1 {
		mode += ", interleaved A B A B"
	}
	if concurrent {
		mode = "CONCURRENTLY, sharing the machine: each got only part of it,\nand peak RSS and CPU % are the whole process's while both ran"
	}
	images := "all images"
	if f.images > 0 {
		images = fmt.Sprintf("%d images", f.images)
	}
	return fmt.Sprintf("%s, %s from %s, %d run(s) each, %s", f.modelName, images, f.data, repeat, mode)
}

// records collects the records of every run that produced one.
func records(groups ...[]*scenarioRun) []*bench.Record {
	var out []*bench.Record
	for _, g := range groups {
		for _, r := range g {
			if r.rec != nil {
				out = append(out, r.rec)
			}
		}
	}
	return out
}

// values extracts metric name from the successful runs.
func values(runs []*scenarioRun, name string) []float64 {
	m, _ := bench.LookupMetric(name)
	var xs []float64
	for _, r := range runs {
		if !r.ok() {
			continue
		}
		if v, ok := m.Value(r.rec); ok {
			xs = append(xs, v)
		}
	}
	return xs
}

// writeRace prints the side-by-side table (the metrics of
// bench.RaceMetrics, as the report's race section shows them), the speedup
// and the notes. With repeats, the last column is the report's verdict: the
// change and its p-value, or ~ when not significant.
func writeRace(w io.Writer, labels [2]string, runs [2][]*scenarioRun, header string) {
	var notes bench.Footnotes
	fmt.Fprintf(w, "race: %s vs %s\n%s\n\n", labels[0], labels[1], header)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s\t%s\t%s ÷ %s\tvs %s\t\n", labels[0], labels[1], labels[1], labels[0], labels[0])
	for _, name := range bench.RaceMetrics {
		m, _ := bench.LookupMetric(name)
		a, b := values(runs[0], name), values(runs[1], name)
		ratio, verdict := "", ""
		if m.Kind != bench.KindCount && allPositive(a) && allPositive(b) {
			ratio = ratioCell(b, a, &notes)
		}
		if len(a) > 1 && len(b) > 1 {
			c := bench.Compare(a, b, bench.DefaultAlpha)
			verdict = c.String() + notes.Mark(c.Warnings...)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", m.Label, metricCell(a, m, &notes), metricCell(b, m, &notes), ratio, verdict)
	}
	tw.Flush()
	a, b := values(runs[0], "throughput"), values(runs[1], "throughput")
	if len(a) > 0 && len(b) > 0 {
		fmt.Fprintf(w, "\nspeedup: %s runs at %s the throughput of %s\n", labels[1], ratioCell(b, a, &notes), labels[0])
	}
	for i := range 2 {
		for _, r := range runs[i] {
			if r.err != nil {
				fmt.Fprintf(w, "%s run %d failed: %v\n", labels[i], r.repeat+1, r.err)
			}
		}
		if len(runs[i]) > 0 {
			for _, n := range runs[i][0].notes() {
				fmt.Fprintf(w, "note: %s\n", n)
			}
		}
	}
	if notes.Len() > 0 {
		fmt.Fprintf(w, "\n%s", notes.String())
	}
}

func allPositive(xs []float64) bool {
	if len(xs) == 0 {
		return false
	}
	for _, x := range xs {
		if !(x > 0) {
			return false
		}
	}
	return true
}

func init() {
	register(command{name: "race", order: 41, summary: "run two scenarios on the same data and compare them", run: raceCmd, args: upTo(2, completeScenarios)})
}

// writeVerdict states the protocol's verdict on the steady-state
// throughput of configurations raced against each other: the best, the
// ones tied with it, and the ones whose measurement never stabilised.
func writeVerdict(w io.Writer, labels []string, runs ...[]*bench.Record) {
	v := bench.DefaultProtocol.Judge(bench.MetricSteadyTput, runs...)
	var unstable []string
	for i, ok := range v.Stable {
		if !ok && len(runs[i]) > 0 {
			unstable = append(unstable, labels[i])
		}
	}
	switch {
	case v.Best < 0:
		fmt.Fprintln(w, "\nverdict: no configuration measured stably; not ranked")
	case len(v.Tied) > 0:
		var names []string
		for _, i := range v.Tied {
			names = append(names, labels[i])
		}
		fmt.Fprintf(w, "\nverdict: %s tied on steady throughput (intervals overlap or medians within %.0f%%)\n",
			strings.Join(names, ", "), 100*bench.DefaultProtocol.TieMargin)
	default:
		s := v.Samples[v.Best]
		fmt.Fprintf(w, "\nverdict: %s is fastest in the steady state, %s (%d %s)\n", labels[v.Best],
			formatSamples(s, "img/s"), s.Summary.N, map[bool]string{true: "windows", false: "runs"}[s.FromWindows])
	}
	if len(unstable) > 0 {
		fmt.Fprintf(w, "unstable (not ranked): %s\n", strings.Join(unstable, ", "))
	}
}
