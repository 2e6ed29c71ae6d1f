package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"workbench/pipeline"
	"workbench/tui/backend"
)

// TestTUIWithoutData: the TUI opens where there are no images (watching a
// cluster's jobs needs none); the home screen says why, and only a run
// that needs images fails, naming --data and how to make a dataset
// (issue 21 item 1: it used to exit with "--data data/synth: no such
// folder" before any screen).
func TestTUIWithoutData(t *testing.T) {
	t.Parallel()
	fs := newFlagSet("tui", "", "", io.Discard)
	var f jobFlags
	f.register(fs)
	missing := filepath.Join(t.TempDir(), "nothing-here")
	if err := fs.Parse([]string{"--data", missing, "--model", "tiny"}); err != nil {
		t.Fatal(err)
	}
	b, err := newTUIBackend(&f, "slow", "optimized")
	if err != nil {
		t.Fatalf("the TUI did not open without data: %v", err)
	}
	if info := b.Info(); !strings.Contains(info.Dataset, "no images") {
		t.Errorf("home screen dataset %q, want it to say there are no images", info.Dataset)
	}
	_, err = b.Run(context.Background(), backend.RunSpec{Scenario: "optimized"}, pipeline.NewEventBus())
	if err == nil || !strings.Contains(err.Error(), "--data") || !strings.Contains(err.Error(), "data synth") {
		t.Errorf("run without data: %v, want an error naming --data and workbench data synth", err)
	}
}
