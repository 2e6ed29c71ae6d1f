package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"workbench/bench"
	"workbench/model"
)

const modelUsage = `model list shows the built-in zoo; model export writes one as ONNX. Zoo models
are exact architectures with seeded, untrained weights: their throughput is
representative, their labels are not.`

const modelExamples = `  workbench model list
  workbench model export resnet50 -o resnet50.onnx`

func modelListCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("model list", modelUsage, modelExamples, stderr)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("model list: unexpected argument %q", fs.Arg(0))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPARAMS\tGFLOPs/IMAGE\tINPUT\tCLASSES\tPRECISION")
	for _, z := range model.Zoo() {
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%d\t%s\n", z.Name, bench.GroupThousands(z.Params), z.GFLOPs(), z.InputShape, z.Classes, z.Precision)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nGFLOPs count a multiply-add as 2 operations. All zoo models: %s.\n", model.UntrainedNotice)
	fmt.Fprintf(stdout, "%s.\n", model.FP16CPUNotice)
	return nil
}

func modelExportCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("model export", modelUsage, modelExamples, stderr)
	out := fs.String("o", "", "output .onnx file")
	pos, help, err := parseWithArgs(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return usageErr("model export: want 'workbench model export NAME -o FILE.onnx'")
	}
	name := pos[0]
	tmp := *out + ".partial"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := model.ExportZoo(name, f); err != nil {
		f.Close()
		os.Remove(tmp)
		return usageErr("model export: %v", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%s: %s)\n", *out, name, model.UntrainedNotice)
	return nil
}

func init() {
	register(command{name: "model", order: 90, summary: "list or export the built-in model zoo"})
	register(command{name: "model list", summary: "list the zoo: parameters, GFLOPs, input, classes, precision", run: modelListCmd})
	register(command{name: "model export", summary: "write a zoo model as an ONNX file", run: modelExportCmd, args: completeZooModels})
}
