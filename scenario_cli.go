package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"workbench/bench"
	"workbench/classify"
	"workbench/model"
	"workbench/nvml"
	"workbench/pipeline"
	"workbench/scenarios"
)

// flagKnobs maps shared job flags onto the scenario knobs they override
// when the user sets them explicitly; value converts the flag's text.
var flagKnobs = []struct {
	flag, knob string
	value      func(string) string
}{
	{"batch", "batch_size", nil},
	{"concurrency", "concurrency", nil},
	{"blocks", "blocks", func(v string) string {
		if v == "0" {
			return "default"
		}
		return v
	}},
	{"intra-op", "intra_op_threads", func(v string) string {
		if v == "0" {
			return "auto" // the run flag's 0 means cores ÷ concurrency
		}
		return v
	}},
	{"inter-op", "inter_op_threads", nil},
	{"graph-opt", "graph_optimization", nil},
	{"cpus", "cpus", nil},
	{"memory-budget", "memory_budget", nil},
	{"preserve-order", "preserve_order", nil},
	{"device", "device", func(v string) string {
		kind, _, _ := strings.Cut(v, ":")
		return kind
	}},
}

// scenarioSession runs scenarios under the shared job flags: the same
// data, model and overrides for every scenario it runs.
type scenarioSession struct {
	lib       *scenarios.Library
	f         *jobFlags
	stderr    io.Writer
	overrides [][2]string // knob, value
	gpus      int
	progress  *progress
}

func newScenarioSession(f *jobFlags, stderr io.Writer) (*scenarioSession, error) {
	if err := f.checkData(); err != nil {
		return nil, err
	}
	if _, err := model.InitFromFlag(f.ortLib); err != nil {
		return nil, err
	}
	ss := &scenarioSession{lib: scenarios.Builtin(), f: f, stderr: stderr, progress: newProgress(stderr)}
	if f.gpus >= 0 {
		ss.gpus = int(f.gpus)
	} else {
		ss.gpus = len(nvml.Probe().GPUs)
	}
	set := f.explicit()
	for _, fk := range flagKnobs {
		v, ok := set[fk.flag]
		if !ok {
			continue
		}
		if fk.value != nil {
			v = fk.value(v)
		}
		ss.overrides = append(ss.overrides, [2]string{fk.knob, v})
	}
	return ss, nil
}

// load resolves a scenario by name or file and applies the flag overrides.
// Every problem is reported at once, as a usage error (exit 2).
func (ss *scenarioSession) load(nameOrPath string) (*scenarios.Scenario, error) {
	s, err := ss.lib.Load(nameOrPath)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	var errs []error
	for _, o := range ss.overrides {
		if err := s.Set(o[0], o[1]); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.Validate()...)
	errs = append(errs, s.CheckEnv(ss.gpus)...)
	if len(errs) > 0 {
		return nil, &exitError{code: 2, err: errors.Join(errs...)}
	}
	return s, nil
}

// scenarioRun is one measured run, or its failure.
type scenarioRun struct {
	name   string
	repeat int
	res    *scenarios.Result // nil when the run could not start
	notes  []string
	err    error
}

func (r *scenarioRun) ok() bool { return r.err == nil && r.res != nil }

// lineCounter counts newlines written through it.
type lineCounter struct {
	w     io.Writer
	lines atomic.Int64
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.lines.Add(int64(strings.Count(string(p), "\n")))
	return c.w.Write(p)
}

// run plans and runs s once. The output goes to out when it is not empty,
// else to a temporary folder removed afterwards; the run's log (hot-path
// logging) goes next to the output.
func (ss *scenarioSession) run(ctx context.Context, s *scenarios.Scenario, label, out string, repeat int) *scenarioRun {
	r := &scenarioRun{name: label, repeat: repeat}
	dir, err := os.MkdirTemp("", "workbench-"+s.Name+"-")
	if err != nil {
		r.err = err
		return r
	}
	defer os.RemoveAll(dir)
	logf, err := os.Create(filepath.Join(dir, "run.log"))
	if err != nil {
		r.err = err
		return r
	}
	defer logf.Close()
	logw := &lineCounter{w: logf}
	bus := pipeline.NewEventBus()
	env := scenarios.Env{
		Cores: runtime.NumCPU(), GPUs: ss.gpus, Model: ss.f.modelName, Data: ss.f.data, Images: ss.f.images,
		MaxPixels: ss.f.maxPixels, Log: logw, Bus: bus,
		Warnf: func(format string, a ...any) { fmt.Fprintf(ss.stderr, label+": "+format+"\n", a...) },
	}
	plan, err := ss.lib.Plan(s, env)
	if err != nil {
		r.err = err
		return r
	}
	r.notes = plan.Notes
	job, err := classify.NewJob(plan.Job)
	if err != nil {
		r.err = err
		return r
	}
	opts := plan.Run
	opts.Label, opts.Repeat = label, repeat
	opts.Out = out
	if opts.Out == "" {
		opts.Out = filepath.Join(dir, "out"+plan.Ext())
	}
	opts.Version, opts.Commit = version, commit
	opts.SampleHz, opts.OnNoGPU = ss.f.telemetryHz(), reportNoGPU(ss.stderr)
	wait := ss.progress.attach(label, bus)
	stopThreads := sampleThreads()
	rec, err := bench.Run(ctx, job, opts)
	peakThreads := stopThreads()
	bus.Close()
	wait()
	if rec != nil {
		rec.Warnings = append(rec.Warnings, plan.Notes...)
		r.res = &scenarios.Result{Record: rec, Ops: job.Dataset.Metrics(),
			OutputBytes: scenarios.OutputSize(opts.Out), LogLines: logw.lines.Load(),
			PeakThreads: peakThreads, PreprocessSetups: job.Counters.Preprocessors.Load()}
	}
	r.err = err
	return r
}

