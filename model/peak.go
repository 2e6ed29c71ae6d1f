package model

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"

	"workbench/model/onnxpb"
)

// Peak is a measured compute peak: the float32 GEMM rate ONNX Runtime
// reaches on a device with given session options. It is a physical limit
// to hold a model's achieved GFLOP/s against, where the inference ceiling
// is only the same program without its pipeline.
type Peak struct {
	// GFLOPs is the median rate over Runs timed runs (2 FLOPs per
	// multiply-add), with the slowest and fastest run's rates.
	GFLOPs, MinGFLOPs, MaxGFLOPs float64
	Runs                         int
	// Size and Depth describe the probe: Depth chained [Size,Size] ×
	// [Size,Size] float32 MatMuls per run.
	Size, Depth int
	// Device, Threads, ORT and CPU are what the result depends on; they
	// form the cache key.
	Device  string
	Threads int
	ORT     string
	CPU     string
	// Measured is when; Cached is true when the value came from the cache.
	Measured time.Time
	Cached   bool `json:"-"`
}

// String is one line for summaries: "peak 61.2 GFLOP/s fp32 GEMM on cpu
// (56.0–63.1, 7 runs, 512³×8, intra-op 2)".
func (p Peak) String() string {
	return fmt.Sprintf("peak %.1f GFLOP/s fp32 GEMM on %s (%.1f–%.1f, %d runs, %d³×%d, intra-op %d)",
		p.GFLOPs, p.Device, p.MinGFLOPs, p.MaxGFLOPs, p.Runs, p.Size, p.Depth, p.Threads)
}

// Fraction is achieved GFLOP/s as a fraction of the peak; 0 when either
// is unknown.
func (p Peak) Fraction(achievedGFLOPs float64) float64 {
	if p.GFLOPs <= 0 || achievedGFLOPs <= 0 {
		return 0
	}
	return achievedGFLOPs / p.GFLOPs
}

// AchievedGFLOPs is the arithmetic rate of a run: images per second times
// 2 × GMACs per image.
func AchievedGFLOPs(imagesPerSec, gmacsPerImage float64) float64 {
	return imagesPerSec * 2 * gmacsPerImage
}

// peakProbe sizes the probe for a device: on a CPU, 512 keeps the operands
// in cache as a tuned model's layers mostly are; a GPU needs 4096 to fill
// its cores. Depth amortises the per-run overhead, and the graph makes its
// operand from a [1,Size] input and reduces its result to one number, so a GPU
// run copies a few kilobytes, not the matrices.
func peakProbe(d Device) (size, depth int) {
	if d.Kind == DeviceCUDA {
		return 4096, 8
	}
	return 512, 8
}

// peakGraph builds the probe: input [1,n] → Expand to [n,n] → depth ×
// MatMul by an n×n weight → ReduceSum to [1,1].
func peakGraph(n, depth int) ([]byte, error) {
	b := newGraphBuilder(1, FP32, false)
	b.initializer("w", 1/math.Sqrt(float64(n)), int64(n), int64(n))
	b.inits = append(b.inits, &onnxpb.TensorProto{
		Name: "shape", Dims: []int64{2}, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: []int64{int64(n), int64(n)},
	})
	x := b.node("Expand", "x0", []string{"x", "shape"})
	for i := range depth {
		x = b.node("MatMul", fmt.Sprintf("mm%d", i), []string{x, "w"})
	}
	b.node("ReduceSum", "y", []string{x}, attrInt("keepdims", 1))
	m := &onnxpb.ModelProto{
		IrVersion:   irVersion,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: "", Version: opsetVersion}},
		Graph: &onnxpb.GraphProto{
			Name: "gemm-peak", Node: b.nodes, Initializer: b.inits,
			Input:  []*onnxpb.ValueInfoProto{tensorValueInfo("x", 1, n)},
			Output: []*onnxpb.ValueInfoProto{tensorValueInfo("y", 1, 1)},
		},
	}
	return proto.Marshal(m)
}

