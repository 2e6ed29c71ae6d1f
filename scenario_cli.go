package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"

	"workbench/bench"
	"workbench/pipeline"
	"workbench/promexport"
	"workbench/runner"
	"workbench/scenarios"
)

// scenarioSession runs scenarios under the shared job flags: the same
// data, model, --set and knob flags for every scenario it runs, each run
// through the one run path (runner.Run).
type scenarioSession struct {
	base     runner.Config
	stderr   io.Writer
	progress *progress
	metrics  *promexport.Exporter // nil without --metrics-addr
}

func newScenarioSession(f *jobFlags, stderr io.Writer) (*scenarioSession, error) {
	if err := f.checkData(); err != nil {
		return nil, err
	}
	return newSession(f, stderr)
}

// newSession is newScenarioSession for front ends that may never run the
// pipeline (the TUI's Jobs screen needs no images): --data is checked when
// a run needs it, not before.
func newSession(f *jobFlags, stderr io.Writer) (*scenarioSession, error) {
	cfg, err := f.config(stderr)
	if err != nil {
		return nil, err
	}
	ss := &scenarioSession{base: cfg, stderr: stderr, progress: newProgress(stderr)}
	if f.metrics != "" {
		if ss.metrics, err = promexport.Serve(f.metrics, scenarios.KnobNames(), cfg.Warnf); err != nil {
			return nil, usageErr("%v", err)
		}
		fmt.Fprintf(stderr, "metrics: http://%s/metrics\n", ss.metrics.Addr())
	}
	return ss, nil
}

// watchMetrics follows a run's bus for the --metrics-addr endpoint, with
// its scenario and knobs as labels; the returned function waits until the
// bus closes. Without --metrics-addr it does nothing.
func (ss *scenarioSession) watchMetrics(cfg runner.Config, label string, bus *pipeline.EventBus) (wait func()) {
	if ss.metrics == nil {
		return func() {}
	}
	run := promexport.Run{Dataset: label, Scenario: cfg.Scenario, Knobs: map[string]string{}}
	if s, _, err := runner.LoadScenario(cfg); err == nil {
		run.Scenario = s.Name
		for _, k := range scenarios.KnobNames() {
			run.Knobs[k] = s.Knobs.Format(k)
		}
	}
	return ss.metrics.Watch(run, bus)
}

// config is the session's Config for one scenario with extra --set
// settings (a sweep cell's values).
func (ss *scenarioSession) config(name string, set []runner.Setting) runner.Config {
	cfg := ss.base
	cfg.Scenario = name
	cfg.Set = append(slices.Clone(cfg.Set), set...)
	return cfg
}

// load resolves a scenario by name or file with the session's layers, to
// check it before any run; every problem is reported at once (exit 2).
func (ss *scenarioSession) load(nameOrPath string) (*scenarios.Scenario, error) {
	s, _, err := runner.LoadScenario(ss.config(nameOrPath, nil))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// scenarioRun is one measured run, or its failure.
type scenarioRun struct {
	name   string
	repeat int
	rec    *bench.Record // nil when the run could not start
	err    error
}

func (r *scenarioRun) ok() bool { return r.err == nil && r.rec != nil }

// notes are what the run path said the reader must know.
func (r *scenarioRun) notes() []string {
	if r.rec == nil {
		return nil
	}
	return r.rec.Notes
}

// run runs scenario name once with the extra settings, labelled label,
// writing to out (empty: a temporary file), with progress lines on the
// session's stderr.
func (ss *scenarioSession) run(ctx context.Context, name string, set []runner.Setting, label, out string, repeat int) *scenarioRun {
	r := &scenarioRun{name: label, repeat: repeat}
	cfg := ss.config(name, set)
	cfg.Label, cfg.Repeat, cfg.Out = label, repeat, out
	warnf := cfg.Warnf
	cfg.Warnf = func(format string, a ...any) { warnf(label+": "+format, a...) }
	cfg.Bus = pipeline.NewEventBus()
	wait := ss.progress.attach(label, cfg.Bus)
	exported := ss.watchMetrics(cfg, label, cfg.Bus)
	r.rec, r.err = runner.Run(ctx, cfg)
	cfg.Bus.Close()
	wait()
	exported()
	return r
}

// parseWithArgs parses flags and positional arguments in any order, so
// `race slow optimized --images 64` works as well as flags first, and
// returns the positional arguments.
func parseWithArgs(fs *flag.FlagSet, args []string) (pos []string, help bool, err error) {
	if help, err = parseFlags(fs, args); help || err != nil {
		return nil, help, err
	}
	return fs.Args(), false, nil
}

// metricCell formats a sample of one metric: the median with its spread,
// or, with one run, the value; counts print as integers, with their range
// when the runs differ ("64", "63 (62–64)"), never "64.0 ± ∞".
func metricCell(xs []float64, m bench.MetricInfo, notes *bench.Footnotes) string {
	if len(xs) == 0 {
		return "—"
	}
	if m.Kind == bench.KindCount {
		lo, hi := slices.Min(xs), slices.Max(xs)
		med := bench.Summarize(xs, bench.DefaultConfidence).Center
		if lo == hi {
			return bench.FormatCount(lo)
		}
		return fmt.Sprintf("%s (%s–%s)", bench.FormatCount(med), bench.FormatCount(lo), bench.FormatCount(hi))
	}
	if len(xs) == 1 {
		return m.Format(xs[0])
	}
	s := bench.Summarize(xs, bench.DefaultConfidence)
	return s.Format(m.Unit) + notes.Mark(s.Warnings...)
}

// ratioCell formats num/den as "×3.41 ± 4%"; with one run each the spread
// is unknown and a footnote says so.
func ratioCell(num, den []float64, notes *bench.Footnotes) string {
	if len(num) == 0 || len(den) == 0 {
		return "—"
	}
	r := bench.NewRatio(bench.Summarize(num, bench.DefaultConfidence), bench.Summarize(den, bench.DefaultConfidence))
	if len(num) == 1 || len(den) == 1 {
		if math.IsNaN(r.Center) || math.IsInf(r.Center, 0) {
			return "×?"
		}
		return "×" + bench.FormatValue(r.Center, "") + notes.Mark(oneRunNote)
	}
	return r.String() + notes.Mark(bench.Summarize(num, bench.DefaultConfidence).Warnings...)
}

const oneRunNote = "a single run: the spread is unknown; use --repeat 6 or more for a 95% confidence interval"
