package main

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"workbench/bench"
	"workbench/model"
)

const benchUsage = `bench ceiling measures the inference-only ceiling: preprocessed tensors already
in memory, the same session options as a run, nothing but forward passes. A run
whose throughput is close to it is limited by the model, not the pipeline.`

const benchExamples = `  workbench bench ceiling --model resnet50 --batch 64
  workbench bench ceiling --model resnet18 --batch 16 --concurrency 2 --iters 20`

func benchCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	if len(args) == 0 || args[0] != "ceiling" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintf(stdout, "Usage: workbench bench ceiling [flags]\n\n%s\n\nExamples:\n%s\n", benchUsage, benchExamples)
			return nil
		}
		return usageErr("bench: want 'workbench bench ceiling --model NAME' (see workbench bench --help)")
	}
	fs := newFlagSet("bench ceiling", benchUsage, benchExamples, stderr)
	var f jobFlags
	f.register(fs)
	iters := fs.Int("iters", 10, "measured rounds (each one batch per session)")
	if help, err := parseFlags(fs, args[1:]); help || err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	if *iters < 1 {
		return usageErr("--iters %d: must be at least 1", *iters)
	}
	m, sess, conc, err := f.session()
	if err != nil {
		return err
	}
	res, err := bench.Ceiling(ctx, bench.CeilingOptions{Model: m, Session: sess, Batch: f.batch, Sessions: conc, Warmup: 2, Iters: *iters})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "inference ceiling, %s on %s: %s\n", m.Name, sess, res)
	if n := m.Notice(); n != "" {
		fmt.Fprintf(stdout, "(%s: %s)\n", m.Name, n)
	}
	if n := model.FP16OnCPU(m, sess.Device.Kind); n != "" {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	return nil
}

// session initialises ORT and resolves the model and session options the
// way a run does.
func (f *jobFlags) session() (*model.Model, model.SessionOptions, int, error) {
	if _, err := model.InitFromFlag(f.ortLib); err != nil {
		return nil, model.SessionOptions{}, 0, err
	}
	m, err := model.Resolve(f.modelName)
	if err != nil {
		return nil, model.SessionOptions{}, 0, usageErr("--model: %v", err)
	}
	conc, _ := parseConcurrency(f.concurrency)
	dev, _ := model.ParseDevice(f.device)
	if dev.Kind == model.DeviceAuto {
		dev = model.Device{Kind: model.DeviceCPU}
	}
	sess := model.SessionOptions{IntraOpThreads: f.intraOp, InterOpThreads: f.interOp, GraphOptimization: f.graphOpt, Device: dev}
	if sess.IntraOpThreads == 0 {
		sess.IntraOpThreads = max(1, runtime.NumCPU()/conc.Max)
	}
	return m, sess, conc.Max, nil
}

func init() {
	register(command{name: "bench", order: 70, summary: "measure the inference-only ceiling (bench ceiling)", run: benchCmd})
}
