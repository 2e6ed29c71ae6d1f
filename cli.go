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
	"slices"
	"strings"
	"time"
	"workbench/datasource"

	"github.com/spf13/pflag"

	"workbench/bench"
	"workbench/model"
	"workbench/nvml"
	"workbench/pipeline"
	"workbench/runner"
	"workbench/scenarios"
	"workbench/vision"
)

// Each command declares its flags on a standard library flag set, then
// asks parseFlags (or parseWithArgs) for its arguments; what follows is its
// body. The command tree (main.go) calls every command once with a
// *declaration for stdout and stderr: newFlagSet records the flag set, usage
// and examples there, and parseFlags stops the command before its body. So
// a command written this way gains cobra's help, completions and man page
// with no change, and its body reads its flags from its own variables.

// declaration is what a command declares about itself: its flag set,
// usage text and examples. As an io.Writer it discards what it is given.
type declaration struct {
	fs              *flag.FlagSet
	usage, examples string
}

func (*declaration) Write(p []byte) (int, error) { return len(p), nil }

// errDeclared ends a command called to declare itself.
var errDeclared = errors.New("declared")

// declare calls c with a declaration and returns what it declared.
func declare(c command) (*declaration, error) {
	d := &declaration{}
	err := c.run(context.Background(), d, d, nil)
	if !errors.Is(err, errDeclared) || d.fs == nil {
		return nil, fmt.Errorf("command %q: its flags must go through newFlagSet and parseFlags (got %v)", c.name, err)
	}
	return d, nil
}

// newFlagSet returns a flag set for the command name ("data synth"),
// whose usage text and examples are the command's help.
func newFlagSet(name, usage, examples string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	if d, ok := w.(*declaration); ok {
		d.fs, d.usage, d.examples = fs, usage, examples
	}
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: workbench %s\n\n%s\n\nFlags:\n", name, usage)
		fs.PrintDefaults()
		fmt.Fprintf(w, "\nExamples:\n%s\n", examples)
	}
	return fs
}

// parseFlags parses args as cobra does (GNU style: --flag value,
// --flag=value, -o value, flags and arguments in any order), turning any
// problem into a usage error (exit 2). The positional arguments are then
// fs.Args(). cobra has already handled --help; help is true only when a
// command is called directly with it.
func parseFlags(fs *flag.FlagSet, args []string) (help bool, err error) {
	if _, ok := fs.Output().(*declaration); ok {
		return false, errDeclared
	}
	pfs := pflagSet(fs)
	pfs.SetOutput(io.Discard)
	err = pfs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		fs.Usage()
		return true, nil
	}
	if err != nil {
		return false, usageErr("%s: %v (see workbench %s --help)", fs.Name(), err, fs.Name())
	}
	// The positional arguments, where the command's body looks for them.
	if err := fs.Parse(append([]string{"--"}, pfs.Args()...)); err != nil {
		return false, usageErr("%s: %v", fs.Name(), err)
	}
	return false, nil
}

// pflagSet is fs as a pflag set, for cobra: the same flags, names, help
// and defaults, setting their values through fs so that fs.Visit sees
// which the user typed. A one-letter flag (-o, -n) is also its shorthand;
// a bool flag stands alone (--preserve-order).
func pflagSet(fs *flag.FlagSet) *pflag.FlagSet {
	pfs := pflag.NewFlagSet(fs.Name(), pflag.ContinueOnError)
	fs.VisitAll(func(gf *flag.Flag) {
		pf := pflag.PFlagFromGoFlag(gf)
		pf.Value = &setThrough{Value: pf.Value, fs: fs, name: gf.Name}
		pfs.AddFlag(pf)
	})
	return pfs
}

// setThrough sets a flag by name through its standard library flag set.
type setThrough struct {
	pflag.Value
	fs   *flag.FlagSet
	name string
}

func (s *setThrough) Set(v string) error { return s.fs.Set(s.name, v) }

