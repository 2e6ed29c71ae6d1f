package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"workbench/bench"
)

// checkpointRun runs the optimized scenario over the test images with
// batch 4, writing out with a checkpoint beside it.
func checkpointRun(t *testing.T, out string) *Plan {
	t.Helper()
	dir, err := testData()
	if err != nil {
		t.Skipf("no ORT or data: %v", err)
	}
	cfg := Config{Model: "tiny", Data: dir, Set: settings(map[string]string{"batch_size": "4"}),
		Out: out, Checkpoint: DefaultCheckpoint(out)}
	return testPlan(t, cfg, 0)
}

// TestDiskFullKeepsCheckpoint: a disk that fills mid-run stops the run with
// ENOSPC and a message naming the checkpoint, publishes nothing, and the
// rerun after space is freed resumes from the checkpoint. The disk is a
// 1 MiB tmpfs, so the test needs root.
func TestDiskFullKeepsCheckpoint(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; pipeline's TestCheckpointResume injects ENOSPC instead")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, 0) })
	// Leave room for the manifest, the partial output and a few
	// checkpoint blocks (a page each), not for the 12 blocks of the run.
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 1<<20-6*4096), 0o644); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	out := filepath.Join(mnt, "r.parquet")
	p := checkpointRun(t, out)
	rec, _, err := execute(context.Background(), p)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("run on a full disk: %v, want ENOSPC", err)
	}
	var re *ResumeError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "free some space") || !strings.Contains(err.Error(), p.Config.Checkpoint) {
		t.Errorf("error %q does not say to free space and rerun from the checkpoint", err)
	}
	if rec == nil || rec.Status != "failed" {
		t.Errorf("record %+v, want status failed", rec)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a partial output was published")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	p = checkpointRun(t, out)
	rec, _, err = execute(context.Background(), p)
	if err != nil {
		t.Fatalf("rerun after freeing space: %v", err)
	}
	if rec.FromCheckpoint == 0 || rec.FromCheckpoint+rec.Computed != 48 || rec.Images != 48 { // testData holds 48 images; a streamed listing leaves p.Images 0
		t.Errorf("rerun: %d from the checkpoint + %d computed = %d images, want some of %d resumed",
			rec.FromCheckpoint, rec.Computed, rec.Images, 48)
	}
	if _, err := os.Stat(p.Config.Checkpoint); !os.IsNotExist(err) {
		t.Errorf("checkpoint kept after a published run: %v", err)
	}
}

// TestUnwritableOutputFailsFirst: an output folder that cannot be written
// fails the run before any work, naming the folder.
func TestUnwritableOutputFailsFirst(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := checkpointRun(t, filepath.Join(file, "sub", "r.parquet"))
	rec, job, err := execute(context.Background(), p)
	var de *DataError
	if !errors.As(err, &de) || de.What != "out" || !strings.Contains(err.Error(), filepath.Join(file, "sub")) {
		t.Fatalf("err = %v, want a --out error naming the folder", err)
	}
	if rec != nil || job != nil {
		t.Errorf("the run started: record %v", rec)
	}
}

// BenchmarkCheckpointCost measures what --checkpoint costs: runs with and
// without it, interleaved (A B A B …) over the same images in one process,
// reported as the throughput ratio of their medians with its spread (goal:
// within 3%). Batch 4 commits a checkpoint file every 4 images, more often
// than any real run, so the figure is an upper bound.
//
//	go test ./runner -run '^$' -bench CheckpointCost -benchtime 8x
func BenchmarkCheckpointCost(b *testing.B) {
	dir, err := testData()
	if err != nil {
		b.Skipf("no ORT or data: %v", err)
	}
	// tiny at batch 4 commits a block every 4 images: the worst case, all
	// commit and no model; resnet18 at batch 32 is a real job's ratio.
	for _, c := range []struct{ model, batch string }{{"tiny", "4"}, {"resnet18", "32"}} {
		b.Run(c.model+"-batch"+c.batch, func(b *testing.B) {
			var with, without []float64
			for i := 0; i < b.N; i++ {
				for _, ck := range []bool{i%2 == 0, i%2 != 0} {
					out := filepath.Join(b.TempDir(), "r.parquet")
					cfg := Config{Model: c.model, Data: dir, Set: settings(map[string]string{"batch_size": c.batch}), Out: out}
					if ck {
						cfg.Checkpoint = DefaultCheckpoint(out)
					}
					rec, err := Run(context.Background(), cfg)
					if err != nil {
						b.Fatal(err)
					}
					if ck {
						with = append(with, rec.Throughput)
					} else {
						without = append(without, rec.Throughput)
					}
				}
			}
			r := bench.NewRatio(bench.Summarize(with, bench.DefaultConfidence), bench.Summarize(without, bench.DefaultConfidence))
			b.ReportMetric(r.Center, "ratio")
			b.ReportMetric(100*r.Spread(), "spread%")
			b.Logf("throughput with / without --checkpoint: %s (medians of %d runs each)", r, len(with))
		})
	}
}
