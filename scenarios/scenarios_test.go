package scenarios

import (
	"os"
	"strings"
	"testing"
)

func TestBuiltinLoadValidateResolve(t *testing.T) {
	t.Parallel()
	lib := Builtin()
	names := lib.Names()
	if len(names) < 17 || names[0] != "optimized" || names[1] != "slow" {
		t.Fatalf("Names = %v, want optimized, slow, then at least 15 mistakes", names)
	}
	for _, name := range names {
		raw, _ := lib.Get(name)
		s, err := lib.Resolve(raw)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if errs := s.Validate(); len(errs) > 0 {
			t.Errorf("%s: %v", name, errs)
		}
		if s.Title == "" || s.Covers == "" || s.Mistake == "" || s.Why == "" || s.Fix == "" || len(s.Expect) == 0 {
			t.Errorf("%s: missing teaching text (title, covers, mistake, why, fix, expect)", name)
		}
		for _, e := range s.Expect {
			if _, ok := Metric(e.Metric); !ok {
				t.Errorf("%s: expects unknown metric %s", name, e.Metric)
			}
		}
		if name != "optimized" && s.Extends != "optimized" {
			t.Errorf("%s extends %q, want optimized", name, s.Extends)
		}
	}
}

// TestOneKnobFlipped: each single-mistake scenario differs from optimized
// only in the knobs it sets itself, so its cost is its own.
func TestOneKnobFlipped(t *testing.T) {
	t.Parallel()
	lib := Builtin()
	opt, err := lib.Load("optimized")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"model-per-batch", "cpu-only", "per-image-forward", "tiny-batch", "oversubscribed",
		"tasks-not-actors", "transform-per-batch", "hot-path-logging", "row-objects", "json-output",
		"take-all", "tiny-blocks", "one-block", "preprocess-in-actor", "no-backpressure"}
	mistakes := lib.Mistakes()
	for _, w := range want {
		if !strings.Contains(","+strings.Join(mistakes, ",")+",", ","+w+",") {
			t.Errorf("scenario %s missing from Mistakes() = %v", w, mistakes)
		}
	}
	for _, name := range mistakes {
		s, err := lib.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		own := s.Knobs.SetKnobs()
		if len(own) == 0 {
			t.Errorf("%s sets no knob", name)
		}
		for _, k := range KnobNames() {
			changed := s.Knobs.Format(k) != opt.Knobs.Format(k)
			if changed && !s.Knobs.IsSet(k) {
				t.Errorf("%s: knob %s differs from optimized without being set", name, k)
			}
		}
	}
}

func TestValidationReportsEverythingWithLines(t *testing.T) {
	t.Parallel()
	src := `extends: optimized
title: broken
batch_size: 0
concurency: 2
concurrency: -1
num_gpus: 3
blocks: lots
memory_budget: 2GiB
`
	s, err := Parse("broken.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Builtin().Resolve(s)
	if err != nil {
		t.Fatal(err)
	}
	errs := append(r.Validate(), r.CheckEnv(1)...)
	text := Errors(errs).Error()
	for _, want := range []string{
		"broken.yaml:3: batch_size: 0 is out of range: batch_size must be at least 1",
		`broken.yaml:4: unknown key "concurency" (did you mean concurrency?)`,
		"broken.yaml:5: concurrency: -1 is out of range",
		`broken.yaml:7: blocks: "lots" is not a whole number`,
		"num_gpus 3 is more than the 1 GPU(s) this machine has",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("errors lack %q:\n%s", want, text)
		}
	}
	if len(errs) != 5 {
		t.Errorf("got %d problems, want 5:\n%s", len(errs), text)
	}
}

func TestParseRejectsNonMapping(t *testing.T) {
	t.Parallel()
	for _, src := range []string{"- a\n- b\n", "key: [unclosed\n"} {
		if _, err := Parse("x.yaml", []byte(src)); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", src)
		}
	}
}

func TestSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, value, want string
		bad              bool
	}{
		{"batch_size", "8", "8", false},
		{"batch_size", "0", "", true},
		{"concurrency", "[1, 4]", "[1, 4]", false},
		{"concurrency", "1-4", "[1, 4]", false},
		{"concurrency", "auto", "auto", false},
		{"concurrency", "-2", "", true},
		{"concurrency", "[4, 1]", "", true},
		{"blocks", "per-image", "per-image", false},
		{"intra_op_threads", "0", "0", false},
		{"intra_op_threads", "auto", "auto", false},
		{"memory_budget", "512MiB", "512MiB", false},
		{"memory_budget", "-1", "", true},
		{"device", "tpu", "", true},
		{"cpus", "fit", "fit", false},
		{"precision", "fp16", "fp16", false},
		{"decoder", "turbo", "turbo", false},
		{"strict", "yes", "true", false},
		{"batch", "8", "", true},
	}
	for _, tt := range tests {
		s, _ := Builtin().Load("optimized")
		err := s.Set(tt.key, tt.value)
		if (err != nil) != tt.bad {
			t.Errorf("Set(%s, %s) error = %v, want error %v", tt.key, tt.value, err, tt.bad)
			continue
		}
		if err == nil {
			if got := s.Knobs.Format(tt.key); got != tt.want {
				t.Errorf("Set(%s, %s) → %s, want %s", tt.key, tt.value, got, tt.want)
			}
			if !s.Knobs.IsSet(tt.key) {
				t.Errorf("Set(%s) did not mark the knob set", tt.key)
			}
		}
	}
}

