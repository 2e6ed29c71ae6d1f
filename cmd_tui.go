package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"workbench/datasource"

	"workbench/bench"
	"workbench/classify"
	"workbench/nvml"
	"workbench/pipeline"
	"workbench/runner"
	"workbench/scenarios"
	"workbench/tui"
	"workbench/tui/backend"
	"workbench/tui/common"
)

const tuiUsage = `[--workshop] [flags]

Open the terminal UI: scenarios with their teaching text, a live race of
two scenarios side by side, tuning, sweeps and a guided workshop. With no
flags it opens on the home screen; --race opens straight on the slow vs
optimized race, --workshop on the lesson, and --jobs (with --address) on
the jobs of a Ray cluster; with --address, c on the home screen opens them.
g on the home screen opens the GPU screen: per-GPU util, SM and tensor
activity, memory, power, clocks and PCIe with their history (the host
alone, and why, where there is no GPU).

It needs a terminal. Without one it prints help and points at the headless
commands (race, sweep, ablate, tune), which do the same measurements.

The default model is resnet18 (not run's resnet50), so the slow vs optimized
race on make run's 200 synthetic images ends within a minute on a 2-core
machine with no GPU; --model tiny or --images N make it shorter.`

const tuiExamples = `  workbench
  workbench --workshop --images 64
  workbench --race --model resnet18 --images 100
  workbench tui --data ~/photos --model resnet50
  workbench tui --jobs --address http://head-node:8265 --header 'Authorization: Bearer $RAY_TOKEN'
  workbench tui --jobs --address http://head-node:8265 --poll 5s`

// tuiModel is the TUI's default model: resnet18 is heavy enough that the
// race shows the engine's effects, light enough that slow vs optimized on
// the 200 images of make run's dataset stays well under a minute on 2
// cores. --model tiny makes a race take seconds.
const tuiModel = "resnet18"

// startsTUI reports whether args open the TUI: no arguments, or flags
// only (workbench --workshop --images 64).
func startsTUI(args []string) bool {
	if len(args) == 0 {
		return true
	}
	a := args[0]
	return strings.HasPrefix(a, "-") && a != "-h" && a != "--help" && a != "-help" && a != "--version" && a != "-v"
}

func tuiCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("tui", tuiUsage, tuiExamples, stderr)
	var f jobFlags
	f.register(fs)
	f.registerSet(fs)
	workshop := fs.Bool("workshop", false, "open the guided workshop")
	race := fs.Bool("race", false, "open on the race of --left against --right")
	left := fs.String("left", "slow", "the race's left scenario (A)")
	right := fs.String("right", "optimized", "the race's right scenario (B)")
	jobsScreen := fs.Bool("jobs", false, "open on the Jobs screen of the Ray cluster at --address")
	var repeat int
	fs.IntVar(&repeat, "repeat", 3, "runs of each scenario in a race, interleaved A B A B")
	var cf clusterFlags
	cf.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("tui: unexpected argument %q (see workbench tui --help)", fs.Arg(0))
	}
	if !isTerminal(os.Stdin) || !isTerminal(stdout) {
		// Never wait on /dev/tty: say what to run instead.
		printUsage(stdout)
		fmt.Fprint(stdout, "\nThe interactive workbench needs a terminal. Without one, use the headless commands:\n"+
			"  workbench race slow optimized --model resnet18\n"+
			"  workbench sweep --scenario optimized --model tiny --batch 8..64 --concurrency 1..2\n"+
			"  workbench ablate --model tiny\n")
		return nil
	}
	set := f.explicit()
	if _, ok := set["model"]; !ok {
		f.modelName = tuiModel
	}
	if err := f.validate(); err != nil {
		return err
	}
	b, err := newTUIBackend(&f, *left, *right)
	if err != nil {
		return err
	}
	if cf.address != "" {
		cl, err := cf.client()
		if err != nil {
			return err
		}
		b.cluster = &backend.RayJobs{Client: cl, Addr: cf.shownAddress()}
	} else if *jobsScreen {
		return usageErr("tui --jobs: --address is required (e.g. http://head-node:8265), or set RAY_ADDRESS")
	}
	if repeat < 1 {
		return usageErr("tui: --repeat %d must be at least 1", repeat)
	}
	o := tui.Options{NoColor: common.NoColorEnv(), Repeat: repeat, Poll: cf.poll}
	switch {
	case *jobsScreen:
		o.Start = common.PageJobs
	case *workshop:
		o.Start = common.PageWorkshop
	case *race:
		o.Start, o.Left, o.Right = common.PageRace, *left, *right
	}
	return tui.Run(ctx, b, o)
}

