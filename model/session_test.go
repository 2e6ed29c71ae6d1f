package model

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"workbench/model/onnxpb"
)

func TestParseDevice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Device
		wantErr bool
	}{
		{"cpu", Device{Kind: DeviceCPU}, false},
		{"CPU", Device{Kind: DeviceCPU}, false},
		{"cuda", Device{Kind: DeviceCUDA}, false},
		{"cuda:1", Device{Kind: DeviceCUDA, ID: 1}, false},
		{"auto", Device{Kind: DeviceAuto}, false},
		{"cuda:-1", Device{}, true},
		{"cuda:x", Device{}, true},
		{"gpu", Device{}, true},
		{"", Device{}, true},
	}
	for _, tt := range tests {
		got, err := ParseDevice(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDevice(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil {
			if back, _ := ParseDevice(got.String()); back != got {
				t.Errorf("ParseDevice(%q).String() = %q does not parse back", tt.in, got)
			}
		}
	}
}

func TestSessionOptionsString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		opts SessionOptions
		want string
	}{
		{
			SessionOptions{IntraOpThreads: 2, InterOpThreads: 1, GraphOptimization: "all", Device: Device{Kind: DeviceCPU}},
			"intra-op 2, inter-op 1, graph opt all, provider CPU",
		},
		{
			SessionOptions{},
			"intra-op ORT default, inter-op ORT default, graph opt all, provider CPU",
		},
		{
			SessionOptions{IntraOpThreads: 1, DisableSpinning: true, GraphOptimization: "disabled"},
			"intra-op 1, inter-op ORT default, no spinning, graph opt disabled, provider CPU",
		},
		{
			SessionOptions{IntraOpThreads: 4, InterOpThreads: 1, Device: Device{Kind: DeviceCUDA, ID: 1},
				CUDA: CUDAOptions{ConvAlgoSearch: "HEURISTIC", DisableTF32: true}},
			"intra-op 4, inter-op 1, graph opt all, provider CUDA:1 (conv algo HEURISTIC, tf32 off)",
		},
	}
	for _, tt := range tests {
		if got := tt.opts.String(); got != tt.want {
			t.Errorf("String() = %q\nwant         %q", got, tt.want)
		}
	}
}

func TestSessionOptionsValidate(t *testing.T) {
	t.Parallel()
	if errs := DefaultSessionOptions().Validate(); len(errs) != 0 {
		t.Errorf("DefaultSessionOptions().Validate() = %v", errs)
	}
	bad := SessionOptions{IntraOpThreads: -1, InterOpThreads: -2, GraphOptimization: "max", Device: Device{Kind: DeviceAuto}}
	if errs := bad.Validate(); len(errs) != 4 {
		t.Errorf("Validate() found %d problems, want all 4: %v", len(errs), errs)
	}
}

func TestCUDAProviderOptions(t *testing.T) {
	t.Parallel()
	got := CUDAOptions{}.ProviderOptions(2)
	want := map[string]string{
		"device_id": "2", "cudnn_conv_algo_search": "EXHAUSTIVE", "arena_extend_strategy": "kNextPowerOfTwo",
		"do_copy_in_default_stream": "1", "use_tf32": "1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("zero CUDAOptions: %s = %q, want %q", k, got[k], v)
		}
	}
	flipped := CUDAOptions{SeparateCopyStream: true, DisableTF32: true, ArenaExtendStrategy: "kSameAsRequested"}.ProviderOptions(0)
	if flipped["do_copy_in_default_stream"] != "0" || flipped["use_tf32"] != "0" || flipped["arena_extend_strategy"] != "kSameAsRequested" {
		t.Errorf("flipped options not applied: %v", flipped)
	}
}

// randomImages returns n images of m's shape with N(0,1) pixels, as the
// normalised output of preprocessing would roughly be.
func randomImages(m *Model, n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*m.ImageElems())
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func checkLogits(t *testing.T, logits []float32, n, k int) {
	t.Helper()
	for i, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 1e4 {
			t.Fatalf("logit %d = %v: activations exploded", i, v)
		}
	}
	row0 := logits[:k]
	allEqual := true
	for _, v := range row0[1:] {
		allEqual = allEqual && v == row0[0]
	}
	if allEqual {
		t.Errorf("row 0 logits are all %v: activations vanished", row0[0])
	}
	if n > 1 && slicesEqual(row0, logits[k:2*k]) {
		t.Errorf("two different images gave identical logits")
	}
}