// jobFlags are the flags shared by every command that runs the pipeline.
// They mean the same thing everywhere. The knob flags (--batch,
// --concurrency, --device, ...) are generated from the scenario knob table,
// one per knob, so none can be missing; the rest say what to run it on.
type jobFlags struct {
	scenario  string
	data      string
	images    int
	modelName string
	out       string
	json      string
	benchfmt  string // --benchfmt FILE: the records in the Go benchmark format
	metrics   string // --metrics-addr HOST:PORT: live metrics for Prometheus
	ortLib    string
	maxPixels int64
	gpus      float64
	sampleHz  float64
	output    string    // the model output to classify from
	labels    string    // class names, one per line
	labelFrom string    // "folders": class subfolders label the rows
	imageCol  string    // a Parquet table's binary image column
	sets      multiFlag // --set knob=value, where the command takes it

	// The issue detectors: --straggler-sigma, --straggler-min and
	// --stall-timeout, 0 turning a detector off.
	stragglerSigma             float64
	stragglerMin, stallTimeout time.Duration

	knobs map[string]*knobFlag // by flag name
	fs    *flag.FlagSet
}

// knobFlag is one knob's flag: its text, kept verbatim for the knob's own
// parser, and whether the user typed it.
type knobFlag struct {
	scenarios.KnobFlag
	value string
	set   bool
}

func (k *knobFlag) String() string {
	if k == nil {
		return ""
	}
	if k.set {
		return k.value
	}
	return k.Default
}

func (k *knobFlag) Set(v string) error {
	k.value, k.set = v, true
	return nil
}

// IsBoolFlag lets a bool knob's flag stand alone: --preserve-order.
func (k *knobFlag) IsBoolFlag() bool { return k.Bool }

// register adds the shared flags and one flag per knob to fs.
func (f *jobFlags) register(fs *flag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.scenario, "scenario", "", "start from a scenario: a built-in NAME (see 'workbench scenarios list') or FILE.yaml; default optimized. Precedence: defaults < scenario < --set < flags")
	fs.StringVar(&f.data, "data", "data/synth", "where the images are: a folder (read recursively, .jpg .jpeg .png), a glob, @list.txt, s3://[anonymous@]bucket/prefix/, gs://bucket/prefix/, Parquet files or WebDataset .tar shards")
	fs.IntVar(&f.images, "images", 0, "use the first N images (0 = all)")
	fs.StringVar(&f.modelName, "model", "resnet50", "zoo model name (see 'workbench model list') or a .onnx file")
	fs.StringVar(&f.json, "json", "", "also write the run record(s) as JSON to FILE")
	fs.StringVar(&f.benchfmt, "benchfmt", "", "also write the results in the Go benchmark format to FILE; benchstat old.txt new.txt compares two runs")
	fs.StringVar(&f.metrics, "metrics-addr", "", "serve live metrics for Prometheus at http://HOST:PORT/metrics while it runs (:9464 = loopback port 9464)")
	fs.StringVar(&f.ortLib, "ort-lib", "", "path to libonnxruntime.so (default: $ONNXRUNTIME_LIB, then the cache)")
	fs.Int64Var(&f.maxPixels, "max-pixels", vision.DefaultMaxPixels, "refuse images above this many pixels without decoding them")
	fs.Float64Var(&f.gpus, "gpus", -1, "limit on whole GPUs (default: what NVML reports); fractions go in num_gpus")
	fs.Float64Var(&f.sampleHz, "sample-hz", nvml.DefaultHz, "telemetry samples per second, GPU and host (0 = off)")
	fs.StringVar(&f.output, "output", "", "the model output to classify from, by name (default: the only [N,K] output)")
	fs.StringVar(&f.labels, "labels", "", "class names, one per line in index order; results gain a predicted_label column")
	fs.StringVar(&f.labelFrom, "label-from", "", "folders: each image's class subfolder is its label (numbered by --labels, else in sorted order); the output gains a label column and the summary top-1/top-5 accuracy")
	fs.Float64Var(&f.stragglerSigma, "straggler-sigma", pipeline.DefaultStragglerSigma, fmt.Sprintf("report a task as a straggler once it runs past its stage's mean + K·σ task duration (judged after %d finished tasks; 0 = off)", pipeline.DefaultStragglerMinTasks))
	fs.DurationVar(&f.stragglerMin, "straggler-min", pipeline.DefaultStragglerMin, "the least a task must run to count as a straggler, however steady its stage")
	fs.DurationVar(&f.stallTimeout, "stall-timeout", pipeline.DefaultStallTimeout, "report a stage as stalled when its input waits and none of its tasks finishes for this long, or twice its longest task (0 = off)")
	fs.StringVar(&f.imageCol, "image-column", "", "a Parquet table's binary column of image bytes (default: the Hugging Face layout image: struct<bytes, path>)")
	f.knobs = map[string]*knobFlag{}
	for _, kf := range scenarios.KnobFlags() {
		k := &knobFlag{KnobFlag: kf}
		f.knobs[kf.Flag] = k
		// The knob's name first: help styling capitalises the first word,
		// which would turn CUDA or ORT into Cuda or Ort.
		fs.Var(k, kf.Flag, "knob "+kf.Knob+": "+kf.Help)
	}
}