// tuiBackend is the real engine behind the TUI: scenarios from the built-in
// library run under the shared job flags through the one run path
// (runner.Run), and reported with bench's writers.
type tuiBackend struct {
	ss          *scenarioSession
	f           *jobFlags
	info        backend.Info
	left, right string
	cluster     backend.Jobs // nil without --address
	dataErr     error        // --data names no images: said when a run needs them
	mu          sync.Mutex   // serialises runs: one measurement at a time
	logMu       sync.Mutex
	log         strings.Builder // engine warnings; the screen owns stderr
}

func newTUIBackend(f *jobFlags, left, right string) (*tuiBackend, error) {
	b := &tuiBackend{f: f, left: left, right: right}
	ss, err := newSession(f, &lockedWriter{mu: &b.logMu, w: &b.log})
	if err != nil {
		return nil, err
	}
	b.ss = ss
	for _, n := range []string{left, right} {
		if _, err := ss.load(n); err != nil {
			return nil, err
		}
	}
	// The one lister, listed once: every run of the session reuses it. A
	// missing folder is said on the home screen and by any run, but does
	// not stop screens that need no images (the Jobs screen). A --data that
	// is not a plain folder is a datasource, which each run opens
	// (runner.Resolve); it is described here once.
	var n int
	var dataset string
	images := "" // what the note says the race reads; "" = n images
	var files []string
	err = errors.New("not a folder")
	if datasource.IsFolder(f.data) && f.labelFrom == "" {
		files, err = classify.ListImages(f.data, f.images)
	}
	if err == nil {
		ss.base.Files, n = files, len(files)
		dataset = fmt.Sprintf("%s (%d images)", f.data, n)
	} else if src, serr := datasource.Open(context.Background(), f.data, datasource.Options{ImageColumn: f.imageCol, LabelFrom: f.labelFrom, Limit: f.images}); serr == nil {
		n, dataset = src.Rows(), src.Describe()
		if src.Streams() {
			// A prefix listed as the run reads it: counted then, not here.
			images = "every image under " + f.data
			if f.images > 0 {
				images = fmt.Sprintf("the first %d images under %s", f.images, f.data)
			}
		}
	} else {
		if !datasource.IsFolder(f.data) {
			err = serr
		}
		b.dataErr = &runner.DataError{What: "data", Err: fmt.Errorf("%v (make a dataset with: workbench data synth -n 200 -o %s)", err, f.data)}
		dataset = "no images: " + b.dataErr.Error()
	}
	dev := fmt.Sprintf("cpu · %d cores · no NVIDIA GPU", runtime.NumCPU())
	inv := nvml.Probe()
	if len(inv.GPUs) > 0 {
		dev = fmt.Sprintf("%s · %d cores · %d GPU(s)", inv.GPUs[0].Name, runtime.NumCPU(), len(inv.GPUs))
	}
	b.info = backend.Info{
		Device: dev, GPU: len(inv.GPUs) > 0, Cores: runtime.NumCPU(),
		Dataset: dataset, Model: f.modelName, Images: n, Notice: zooNotice(f.modelName),
		Note: fmt.Sprintf("%s on %s; --model tiny or --images N for a shorter race, --model resnet50 for a longer one", f.modelName, cmp.Or(images, fmt.Sprintf("%d images", n))),
		Left: left, Right: right,
	}
	return b, nil
}

