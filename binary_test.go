package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryStarts builds the real binary with the Makefile's lazy-binding
// link flags and runs it as a user would. go-nvml's cgo references to
// libnvidia-ml resolve only at first call with -z lazy; with eager binding
// the binary would not start on a machine without the NVIDIA driver, such as
// this one. It also checks the documented exit codes.
func TestBinaryStarts(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "workbench")
	build := exec.Command(goTool, "build", "-ldflags=-extldflags=-Wl,-z,lazy", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args     []string
		wantCode int
		want     []string // in stdout+stderr
	}{
		{[]string{"--help"}, 0, []string{"USAGE", "doctor", "run"}},
		{[]string{"version"}, 0, []string{"workbench"}},
		{[]string{"--version"}, 0, []string{"workbench"}},
		{[]string{"race", "--help"}, 0, []string{"race A B", "EXAMPLES", "--batch"}},
		{[]string{"completion", "bash"}, 0, []string{"__workbench_"}},
		{[]string{"completion", "zsh"}, 0, []string{"#compdef workbench"}},
		{[]string{"completion", "fish"}, 0, []string{"complete -c workbench"}},
		{[]string{"man"}, 0, []string{".TH", "race", "--benchfmt"}},
		{[]string{"data", "bogus"}, 2, []string{"unknown command"}},
		{[]string{"run", "--frobnicate"}, 2, []string{"frobnicate"}},
		{[]string{"run", "--threshold", "througput>1"}, 104, []string{"througput"}},
		// make setup has run, so ORT loads and a CPU pipeline can run.
		{[]string{"doctor"}, 0, []string{"ONNX Runtime", "CPU   ok", "A CPU pipeline can run."}},
		{[]string{"doctor", "--json"}, 0, []string{`"cpu_pipeline_ok": true`}},
		{[]string{"doctor", "--ort-lib", "/nonexistent/libonnxruntime.so"}, 1, []string{"cannot run", "fix:"}},
		{[]string{"doctor", "--device", "tpu"}, 2, []string{"--device"}},
		{[]string{"no-such-command"}, 2, []string{"unknown command"}},
		{[]string{"run", "--gpus", "0.5", "--images", "1"}, 2, []string{"--gpus 0.5", "num_gpus"}},
	} {
		cmd := exec.Command(bin, tc.args...)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("workbench %s: %v", strings.Join(tc.args, " "), err)
		}
		if code != tc.wantCode {
			t.Errorf("workbench %s: exit %d, want %d\n%s", strings.Join(tc.args, " "), code, tc.wantCode, out)
		}
		if strings.Contains(string(out), "\x1b[") {
			t.Errorf("workbench %s: escape codes in a pipe:\n%q", strings.Join(tc.args, " "), out)
		}
		if strings.HasSuffix(strings.Join(tc.args, " "), "version") {
			if line := string(out); strings.Count(line, "\n") != 1 || strings.HasSuffix(line, " \n") {
				t.Errorf("workbench %s: want one version line without trailing space, got %q", strings.Join(tc.args, " "), line)
			}
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("workbench %s: output lacks %q\n%s", strings.Join(tc.args, " "), w, out)
			}
		}
	}
}
