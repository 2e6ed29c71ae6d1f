package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"workbench/bench"
	"workbench/runner"
	"workbench/scenarios"
)

const sweepUsage = `Run a scenario over a grid of settings and rank the cells (Triton Model
Analyzer's vocabulary). Ranges: a..b doubles from a up to b (16..256 is
16,32,64,128,256), a..b:s steps by s, and a,b,c is a literal list. Any other
scenario knob is swept with --set knob=v1,v2. A failing cell (out of memory or
anything else) is recorded with its reason, larger batches at the same other
settings are skipped, and the sweep goes on. --threshold applies to the best
cell. Exit codes: 0 ok, 99 a threshold failed, 104 invalid grid or condition.`

const sweepExamples = `  workbench sweep --scenario optimized --batch 16..256 --concurrency 1..4 --blocks 8,32,128 --repeat 3
  workbench sweep --model tiny --data data/synth --batch 8..64 --concurrency 1..2 --out sweep.parquet
  workbench sweep --batch 16..256 --set intra_op_threads=1,2,4 --objective latency_p95 --constraint 'peak_rss<4GiB'
  workbench sweep --batch 8..512 --concurrency 1..8 --search quick --threshold 'throughput>100'`

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// stringFlag replaces an int flag of jobFlags whose sweep form is a range.
type stringFlag string

func (s *stringFlag) String() string     { return string(*s) }
func (s *stringFlag) Set(v string) error { *s = stringFlag(v); return nil }

// sweepFlags are the flags of sweep and tune.
type sweepFlags struct {
	job                        jobFlags
	batch, concurrency, blocks stringFlag
	sets                       multiFlag
	repeat                     int
	objective, constraint      string
	search, out                string
	noEarlyExit                bool
	th                         thresholdFlag
	grid                       bench.Grid
	obj                        bench.Objective
	cons                       bench.ConditionSet
	mode                       bench.SearchMode
}

// register adds the shared job flags, then turns --batch, --concurrency
// and --blocks into grid specs.
func (sf *sweepFlags) register(fs *flag.FlagSet, batch, conc, blocks, out string) {
	sf.job.register(fs)
	sf.batch, sf.concurrency, sf.blocks = stringFlag(batch), stringFlag(conc), stringFlag(blocks)
	for _, r := range []struct {
		name, usage string
		v           *stringFlag
	}{
		{"batch", "batch sizes to sweep: 16..256 (doubling), 8..64:8 (steps) or 16,64,256", &sf.batch},
		{"concurrency", "inference actors to sweep: 1..4, 1..8:1 or 1,2,4", &sf.concurrency},
		{"blocks", "read blocks to sweep: 8,32,128 (empty = the scenario's)", &sf.blocks},
	} {
		fl := fs.Lookup(r.name)
		fl.Value, fl.Usage, fl.DefValue = r.v, r.usage, string(*r.v)
	}
	fs.Var(&sf.sets, "set", "sweep another scenario knob: knob=v1,v2 (repeatable), e.g. intra_op_threads=1,2,4")
	fs.IntVar(&sf.repeat, "repeat", 1, "runs per cell; medians and spreads need 6 for a 95% interval")
	fs.StringVar(&sf.objective, "objective", "throughput", "rank cells by: throughput, latency_p95 or images_per_joule")
	fs.StringVar(&sf.constraint, "constraint", "", "conditions a cell must meet, e.g. 'latency_p95<200ms,peak_rss<4GiB,gpu_mem<20GiB'")
	fs.StringVar(&sf.out, "out", out, "results file: .json, .csv or .parquet (empty = none)")
	fs.BoolVar(&sf.noEarlyExit, "no-early-exit", false, "run every batch size even after the gain drops under 5% over 4 points")
	sf.th.register(fs)
}

// ownFlag names the flag that sweeps a knob, for --set misuse.
var ownFlag = map[string]string{"batch": "batch", "batch_size": "batch", "concurrency": "concurrency", "blocks": "blocks"}

// dimKnobs maps grid dimensions onto scenario knobs.
var dimKnobs = map[string]string{"batch": "batch_size", "concurrency": "concurrency", "blocks": "blocks"}

func knobOf(dim string) string {
	if k, ok := dimKnobs[dim]; ok {
		return k
	}
	return dim
}

