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

func modelCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(stdout, "Usage: workbench model list | export NAME -o FILE\n\n%s\n\nExamples:\n%s\n", modelUsage, modelExamples)
		return nil
	}
	switch args[0] {
	case "list":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tPARAMS\tGFLOPs/IMAGE\tINPUT\tCLASSES\tPRECISION")
		for _, z := range model.Zoo() {
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%d\t%s\n", z.Name, bench.GroupThousands(z.Params), z.GFLOPs(), z.InputShape, z.Classes, z.Precision)
		}
		tw.Flush()
		fmt.Fprintf(stdout, "\nGFLOPs count a multiply-add as 2 operations. All zoo models: %s.\n", model.UntrainedNotice)
		fmt.Fprintf(stdout, "%s.\n", model.FP16CPUNotice)
		return nil
	case "export":
		fs := newFlagSet("model export", modelUsage, modelExamples, stderr)
		out := fs.String("o", "", "output .onnx file")
		rest := args[1:]
		var name string
		if len(rest) > 0 && rest[0] != "" && rest[0][0] != '-' {
			name, rest = rest[0], rest[1:]
		}
		if help, err := parseFlags(fs, rest); help || err != nil {
			return err
		}
		if name == "" && fs.NArg() > 0 {
			name = fs.Arg(0)
		}
		if name == "" || *out == "" {
			return usageErr("model export: want 'workbench model export NAME -o FILE.onnx'")
		}
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
	return usageErr("model: unknown subcommand %q; want list or export", args[0])
}

func init() {
	register(command{name: "model", order: 90, summary: "list or export the built-in model zoo", run: modelCmd})
}
