package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"workbench/model"
	"workbench/nvml"
	"workbench/pipeline"
	"workbench/scenarios"
	"workbench/vision"
)

// newFlagSet returns a flag set whose --help prints usage and examples.
func newFlagSet(name, usage, examples string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: workbench %s\n\n%s\n\nFlags:\n", name, usage)
		fs.PrintDefaults()
		fmt.Fprintf(w, "\nExamples:\n%s\n", examples)
	}
	return fs
}

// parseFlags parses args, turning --help into printed usage and a clean
// exit (help is true) and any other problem into a usage error (exit 2).
func parseFlags(fs *flag.FlagSet, args []string) (help bool, err error) {
	// Parse quietly: the flag package would print its error and the usage
	// itself (into a discarded writer, losing the flag list). Errors are
	// reported once, by the caller; the usage is printed here, whole.
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err = fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return true, nil
	}
	if err != nil {
		return false, usageErr("%s %v (see workbench %s --help)", fs.Name()+":", err, fs.Name())
	}
	return false, nil
}

// jobFlags are the flags shared by every command that runs the pipeline.
// They mean the same thing everywhere.
type jobFlags struct {
	data        string
	images      int
	modelName   string
	device      string
	batch       int
	concurrency string
	blocks      int
	out         string
	json        string
	ortLib      string
	maxPixels   int64
	intraOp     int
	interOp     int
	graphOpt    string
	cpus        float64
	gpus        float64
	memBudget   string
	preserve    bool
	sampleHz    float64
	decoder     string
	scenario    string

	fs *flag.FlagSet // to tell flags the user set from defaults
}

func (f *jobFlags) register(fs *flag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.scenario, "scenario", "", "run a scenario: a built-in NAME (see 'workbench scenarios list') or FILE.yaml; flags you set override its knobs")
	fs.StringVar(&f.data, "data", "data/synth", "folder of images, read recursively (.jpg .jpeg .png)")
	fs.IntVar(&f.images, "images", 0, "use the first N images (0 = all)")
	fs.StringVar(&f.modelName, "model", "resnet50", "zoo model name (see 'workbench model list') or a .onnx file")
	fs.StringVar(&f.device, "device", "cpu", "cpu, cuda[:N] or auto")
	fs.IntVar(&f.batch, "batch", 64, "rows per inference batch (map_batches batch_size)")
	fs.StringVar(&f.concurrency, "concurrency", "1", "inference actors: N, or MIN-MAX to autoscale")
	fs.IntVar(&f.blocks, "blocks", 0, "read blocks (override_num_blocks); 0 = Ray's default")
	fs.StringVar(&f.json, "json", "", "also write the run record as JSON to FILE")
	fs.StringVar(&f.ortLib, "ort-lib", "", "path to libonnxruntime.so (default: $ONNXRUNTIME_LIB, then the cache)")
	fs.Int64Var(&f.maxPixels, "max-pixels", vision.DefaultMaxPixels, "refuse images above this many pixels without decoding them")
	fs.IntVar(&f.intraOp, "intra-op", 0, "ORT intra-op threads per session (0 = cores ÷ concurrency)")
	fs.IntVar(&f.interOp, "inter-op", 1, "ORT inter-op threads per session")
	fs.StringVar(&f.graphOpt, "graph-opt", "all", "ORT graph optimisation: disabled, basic, extended or all")
	fs.Float64Var(&f.cpus, "cpus", 0, "CPU limit for the resource manager (0 = this machine's cores)")
	fs.Float64Var(&f.gpus, "gpus", -1, "GPU limit, whole GPUs (default: what NVML reports); fractions go in num_gpus")
	fs.StringVar(&f.memBudget, "memory-budget", "", "bytes of blocks in flight, e.g. 2GiB (default 25% of RAM)")
	fs.BoolVar(&f.preserve, "preserve-order", false, "write rows in input order")
	fs.StringVar(&f.decoder, "decoder", "auto", "JPEG decoder: go, turbo (libjpeg-turbo with DCT scaling) or auto (turbo when it loads)")
	fs.Float64Var(&f.sampleHz, "sample-hz", nvml.DefaultHz, "GPU and host telemetry samples per second (0 = off)")
}

// explicit returns the flags the user set on the command line, by name.
func (f *jobFlags) explicit() map[string]string {
	out := map[string]string{}
	if f.fs != nil {
		f.fs.Visit(func(fl *flag.Flag) { out[fl.Name] = fl.Value.String() })
	}
	return out
}

// concurrency parses "N" or "MIN-MAX".
func parseConcurrency(s string) (pipeline.Concurrency, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil || a < 1 {
		return pipeline.Concurrency{}, fmt.Errorf("--concurrency %q: want a positive number N or a range MIN-MAX, e.g. 1-4", s)
	}
	if !isRange {
		return pipeline.Fixed(a), nil
	}
	b, err := strconv.Atoi(strings.TrimSpace(hi))
	if err != nil || b < a {
		return pipeline.Concurrency{}, fmt.Errorf("--concurrency %q: want MIN-MAX with MIN <= MAX, e.g. 1-4", s)
	}
	return pipeline.Range(a, b), nil
}