// MeasurePeak runs the GEMM probe with opts (device, threads) and returns
// its rate: two untimed warm-up runs, then runs timed one by one until
// seven are done. Init must have succeeded.
func MeasurePeak(opts SessionOptions) (Peak, error) {
	if !initialised() {
		return Peak{}, errNotInitialised
	}
	n, depth := peakProbe(opts.Device)
	data, err := peakGraph(n, depth)
	if err != nil {
		return Peak{}, err
	}
	so, err := opts.ortOptions()
	if err != nil {
		return Peak{}, err
	}
	defer so.Destroy()
	sess, err := ort.NewDynamicAdvancedSessionWithONNXData(data, []string{"x"}, []string{"y"}, so)
	if err != nil {
		return Peak{}, fmt.Errorf("GEMM peak probe: %w", err)
	}
	defer sess.Destroy()
	in, err := ort.NewTensor(ort.NewShape(1, int64(n)), make([]float32, n))
	if err != nil {
		return Peak{}, err
	}
	defer in.Destroy()
	out, err := ort.NewTensor(ort.NewShape(1, 1), make([]float32, 1))
	if err != nil {
		return Peak{}, err
	}
	defer out.Destroy()
	const warm, timed = 2, 7
	flops := 2 * float64(n) * float64(n) * float64(n) * float64(depth)
	var rates []float64
	for i := range warm + timed {
		t0 := time.Now()
		if err := sess.Run([]ort.Value{in}, []ort.Value{out}); err != nil {
			return Peak{}, fmt.Errorf("GEMM peak probe: %w", err)
		}
		if i >= warm {
			rates = append(rates, flops/time.Since(t0).Seconds()/1e9)
		}
	}
	slices.Sort(rates)
	return Peak{
		GFLOPs: rates[len(rates)/2], MinGFLOPs: rates[0], MaxGFLOPs: rates[len(rates)-1], Runs: len(rates),
		Size: n, Depth: depth, Device: opts.Device.String(), Threads: opts.IntraOpThreads,
		ORT: Version(), CPU: cpuModel(), Measured: time.Now().UTC(),
	}, nil
}

// CachedPeak returns the peak for opts from the cache under CacheDir()/peak,
// measuring it (MeasurePeak) and storing it when there is none for this
// machine, device, thread count and ONNX Runtime version. A cache that
// cannot be written is not an error: the measurement is returned anyway.
func CachedPeak(opts SessionOptions) (Peak, error) {
	dir, err := CacheDir()
	if err != nil {
		return MeasurePeak(opts)
	}
	return cachedPeak(filepath.Join(dir, "peak"), opts)
}

func cachedPeak(dir string, opts SessionOptions) (Peak, error) {
	path := filepath.Join(dir, peakKey(opts)+".json")
	if data, err := os.ReadFile(path); err == nil {
		var p Peak
		if json.Unmarshal(data, &p) == nil && p.GFLOPs > 0 {
			p.Cached = true
			return p, nil
		}
	}
	p, err := MeasurePeak(opts)
	if err != nil {
		return p, err
	}
	if data, err := json.MarshalIndent(p, "", "  "); err == nil {
		if os.MkdirAll(dir, 0o755) == nil {
			tmp := path + ".tmp"
			if errors.Join(os.WriteFile(tmp, data, 0o644), os.Rename(tmp, path)) != nil {
				os.Remove(tmp)
			}
		}
	}
	return p, nil
}

// peakKey names the cache file for opts on this machine.
func peakKey(opts SessionOptions) string {
	n, depth := peakProbe(opts.Device)
	id := fmt.Sprintf("%s|%d|%s|%s|%d|%d|%d|%s", opts.Device, opts.IntraOpThreads, Version(), cpuModel(),
		runtime.NumCPU(), n, depth, opts.graphOpt())
	sum := sha256.Sum256([]byte(id))
	return fmt.Sprintf("gemm-%s-%x", strings.ReplaceAll(opts.Device.String(), ":", ""), sum[:6])
}

// cpuModel is /proc/cpuinfo's "model name" (Linux), else GOARCH.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
