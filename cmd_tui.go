package main

import (
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

	"workbench/bench"
	"workbench/classify"
	"workbench/nvml"
	"workbench/pipeline"
	"workbench/ray"
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

It needs a terminal. Without one it prints help and points at the headless
commands (race, sweep, ablate, tune), which do the same measurements.

The default model is resnet18 (not run's resnet50), so the slow vs optimized
race on make run's 200 synthetic images ends within a minute on a 2-core
machine with no GPU; --model tiny or --images N make it shorter.`

const tuiExamples = `  workbench
  workbench --workshop --images 64
  workbench --race --model resnet18 --images 100
  workbench tui --data ~/photos --model resnet50
  workbench tui --jobs --address http://head-node:8265 --header 'Authorization: Bearer $RAY_TOKEN'`

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
	return strings.HasPrefix(a, "-") && a != "-h" && a != "--help" && a != "-help" && a != "--version"
}

func tuiCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("tui", tuiUsage, tuiExamples, stderr)
	var f jobFlags
	f.register(fs)
	workshop := fs.Bool("workshop", false, "open the guided workshop")
	race := fs.Bool("race", false, "open on the race of --left against --right")
	left := fs.String("left", "slow", "the race's left scenario (A)")
	right := fs.String("right", "optimized", "the race's right scenario (B)")
	jobsScreen := fs.Bool("jobs", false, "open on the Jobs screen of the Ray cluster at --address")
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
		b.cluster = &rayJobs{cl: cl, address: cf.shownAddress()}
	} else if *jobsScreen {
		return usageErr("tui --jobs: --address is required (e.g. http://head-node:8265), or set RAY_ADDRESS")
	}
	o := tui.Options{NoColor: common.NoColorEnv()}
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
// library planned under the shared job flags, measured with bench.Run, and
// reported with bench's writers.
type tuiBackend struct {
	ss          *scenarioSession
	f           *jobFlags
	info        backend.Info
	left, right string
	cluster     backend.Jobs // nil without --address
	mu          sync.Mutex   // serialises runs: one measurement at a time
	logMu       sync.Mutex
	log         strings.Builder // engine warnings; the screen owns stderr
}

func newTUIBackend(f *jobFlags, left, right string) (*tuiBackend, error) {
	b := &tuiBackend{f: f, left: left, right: right}
	ss, err := newScenarioSession(f, &lockedWriter{mu: &b.logMu, w: &b.log})
	if err != nil {
		return nil, err
	}
	b.ss = ss
	for _, n := range []string{left, right} {
		if _, err := ss.load(n); err != nil {
			return nil, err
		}
	}
	n := 0
	if files, err := listImages(f.data); err == nil {
		n = len(files)
	}
	if f.images > 0 {
		n = min(n, f.images)
	}
	dev := fmt.Sprintf("cpu · %d cores · no NVIDIA GPU", runtime.NumCPU())
	inv := nvml.Probe()
	if len(inv.GPUs) > 0 {
		dev = fmt.Sprintf("%s · %d cores · %d GPU(s)", inv.GPUs[0].Name, runtime.NumCPU(), len(inv.GPUs))
	}
	b.info = backend.Info{
		Device: dev, GPU: len(inv.GPUs) > 0, Cores: runtime.NumCPU(),
		Dataset: fmt.Sprintf("%s (%d images)", f.data, n), Model: f.modelName, Images: n, Notice: zooNotice(f.modelName),
		Note: fmt.Sprintf("%s on %d images; --model tiny or --images N for a shorter race, --model resnet50 for a longer one", f.modelName, n),
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

func listImages(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".jpg", ".jpeg", ".png":
			out = append(out, p)
		}
		return nil
	})
	return out, err
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
	for _, n := range b.ss.lib.Names() {
		s, err := b.ss.lib.Load(n)
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

// load resolves spec into a scenario with its knob changes applied.
func (b *tuiBackend) load(spec backend.RunSpec) (*scenarios.Scenario, error) {
	s, err := b.ss.load(spec.Scenario)
	if err != nil {
		return nil, err
	}
	var set [][2]string
	if k := spec.Knobs; k != nil {
		set = append(set, [2]string{"batch_size", strconv.Itoa(k.Batch)}, [2]string{"concurrency", strconv.Itoa(k.Concurrency)})
		if k.Blocks > 0 {
			set = append(set, [2]string{"blocks", strconv.Itoa(k.Blocks)})
		}
		if k.IntraOp > 0 {
			set = append(set, [2]string{"intra_op_threads", strconv.Itoa(k.IntraOp)})
		}
		if k.Device != "" {
			set = append(set, [2]string{"device", k.Device})
		}
	}
	set = append(set, spec.Set...)
	var errs []error
	for _, kv := range set {
		if err := s.Set(kv[0], kv[1]); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.Validate()...)
	return s, errors.Join(errs...)
}

// Run measures one scenario, publishing on bus. It mirrors
// scenarioSession.run without the terminal progress lines, which would
// write over the screen.
func (b *tuiBackend) Run(ctx context.Context, spec backend.RunSpec, bus *pipeline.EventBus) (*bench.Record, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.load(spec)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "workbench-tui-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	f := b.f
	env := scenarios.Env{
		Cores: runtime.NumCPU(), GPUs: b.ss.gpus, Model: f.modelName, Data: f.data, Images: f.images,
		MaxPixels: f.maxPixels, Log: io.Discard, Bus: bus,
		Warnf: func(format string, a ...any) { fmt.Fprintf(b.ss.stderr, format+"\n", a...) },
	}
	plan, err := b.ss.lib.Plan(s, env)
	if err != nil {
		return nil, err
	}
	job, err := classify.NewJob(plan.Job)
	if err != nil {
		return nil, err
	}
	opts := plan.Run
	opts.Label = spec.Label
	if opts.Label == "" {
		opts.Label = s.Name
	}
	opts.Out = filepath.Join(dir, "out"+plan.Ext())
	opts.Version, opts.Commit = version, commit
	opts.SampleHz = f.telemetryHz()
	rec, err := bench.Run(ctx, job, opts)
	if rec != nil {
		rec.Warnings = append(rec.Warnings, plan.Notes...)
	}
	return rec, err
}

func (b *tuiBackend) Sweep(ctx context.Context, spec backend.SweepSpec, onRecord func(*bench.Record)) error {
	var g bench.Grid
	if err := g.AddInts("batch", spec.Batch); err != nil {
		return err
	}
	if err := g.AddInts("concurrency", spec.Concurrency); err != nil {
		return err
	}
	_, err := bench.Sweep(ctx, bench.SweepOptions{Grid: g, Scenario: spec.Scenario, EarlyExit: nil, OnRecord: onRecord},
		func(ctx context.Context, cell map[string]string, repeat int) (*bench.Record, error) {
			bc, _ := strconv.Atoi(cell["batch"])
			cc, _ := strconv.Atoi(cell["concurrency"])
			return b.Run(ctx, backend.RunSpec{Scenario: spec.Scenario, Label: g.Label(cell),
				Set: [][2]string{{"batch_size", strconv.Itoa(bc)}, {"concurrency", strconv.Itoa(cc)}}}, pipeline.NewEventBus())
		})
	return err
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
	var sb strings.Builder
	fmt.Fprintf(&sb, "# Tuned in the workbench TUI from %s.\nextends: %s\nkind: combined\ntitle: %s, tuned\n", base, base, base)
	fmt.Fprintf(&sb, "batch_size: %d\nconcurrency: %d\n", k.Batch, k.Concurrency)
	if k.Blocks > 0 {
		fmt.Fprintf(&sb, "blocks: %d\n", k.Blocks)
	}
	if k.IntraOp > 0 {
		fmt.Fprintf(&sb, "intra_op_threads: %d\n", k.IntraOp)
	}
	if k.Device != "" {
		fmt.Fprintf(&sb, "device: %s\n", k.Device)
	}
	path := base + "-tuned.yaml"
	if _, err := scenarios.Parse(path, []byte(sb.String())); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, []byte(sb.String()), 0o644)
}

