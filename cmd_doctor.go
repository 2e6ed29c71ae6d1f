package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"workbench/model"
)

const doctorUsage = `Check this machine for a workbench run, on one screen: the ONNX Runtime
library and build, which execution providers can be created (CPU always, CUDA
only when its provider and CUDA libraries load), the GPUs NVML sees, cores and
memory, the cache folder and the JPEG decoder. Each problem comes with the
command that fixes it. Exit status 0 when a CPU pipeline can run (ONNX Runtime
loads), 1 otherwise.`

const doctorExamples = `  workbench doctor
  workbench doctor --json > doctor.json
  workbench doctor --device cuda
  workbench doctor --ort-lib /opt/onnxruntime/lib/libonnxruntime.so.1`

func doctorCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("doctor", doctorUsage, doctorExamples, stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	ortLib := fs.String("ort-lib", "", "path to libonnxruntime.so (default: $ONNXRUNTIME_LIB, then the cache)")
	device := fs.String("device", "auto", "the --device a run would use: cpu, cuda[:N] or auto; it decides which cached build loads")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("doctor: unexpected argument %q (see workbench doctor --help)", fs.Arg(0))
	}
	dev, err := model.ParseDevice(*device)
	if err != nil {
		return usageErr("--device: %v", err)
	}
	r := gatherDoctor(realDoctorEnv(), *ortLib, dev)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		r.writeText(stdout)
	}
	if !r.CPUPipelineOK {
		return &exitError{code: 1, err: errors.New("doctor: ONNX Runtime does not load, so no pipeline can run (see the report above)")}
	}
	return nil
}

func init() {
	register(command{name: "doctor", order: 80, summary: "check ONNX Runtime, CUDA, GPUs and caches; say how to fix problems", run: doctorCmd})
}