// checkData refuses a --data that is not a folder, naming the command that
// makes one.
func (f *jobFlags) checkData() error {
	if st, err := os.Stat(f.data); err != nil || !st.IsDir() {
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

// validate reports every bad flag value at once.
func (f *jobFlags) validate() error {
	var errs []error
	if f.batch < 1 {
		errs = append(errs, fmt.Errorf("--batch %d: must be at least 1, e.g. --batch 64", f.batch))
	}
	if f.images < 0 {
		errs = append(errs, fmt.Errorf("--images %d: must be 0 (all) or more", f.images))
	}
	if f.blocks < 0 {
		errs = append(errs, fmt.Errorf("--blocks %d: must be 0 (default) or more", f.blocks))
	}
	if _, err := parseConcurrency(f.concurrency); err != nil {
		errs = append(errs, err)
	}
	if _, err := model.ParseDevice(f.device); err != nil {
		errs = append(errs, fmt.Errorf("--device: %w", err))
	}
	if f.intraOp < 0 || f.interOp < 0 {
		errs = append(errs, errors.New("--intra-op and --inter-op must be 0 or more"))
	}
	if err := checkGPUsFlag(f.gpus); err != nil {
		errs = append(errs, err)
	}
	if f.maxPixels <= 0 {
		errs = append(errs, fmt.Errorf("--max-pixels %d: must be positive", f.maxPixels))
	}
	if f.memBudget != "" {
		if _, err := scenarios.ParseBytes(f.memBudget); err != nil {
			errs = append(errs, fmt.Errorf("--memory-budget: %w", err))
		}
	}
	if !slices.Contains(vision.DecoderNames, f.decoder) {
		errs = append(errs, fmt.Errorf("--decoder %q: want one of %s", f.decoder, strings.Join(vision.DecoderNames, ", ")))
	}
	if f.sampleHz < 0 || f.sampleHz > nvml.MaxHz {
		errs = append(errs, fmt.Errorf("--sample-hz %g: want 0 (off) to %d", f.sampleHz, nvml.MaxHz))
	}
	if f.cpus < 0 {
		errs = append(errs, fmt.Errorf("--cpus %g: must be positive", f.cpus))
	}
	switch f.graphOpt {
	case "disabled", "basic", "extended", "all":
	default:
		errs = append(errs, fmt.Errorf("--graph-opt %q: want disabled, basic, extended or all", f.graphOpt))
	}
	if len(errs) > 0 {
		return &exitError{code: 2, err: errors.Join(errs...)}
	}
	return nil
}

// telemetryHz maps --sample-hz to bench's convention (negative = off).
func (f *jobFlags) telemetryHz() float64 {
	if f.sampleHz == 0 {
		return -1
	}
	return f.sampleHz
}

var noGPUOnce sync.Once

// reportNoGPU says once per process why no GPU is visible.
func reportNoGPU(w io.Writer) func(string) {
	return func(reason string) {
		noGPUOnce.Do(func() { fmt.Fprintf(w, "telemetry: %s; sampling host metrics only\n", reason) })
	}
}

// initRuntime loads ONNX Runtime for --device and resolves auto. cuda, and
// auto when a GPU is visible, make the lookup prefer the cached CUDA build
// (make setup-gpu); auto then becomes cuda:0 only if the CUDA provider
// attaches, and otherwise cpu, with one line on stderr saying why. It
// returns the device sessions use and the GPUs NVML sees (the engine's
// default GPU limit). --gpus > 0 stands in for NVML when deciding auto, for
// machines where NVML cannot see the GPU; --gpus 0 forces cpu.
func initRuntime(ortLib, device string, gpusFlag float64, stderr io.Writer) (model.Device, int, error) {
	dev, err := model.ParseDevice(device)
	if err != nil {
		return model.Device{}, 0, usageErr("--device: %v", err)
	}
	if err := checkGPUsFlag(gpusFlag); err != nil {
		return model.Device{}, 0, usageErr("%v", err)
	}
	inv := nvml.Probe()
	visible := len(inv.GPUs)
	gpus := visible
	if gpusFlag >= 0 {
		gpus = int(gpusFlag)
	}
	preferGPU := dev.Kind == model.DeviceCUDA || (dev.Kind == model.DeviceAuto && gpus > 0)
	if _, err := model.InitFor(ortLib, preferGPU); err != nil {
		return model.Device{}, 0, err
	}
	dev, why := model.ResolveDevice(dev, gpus, inv.NVMLReason, model.ProbeCUDA)
	if why != "" {
		fmt.Fprintln(stderr, why)
	}
	return dev, visible, nil
}

// zooNotice is the line every output naming a zoo model carries: its
// weights are seeded, not trained. Empty for a user's .onnx file.
func zooNotice(name string) string {
	if !slices.Contains(model.ZooNames(), name) {
		return ""
	}
	return fmt.Sprintf("model %s: %s", name, model.UntrainedNotice)
}