// parse validates everything that is not the shared job flags; every
// problem is reported at once and exits 104.
func (sf *sweepFlags) parse() error {
	var errs []error
	add := func(name, spec string) {
		if spec == "" {
			return
		}
		vals, err := bench.ParseRange(name, spec)
		if err == nil {
			err = sf.grid.AddInts(name, vals)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	add("batch", string(sf.batch))
	add("concurrency", string(sf.concurrency))
	add("blocks", string(sf.blocks))
	for _, s := range sf.sets {
		key, vals, err := bench.ParseSet(s)
		if err == nil {
			if fl, own := ownFlag[key]; own {
				err = fmt.Errorf("--set %s: sweep this with --%s", s, fl)
			} else {
				err = sf.grid.Add(key, vals...)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if sf.repeat < 1 {
		errs = append(errs, fmt.Errorf("--repeat %d: must be at least 1", sf.repeat))
	}
	var err error
	if sf.obj, err = bench.ParseObjective(sf.objective); err != nil {
		errs = append(errs, err)
	}
	if sf.cons, err = bench.ParseConstraints(sf.constraint); err != nil {
		errs = append(errs, err)
	}
	if sf.mode, err = bench.ParseSearchMode(sf.search); err != nil {
		errs = append(errs, err)
	}
	if sf.out != "" {
		if _, err := bench.FormatForPath(sf.out); err != nil {
			errs = append(errs, fmt.Errorf("--out %w", err))
		}
	}
	if err := sf.th.parse(); err != nil {
		errs = append(errs, errors.Unwrap(err))
	}
	if len(errs) > 0 {
		return invalidConfig(errors.Join(errs...))
	}
	return nil
}

// prepare checks the job flags and opens a scenario session whose
// overrides leave the swept knobs to the grid.
func (sf *sweepFlags) prepare(stderr io.Writer) (*scenarioSession, *scenarios.Scenario, error) {
	if err := sf.parse(); err != nil {
		return nil, nil, err
	}
	// --batch, --concurrency and --blocks now hold grid specs, so the job
	// fields behind them keep valid defaults and validate checks the rest.
	if err := sf.job.validate(); err != nil {
		return nil, nil, err
	}
	if sf.job.scenario == "" {
		sf.job.scenario = "optimized"
	}
	ss, err := newScenarioSession(&sf.job, stderr)
	if err != nil {
		return nil, nil, err
	}
	ss.base.Flags = slices.DeleteFunc(ss.base.Flags, func(st runner.Setting) bool { return sweeps(sf.grid, st.Knob) })
	base, err := ss.load(sf.job.scenario)
	if err != nil {
		return nil, nil, err
	}
	// Every swept value must be a valid knob value before hours are spent.
	var errs []error
	for _, d := range sf.grid.Dims {
		for _, v := range d.Values {
			probe, _ := ss.load(sf.job.scenario)
			if err := probe.Set(knobOf(d.Name), v); err != nil {
				fl := "set"
				if _, own := dimKnobs[d.Name]; own {
					fl = d.Name
				}
				errs = append(errs, fmt.Errorf("--%s: %w", fl, err))
			}
		}
	}
	if len(errs) > 0 {
		return nil, nil, invalidConfig(errors.Join(errs...))
	}
	return ss, base, nil
}

// sweeps reports whether the grid sweeps knob: its cells set it, so a
// flag for it would only be overwritten.
func sweeps(g bench.Grid, knob string) bool {
	for _, d := range g.Dims {
		if knobOf(d.Name) == knob {
			return true
		}
	}
	return false
}

// cellRunner runs one cell: the scenario with the cell's knobs set, through
// the run path's --set layer.
func (ss *scenarioSession) cellRunner(name string, g bench.Grid) bench.CellFunc {
	return func(ctx context.Context, cell map[string]string, repeat int) (*bench.Record, error) {
		var set []runner.Setting
		for _, d := range g.Dims {
			set = append(set, runner.Setting{Knob: knobOf(d.Name), Value: cell[d.Name]})
		}
		r := ss.run(ctx, name, set, g.Label(cell), "", repeat)
		return r.rec, r.err
	}
}

// progressLine reports a finished record on stderr.
func progressLine(w io.Writer, total int) func(*bench.Record) {
	n := 0
	return func(r *bench.Record) {
		n++
		switch r.Status {
		case bench.StatusOK:
			fmt.Fprintf(w, "[%d/%d] %s #%d: %s\n", n, total, r.Label, r.Repeat, bench.FormatValue(r.Throughput, "img/s"))
		default:
			fmt.Fprintf(w, "[%d/%d] %s: %s: %s\n", n, total, r.Label, r.Status, firstLine(r.Reason))
		}
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// writeSweepSummary prints the cells and the top 3.
func writeSweepSummary(w io.Writer, res *bench.SweepResult) {
	for _, r := range res.Records {
		if r.Notice != "" {
			fmt.Fprintf(w, "model %s: %s\n", r.Config.Model, r.Notice)
			break
		}
	}
	var notes bench.Footnotes
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	shown := map[string]bool{bench.MetricThroughput: true, bench.MetricLatencyP95: true, bench.MetricPeakRSS: true}
	extra := !shown[res.Objective.String()]
	head := "cell\tstatus\tthroughput\tp95 latency\tpeak RSS\tsatisfies\trank"
	if extra {
		head = strings.Replace(head, "status\t", "status\t"+res.Objective.String()+"\t", 1)
	}
	fmt.Fprintln(tw, head)
	for _, c := range res.Cells {
		if !c.OK() {
			fmt.Fprintf(tw, "%s\t%s%s\n", c.Label, c.Status, notes.Mark(firstLine(c.Reason)))
			continue
		}
		vals := func(m string) []float64 {
			var xs []float64
			for _, r := range c.Records {
				xs = append(xs, r.Metrics()[m])
			}
			return xs
		}
		cell := func(m, unit string) string {
			s := bench.Summarize(vals(m), bench.DefaultConfidence)
			if s.N == 1 {
				return bench.FormatValue(s.Center, unit)
			}
			return s.Format(unit) + notes.Mark(s.Warnings...)
		}
		obj := ""
		if extra {
			obj = cell(res.Objective.String(), res.Objective.Metric.Unit) + "\t"
		}
		fmt.Fprintf(tw, "%s\tok\t%s%s\t%s\t%s\t%v\t%d\n", c.Label, obj,
			cell(bench.MetricThroughput, "img/s"), cell(bench.MetricLatencyP95, bench.UnitSeconds),
			cell(bench.MetricPeakRSS, bench.UnitBytes), c.SatisfiesConstraints, c.Rank)
	}
	tw.Flush()
	fmt.Fprint(w, notes.String())
	fmt.Fprintf(w, "\n%s search: ran %d of %d cells (%.0f%%)\n", res.Search, res.Visited, res.GridSize, 100*res.VisitRatio())
	if len(res.Top) == 0 {
		fmt.Fprintln(w, "no cell completed")
		return
	}
	fmt.Fprintf(w, "top %d by %s", len(res.Top), res.Objective)
	if len(res.Constraints.Conds) > 0 {
		fmt.Fprintf(w, " (constraints %s)", res.Constraints)
	}
	fmt.Fprintln(w, ":")
	for i, c := range res.Top {
		sat := "satisfies constraints"
		if !c.SatisfiesConstraints {
			var v []string
			for _, x := range c.Violations {
				v = append(v, x.String())
			}
			sat = "violates: " + strings.Join(v, "; ")
		}
		fmt.Fprintf(w, "  %d. %s  %s  (%s)\n", i+1, c.Label,
			res.Objective.Metric.Format(c.Metrics[res.Objective.String()]), sat)
	}
}

func sweepCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("sweep", sweepUsage, sweepExamples, stderr)
	var sf sweepFlags
	sf.register(fs, "16..256", "1..4", "", "sweep.json")
	fs.StringVar(&sf.search, "search", "full", "full: every cell (with early exit); quick: hill-climb, under 40% of the grid")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("sweep: unexpected argument %q (see workbench sweep --help)", fs.Arg(0))
	}
	ss, base, err := sf.prepare(stderr)
	if err != nil {
		return err
	}
	opts := bench.SweepOptions{Grid: sf.grid, Repeat: sf.repeat, Objective: sf.obj, Constraints: sf.cons,
		Search: sf.mode, Scenario: base.Name, OnRecord: progressLine(stderr, sf.grid.Len()*sf.repeat)}
	if !sf.noEarlyExit {
		opts.EarlyExit = &bench.DefaultEarlyExit
	}
	fmt.Fprintf(stderr, "sweep %s: %d cells × %d repeats (%s search)\n", base.Name, sf.grid.Len(), sf.repeat, sf.mode)
	res, err := bench.Sweep(ctx, opts, ss.cellRunner(sf.job.scenario, sf.grid))
	if err == nil {
		writeSweepSummary(stdout, res)
	}
	if werr := writeSweepResults(stdout, &sf, res); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	best := res.Best()
	if best == nil {
		if len(sf.th.set.Conds) > 0 {
			return sf.th.check(stderr, "the best cell", map[string]float64{})
		}
		return &exitError{code: 1, err: errors.New("no cell of the sweep completed; see the reasons above")}
	}
	return sf.th.check(stderr, "the best cell, "+best.Label, best.Metrics)
}

// writeSweepResults writes the records, even those of an interrupted sweep.
func writeSweepResults(stdout io.Writer, sf *sweepFlags, res *bench.SweepResult) error {
	if res == nil || len(res.Records) == 0 {
		return nil
	}
	for _, path := range []string{sf.out, sf.job.json} {
		if path == "" {
			continue
		}
		if err := bench.WriteRecordsFile(path, res.Records); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "results: %d records in %s (workbench report %s -o report.html)\n", len(res.Records), path, path)
	}
	return sf.job.writeBenchfmt(stdout, res.Records)
}

func init() {
	register(command{name: "sweep", order: 40, summary: "run a scenario over a grid of settings and rank them", run: sweepCmd})
}