// sampleThreads polls the process's OS thread count every 20ms until the
// returned function is called, which returns the peak. Reading
// /proc/self/status is a few microseconds, so the sampling costs nothing
// measurable.
func sampleThreads() (stop func() int64) {
	var peak atomic.Int64
	quit, done := make(chan struct{}), make(chan struct{})
	sample := func() {
		if n := procThreads(); n > peak.Load() {
			peak.Store(n)
		}
	}
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(quit)
		<-done
		return peak.Load()
	}
}

// procThreads reads "Threads:" from /proc/self/status; 0 where there is
// no /proc.
func procThreads() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// runScenarioCmd is `workbench run --scenario NAME|FILE.yaml`.
func runScenarioCmd(ctx context.Context, stdout, stderr io.Writer, f *jobFlags, failOnError bool, th *thresholdFlag) error {
	ss, err := newScenarioSession(f, stderr)
	if err != nil {
		return err
	}
	if _, set := f.explicit()["out"]; set {
		format := "parquet"
		if isJSONPath(f.out) {
			format = "json"
		}
		ss.overrides = append(ss.overrides, [2]string{"output_format", format})
	}
	s, err := ss.load(f.scenario)
	if err != nil {
		return err
	}
	out := f.out
	if s.Knobs.OutputFormat == "json" && !isJSONPath(out) {
		out = strings.TrimSuffix(out, filepath.Ext(out)) + ".jsonl"
	}
	r := ss.run(ctx, s, s.Name, out, 1)
	if r.res == nil {
		return r.err
	}
	rec := r.res.Record
	bench.WriteSummary(stdout, rec)
	if f.json != "" {
		if err := bench.WriteJSONFile(f.json, []*bench.Record{rec}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n  record     %s\n", f.json)
	}
	if r.err != nil {
		return r.err
	}
	if rec.Errors > 0 {
		fmt.Fprintf(stderr, "warning: %d of %d images failed; their rows carry the error column\n", rec.Errors, rec.Images)
		if failOnError {
			return &exitError{code: 1, err: fmt.Errorf("%d images failed (--fail-on-error)", rec.Errors)}
		}
	}
	return th.check(stderr, "this run", rec.Metrics())
}

// parseWithArgs parses flags and positional arguments in any order, so
// `race slow optimized --images 64` works as well as flags first.
func parseWithArgs(fs *flag.FlagSet, args []string) (pos []string, help bool, err error) {
	for {
		if help, err = parseFlags(fs, args); help || err != nil {
			return nil, help, err
		}
		if fs.NArg() == 0 {
			return pos, false, nil
		}
		rest := fs.Args()
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// metricCell formats a sample of one metric: the median with its spread,
// or, with one run, the value and a footnote saying the spread is unknown.
func metricCell(xs []float64, unit string, notes *bench.Footnotes) string {
	if len(xs) == 0 {
		return "—"
	}
	if len(xs) == 1 {
		return formatMetric(xs[0], unit)
	}
	s := bench.Summarize(xs, bench.DefaultConfidence)
	return s.Format(unit) + notes.Mark(s.Warnings...)
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

// formatMetric is bench.FormatValue, except that whole counts (model
// loads, forward passes, errors) print as integers rather than "32.0".
func formatMetric(v float64, unit string) string {
	switch unit {
	case bench.UnitSeconds, bench.UnitBytes, bench.UnitPercent, "img/s":
		return bench.FormatValue(v, unit)
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return bench.FormatValue(v, "")
}
