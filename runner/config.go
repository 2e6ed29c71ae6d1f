// Package runner is workbench's one run path. Every front end (run, race,
// ablate, sweep, tune, the TUI and export ray) fills a Config and calls Run,
// or Resolve when it only needs the plan, so a knob means the same thing
// wherever it is set and reaches every run.
//
// A run's knobs are merged in one documented order, as k6 consolidates its
// options: the built-in defaults, then the scenario file (optimized when
// none is named) and the files it extends, then --set knob=value in the
// order given, then the flags the user typed. Auto values (device, actors,
// intra-op threads, blocks) are resolved in one place, Resolve, against
// this machine; the record keeps both what was asked and what it became.
package runner

import (
	"fmt"
	"io"
	"strings"

	"workbench/bench"
	"workbench/pipeline"
)

// DefaultScenario is the scenario a run without --scenario starts from:
// the right way, which the user's flags then adjust.
const DefaultScenario = "optimized"

// Layer names where a knob's value came from, lowest precedence first.
type Layer int

const (
	// LayerDefault is the built-in default (scenarios.DefaultKnobs).
	LayerDefault Layer = iota
	// LayerScenario is the scenario file and the files it extends.
	LayerScenario
	// LayerSet is --set knob=value (sweep cells and the TUI use it too).
	LayerSet
	// LayerFlag is a flag the user typed.
	LayerFlag
)

func (l Layer) String() string {
	return [...]string{"default", "scenario", "set", "flag"}[l]
}

// Setting is one knob given a value in a layer, written as in a scenario
// file ("32", "auto", "[1, 4]", "cuda:1").
type Setting struct {
	Knob, Value string
	// Flag is the flag or option it came from, for error messages in the
	// user's own words ("--batch 0"); empty for --set and scenario files.
	Flag string
}

// Config is everything one run needs. The zero value of each field is its
// documented default; front ends copy what the user said into it and
// nothing else.
type Config struct {
	// Scenario is a built-in name or a FILE.yaml; "" is DefaultScenario.
	Scenario string
	// Set holds --set knob=value settings, applied in order over the
	// scenario; Flags the knobs the user set by flag, applied last.
	Set, Flags []Setting

	// Data is where the images are: a folder, a glob, @list.txt, an
	// s3:// or gs:// prefix, Parquet files or tar shards (package
	// datasource); Files, when not nil, is a folder's listing already
	// made (the folder is then not walked again).
	Data  string
	Files []string
	// Images uses the first N images in listing order; 0 = all.
	Images int
	// Model is a zoo name or an .onnx file.
	Model string
	// Output names the model output to classify from; "" takes the only
	// [N,K] one. Labels is a file of class names, one per line in index
	// order; results then carry each prediction's name.
	Output, Labels string
	// LabelFrom is "folders" to label each image by its class subfolder
	// (numbered by the Labels file when given, else in sorted order);
	// ImageColumn names a Parquet table's plain binary image column.
	LabelFrom, ImageColumn string
	// MaxPixels refuses larger images unread; 0 = vision.DefaultMaxPixels.
	MaxPixels int64
	// ORTLib is the ONNX Runtime library; "" looks it up
	// ($ONNXRUNTIME_LIB, then the cache).
	ORTLib string
	// GPUs overrides the GPU count NVML reports; negative = NVML's.
	GPUs float64

	// Out is the output file; "" writes into a temporary folder removed
	// after the run (races and sweeps measure, they keep no output).
	Out string
	// Checkpoint is the folder that makes the run resumable (Ray's
	// CheckpointConfig): each written block is committed there with its
	// paths, and a rerun skips them; "" runs without one. It is deleted
	// once the output is published. KeepFailed (--retry-failed=false)
	// counts rows that failed as finished, rather than computing them
	// again on resume.
	Checkpoint string
	KeepFailed bool
	// Label names the run in tables (default: the scenario's name);
	// Repeat is its index among repeated runs.
	Label  string
	Repeat int
	// Protocol is the measurement protocol the run is judged by (warm-up,
	// windows, stability); nil is bench.DefaultProtocol.
	Protocol *bench.Protocol
	// Cycle lets the read go over the listing more than once, so that the
	// largest batch still fills the protocol's windows; the record says
	// by how much. Commands that compare configurations set it; run does
	// not, as it writes every input once.
	Cycle bool
	// SampleHz is the telemetry rate; 0 = off.
	SampleHz float64
	// Ceiling also measures the inference-only ceiling with the same
	// settings after the run, so the record says what fraction of it the
	// pipeline reached.
	Ceiling bool
	// Peak also looks up (measuring once per machine, then cached) the
	// device's GEMM peak, so the record says what fraction of the
	// machine's arithmetic the model reached.
	Peak bool

	// Detect sets the engine's straggler and stall detectors (what
	// counts as a straggler, how long a stall must last); the zero value
	// is their defaults. What they find is in the record's operators.
	Detect pipeline.DetectOptions

	// Bus, when set, receives the pipeline's snapshots and telemetry.
	Bus *pipeline.EventBus
	// Warnf receives warnings meant for the user (oversubscription, an
	// auto device falling back to CPU); nil discards them.
	Warnf func(format string, args ...any)
	// Log receives the pipeline's own log (hot-path logging); nil keeps
	// it in a temporary file whose lines are counted.
	Log io.Writer
}

func (c *Config) scenario() string {
	if c.Scenario == "" {
		return DefaultScenario
	}
	return c.Scenario
}

func (c *Config) warnf(format string, args ...any) {
	if c.Warnf != nil {
		c.Warnf(format, args...)
	}
}

// ConfigError is every problem with a Config at once: unknown knobs, bad
// values, scenario file errors, a machine that cannot run it. Front ends map
// it to a usage error (exit 2); each problem names the setting in the
// layer's words (--batch for a flag, batch_size for a file or --set).
type ConfigError struct{ Problems []error }

func (e *ConfigError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap exposes the problems to errors.Is and errors.As.
func (e *ConfigError) Unwrap() []error { return e.Problems }

// DataError is a --data, --model or --images that names nothing usable.
type DataError struct {
	What string // "data", "model"
	Err  error
}

func (e *DataError) Error() string { return fmt.Sprintf("--%s: %v", e.What, e.Err) }

// Unwrap returns the underlying error.
func (e *DataError) Unwrap() error { return e.Err }