// lockedWriter serialises writes from concurrent runs.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (b *tuiBackend) Info() backend.Info { return b.info }

func toKnobs(k *scenarios.Knobs) backend.Knobs {
	bk := backend.Knobs{Batch: k.BatchSize, Concurrency: k.Concurrency.Max, Device: k.Device}
	if k.Blocks > 0 {
		bk.Blocks = k.Blocks
	}
	if k.IntraOpThreads > 0 {
		bk.IntraOp = k.IntraOpThreads
	}
	if bk.Concurrency == 0 {
		bk.Concurrency = 1
	}
	return bk
}

func (b *tuiBackend) Scenarios() []backend.Scenario {
	var out []backend.Scenario
	lib := runner.Library()
	for _, n := range lib.Names() {
		s, err := lib.Load(n)
		if err != nil {
			continue
		}
		var expect []string
		for _, e := range s.Expect {
			expect = append(expect, e.String())
		}
		out = append(out, backend.Scenario{Name: s.Name, Title: s.Title, Mistake: s.Mistake, Why: s.Why, Fix: s.Fix,
			Expect: strings.Join(expect, ", "), Knobs: toKnobs(&s.Knobs)})
	}
	return out
}

// settings turns a screen's knob changes into --set settings.
func settings(spec backend.RunSpec) []runner.Setting {
	var set []runner.Setting
	if k := spec.Knobs; k != nil {
		set = append(set, runner.Setting{Knob: "batch_size", Value: strconv.Itoa(k.Batch)}, runner.Setting{Knob: "concurrency", Value: strconv.Itoa(k.Concurrency)})
		if k.Blocks > 0 {
			set = append(set, runner.Setting{Knob: "blocks", Value: strconv.Itoa(k.Blocks)})
		}
		if k.IntraOp > 0 {
			set = append(set, runner.Setting{Knob: "intra_op_threads", Value: strconv.Itoa(k.IntraOp)})
		}
		if k.Device != "" {
			set = append(set, runner.Setting{Knob: "device", Value: k.Device})
		}
	}
	for _, kv := range spec.Set {
		set = append(set, runner.Setting{Knob: kv[0], Value: kv[1]})
	}
	return set
}

