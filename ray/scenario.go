package ray

// Mapping a scenario onto a Ray Data job: which knob becomes which
// map_batches argument, and which mistake each active mistake knob marks.

import (
	"fmt"
	"strings"
	"workbench/scenarios"
)

// PerImageStandIn is override_num_blocks for a scenario that reads one block
// per image when the image count cannot be counted here (remote --data and
// no --blocks). It is only large enough to show the tiny-blocks overhead.
const PerImageStandIn = 1000

// TinyBatchBelow is the batch size under which export marks the tiny-batch
// mistake: the tiny-batch scenario uses 2, optimized 32.
const TinyBatchBelow = 8

// SpecFromScenario maps a resolved scenario's knobs onto a job spec. The
// notes are said once on stderr: what the export could not carry over.
func SpecFromScenario(lib *scenarios.Library, s *scenarios.Scenario, prov map[string]string) (JobSpec, []string, error) {
	k := &s.Knobs
	spec := JobSpec{Name: s.Name, Title: s.Title, BatchSize: k.BatchSize, PreserveOrder: k.PreserveOrder}
	var notes []string
	if k.Concurrency.Min > 0 {
		spec.Concurrency = Autoscale(k.Concurrency.Min, max(k.Concurrency.Max, k.Concurrency.Min))
	} else {
		spec.Concurrency = Fixed(1)
		prov["concurrency"] += "; the scenario says auto (one actor per GPU), so 1 here: set --concurrency to the cluster's GPU count"
	}
	switch {
	case k.Device == "cpu":
		spec.NumGPUs = 0
	case k.NumGPUs == scenarios.Auto:
		spec.NumGPUs = 1
		prov["num_gpus"] += "; auto: one GPU per inference worker (use --num-gpus 0 on a CPU-only cluster)"
	default:
		spec.NumGPUs = k.NumGPUs
	}
	if spec.NumGPUs > 0 {
		spec.CUDAOptions = k.CUDAOptions().ProviderOptions(0)
	}
	spec.MaxTasksInFlightPerActor = k.InFlightPerActor
	if k.OutputFormat == "json" {
		spec.Format = FormatJSON
	}

	// mistakes maps each active mistake knob onto the ray mistake that
	// reproduces it, in the order the scenario files list them.
	add := func(id, extra string) {
		spec.Mistakes = append(spec.Mistakes, Mistake{ID: id, Comment: MistakeComment(lib, id, extra)})
	}
	if k.ModelPerBatch {
		add("model-per-batch", "")
	}
	if k.PerImageForward {
		add("per-image-forward", "")
	}
	if k.BatchSize < TinyBatchBelow {
		add("tiny-batch", "")
	}
	if k.Compute == "tasks" {
		add("tasks-not-actors", "")
	}
	if k.TransformPerBatch {
		add("transform-per-batch", "")
	}
	if k.HotPathLogging {
		add("hot-path-logging", "")
	}
	switch {
	case k.RowObjects && k.PreprocessInActor:
		// The script cannot do both: row-objects is a separate Dataset.map
		// stage, which preprocess-in-actor folds into inference.
		add("preprocess-in-actor", "rows are also converted one Python object at a time there (row-objects)")
		notes = append(notes, "row-objects and preprocess-in-actor are both set; the script preprocesses inside the inference stage, so row-objects is only mentioned")
	case k.RowObjects:
		add("row-objects", "")
	case k.PreprocessInActor:
		add("preprocess-in-actor", "")
	}
	if k.OutputFormat == "json" {
		add("json-output", "")
	}
	if k.TakeAll {
		add("take-all", "")
	}
	switch {
	case k.Blocks == scenarios.BlocksPerImage:
		spec.OverrideNumBlocks = PerImageStandIn
		add("tiny-blocks", fmt.Sprintf("the scenario reads one block per image, but the number of files is unknown from here, so %d stands in: set it to your file count", PerImageStandIn))
		prov["override_num_blocks"] += fmt.Sprintf("; one block per image, %d stands in for the unknown file count", PerImageStandIn)
	case k.Blocks == 1:
		spec.OverrideNumBlocks = 1
		add("one-block", "")
	case k.Blocks > 1:
		spec.OverrideNumBlocks = k.Blocks
	default:
		delete(prov, "override_num_blocks") // Ray Data picks
	}
	if !k.Backpressure {
		add("no-backpressure", "")
	}
	if k.CPUs == scenarios.CPUsFit {
		add("oversubscribed", "")
	}
	if k.Device == "cpu" {
		add("cpu-only", "")
	}
	return spec, notes, nil
}

// MistakeComment is the one-line description of mistake id: the title of the
// scenario that teaches it (its own `mistake` text is code, not a line),
// plus extra.
func MistakeComment(lib *scenarios.Library, id, extra string) string {
	var parts []string
	if ms, ok := lib.Get(id); ok && ms.Title != "" {
		parts = append(parts, ms.Title+" (see workbench scenarios show "+id+")")
	}
	if extra != "" {
		parts = append(parts, extra)
	}
	return strings.Join(strings.Fields(strings.Join(parts, "; ")), " ")
}

// HasMistake reports whether ms marks mistake id.
func HasMistake(ms []Mistake, id string) bool {
	for _, m := range ms {
		if m.ID == id {
			return true
		}
	}
	return false
}

func DeleteMistake(ms []Mistake, id string) []Mistake {
	out := ms[:0:0]
	for _, m := range ms {
		if m.ID != id {
			out = append(out, m)
		}
	}
	return out
}

// countImages counts the images under a local folder, 0 when data is not
// one (a URI, or a path that exists only on the cluster).