// registerSet adds --set knob=value, for commands that run one setting
// (sweep's --set takes lists and is its own).
func (f *jobFlags) registerSet(fs *flag.FlagSet) {
	fs.Var(&f.sets, "set", "set any scenario knob: knob=value (repeatable), e.g. --set tensor_pool=false; flags still win")
}

// explicit returns the flags the user set on the command line, by name.
func (f *jobFlags) explicit() map[string]string {
	out := map[string]string{}
	if f.fs != nil {
		f.fs.Visit(func(fl *flag.Flag) { out[fl.Name] = fl.Value.String() })
	}
	return out
}

// knobSettings are the knob flags the user typed, for the run path's flag
// layer, in table order.
func (f *jobFlags) knobSettings() []runner.Setting {
	var out []runner.Setting
	for _, kf := range scenarios.KnobFlags() {
		if k := f.knobs[kf.Flag]; k != nil && k.set {
			out = append(out, runner.Setting{Knob: kf.Knob, Value: k.value, Flag: "--" + kf.Flag})
		}
	}
	return out
}

// setSettings parses --set knob=value.
func (f *jobFlags) setSettings() ([]runner.Setting, error) {
	var out []runner.Setting
	for _, s := range f.sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usageErr("--set %q: want knob=value, e.g. --set batch_size=64 (knobs: workbench scenarios knobs)", s)
		}
		out = append(out, runner.Setting{Knob: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	return out, nil
}

// config is the run path's Config for these flags: one scenario, the
// user's --set and knob flags, the data, model and machine flags.
func (f *jobFlags) config(stderr io.Writer) (runner.Config, error) {
	set, err := f.setSettings()
	if err != nil {
		return runner.Config{}, err
	}
	return runner.Config{
		Scenario: f.scenario, Set: set, Flags: f.knobSettings(),
		Data: f.data, Images: f.images, Model: f.modelName, MaxPixels: f.maxPixels, ORTLib: f.ortLib,
		GPUs: f.gpus, SampleHz: f.sampleHz, Output: f.output, Labels: f.labels,
		LabelFrom: f.labelFrom, ImageColumn: f.imageCol, Detect: f.detect(),
		Warnf: func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) },
	}, nil
}

// detect is the detectors' options for these flags: 0 on the command line
// is off, which the engine spells negative (its zero is the default).
func (f *jobFlags) detect() pipeline.DetectOptions {
	o := pipeline.DetectOptions{StragglerSigma: f.stragglerSigma, StragglerMin: f.stragglerMin, StallTimeout: f.stallTimeout}
	if o.StragglerSigma == 0 {
		o.StragglerSigma = -1
	}
	if o.StallTimeout == 0 {
		o.StallTimeout = -1
	}
	return o
}

