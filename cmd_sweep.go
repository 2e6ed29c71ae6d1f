package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

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
	budget                     time.Duration
	stability                  float64
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
	fs.IntVar(&sf.repeat, "repeat", 1, "least runs per cell; the protocol adds runs until a cell has 3 samples and is stable")
	fs.StringVar(&sf.objective, "objective", "steady", "rank cells by: steady (steady-state throughput), wall (whole-run throughput, for small jobs), latency_p95 or images_per_joule")
	fs.DurationVar(&sf.budget, "budget", 0, "cap the sweep's time, e.g. 10m: each cell gets an equal share, cells past it are skipped (0 = none)")
	fs.Float64Var(&sf.stability, "stability", 100*bench.StabilityThreshold, "stability threshold in percent: a cell is stable when its last 3 windows agree within it")
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
	if sf.budget < 0 {
		errs = append(errs, fmt.Errorf("--budget %s: must not be negative", sf.budget))
	}
	if !(sf.stability > 0 && sf.stability < 100) {
		errs = append(errs, fmt.Errorf("--stability %g: want a percentage between 0 and 100", sf.stability))
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
	ss = ss.forSweep(sf.grid, sf.protocol())
	base, err := ss.checkGrid(sf.job.scenario, sf.grid)
	if err != nil {
		return nil, nil, err
	}
	return ss, base, nil
}

// newSweepFlags are the sweep flags of a front end other than the command
// line (the TUI): the CLI's defaults (objective, stability, early exit)
// with the grid and conditions given as --batch, --concurrency, --blocks,
// --objective and --constraint take them, parsed by the same code. An
// empty objective keeps the default; empty blocks are the scenario's.
func newSweepFlags(batch, concurrency, blocks, objective, constraint string) (*sweepFlags, error) {
	var sf sweepFlags
	sf.register(flag.NewFlagSet("sweep", flag.ContinueOnError), batch, concurrency, blocks, "")
	if objective != "" {
		sf.objective = objective
	}
	sf.constraint = constraint
	return &sf, sf.parse()
}

// forSweep returns a copy of ss that measures as every sweep does: each
// cell by proto, with the read cycled so the largest batch still fills its
// windows, and without the knob flags the grid sweeps (the cells set
// those). ss is left as it was, so a session that also races (the TUI)
// keeps its own settings.
func (ss *scenarioSession) forSweep(g bench.Grid, proto bench.Protocol) *scenarioSession {
	c := *ss
	c.base.Protocol, c.base.Cycle = &proto, true
	c.base.Flags = slices.DeleteFunc(slices.Clone(ss.base.Flags), func(st runner.Setting) bool { return sweeps(g, st.Knob) })
	return &c
}