func slicesEqual(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func newTestSession(t *testing.T, m *Model, opts SessionOptions) *Session {
	t.Helper()
	s, err := NewSession(m, opts)
	if err != nil {
		t.Fatalf("NewSession(%s): %v", m.Name, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestRunTiny(t *testing.T) {
	t.Parallel()
	needORT(t)
	m := zooModel(t, "tiny")
	if !m.Zoo || m.Notice() != UntrainedNotice || m.InputH != 64 || m.NumClasses != 10 || m.FixedBatch != 0 {
		t.Errorf("tiny resolved to %+v", m)
	}
	s := newTestSession(t, m, SessionOptions{IntraOpThreads: 1})
	if s.LoadTime() <= 0 {
		t.Errorf("LoadTime = %v", s.LoadTime())
	}
	const n = 8
	in := randomImages(m, n, 7)
	logits := make([]float32, n*m.NumClasses+3) // longer than needed is fine
	if err := s.Run(in, n, logits); err != nil {
		t.Fatal(err)
	}
	checkLogits(t, logits[:n*m.NumClasses], n, m.NumClasses)
	again := make([]float32, n*m.NumClasses)
	if err := s.Run(in, n, again); err != nil {
		t.Fatal(err)
	}
	if !slicesEqual(again, logits[:n*m.NumClasses]) {
		t.Errorf("the same batch gave different logits")
	}

	for _, tt := range []struct {
		name   string
		in     []float32
		n      int
		logits []float32
		want   string
	}{
		{"short input", in[:len(in)-1], n, logits, "input has"},
		{"short logits", in, n, logits[:n*m.NumClasses-1], "logits has room"},
		{"no images", in, 0, logits, "0 images"},
	} {
		if err := s.Run(tt.in, tt.n, tt.logits); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Run = %v, want error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestClosedSession(t *testing.T) {
	t.Parallel()
	needORT(t)
	m := zooModel(t, "tiny")
	s, err := NewSession(m, SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := s.Run(randomImages(m, 1, 1), 1, make([]float32, 10)); err == nil {
		t.Errorf("Run on a closed session succeeded")
	}
}

// writeModel encodes g with the zoo's versions into a temporary .onnx file.
func writeModel(t *testing.T, g *onnxpb.GraphProto) string {
	t.Helper()
	return writeModelProto(t, &onnxpb.ModelProto{
		IrVersion:   irVersion,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: opsetVersion}},
		Graph:       g,
	})
}

// writeModelProto writes m into the test's temporary folder as
// <graph name>.onnx and returns the path.
func writeModelProto(t *testing.T, m *onnxpb.ModelProto) string {
	t.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), m.GetGraph().GetName()+".onnx")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func valueInfo(name string, elem onnxpb.TensorProto_DataType, dims ...any) *onnxpb.ValueInfoProto {
	vi := tensorValueInfo(name, dims...)
	vi.Type.GetTensorType().ElemType = int32(elem)
	return vi
}

// TestFixedBatch runs tiny re-declared with a fixed batch of 4 on 10 images:
// Run must split 4+4+2 (padding the last chunk) and match the dynamic model.
func TestFixedBatch(t *testing.T) {
	t.Parallel()
	needORT(t)
	dyn := zooModel(t, "tiny")
	s, _ := zooSpecFor("tiny")
	g, _ := s.graph(false)
	g.Graph.Name = "tiny-b4"
	g.Graph.Input[0] = valueInfo("input", onnxpb.TensorProto_FLOAT, 4, 3, 64, 64)
	g.Graph.Output[0] = valueInfo("logits", onnxpb.TensorProto_FLOAT, 4, 10)
	path := writeModel(t, g.Graph)

	fixed, err := Resolve(path)
	if err != nil {
		t.Fatal(err)
	}
	if fixed.FixedBatch != 4 || fixed.Zoo || fixed.Notice() != "" || fixed.Name != "tiny-b4.onnx" ||
		fixed.Params != dyn.Params || fixed.Precision != FP32 || fixed.InputH != 64 || fixed.NumClasses != 10 {
		t.Errorf("Resolve(%s) = %+v", path, fixed)
	}

	const n = 10
	in := randomImages(dyn, n, 3)
	want := make([]float32, n*10)
	if err := newTestSession(t, dyn, SessionOptions{IntraOpThreads: 1}).Run(in, n, want); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, n*10)
	if err := newTestSession(t, fixed, SessionOptions{IntraOpThreads: 1}).Run(in, n, got); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Fatalf("image %d class %d: fixed-batch logit %v, dynamic %v", i/10, i%10, got[i], want[i])
		}
	}
}

func TestResolveRejectsWrongIO(t *testing.T) {
	t.Parallel()
	needORT(t)
	identity := func(name string, in, out *onnxpb.ValueInfoProto) *onnxpb.GraphProto {
		return &onnxpb.GraphProto{
			Name:   name,
			Node:   []*onnxpb.NodeProto{{OpType: "Identity", Input: []string{in.Name}, Output: []string{out.Name}}},
			Input:  []*onnxpb.ValueInfoProto{in},
			Output: []*onnxpb.ValueInfoProto{out},
		}
	}
	f32, i64 := onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT64
	tests := []struct {
		name  string
		graph *onnxpb.GraphProto
		found string
	}{
		{"mnist", identity("mnist", valueInfo("x", f32, "N", 1, 28, 28), valueInfo("y", f32, "N", 1, 28, 28)),
			`input is "x": float32 [-1 1 28 28]`},
		{"int64", identity("int64", valueInfo("x", i64, "N", 3, 224, 224), valueInfo("y", i64, "N", 3, 224, 224)),
			`input is "x": int64 [-1 3 224 224]`},
		{"dynamic-size-no-scores", identity("dyn", valueInfo("x", f32, "N", 3, "H", "W"), valueInfo("y", f32, "N", 3, "H", "W")),
			`no output is [N,K] scores: ["y": float32 [-1 3 -1 -1]]`},
		{"not-logits", identity("feat", valueInfo("x", f32, "N", 3, 8, 8), valueInfo("y", f32, "N", 3, 8, 8)),
			`no output is [N,K] scores: ["y": float32 [-1 3 8 8]]`},
		{"ambiguous-layout", identity("amb", valueInfo("x", f32, "N", 3, 5, 3), valueInfo("y", f32, "N", 3, 5, 3)),
			`could be NCHW or NHWC; say which with --layout NCHW or --layout NHWC`},
		{"half-dynamic", identity("hd", valueInfo("x", f32, "N", 3, "H", 8), valueInfo("y", f32, "N", 3, "H", 8)),
			`H and W must both be fixed or both dynamic`},
		{"two-inputs", &onnxpb.GraphProto{
			Name:   "two",
			Node:   []*onnxpb.NodeProto{{OpType: "Add", Input: []string{"a", "b"}, Output: []string{"y"}}},
			Input:  []*onnxpb.ValueInfoProto{valueInfo("a", f32, "N", 10), valueInfo("b", f32, "N", 10)},
			Output: []*onnxpb.ValueInfoProto{valueInfo("y", f32, "N", 10)},
		}, `has 2 inputs ["a": float32 [-1 10], "b": float32 [-1 10]]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeModel(t, tt.graph)
			m, err := Resolve(path)
			if err == nil {
				t.Fatalf("Resolve(%s) = %+v, want an error", tt.name, m)
			}
			for _, want := range []string{path, tt.found, needIO} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\nlacks %q", err, want)
				}
			}
		})
	}
}

func TestResolveNames(t *testing.T) {
	t.Parallel()
	needORT(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.onnx")
	if err := os.WriteFile(garbage, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want string
	}{
		{"resnet51", `"resnet51" is neither a zoo model (resnet18, resnet18-fp16, resnet50, resnet50-fp16, tiny)`},
		{filepath.Join(dir, "missing.onnx"), "missing.onnx: no such file"},
		{dir, "is a folder"},
		{garbage, "ONNX Runtime cannot load it"},
	}
	for _, tt := range tests {
		if _, err := Resolve(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Resolve(%q) = %v, want error containing %q", tt.in, err, tt.want)
		}
	}
}

func TestResolveZooCaches(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cache := func() (string, error) { return dir, nil }
	a, err := resolve("tiny", cache, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "models", "tiny-"+zooVersion+".onnx"); a.Path != want {
		t.Errorf("Path = %s, want %s", a.Path, want)
	}
	before, err := os.Stat(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := resolve("tiny", cache, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(b.Path)
	if !os.SameFile(before, after) {
		t.Errorf("second Resolve rewrote the cached file")
	}
	left, _ := filepath.Glob(filepath.Join(dir, "models", "*.tmp"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestResNet18Logits runs the real ResNet-18 once: without BatchNorm, the
// Fixup-style scaling must keep its logits finite and varied, and the fp16
// variant must compute nearly the same function.
func TestResNet18Logits(t *testing.T) {
	t.Parallel()
	needORT(t)
	m := zooModel(t, "resnet18")
	const n = 2
	in := randomImages(m, n, 18)
	logits := make([]float32, n*m.NumClasses)
	if err := newTestSession(t, m, DefaultSessionOptions()).Run(in, n, logits); err != nil {
		t.Fatal(err)
	}
	checkLogits(t, logits, n, m.NumClasses)

	h := zooModel(t, "resnet18-fp16")
	half := make([]float32, n*h.NumClasses)
	if err := newTestSession(t, h, DefaultSessionOptions()).Run(in, n, half); err != nil {
		t.Fatal(err)
	}
	// Tolerance: fp16 keeps an 11-bit significand, so one rounding is off by
	// at most 2^-11 ≈ 4.9e-4 of the value. The graph rounds its weights once
	// and its activations at about 20 layer boundaries; even if every
	// rounding added up, the logits would stay within 20 × 4.9e-4 ≈ 1% of the
	// largest, so 2% leaves a 2× margin, while a wrong graph (other weights,
	// a missing layer) moves logits by whole units. Measured on ORT 1.30.0
	// CPU: 3.8e-4, one rounding's worth.
	var maxAbs, maxDiff float64
	for i := range logits {
		maxAbs = max(maxAbs, math.Abs(float64(logits[i])))
		maxDiff = max(maxDiff, math.Abs(float64(logits[i]-half[i])))
	}
	t.Logf("fp16 vs fp32: max |diff| %.5f, largest |logit| %.4f, ratio %.5f", maxDiff, maxAbs, maxDiff/maxAbs)
	if maxDiff > 0.02*maxAbs {
		t.Errorf("fp16 logits differ from fp32 by up to %.4f (largest logit %.3f)", maxDiff, maxAbs)
	}
}

func TestCUDAUnavailable(t *testing.T) {
	t.Parallel()
	lib := needORT(t)
	if _, err := os.Stat(filepath.Join(filepath.Dir(lib.Path), "libonnxruntime_providers_cuda.so")); err == nil {
		t.Skipf("%s has a CUDA provider beside it; this test covers the CPU-only build", lib.Path)
	}
	if err := ProbeCUDA(0); err == nil || !strings.Contains(err.Error(), "cannot use CUDA") {
		t.Errorf("ProbeCUDA(0) = %v, want an error", err)
	}
	m := zooModel(t, "tiny")
	s, err := NewSession(m, SessionOptions{IntraOpThreads: 1, Device: Device{Kind: DeviceCUDA}})
	if err == nil {
		s.Close()
		t.Fatal("NewSession on cuda:0 with the CPU-only library succeeded")
	}
	for _, want := range []string{"cuda:0", "cannot use CUDA", "--device cpu"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestSessionRejectsAuto(t *testing.T) {
	t.Parallel()
	needORT(t)
	_, err := NewSession(zooModel(t, "tiny"), SessionOptions{Device: Device{Kind: DeviceAuto}})
	if err == nil || !strings.Contains(err.Error(), "must be resolved") {
		t.Errorf("NewSession(auto) = %v, want an error", err)
	}
}

// TestSessionOptionVariants creates a session under each knob the scenarios
// turn and checks that none changes what the model computes.
func TestSessionOptionVariants(t *testing.T) {
	t.Parallel()
	needORT(t)
	m := zooModel(t, "tiny")
	const n = 3
	in := randomImages(m, n, 5)
	want := make([]float32, n*m.NumClasses)
	if err := newTestSession(t, m, SessionOptions{IntraOpThreads: 1}).Run(in, n, want); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []SessionOptions{
		{},
		DefaultSessionOptions(),
		{IntraOpThreads: 2, InterOpThreads: 2, DisableSpinning: true},
		{IntraOpThreads: 1, GraphOptimization: "disabled"},
		{IntraOpThreads: 1, GraphOptimization: "basic"},
		{IntraOpThreads: 1, GraphOptimization: "extended"},
	} {
		got := make([]float32, n*m.NumClasses)
		if err := newTestSession(t, m, opts).Run(in, n, got); err != nil {
			t.Errorf("%s: %v", opts, err)
			continue
		}
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-4 {
				t.Errorf("%s: logit %d = %v, want %v", opts, i, got[i], want[i])
				break
			}
		}
	}
}
