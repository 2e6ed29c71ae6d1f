package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"workbench/pipeline"
)

// TestDetectorFlags: --straggler-sigma, --straggler-min and --stall-timeout
// reach the run path's detector options, 0 turning a detector off, and bad
// values are refused naming the flag.
func TestDetectorFlags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want pipeline.DetectOptions
		err  string // in the validation error; "" = valid
	}{
		{"defaults", nil, pipeline.DetectOptions{StragglerSigma: pipeline.DefaultStragglerSigma,
			StragglerMin: pipeline.DefaultStragglerMin, StallTimeout: pipeline.DefaultStallTimeout}, ""},
		{"set", []string{"--straggler-sigma", "3", "--straggler-min=250ms", "--stall-timeout", "30s"},
			pipeline.DetectOptions{StragglerSigma: 3, StragglerMin: 250 * time.Millisecond, StallTimeout: 30 * time.Second}, ""},
		{"off", []string{"--straggler-sigma", "0", "--stall-timeout", "0"},
			pipeline.DetectOptions{StragglerSigma: -1, StragglerMin: pipeline.DefaultStragglerMin, StallTimeout: -1}, ""},
		{"negative sigma", []string{"--straggler-sigma", "-2"}, pipeline.DetectOptions{}, "--straggler-sigma -2"},
		{"zero minimum", []string{"--straggler-min", "0s"}, pipeline.DetectOptions{}, "--straggler-min 0s"},
		{"negative timeout", []string{"--stall-timeout", "-1s"}, pipeline.DetectOptions{}, "--stall-timeout -1s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fs := newFlagSet("run", "", "", io.Discard)
			var f jobFlags
			f.register(fs)
			if _, err := parseFlags(fs, append([]string{"--model", "tiny"}, c.args...)); err != nil {
				t.Fatal(err)
			}
			err := f.validate()
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("validate() = %v, want an error naming %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := f.config(io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Detect != c.want {
				t.Errorf("Detect = %+v, want %+v", cfg.Detect, c.want)
			}
		})
	}
}
