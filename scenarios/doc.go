// Package scenarios owns the runnable variants of the batch-inference
// pipeline: `optimized` (the right way), `slow` (the tutorial's wrong way,
// every mistake at once) and one scenario per mistake, each `optimized` with
// one knob flipped so that mistake's cost is measured on its own.
//
// Scenarios are YAML files embedded in the binary (see README.md for the
// table of which tutorial mistake each covers). A file holds teaching text
// (title, covers, mistake, why, fix, expect) and knobs; `extends` overlays a
// file on another. Knobs follow grafana/k6's config shape: unset is
// distinct from zero, defaults live in DefaultKnobs, Validate collects every
// problem at once (unknown keys with their line number), and Set accepts the
// same names and values as the files, for --set key=value.
//
// Every knob declares its flag once in the knob table (KnobFlags), so the
// CLI generates one flag per knob. Mapping a resolved scenario onto the
// engine is the run path's business (runner.Resolve), and nothing there is
// special-cased by scenario name: two scenarios whose knobs mean the same on
// a machine get the same plan, and the plan says so in a note. The workshop
// lesson (Library.Lesson) and the writer of derived scenario files
// (Derived) live here too.
package scenarios
