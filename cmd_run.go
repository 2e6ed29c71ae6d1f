package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"workbench/bench"
	"workbench/classify"
	"workbench/model"
	"workbench/pipeline"
	"workbench/scenarios"
	"workbench/vision"
)

const runUsage = `Classify every image under --data with an ONNX model and write one row per
image to --out (Parquet, zstd; .json/.jsonl writes JSON lines). Broken files
become rows with the error column set; the run goes on.`

const runExamples = `  workbench run --data data/synth --model resnet50 --batch 64 --concurrency 1 --blocks 16 --device cpu --out results.parquet
  workbench run --data ~/photos --model my_model.onnx --images 500 --json run.json
  workbench run --data data/synth --model tiny --concurrency 1-4 --fail-on-error`

func runCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("run", runUsage, runExamples, stderr)
	var f jobFlags
	f.register(fs)
	fs.StringVar(&f.out, "out", "results.parquet", "output file: .parquet, or .json/.jsonl for JSON lines")
	failOnError := fs.Bool("fail-on-error", false, "exit 1 when any image fails")
	ceiling := fs.Bool("ceiling", true, "after the run, measure the inference-only ceiling with the same settings and report the run as a fraction of it")
	var th thresholdFlag
	th.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("run: unexpected argument %q (flags go before nothing else; see workbench run --help)", fs.Arg(0))
	}
	if err := f.validate(); err != nil {
		return err
	}
	if err := th.parse(); err != nil {
		return err
	}
	if f.scenario != "" {
		return runScenarioCmd(ctx, stdout, stderr, &f, *failOnError, &th)
	}
	job, err := f.plan(stderr)
	if err != nil {
		return err
	}
	rec, err := bench.Run(ctx, job, bench.RunOptions{
		Out: f.out, JSON: isJSONPath(f.out), Version: version, Commit: commit, Repeat: 1,
		SampleHz: f.telemetryHz(), OnNoGPU: reportNoGPU(stderr),
	})
	if err != nil {
		return err
	}
	if *ceiling {
		c, err := bench.Ceiling(ctx, bench.CeilingOptions{Model: job.Config.Model, Session: job.Config.Session,
			Batch: job.Config.BatchSize, Sessions: job.Config.Concurrency.Max, Warmup: 1, Iters: 6})
		if err != nil {
			return fmt.Errorf("ceiling: %w", err)
		}
		rec.CeilingTput = c.Summary.Center
	}
	bench.WriteSummary(stdout, rec)
	if f.json != "" {
		if err := bench.WriteJSONFile(f.json, []*bench.Record{rec}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n  record     %s\n", f.json)
	}
	if rec.Errors > 0 {
		fmt.Fprintf(stderr, "warning: %d of %d images failed; their rows carry the error column\n", rec.Errors, rec.Images)
		if *failOnError {
			return &exitError{code: 1, err: fmt.Errorf("%d images failed (--fail-on-error)", rec.Errors)}
		}
	}
	return th.check(stderr, "this run", rec.Metrics())
}

func isJSONPath(p string) bool {
	return strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".jsonl")
}

// plan turns the shared flags into a planned job: ORT initialised, model
// resolved, dataset listed. Problems with the user's inputs exit 2.
func (f *jobFlags) plan(stderr io.Writer) (*classify.Job, error) {
	if err := f.checkData(); err != nil {
		return nil, err
	}
	dev, visibleGPUs, err := initRuntime(f.ortLib, f.device, f.gpus, stderr)
	if err != nil {
		return nil, err
	}
	m, err := model.Resolve(f.modelName)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) || strings.Contains(err.Error(), "zoo") {
			return nil, usageErr("--model: %v", err)
		}
		return nil, err
	}
	conc, _ := parseConcurrency(f.concurrency)
	sess := model.SessionOptions{
		IntraOpThreads: f.intraOp, InterOpThreads: f.interOp, GraphOptimization: f.graphOpt, Device: dev,
	}
	if sess.IntraOpThreads == 0 {
		// Right-size ORT's thread pool: actors × threads = cores.
		sess.IntraOpThreads = max(1, runtime.NumCPU()/conc.Max)
	}
	exec := pipeline.ExecutionOptions{
		Limits:         pipeline.ExecutionResources{CPU: f.cpus},
		OverrideLimits: f.cpus > 0,
		PreserveOrder:  f.preserve,
		Warnf:          func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) },
	}
	// NVML's GPU count sets the limit; --gpus overrides it.
	if f.gpus >= 0 {
		exec.Limits.GPU = f.gpus
	} else {
		exec.Limits.GPU = float64(visibleGPUs)
	}
	if f.memBudget != "" {
		exec.Limits.ObjectStoreMemory, _ = scenarios.ParseBytes(f.memBudget)
	}
	dec, note, err := vision.SelectDecoder(f.decoder, vision.TurboOptions{})
	if err != nil {
		return nil, usageErr("--decoder: %v", err)
	}
	if f.decoder == "auto" && note != "" {
		fmt.Fprintln(stderr, note)
	}
	cfg := classify.JobConfig{
		Data: f.data, Images: f.images, Model: m, Session: sess,
		BatchSize: f.batch, Blocks: f.blocks, Concurrency: conc,
		MaxPixels: f.maxPixels, Decoder: dec, Exec: exec, TensorPool: true,
	}
	if dev.Kind == model.DeviceCUDA {
		cfg.NumGPUs = 1
	}
	job, err := classify.NewJob(cfg)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return job, nil
}

func init() {
	register(command{name: "run", order: 10, summary: "classify a folder of images and write Parquet", run: runCmd})
}