// checkData refuses a local --data that does not exist, naming the command
// that makes one; URIs, globs, @lists and files are the datasource's to
// judge (package datasource).
func (f *jobFlags) checkData() error {
	if datasource.IsRemote(f.data) || strings.HasPrefix(f.data, "@") || strings.ContainsAny(f.data, "*?[") {
		return nil
	}
	if _, err := os.Stat(f.data); err != nil {
		return usageErr("--data %s: no such folder (make one with: workbench data synth -n 200 -o %s)", f.data, f.data)
	}
	return nil
}

// checkGPUsFlag refuses a fractional --gpus: it is a count of devices.
func checkGPUsFlag(g float64) error {
	if g >= 0 && g != math.Trunc(g) {
		return fmt.Errorf("--gpus %g: it counts whole GPUs; to share one, keep --gpus 1 and put num_gpus: 0.5 in the scenario (or sweep --set num_gpus=0.5)", g)
	}
	return nil
}

// validate reports every bad flag value at once: the shared flags here,
// the knob flags through the knobs' own parsers, over the scenario they
// apply to.
func (f *jobFlags) validate() error {
	if f.json != "" && !strings.EqualFold(filepath.Ext(f.json), ".json") {
		// Exit 104, as a bad --out: the file would not hold what its name says.
		return invalidConfig(fmt.Errorf("--json %s: the record is JSON, so name the file .json (a sweep's --out also writes .csv or .parquet records)", f.json))
	}
	var errs []error
	if f.images < 0 {
		errs = append(errs, fmt.Errorf("--images %d: must be 0 (all) or more", f.images))
	}
	if err := checkGPUsFlag(f.gpus); err != nil {
		errs = append(errs, err)
	}
	if f.maxPixels <= 0 {
		errs = append(errs, fmt.Errorf("--max-pixels %d: must be positive", f.maxPixels))
	}
	if f.stragglerSigma < 0 || math.IsNaN(f.stragglerSigma) || math.IsInf(f.stragglerSigma, 0) {
		errs = append(errs, fmt.Errorf("--straggler-sigma %g: want 0 (off) or a positive number of standard deviations, e.g. %g", f.stragglerSigma, pipeline.DefaultStragglerSigma))
	}
	if f.stragglerMin <= 0 {
		errs = append(errs, fmt.Errorf("--straggler-min %s: want a positive duration, e.g. %s", f.stragglerMin, pipeline.DefaultStragglerMin))
	}
	if f.stallTimeout < 0 {
		errs = append(errs, fmt.Errorf("--stall-timeout %s: want 0 (off) or a positive duration, e.g. %s", f.stallTimeout, pipeline.DefaultStallTimeout))
	}
	if f.sampleHz < 0 || f.sampleHz > nvml.MaxHz {
		errs = append(errs, fmt.Errorf("--sample-hz %g: want 0 (off) to %d", f.sampleHz, nvml.MaxHz))
	}
	if _, err := f.setSettings(); err != nil {
		errs = append(errs, errors.Unwrap(err))
	}
	if len(errs) == 0 {
		cfg, _ := f.config(io.Discard)
		if _, _, err := runner.LoadScenario(cfg); err != nil {
			var ce *runner.ConfigError
			if errors.As(err, &ce) {
				errs = append(errs, ce.Problems...)
			} else {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return &exitError{code: 2, err: errors.Join(errs...)}
	}
	return nil
}

// writeBenchfmt writes recs to the --benchfmt file, when there is one,
// and says so on stdout.
func (f *jobFlags) writeBenchfmt(stdout io.Writer, recs []*bench.Record) error {
	if f.benchfmt == "" {
		return nil
	}
	fh, err := os.Create(f.benchfmt)
	if err != nil {
		return err
	}
	if err := bench.WriteBenchfmt(fh, recs); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "benchfmt: %s (compare two with: benchstat old.txt %s)\n", f.benchfmt, f.benchfmt)
	return nil
}

// zooNotice is the line every output naming a zoo model carries: its
// weights are seeded, not trained. Empty for a user's .onnx file.
func zooNotice(name string) string {
	if !slices.Contains(model.ZooNames(), name) {
		return ""
	}
	return fmt.Sprintf("model %s: %s", name, model.UntrainedNotice)
}
