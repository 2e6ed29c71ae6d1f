package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"workbench/classify"
	"workbench/vision"
)

// buildWorkbench returns the binary under test: $WORKBENCH_BIN, or one built
// into dir with the Makefile's lazy-binding link flags.
func buildWorkbench(t *testing.T, dir string) string {
	t.Helper()
	if bin := os.Getenv("WORKBENCH_BIN"); bin != "" {
		return bin
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	bin := filepath.Join(dir, "workbench")
	build := exec.Command(goTool, "build", "-ldflags=-extldflags=-Wl,-z,lazy", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// prediction is one output row as the Parquet reader sees it.
type prediction struct {
	class   int32
	conf    uint32 // the float's bits: predictions must be identical
	top5    string
	errText string
}

// readPredictions reads a run's output with the Parquet reader (pqarrow),
// not the writer's own bookkeeping, and fails on a path seen twice.
func readPredictions(t *testing.T, path string) map[string]prediction {
	t.Helper()
	f, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pqarrow.NewFileReader(f, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := r.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	out := map[string]prediction{}
	for rr.Next() {
		b := rr.RecordBatch()
		col := func(name string) int { return b.Schema().FieldIndices(name)[0] }
		paths := b.Column(col("path")).(*array.String)
		cls := b.Column(col("predicted_class")).(*array.Int32)
		conf := b.Column(col("confidence")).(*array.Float32)
		top := b.Column(col("top5")).(*array.List)
		errs := b.Column(col("error")).(*array.String)
		for i := range paths.Len() {
			p := prediction{class: cls.Value(i), conf: math.Float32bits(conf.Value(i)), errText: errs.ValueStr(i)}
			if top.IsValid(i) {
				p.top5 = top.ValueStr(i)
			}
			if _, dup := out[paths.Value(i)]; dup {
				t.Fatalf("%s: %s appears twice", path, paths.Value(i))
			}
			out[paths.Value(i)] = p
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// crashKills is the number of SIGKILLs the harness deals: at least 20 in
// make test; scripts/crash-harness.sh asks for more with
// WORKBENCH_CRASH_KILLS.
func crashKills(t *testing.T) int {
	n := 20
	if s := os.Getenv("WORKBENCH_CRASH_KILLS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("WORKBENCH_CRASH_KILLS=%q: want a positive count", s)
		}
		n = v
	}
	return n
}

var fromCheckpoint = regexp.MustCompile(`checkpoint (\d+) rows from the checkpoint, (\d+) computed now`)

// TestCrashResume is the crash harness: workbench run over a few hundred
// images is killed with SIGKILL at random moments, at least 20 times, and
// rerun after each kill. Every output it publishes holds every input
// exactly once with the predictions of an uninterrupted run, read back by
// the Parquet reader; some reruns must have resumed from the checkpoint.
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildWorkbench(t, dir)
	images := 200
	if s := os.Getenv("WORKBENCH_CRASH_IMAGES"); s != "" {
		images, _ = strconv.Atoi(s)
	}
	data := filepath.Join(dir, "data")
	if _, err := vision.Synthesize(data, images, 11); err != nil {
		t.Fatal(err)
	}
	listing, err := classify.ListImages(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	args := func(out string, extra ...string) []string {
		return append([]string{"run", "--data", data, "--model", "tiny", "--out", out,
			"--ceiling=false", "--sample-hz", "0", "--batch", "16"}, extra...)
	}
	ref := filepath.Join(dir, "ref.parquet")
	t0 := time.Now()
	if out, err := exec.Command(bin, args(ref, "--checkpoint", "off")...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	full := time.Since(t0)
	want := readPredictions(t, ref)
	if len(want) != len(listing) {
		t.Fatalf("uninterrupted run wrote %d rows for %d images", len(want), len(listing))
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d; an uninterrupted run takes %v", seed, full)
	rng := rand.New(rand.NewPCG(seed, 1))
	out := filepath.Join(dir, "out", "r.parquet")
	ck := out + ".checkpoint"
	check := func(when string) {
		got := readPredictions(t, out)
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows, want %d (one per input)", when, len(got), len(want))
		}
		for p, w := range want {
			if g, ok := got[p]; !ok {
				t.Fatalf("%s: %s is missing", when, p)
			} else if g != w {
				t.Fatalf("%s: %s predicted %+v, the uninterrupted run %+v", when, p, g, w)
			}
		}
	}
	kills, completions, resumed := 0, 0, 0
	for kills < crashKills(t) {
		cmd := exec.Command(bin, args(out)...)
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Anywhere from start-up to most of a whole run: a rerun with
		// little left may finish first, and is checked.
		time.Sleep(time.Duration((0.1 + 0.8*rng.Float64()) * float64(full)))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		var ee *exec.ExitError
		killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled()
		if err != nil && !killed {
			t.Fatalf("run %d failed on its own: %v\n%s", kills+completions, err, log.String())
		}
		if m := fromCheckpoint.FindStringSubmatch(log.String()); m != nil && m[1] != "0" {
			resumed++
		}
		if killed {
			kills++
		}
		if _, err := os.Stat(out); err == nil {
			// Published: it must be whole and right, whether or not the
			// kill came after. Then start over, so later kills land on a
			// job in progress again.
			completions++
			check(fmt.Sprintf("after %d kills", kills))
			if err := os.Remove(out); err != nil {
				t.Fatal(err)
			}
			os.RemoveAll(ck)
		}
	}
	// The last job, resumed to its end.
	cmd := exec.Command(bin, args(out)...)
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("final resume: %v\n%s", err, log)
	}
	check("final resume")
	if m := fromCheckpoint.FindStringSubmatch(string(log)); m != nil && m[1] != "0" {
		resumed++
	}
	if _, err := os.Stat(ck); !os.IsNotExist(err) {
		t.Errorf("checkpoint %s left after a published run", ck)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	if !slices.Equal(names, []string{"r.parquet"}) {
		t.Errorf("the output folder holds %v, want only r.parquet (no partial files)", names)
	}
	if resumed == 0 {
		t.Errorf("no run resumed from the checkpoint in %d kills", kills)
	}
	t.Logf("%d kills, %d published outputs checked, %d runs resumed with rows from the checkpoint", kills, completions+1, resumed)
}
