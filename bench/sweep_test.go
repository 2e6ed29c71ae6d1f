package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// TestClassifyError feeds ClassifyError the messages ONNX Runtime and CUDA
// really print, copied from public bug reports.
func TestClassifyError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		source string
		msg    string
		want   string
	}{
		{"microsoft/onnxruntime#20038 (CUDA, Triton backend)",
			`onnx runtime error 6: Non-zero status code returned while running Mul node. Name:'Mul_8702' Status Message: /workspace/onnxruntime/onnxruntime/core/framework/bfc_arena.cc:368 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 2830172160`,
			StatusOOM},
		{"DayBreak-u/chineseocr_lite#355 (CPU arena, Windows)",
			`Non-zero status code returned while running Conv node. Name:'347_nchwc' Status Message: D:\a\_work\1\s\onnxruntime\core\framework\bfc_arena.cc:330 onnxruntime::BFCArena::AllocateRawInternal Failed to allocate memory for requested buffer of size 285081600`,
			StatusOOM},
		{"hacksider/Deep-Live-Cam#584 (CUDA stream creation)",
			`[ONNXRuntimeError] : 1 : FAIL : D:\a\_work\1\s\onnxruntime\core\providers\cuda\cuda_call.cc:121 onnxruntime::CudaCall D:\a\_work\1\s\onnxruntime\core\providers\cuda\cuda_call.cc:114 onnxruntime::CudaCall CUDA failure 2: out of memory ; GPU=0 ; hostname=DESKTOP-QUBEI ; file=D:\a\_work\1\s\onnxruntime\core\providers\cuda\cuda_stream_handle.cc ; line=175 ; expr=cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);`,
			StatusOOM},
		{"microsoft/onnxruntime#10770 (TensorRT EP)",
			`[E:onnxruntime:Default, tensorrt_execution_provider.h:50 log] [2022-03-04 13:39:28 ERROR] ../rtSafe/safeRuntime.cpp (25) - Cuda Error in allocate: 2 (out of memory)`,
			StatusOOM},
		{"hacksider/Deep-Live-Cam#645 (cuBLAS handle)",
			`[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running Gemm node. Name:'fc1' Status Message: D:\a\_work\1\s\onnxruntime\core\providers\cuda\cuda_call.cc:121 onnxruntime::CudaCall D:\a\_work\1\s\onnxruntime\core\providers\cuda\cuda_call.cc:114 onnxruntime::CudaCall CUBLAS failure 3: CUBLAS_STATUS_ALLOC_FAILED ; GPU=0 ; hostname=TOBI ; file=D:\a\_work\1\s\onnxruntime\core\providers\cuda\cuda_execution_provider.cc ; line=168 ; expr=cublasCreate(&cublas_handle_);`,
			StatusOOM},
		// Not memory: a shape mismatch that merely says "space".
		{"triton-inference-server/onnxruntime_backend#95",
			`onnx runtime error 2: not enough space: expected 270080, got 261760`,
			StatusFailed},
		{"a model/input mismatch",
			`Got invalid dimensions for input: input for the following indices index: 0 Got: 8 Expected: 1`,
			StatusFailed},
		{"no GPU", `CUDA failure 100: no CUDA-capable device is detected`, StatusFailed},
	}
	for _, c := range cases {
		t.Run(c.source, func(t *testing.T) {
			t.Parallel()
			if got := ClassifyError(errors.New(c.msg)); got != c.want {
				t.Errorf("ClassifyError = %q, want %q", got, c.want)
			}
			wrapped := fmt.Errorf("cell batch=64: %w", errors.New(c.msg))
			if got := ClassifyError(wrapped); got != c.want {
				t.Errorf("wrapped: ClassifyError = %q, want %q", got, c.want)
			}
		})
	}
	if got := ClassifyError(fmt.Errorf("blocks in flight exceed 2GiB: %w", ErrOutOfMemory)); got != StatusOOM {
		t.Errorf("ErrOutOfMemory: got %q", got)
	}
	if got := ClassifyError(nil); got != StatusOK {
		t.Errorf("nil: got %q", got)
	}
}

