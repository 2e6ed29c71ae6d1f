package scenarios

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestErrorsGolden pins what a scenario author sees for each kind of
// mistake: FILE:LINE: message, the source line, and a caret under the spot.
// Run with -update after an intended change and read the diff.
func TestErrorsGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
	}{
		{"unknown-knob", "extends: optimized\nbatchsize: 8\n"},
		{"bad-value", "extends: optimized\nbatch_size: 0\n"},
		{"bad-type", "extends: optimized\nbatch_size: [8, 16]\n"},
		{"bad-concurrency-pair", "extends: optimized\nconcurrency: [4, 1]\n"},
		{"bad-extends", "title: Mine\nextends: optimised\nbatch_size: 8\n"},
		{"bad-expect", "extends: optimized\nexpect:\n  - metric: speed\n    direction: sideways\n"},
		{"syntax", "extends: optimized\nbatch_size: [8\n"},
		{"not-a-mapping", "- batch_size: 8\n"},
		{"several", `extends: optimized
title: Several mistakes, ünïcode included
batch_size: 0
concurency: 2
concurrency: -1
device: [cpu]
blocks: lots
memory_budget: 2GiB
batch_size: 4
kind: sïdeways
expect: {metric: throughput, direction: up, by: 2}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := scenarioErrors(tt.name+".yaml", tt.src)
			golden := filepath.Join("testdata", "errors", tt.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// scenarioErrors parses, resolves and validates src as a command would,
// and returns every message it produces, one error after another.
func scenarioErrors(name, src string) string {
	s, err := Parse(name, []byte(src))
	if err != nil {
		return err.Error() + "\n"
	}
	r, err := Builtin().Resolve(s)
	if err != nil {
		return err.Error() + "\n"
	}
	errs := r.Validate()
	if len(errs) == 0 {
		return "no problems\n"
	}
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error() + "\n")
	}
	return b.String()
}

// TestSourceErrorCaret checks the caret lands under the reported column
// whatever precedes it on the line.
func TestSourceErrorCaret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text string
		col  int
		want string
	}{
		{"batch_size: 0", 13, "      |             ^"},
		{"\tx: 1", 2, "      | \t^"},
		{"é: ü", 4, "      |    ^"},
		{"", 1, ""},
	}
	for _, tt := range tests {
		e := &SourceError{File: "f.yaml", Line: 3, Column: tt.col, Msg: "m", Text: tt.text}
		lines := strings.Split(e.Error(), "\n")
		if tt.text == "" {
			if len(lines) != 1 {
				t.Errorf("no text: got %q, want the head line only", e.Error())
			}
			continue
		}
		if len(lines) != 3 || lines[0] != "f.yaml:3: m" || lines[1] != "    3 | "+tt.text || lines[2] != tt.want {
			t.Errorf("Error() for %q col %d =\n%s\nwant caret line %q", tt.text, tt.col, e.Error(), tt.want)
		}
	}
}