// checkGrid loads scenario name and sets every swept value on it, so a
// value the knob refuses is reported before hours are spent: every
// problem at once, exit 104. It returns the scenario as loaded.
func (ss *scenarioSession) checkGrid(name string, g bench.Grid) (*scenarios.Scenario, error) {
	base, err := ss.load(name)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, d := range g.Dims {
		for _, v := range d.Values {
			probe, _ := ss.load(name)
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
		return nil, invalidConfig(errors.Join(errs...))
	}
	return base, nil
}

// protocol is the measurement protocol the flags ask for.
func (sf *sweepFlags) protocol() bench.Protocol {
	p := bench.DefaultProtocol
	p.Threshold = sf.stability / 100
	return p.WithDefaults()
}

// options are the sweep options the flags ask for: Model Analyzer's early
// exit unless --no-early-exit (a quick search ignores it).
func (sf *sweepFlags) options(scenario string, stderr io.Writer) bench.SweepOptions {
	proto := sf.protocol()
	o := bench.SweepOptions{Grid: sf.grid, Repeat: sf.repeat, Objective: sf.obj, Constraints: sf.cons,
		Search: sf.mode, Scenario: scenario, Protocol: &proto, Budget: sf.budget,
		OnRecord: progressLine(stderr)}
	if !sf.noEarlyExit {
		o.EarlyExit = &bench.DefaultEarlyExit
	}
	return o
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
func progressLine(w io.Writer) func(*bench.Record) {
	n := 0
	return func(r *bench.Record) {
		n++
		switch r.Status {
		case bench.StatusOK:
			fmt.Fprintf(w, "[%d] %s #%d: %s steady, %s wall%s%s\n", n, r.Label, r.Repeat, bench.FormatValue(r.SteadyTput, "img/s"),
				bench.FormatValue(r.Throughput, "img/s"), stableWord(r), cycledWord(r))
		default:
			fmt.Fprintf(w, "[%d] %s: %s: %s\n", n, r.Label, r.Status, firstLine(r.Reason))
		}
	}
}

func stableWord(r *bench.Record) string {
	if r.Stable {
		return ", stable"
	}
	return ", unstable"
}

func cycledWord(r *bench.Record) string {
	if r.Cycled > 1 {
		return fmt.Sprintf(", cycled: %.1f×", r.Cycled)
	}
	return ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// writeSweepSummary prints what was held fixed and what was swept, the
// cells (every row with every column, whatever its status), the ties and
// how they were broken, and the top 3.
func writeSweepSummary(w io.Writer, res *bench.SweepResult) {
	for _, r := range res.Records {
		if r.Notice != "" {
			fmt.Fprintf(w, "model %s: %s\n", r.Config.Model, r.Notice)
			break
		}
	}
	writeHeldFixed(w, res)
	var notes bench.Footnotes
	head := []string{"cell", "status", "steady", "wall", "cold start", "p95 latency", "peak RSS", "samples", "stable", "rank"}
	obj := res.Objective.String()
	extra := obj != bench.MetricSteadyTput && obj != bench.MetricThroughput && obj != bench.MetricLatencyP95 && obj != bench.MetricPeakRSS
	if extra {
		head = slices.Insert(head, 2, obj)
	}
	var rows [][]string
	for _, c := range res.Cells {
		row := []string{c.Label, c.Status}
		if !c.OK() {
			row[1] += notes.Mark(firstLine(c.Reason))
			for range head[2:] {
				row = append(row, "—")
			}
			rows = append(rows, row)
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
			if m == obj && len(c.Samples.Values) > 0 {
				return formatSamples(c.Samples, unit)
			}
			xs := vals(m)
			if len(xs) == 1 {
				return bench.FormatValue(xs[0], unit)
			}
			return bench.FormatValue(bench.Summarize(xs, bench.DefaultConfidence).Center, unit)
		}
		if extra {
			row = append(row, cell(obj, res.Objective.Metric.Unit))
		}
		cold := bench.FormatValue(bench.Summarize(coldStarts(c), bench.DefaultConfidence).Center, bench.UnitSeconds)
		if !c.Stable {
			// Cold start is the wall time beyond the rows at the steady
			// rate; with no steady rate it is not a measurement.
			cold = "—"
		}
		samples := fmt.Sprintf("%d of %d run(s)", c.Samples.Summary.N, len(c.Records))
		if c.Samples.FromWindows {
			samples = fmt.Sprintf("%d windows, %d run(s)", c.Samples.Summary.N, len(c.Records))
		}
		stable, rank := "yes", "—"
		if !c.Stable {
			stable = "no" + notes.Mark(c.Reason)
		}
		if c.Rank > 0 {
			rank = strconv.Itoa(c.Rank)
			if c.Tied {
				rank = "=" + rank
			}
		}
		if !c.SatisfiesConstraints && c.Rank > 0 && len(res.Constraints.Conds) > 0 {
			rank += notes.Mark("violates the constraints")
		}
		row = append(row, cell(bench.MetricSteadyTput, "img/s"), cell(bench.MetricThroughput, "img/s"), cold,
			cell(bench.MetricLatencyP95, bench.UnitSeconds), cell(bench.MetricPeakRSS, bench.UnitBytes), samples, stable, rank)
		if r := c.Records[len(c.Records)-1]; r.Cycled > 1 {
			row[0] += notes.Mark(fmt.Sprintf("cycled: %.1f× over the dataset so the windows fill", r.Cycled))
		}
		rows = append(rows, row)
	}
	bench.WriteTable(w, head, rows)
	fmt.Fprint(w, notes.String())
	fmt.Fprintf(w, "\n%s search: ran %d of %d cells (%.0f%%)", res.Search, res.Visited, res.GridSize, 100*res.VisitRatio())
	if res.BudgetSkipped > 0 {
		fmt.Fprintf(w, "; %d skipped for lack of budget (%s)", res.BudgetSkipped, res.Budget)
	}
	fmt.Fprintln(w)
	if p := res.Protocol; p != nil {
		fmt.Fprintf(w, "ranked by the median %s; intervals at %.0f%% where the samples allow (min to max otherwise); %s\n",
			res.Objective, 100*p.Confidence, "unstable cells are not ranked")
	}
	ran, unstable := 0, 0
	for _, c := range res.Cells {
		if len(c.Records) > 0 && c.Samples.Summary.N > 0 {
			ran++
			if !c.Stable {
				unstable++
			}
		}
	}
	if res.Protocol != nil && unstable > 0 && 2*unstable >= ran {
		// A ranking over the few cells that happened to settle may be a
		// ranking of the machine's noise; or the unsettled cells oscillate
		// by themselves (more sessions than cores take turns). Say both.
		fmt.Fprintf(w, "warning: %d of %d measured cells never settled (last 3 windows within %.0f%%), so the ranking covers only the rest: either the machine is too noisy (rerun it otherwise idle, or with more --budget) or those configurations oscillate by themselves (e.g. more sessions than cores)\n",
			unstable, ran, 100*res.Protocol.WithDefaults().Threshold)
	}
	if len(res.Top) == 0 {
		fmt.Fprintln(w, "no cell completed stably")
		return
	}
	if b := res.Best(); b.Tied {
		fmt.Fprintf(w, "tie: %s\n", b.TieBreak)
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
		tie := ""
		if c.Tied {
			tie = ", tied"
		}
		fmt.Fprintf(w, "  %d. %s  %s  (%s%s)\n", i+1, c.Label, formatSamples(c.Samples, res.Objective.Metric.Unit), sat, tie)
	}
}

// formatSamples renders a cell's objective as "412 img/s [398, 420] n=6".
func formatSamples(cs bench.CellSamples, unit string) string {
	s := cs.Summary
	if s.N <= 1 {
		return bench.FormatValue(s.Center, unit)
	}
	return fmt.Sprintf("%s [%s, %s]", bench.FormatValue(s.Center, unit), sig(s.Lo), sig(s.Hi))
}

// sig is a bound in three significant figures, without its unit.
func sig(x float64) string { return strings.Fields(bench.FormatValue(x, ""))[0] }

// coldStarts are a cell's per-run cold-start costs.
func coldStarts(c *bench.CellResult) []float64 {
	var xs []float64
	for _, r := range c.Records {
		xs = append(xs, r.ColdStartSeconds)
	}
	return xs
}

// writeHeldFixed says what every cell shared (model, device, data,
// threads) and what the sweep varied.
func writeHeldFixed(w io.Writer, res *bench.SweepResult) {
	var rec *bench.Record
	for _, r := range res.Records {
		if r.Status == bench.StatusOK {
			rec = r
			break
		}
	}
	var swept []string
	for _, c := range res.Cells {
		for k := range c.Params {
			if !slices.Contains(swept, k) {
				swept = append(swept, k)
			}
		}
	}
	slices.Sort(swept)
	if rec != nil {
		threads := fmt.Sprintf("intra-op %d, inter-op %d", rec.Config.IntraOp, rec.Config.InterOp)
		if slices.Contains(swept, "intra_op_threads") {
			threads = "swept"
		}
		fmt.Fprintf(w, "held fixed: model %s, device %s, data %s (%d images), threads %s, scenario %s\n",
			rec.Config.Model, rec.Config.Device, rec.Fingerprint.Dataset, rec.Fingerprint.DatasetN, threads, rec.Scenario)
	}
	fmt.Fprintf(w, "swept: %s\n", strings.Join(swept, ", "))
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
	opts := sf.options(base.Name, stderr)
	fmt.Fprintf(stderr, "sweep %s: %d cells (%s search); protocol: %s\n", base.Name, sf.grid.Len(), sf.mode, opts.Protocol)
	if sf.budget > 0 {
		fmt.Fprintf(stderr, "budget %s: about %s per cell\n", sf.budget, (sf.budget / time.Duration(sf.grid.Len())).Round(time.Second))
	}
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
		return &exitError{code: 1, err: errors.New("no cell of the sweep completed stably; see the reasons above")}
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