// Lesson walks from the slow scenario to the optimized one, fixing one
// mistake per step: each built-in mistake scenario is optimized with one
// knob flipped, so where slow has that mistake's value the step sets the
// knob to optimized's, keeping every fix before it.
func (b *tuiBackend) Lesson() []backend.Step {
	lib := b.ss.lib
	slow, err1 := lib.Load(b.left)
	opt, err2 := lib.Load(b.right)
	if err1 != nil || err2 != nil {
		return nil
	}
	steps := []backend.Step{{Title: "The slow pipeline", Mistake: slow.Mistake, Explain: slow.Why,
		Spec: backend.RunSpec{Scenario: slow.Name, Label: "slow"}}}
	var set [][2]string
	fixed := map[string]bool{}
	for _, n := range lib.Mistakes() {
		m, err := lib.Load(n)
		if err != nil {
			continue
		}
		for _, knob := range scenarios.KnobNames() {
			mv, ov, sv := m.Knobs.Format(knob), opt.Knobs.Format(knob), slow.Knobs.Format(knob)
			if mv == ov || sv == ov || fixed[knob] {
				continue
			}
			fixed[knob] = true
			set = append(set, [2]string{knob, ov})
			steps = append(steps, backend.Step{
				Title: m.Title, Mistake: m.Mistake,
				Explain: m.Why + " Fix: " + m.Fix,
				Spec:    backend.RunSpec{Scenario: slow.Name, Label: "fix " + n, Set: append([][2]string(nil), set...)},
			})
		}
	}
	// Whatever slow still does differently, no single mistake covers:
	// the last step is the optimized scenario itself.
	for _, knob := range scenarios.KnobNames() {
		if !fixed[knob] && slow.Knobs.Format(knob) != opt.Knobs.Format(knob) {
			steps = append(steps, backend.Step{Title: "Everything else: " + opt.Title, Mistake: "the remaining differences from " + opt.Name,
				Explain: opt.Why, Spec: backend.RunSpec{Scenario: opt.Name, Label: opt.Name}})
			break
		}
	}
	return steps
}

var _ backend.Backend = (*tuiBackend)(nil)

func init() {
	register(command{name: "tui", order: 5, summary: "open the interactive workbench (the default on a terminal)", run: tuiCmd})
}

// rayJobs is the Jobs screen's view of a Ray cluster.
type rayJobs struct {
	cl      *ray.Client
	address string // credentials redacted
}

func (r *rayJobs) Address() string { return r.address }
func (r *rayJobs) List(ctx context.Context) ([]ray.JobInfo, error) {
	return r.cl.List(ctx)
}
func (r *rayJobs) Logs(ctx context.Context, id string) (string, error) {
	return r.cl.Logs(ctx, id)
}

// Jobs implements backend.JobsBackend: the cluster named by --address.
func (b *tuiBackend) Jobs() backend.Jobs {
	if b.cluster == nil {
		return nil
	}
	return b.cluster
}
