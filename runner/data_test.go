package runner

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestData: the data a run reads is layered as a knob (a scenario's
// data:, then --set data=, then a typed --data, over Config.Data), and
// data_layout: shards reads the shards beside it.
func TestData(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "remote.yaml")
	if err := os.WriteFile(file, []byte("extends: optimized\ntitle: remote\ndata: s3://b/train/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	set := func(k, v string) []Setting { return []Setting{{Knob: k, Value: v}} }
	tests := []struct {
		name        string
		cfg         Config
		given, read string
		layer       Layer
		bad         bool
	}{
		{name: "default", cfg: Config{Data: "data/synth"}, given: "data/synth", read: "data/synth", layer: LayerDefault},
		{name: "scenario", cfg: Config{Data: "data/synth", Scenario: file}, given: "s3://b/train/", read: "s3://b/train/", layer: LayerScenario},
		{name: "set over scenario", cfg: Config{Data: "data/synth", Scenario: file, Set: set("data", "gs://g/p/")},
			given: "gs://g/p/", read: "gs://g/p/", layer: LayerSet},
		{name: "flag over set", cfg: Config{Data: "mine", Scenario: file, Set: set("data", "gs://g/p/"), Flags: []Setting{{Knob: "data", Value: "mine", Flag: "--data"}}},
			given: "mine", read: "mine", layer: LayerFlag},
		{name: "small-files", cfg: Config{Data: "s3://b/train/", Scenario: "small-files"}, given: "s3://b/train/", read: "s3://b/train-shards/", layer: LayerDefault},
		{name: "shards by --set", cfg: Config{Data: "data/synth", Set: set("data_layout", "shards")}, given: "data/synth", read: "data/synth-shards", layer: LayerDefault},
		{name: "shards of a scenario's data", cfg: Config{Data: "data/synth", Scenario: file, Set: set("data_layout", "shards")},
			given: "s3://b/train/", read: "s3://b/train-shards/", layer: LayerScenario},
		{name: "shards of a glob", cfg: Config{Data: "imgs/*.jpg", Scenario: "small-files"}, bad: true},
		{name: "shards of a list", cfg: Config{Data: "@list.txt", Scenario: "small-files"}, bad: true},
	}
	for _, tt := range tests {
		s, sources, err := LoadScenario(tt.cfg)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		given, read, err := Data(tt.cfg, s)
		var ce *ConfigError
		switch {
		case tt.bad:
			if !errors.As(err, &ce) {
				t.Errorf("%s: err %v, want a ConfigError", tt.name, err)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case given != tt.given || read != tt.read || sources["data"] != tt.layer:
			t.Errorf("%s: given %q, read %q from %s; want %q, %q from %s", tt.name, given, read, sources["data"], tt.given, tt.read, tt.layer)
		}
	}
}