// TestDataKey: data: is read from a file, inherited along extends unless
// a nearer file sets its own, replaced by Set (--set data=, a typed
// --data), named in the description, and refused empty.
func TestDataKey(t *testing.T) {
	t.Parallel()
	lib := Builtin()
	parent, err := Parse("remote.yaml", []byte("extends: optimized\ntitle: remote\ndata: s3://bucket/train/\n"))
	if err != nil {
		t.Fatal(err)
	}
	lib.Add(parent)
	tests := []struct {
		name, file, set, want, problem string
	}{
		{name: "own", file: "extends: optimized\ndata: shards/*.tar\n", want: "shards/*.tar"},
		{name: "inherited", file: "extends: remote\nbatch_size: 8\n", want: "s3://bucket/train/"},
		{name: "nearer wins", file: "extends: remote\ndata: gs://b/p/\n", want: "gs://b/p/"},
		{name: "set wins", file: "extends: remote\n", set: "@list.txt", want: "@list.txt"},
		{name: "none", file: "extends: optimized\n", want: ""},
		{name: "empty", file: "extends: optimized\ndata: \"\"\n", problem: "data: want where the images are"},
	}
	for _, tt := range tests {
		s, err := Parse(tt.name+".yaml", []byte(tt.file))
		if err != nil {
			t.Fatal(err)
		}
		r, err := lib.Resolve(s)
		if err != nil {
			t.Fatal(err)
		}
		if tt.set != "" {
			if err := r.Set(DataKey, tt.set); err != nil {
				t.Fatal(err)
			}
		}
		errs := r.Validate()
		switch {
		case tt.problem != "":
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.problem) {
				t.Errorf("%s: problems %v, want %q", tt.name, errs, tt.problem)
			}
		case len(errs) > 0:
			t.Errorf("%s: %v", tt.name, errs)
		case r.Data != tt.want:
			t.Errorf("%s: data %q, want %q", tt.name, r.Data, tt.want)
		}
	}
	if err := parent.Set(DataKey, " "); err == nil {
		t.Error("Set(data, blank) succeeded")
	}
	if d := parent.Description(); !strings.Contains(d, "data=s3://bucket/train/") {
		t.Errorf("Description() = %q, want the data named", d)
	}
}

func TestUnsetDistinctFromZero(t *testing.T) {
	t.Parallel()
	s, err := Parse("z.yaml", []byte("extends: optimized\ncpus: 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Knobs.IsSet("cpus") || s.Knobs.IsSet("batch_size") {
		t.Errorf("set knobs = %v, want only cpus", s.Knobs.SetKnobs())
	}
	r, _ := Builtin().Resolve(s)
	// optimized asks batch_size: auto, which the run path resolves.
	if r.Knobs.BatchSize != Auto {
		t.Errorf("unset batch_size resolved to %d, want optimized's auto (%d)", r.Knobs.BatchSize, Auto)
	}
}

func TestExtendsErrors(t *testing.T) {
	t.Parallel()
	lib := Builtin()
	s, _ := Parse("orphan.yaml", []byte("extends: nosuch\n"))
	if _, err := lib.Resolve(s); err == nil || !strings.Contains(err.Error(), `extends "nosuch"`) {
		t.Errorf("Resolve(orphan) = %v, want a missing-parent error", err)
	}
	a, _ := Parse("a.yaml", []byte("extends: b\n"))
	b, _ := Parse("b.yaml", []byte("extends: a\n"))
	lib.Add(a)
	lib.Add(b)
	if _, err := lib.Resolve(a); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("Resolve(a) = %v, want a cycle error", err)
	}
}

func TestDescription(t *testing.T) {
	t.Parallel()
	s, _ := Builtin().Load("tiny-batch")
	got := s.Description()
	want := "tiny-batch: Batch size 2 (optimized with batch_size=2); expect forward_passes ↑, throughput ↓"
	if got != want {
		t.Errorf("Description() = %q, want %q", got, want)
	}
}

// TestReadmeCoversEveryScenario keeps the README's table in step with the
// files.
func TestReadmeCoversEveryScenario(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range Builtin().Names() {
		if !strings.Contains(string(b), "| `"+n+"` |") {
			t.Errorf("README.md has no table row for %s", n)
		}
	}
	for _, m := range MetricNames() {
		if !strings.Contains(string(b), "`"+m+"`") {
			t.Errorf("README.md does not list metric %s", m)
		}
	}
}