func mustGrid(t *testing.T, dims ...string) Grid {
	t.Helper()
	var g Grid
	for _, d := range dims {
		name, spec, _ := strings.Cut(d, "=")
		vals, err := ParseRange(name, spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.AddInts(name, vals); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func atoi(s string) float64 { n, _ := strconv.Atoi(s); return float64(n) }

// fakeRunner turns a throughput surface into a CellFunc, counting calls.
type fakeRunner struct {
	surface func(cell map[string]string) (float64, error)
	calls   int
}

func (f *fakeRunner) run(_ context.Context, cell map[string]string, repeat int) (*Record, error) {
	f.calls++
	tput, err := f.surface(cell)
	if err != nil {
		return nil, err
	}
	b := atoi(cell["batch"])
	// Latency grows with the batch; small per-repeat jitter keeps medians honest.
	jitter := 1 + 0.001*float64(repeat-2)
	return &Record{Status: StatusOK, Throughput: tput * jitter, LatencyP95: b / tput, PeakRSS: int64(b) << 24}, nil
}

func TestSweepFailureSkipsLargerBatches(t *testing.T) {
	t.Parallel()
	g := mustGrid(t, "batch=16..256", "concurrency=1..2")
	f := &fakeRunner{surface: func(c map[string]string) (float64, error) {
		switch {
		case c["batch"] == "128" && c["concurrency"] == "2":
			return 0, errors.New("onnxruntime::BFCArena::AllocateRawInternal Failed to allocate memory for requested buffer of size 2830172160")
		case c["batch"] == "64" && c["concurrency"] == "1":
			return 0, errors.New("Got invalid dimensions for input")
		}
		return 100 * atoi(c["batch"]) * atoi(c["concurrency"]), nil
	}}
	res, err := Sweep(context.Background(), SweepOptions{Grid: g, Repeat: 2}, f.run)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range res.Cells {
		got[c.Label] = c.Status
	}
	want := map[string]string{
		"batch=16 concurrency=1": StatusOK, "batch=32 concurrency=1": StatusOK,
		"batch=64 concurrency=1": StatusFailed, "batch=128 concurrency=1": StatusSkipped, "batch=256 concurrency=1": StatusSkipped,
		"batch=16 concurrency=2": StatusOK, "batch=32 concurrency=2": StatusOK, "batch=64 concurrency=2": StatusOK,
		"batch=128 concurrency=2": StatusOOM, "batch=256 concurrency=2": StatusSkipped,
	}
	for label, st := range want {
		if got[label] != st {
			t.Errorf("%s: status %q, want %q", label, got[label], st)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d cells, want %d", len(got), len(want))
	}
	// 5 ok cells × 2 repeats + 2 failures (repeats stop at the first failure).
	if f.calls != 12 {
		t.Errorf("runner called %d times, want 12", f.calls)
	}
	if res.Visited != 7 || res.GridSize != 10 {
		t.Errorf("visited %d of %d, want 7 of 10", res.Visited, res.GridSize)
	}
	for _, r := range res.Records {
		if r.Status == StatusSkipped && !strings.Contains(r.Reason, "batch=128 failed (oom) at concurrency=2") &&
			!strings.Contains(r.Reason, "batch=64 failed (failed) at concurrency=1") {
			t.Errorf("skipped record %s: reason %q", r.Label, r.Reason)
		}
		if r.Status == StatusOOM && !strings.Contains(r.Reason, "Failed to allocate memory") {
			t.Errorf("oom record keeps its reason: %q", r.Reason)
		}
	}
	if b := res.Best(); b == nil || b.Label != "batch=64 concurrency=2" || b.Rank != 1 {
		t.Errorf("best = %+v, want batch=64 concurrency=2", b)
	}
	if len(res.Top) != 3 {
		t.Errorf("top has %d cells", len(res.Top))
	}
	for _, r := range res.Top[0].Records {
		if r.SatisfiesConstraints == nil || !*r.SatisfiesConstraints || r.Rank != 1 || r.Objective != "throughput" {
			t.Errorf("top record not marked: %+v", r)
		}
	}
}

func TestSweepConstraintsAndEarlyExit(t *testing.T) {
	t.Parallel()
	g := mustGrid(t, "batch=1..1024")
	f := &fakeRunner{surface: func(c map[string]string) (float64, error) {
		b := atoi(c["batch"])
		return 1000 * b / (b + 2), nil // saturates
	}}
	cons, err := ParseConstraints("peak_rss<2GiB")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Sweep(context.Background(), SweepOptions{Grid: g, Constraints: cons, EarlyExit: &DefaultEarlyExit}, f.run)
	if err != nil {
		t.Fatal(err)
	}
	var ran, early []string
	for _, c := range res.Cells {
		if c.Status == StatusSkipped && strings.HasPrefix(c.Reason, "early exit") {
			early = append(early, c.Params["batch"])
		} else {
			ran = append(ran, c.Params["batch"])
		}
	}
	// Where the rule must stop, worked out with the rule itself:
	var hist []float64
	stopAt := -1
	for i, b := range []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024} {
		hist = append(hist, 1000*b/(b+2))
		if DefaultEarlyExit.ShouldStop(res.Objective, hist) {
			stopAt = i
			break
		}
	}
	if stopAt < 0 {
		t.Fatal("surface never saturates; pick another")
	}
	if len(ran) != stopAt+1 || len(early) != 11-(stopAt+1) {
		t.Errorf("ran %v, early-exited %v; want %d run", ran, early, stopAt+1)
	}
	// peak_rss = batch·16MiB, so batch ≥ 128 breaks the constraint and the
	// best satisfying cell is batch=64 even though larger ones are faster.
	if b := res.Best(); b == nil || b.Params["batch"] != "64" || !b.SatisfiesConstraints {
		t.Errorf("best = %+v, want batch=64 satisfying constraints", b)
	}
	for _, c := range res.Cells {
		if c.OK() && atoi(c.Params["batch"]) >= 128 && (c.SatisfiesConstraints || len(c.Violations) != 1) {
			t.Errorf("%s: satisfies=%v violations=%v", c.Label, c.SatisfiesConstraints, c.Violations)
		}
	}
}

// surfaces are synthetic throughput landscapes shaped like real batch
// inference: rising then flat or falling with batch size, concurrency helping
// up to the core count, blocks mattering a little, and an OOM cliff.
var surfaces = []struct {
	name    string
	dims    []string
	surface func(c map[string]string) (float64, error)
}{
	{"saturating", []string{"batch=16..256", "concurrency=1..4", "blocks=8,32,128"},
		func(c map[string]string) (float64, error) {
			b, k, bl := atoi(c["batch"]), atoi(c["concurrency"]), atoi(c["blocks"])
			return 1000 * b / (b + 24) * math.Pow(math.Min(k, 2), 0.8) * (1 - 0.03*math.Abs(math.Log2(bl/32))), nil
		}},
	{"peaked", []string{"batch=8..512", "concurrency=1..8:1", "blocks=4,8,16,32,64"},
		func(c map[string]string) (float64, error) {
			b, k, bl := atoi(c["batch"]), atoi(c["concurrency"]), atoi(c["blocks"])
			lb := math.Log2(b) - 6
			return 800 * math.Exp(-lb*lb/6) * k / (1 + 0.08*k*k) * (1 - 0.02*math.Abs(math.Log2(bl/16))), nil
		}},
	{"oom-cliff", []string{"batch=16..1024", "concurrency=1..8:1", "blocks=8,16,32,64,128"},
		func(c map[string]string) (float64, error) {
			b, k, bl := atoi(c["batch"]), atoi(c["concurrency"]), atoi(c["blocks"])
			if b*k > 1024 {
				return 0, errors.New("CUDA failure 2: out of memory ; GPU=0")
			}
			return 500 * b / (b + 64) * math.Min(k, 4) / (1 + 0.05*math.Max(0, k-4)) * (1 - 0.01*math.Abs(math.Log2(bl/32))), nil
		}},
}

// TestQuickSearch checks the quick search's contract against brute force on
// each synthetic surface: within 5% of the best, visiting under 40%.
func TestQuickSearch(t *testing.T) {
	t.Parallel()
	for _, s := range surfaces {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			g := mustGrid(t, s.dims...)
			brute := &fakeRunner{surface: s.surface}
			full, err := Sweep(context.Background(), SweepOptions{Grid: g}, brute.run)
			if err != nil {
				t.Fatal(err)
			}
			quick := &fakeRunner{surface: s.surface}
			q, err := Sweep(context.Background(), SweepOptions{Grid: g, Search: SearchQuick}, quick.run)
			if err != nil {
				t.Fatal(err)
			}
			best, found := full.Best().Metrics[MetricThroughput], q.Best().Metrics[MetricThroughput]
			ratio := q.VisitRatio()
			t.Logf("%s: grid %d cells; brute force ran %d, best %.1f at %s; quick ran %d (%.0f%%), found %.1f at %s (%.1f%% of best)",
				s.name, g.Len(), full.Visited, best, full.Best().Label, q.Visited, 100*ratio, found, q.Best().Label, 100*found/best)
			if found < 0.95*best {
				t.Errorf("quick search found %.1f, brute force %.1f: more than 5%% short", found, best)
			}
			if ratio >= 0.40 {
				t.Errorf("quick search visited %d of %d cells (%.0f%%), want under 40%%", q.Visited, g.Len(), 100*ratio)
			}
			if quick.calls != q.Visited {
				t.Errorf("runner called %d times for %d visits", quick.calls, q.Visited)
			}
		})
	}
}

func TestSweepCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	g := mustGrid(t, "batch=1..8")
	n := 0
	res, err := Sweep(ctx, SweepOptions{Grid: g}, func(ctx context.Context, _ map[string]string, _ int) (*Record, error) {
		n++
		if n == 2 {
			cancel()
			return nil, ctx.Err()
		}
		return &Record{Throughput: 1}, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n != 2 || len(res.Records) != 1 {
		t.Errorf("ran %d cells, kept %d records; want 2 and 1", n, len(res.Records))
	}
}
