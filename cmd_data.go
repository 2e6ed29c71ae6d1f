package main

import (
	"context"
	"fmt"
	"io"

	"workbench/vision"
)

const dataUsage = `data synth writes a deterministic synthetic ImageNet-like dataset: photo-like
JPEGs (gradients, texture, noise) of about 500×375 and 375×500, quality 75–95,
in class-like subfolders. The same -n and --seed give byte-identical files.`

const dataExamples = `  workbench data synth -n 2000 -o data/synth --seed 1
  workbench data synth -n 40 -o /tmp/small`

func dataCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("data synth", dataUsage, dataExamples, stderr)
	n := fs.Int("n", 2000, "number of images")
	out := fs.String("o", "data/synth", "output folder")
	seed := fs.Uint64("seed", 1, "random seed")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *n < 1 {
		return usageErr("data synth: -n %d must be at least 1", *n)
	}
	st, err := vision.SynthesizeContext(ctx, *out, vision.SynthOptions{N: *n, Seed: *seed})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d synthetic JPEGs in %d classes to %s in %s: mean %.1f KiB (min %.1f, max %.1f)\n",
		st.Files, st.Classes, *out, st.Elapsed.Round(1e7), st.MeanBytes/1024, float64(st.MinBytes)/1024, float64(st.MaxBytes)/1024)
	return nil
}

func init() {
	register(command{name: "data", order: 80, summary: "make a synthetic dataset (data synth)"})
	register(command{name: "data synth", summary: "write a deterministic synthetic ImageNet-like dataset", run: dataCmd})
}