// Run measures one scenario through the run path, publishing on bus. No
// terminal progress lines: they would write over the screen.
func (b *tuiBackend) Run(ctx context.Context, spec backend.RunSpec, bus *pipeline.EventBus) (*bench.Record, error) {
	if b.dataErr != nil {
		return nil, b.dataErr
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cfg := b.ss.config(spec.Scenario, settings(spec))
	cfg.Label, cfg.Bus = spec.Label, bus
	b.ss.watchMetrics(cfg, spec.Label, bus) // until the screen closes the bus
	return runner.Run(ctx, cfg)
}

// Sweep runs the grid as workbench sweep does: the spec's axes, objective
// and constraints parsed by the CLI's own flags code, every cell measured
// by the protocol through the run path (the session's cell runner, the
// knobs the grid sweeps left to the cells), failures skipping larger
// batches, and the early exit. One measurement at a time: the whole sweep
// holds the lock a run takes.
func (b *tuiBackend) Sweep(ctx context.Context, spec backend.SweepSpec, onRecord func(*bench.Record)) (*bench.SweepResult, error) {
	sf, err := newSweepFlags(backend.List(spec.Batch), backend.List(spec.Concurrency), backend.List(spec.Blocks), spec.Objective, spec.Constraints)
	if err != nil {
		return nil, err
	}
	if b.dataErr != nil {
		return nil, b.dataErr
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ss := b.ss.forSweep(sf.grid, sf.protocol())
	if _, err := ss.checkGrid(spec.Scenario, sf.grid); err != nil {
		return nil, err
	}
	opts := sf.options(spec.Scenario, io.Discard)
	// The screen reads each record while the sweep goes on to rank it:
	// hand over a copy, and the ranked originals at the end.
	opts.OnRecord = func(r *bench.Record) { c := *r; onRecord(&c) }
	return bench.Sweep(ctx, opts, ss.cellRunner(spec.Scenario, sf.grid))
}

func (b *tuiBackend) Diagnose(rec *bench.Record) string {
	ds := bench.Diagnose(rec)
	if len(ds) == 0 {
		return ""
	}
	d := ds[0]
	if d.Knob != "" {
		return d.Finding + "; try " + d.Knob
	}
	return d.Finding
}

// Export writes an HTML report of recs into reports/ and returns its path.
func (b *tuiBackend) Export(kind string, recs []*bench.Record) (string, error) {
	if err := os.MkdirAll("reports", 0o755); err != nil {
		return "", err
	}
	path := filepath.Join("reports", fmt.Sprintf("%s-%s.html", kind, time.Now().Format("20060102-150405")))
	fh, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := bench.WriteHTML(fh, recs, bench.ReportOptions{Title: "workbench " + kind}); err != nil {
		fh.Close()
		os.Remove(path)
		return "", err
	}
	return path, fh.Close()
}

// SaveScenario writes a scenario that extends base with the tuned knobs.
func (b *tuiBackend) SaveScenario(base string, k backend.Knobs) (string, error) {
	d := scenarios.Derived{
		Comments: []string{fmt.Sprintf("Tuned in the workbench TUI from %s (%s).", base, bench.Build())},
		Extends:  base, Title: base + ", tuned",
	}
	for _, st := range settings(backend.RunSpec{Knobs: &k}) {
		d.Knobs = append(d.Knobs, [2]string{st.Knob, st.Value})
	}
	path := base + "-tuned.yaml"
	y, err := d.YAML(path)
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, y, 0o666)
}

// ExportRay writes the best cell of a sweep's records over scenario as a
// Ray Data job folder, by the code export ray --from runs, with the
// session's model and the placeholders for the cluster's storage (a local
// --data folder is not on the cluster). The folder is named after the
// scenario and the time, so no export overwrites another.
func (b *tuiBackend) ExportRay(scenario string, recs []*bench.Record) (string, error) {
	best, ok := bestFromRecords(recs, "the TUI's sweep")
	if !ok {
		return "", errors.New("no completed cell to export")
	}
	j := rayJob{scenario: scenario, model: b.f.modelName, data: placeholderData, output: placeholderOutput,
		rayVersion: currentRay, gpus: -1, best: best, tunedFrom: "the TUI's sweep"}
	if strings.Contains(b.f.data, "://") {
		j.data = b.f.data
	}
	name := strings.TrimSuffix(filepath.Base(scenario), filepath.Ext(scenario))
	out := fmt.Sprintf("ray-%s-%s", name, time.Now().Format("20060102-150405"))
	if _, _, _, err := j.write(out); err != nil {
		return "", err
	}
	return out, nil
}

// Lesson is the workshop: scenarios.Library.Lesson from the race's left
// scenario to its right.
func (b *tuiBackend) Lesson() []backend.Step {
	steps, err := runner.Library().Lesson(b.left, b.right)
	if err != nil {
		return nil
	}
	out := make([]backend.Step, len(steps))
	for i, st := range steps {
		out[i] = backend.Step{Title: st.Title, Mistake: st.Mistake, Explain: st.Explain,
			Spec: backend.RunSpec{Scenario: st.Scenario, Label: st.Label, Set: st.Set}}
	}
	return out
}

var _ backend.Backend = (*tuiBackend)(nil)

func init() {
	register(command{name: "tui", order: 5, summary: "open the interactive workbench (the default on a terminal)", run: tuiCmd})
}

// Jobs implements backend.JobsBackend: the cluster named by --address.
func (b *tuiBackend) Jobs() backend.Jobs {
	if b.cluster == nil {
		return nil
	}
	return b.cluster
}
