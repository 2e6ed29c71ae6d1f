package model

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"workbench/model/onnxpb"
	"workbench/vision"
)

// variant is one way a user's export may take the tiny network: the input's
// layout and type, normalisation inside the graph, a fixed batch, extra
// outputs, a final Softmax, a recipe in the metadata.
type variant struct {
	name      string
	layout    vision.Layout
	in        onnxpb.TensorProto_DataType
	baked     bool // the graph normalises bytes itself
	fixed     int
	extra     string // "", "features" (a rank-4 second output) or "scores" (a second [N,K])
	softmax   bool
	outFP16   bool
	metadata  string // recorded under RecipeMetadataKey
	outputOpt string // ResolveOptions.Output
	tol       float64
}

// buildVariant writes the tiny network (same seed, so the same weights as
// the zoo's "tiny") behind the variant's input and before its outputs.
func buildVariant(t *testing.T, v variant) string {
	t.Helper()
	b := newGraphBuilder(1, FP32, false)
	x := inputName
	if v.in != onnxpb.TensorProto_FLOAT {
		x = b.node("Cast", "input_f32", []string{x}, attrInt("to", int64(onnxpb.TensorProto_FLOAT)))
	}
	if v.layout == vision.NHWC {
		x = b.node("Transpose", "to_nchw", []string{x}, attrInts("perm", 0, 3, 1, 2))
	}
	if v.baked {
		// (v/255 − mean)/std = (v − 255·mean)/(255·std), per channel.
		var m, s []float32
		for c := range 3 {
			m = append(m, 255*vision.ImageNetMean[c])
			s = append(s, 255*vision.ImageNetStd[c])
		}
		b.inits = append(b.inits,
			&onnxpb.TensorProto{Name: "mean255", Dims: []int64{1, 3, 1, 1}, DataType: int32(onnxpb.TensorProto_FLOAT), FloatData: m},
			&onnxpb.TensorProto{Name: "std255", Dims: []int64{1, 3, 1, 1}, DataType: int32(onnxpb.TensorProto_FLOAT), FloatData: s})
		x = b.node("Sub", "sub_mean", []string{x, "mean255"})
		x = b.node("Div", "div_std", []string{x, "std255"})
	}
	a := act{name: x, c: 3, h: 64, w: 64}
	a = b.relu("relu1", b.conv("conv1", a, 16, 3, 2, 1, 1))
	a = b.relu("relu2", b.conv("conv2", a, 32, 3, 2, 1, 1))
	pool := b.globalAvgPool("avgpool", a)
	flat := b.flatten("flatten", pool)
	out := b.gemm("fc", flat, 10).name
	if v.softmax {
		out = b.node("Softmax", "probs", []string{out}, attrInt("axis", 1))
	}
	if v.outFP16 {
		out = b.node("Cast", "logits16", []string{out}, attrInt("to", int64(onnxpb.TensorProto_FLOAT16)))
	}
	var n any = "N"
	if v.fixed > 0 {
		n = v.fixed
	}
	dims := []any{n, 3, 64, 64}
	if v.layout == vision.NHWC {
		dims = []any{n, 64, 64, 3}
	}
	outType := onnxpb.TensorProto_FLOAT
	if v.outFP16 {
		outType = onnxpb.TensorProto_FLOAT16
	}
	outputs := []*onnxpb.ValueInfoProto{typedValueInfo(out, outType, n, 10)}
	switch v.extra {
	case "features":
		outputs = append([]*onnxpb.ValueInfoProto{typedValueInfo(pool.name, onnxpb.TensorProto_FLOAT, n, 32, 1, 1)}, outputs...)
	case "scores":
		outputs = append([]*onnxpb.ValueInfoProto{typedValueInfo(flat.name, onnxpb.TensorProto_FLOAT, n, 32)}, outputs...)
	}
	m := &onnxpb.ModelProto{
		IrVersion:   irVersion,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: opsetVersion}},
		Graph: &onnxpb.GraphProto{
			Name: v.name, Node: b.nodes, Initializer: b.inits,
			Input:  []*onnxpb.ValueInfoProto{typedValueInfo(inputName, v.in, dims...)},
			Output: outputs,
		},
	}
	if v.metadata != "" {
		m.MetadataProps = []*onnxpb.StringStringEntryProto{{Key: RecipeMetadataKey, Value: v.metadata}}
	}
	return writeModelProto(t, m)
}

// classifyImages preprocesses the first n synthetic images by the model's
// recipe and classifies them.
func classifyImages(t *testing.T, m *Model, r vision.Recipe, n int) (pred []int32, conf []float32) {
	t.Helper()
	pre := vision.NewPreprocessor(r, 0)
	per := r.OutputLen()
	in := make([]float32, n*per)
	for i := range n {
		jpg, err := vision.SynthJPEG(1, i, 10)
		if err != nil {
			t.Fatal(err)
		}
		if err := pre.Process(jpg, in[i*per:(i+1)*per]); err != nil {
			t.Fatal(err)
		}
	}
	logits := make([]float32, n*m.NumClasses)
	if err := newTestSession(t, m, SessionOptions{IntraOpThreads: 1}).Run(in, n, logits); err != nil {
		t.Fatal(err)
	}
	var top [5]int32
	for i := range n {
		p, c, _ := Classify(logits[i*m.NumClasses:(i+1)*m.NumClasses], top[:])
		pred, conf = append(pred, p), append(conf, c)
	}
	return pred, conf
}

// TestVariantsMatchPlain is issue 24's acceptance test: every variant, given
// the recipe it asks for (equivalent preprocessing), predicts the same
// top-1 as the plain NCHW float32 model on the same synthetic images, with
// the confidence within tol: 1e-5 where the values reach the network
// unchanged, 1e-4 where the graph normalises bytes itself (the same
// numbers, computed in another order), 1e-2 where they pass through
// float16 (a half's 11-bit mantissa).
func TestVariantsMatchPlain(t *testing.T) {
	t.Parallel()
	needORT(t)
	f32, f16, u8 := onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_UINT8
	plain := variant{name: "plain", layout: vision.NCHW, in: f32}
	variants := []variant{
		{name: "nhwc-f32", layout: vision.NHWC, in: f32, tol: 1e-5},
		{name: "nchw-f16", layout: vision.NCHW, in: f16, tol: 1e-2},
		{name: "nhwc-f16", layout: vision.NHWC, in: f16, tol: 1e-2},
		{name: "nchw-u8", layout: vision.NCHW, in: u8, baked: true, tol: 1e-4},
		{name: "nhwc-u8", layout: vision.NHWC, in: u8, baked: true, tol: 1e-4},
		{name: "nchw-f32-baked", layout: vision.NCHW, in: f32, baked: true, tol: 1e-4,
			metadata: "resize=73 crop=64x64 scale=1 mean=0 std=1"},
		{name: "fixed-batch-1", layout: vision.NCHW, in: f32, fixed: 1, tol: 1e-5},
		{name: "two-outputs", layout: vision.NCHW, in: f32, extra: "features", tol: 1e-5},
		{name: "two-scores-named", layout: vision.NCHW, in: f32, extra: "scores", outputOpt: "fc", tol: 1e-5},
		{name: "softmax", layout: vision.NCHW, in: f32, softmax: true, tol: 1e-5},
		{name: "softmax-fp16-out", layout: vision.NHWC, in: f16, softmax: true, outFP16: true, tol: 1e-2},
	}
	const n = 6
	pm, err := ResolveWith(buildVariant(t, plain), ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantPred, wantConf := classifyImages(t, pm, pm.Recipe, n)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			m, err := ResolveWith(buildVariant(t, v), ResolveOptions{Output: v.outputOpt})
			if err != nil {
				t.Fatal(err)
			}
			if m.InputLayout != v.layout || m.FixedBatch != v.fixed {
				t.Errorf("inferred %s, fixed batch %d", m.InputShape(), m.FixedBatch)
			}
			if v.baked && m.Recipe.Scale != 1 {
				t.Errorf("recipe %s (%s): a baked model takes bytes", m.Recipe, m.RecipeSource)
			}
			if v.metadata != "" && !strings.Contains(m.RecipeSource, RecipeMetadataKey) {
				t.Errorf("recipe source %q, want the metadata", m.RecipeSource)
			}
			m, r, err := m.WithRecipe(m.Recipe)
			if err != nil {
				t.Fatal(err)
			}
			pred, conf := classifyImages(t, m, r, n)
			for i := range n {
				if pred[i] != wantPred[i] || math.Abs(float64(conf[i]-wantConf[i])) > v.tol {
					t.Errorf("image %d: class %d conf %.6f, plain model class %d conf %.6f (tolerance %g); recipe %s",
						i, pred[i], conf[i], wantPred[i], wantConf[i], v.tol, r)
				}
			}
			if v.fixed > 0 && !strings.Contains(m.BatchNote(n), fmt.Sprintf("runs as %d runs", n)) {
				t.Errorf("BatchNote(%d) = %q", n, m.BatchNote(n))
			}
		})
	}
}

// Two [N,K] outputs need --output; a name that is not an output, or not
// scores, says what there is; a recipe that contradicts the model names
// the flag to change.
func TestResolveChoices(t *testing.T) {
	t.Parallel()
	needORT(t)
	two := buildVariant(t, variant{name: "two", layout: vision.NCHW, in: onnxpb.TensorProto_FLOAT, extra: "scores"})
	u8 := buildVariant(t, variant{name: "u8", layout: vision.NHWC, in: onnxpb.TensorProto_UINT8, baked: true})
	tests := []struct {
		name, path string
		o          ResolveOptions
		want       string
	}{
		{"ambiguous outputs", two, ResolveOptions{}, `outputs "flatten", "fc" are all [N,K]; name the one to classify from with --output NAME`},
		{"no such output", two, ResolveOptions{Output: "prob"}, `--output "prob" names no output`},
		{"wrong dtype", u8, ResolveOptions{DType: vision.Float32}, "drop --dtype or set it to uint8"},
		{"wrong layout", u8, ResolveOptions{Layout: vision.NCHW}, "cannot be NCHW"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ResolveWith(tt.path, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	m, err := ResolveWith(u8, ResolveOptions{SkipFLOPs: true})
	if err != nil {
		t.Fatal(err)
	}
	if vision.PresetOf(m.Recipe) != "uint8-baked" {
		t.Errorf("a uint8 model's default recipe: %s", m.Recipe)
	}
	for set, want := range map[string]string{
		"preset=torchvision": "scale must be 1",
		"layout=NCHW":        "--layout NHWC or auto",
		"crop=96x96":         "--crop 64x64",
	} {
		k, v, _ := strings.Cut(set, "=")
		r, err := vision.ApplyRecipeKnobs(m.Recipe, map[string]string{k: v})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.WithRecipe(r); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", set, err, want)
		}
	}
}

// TestCountMACs holds the graph count to the builder's own: ResNet-50
// 4.09 GMACs, ResNet-18 1.81, equal to the multiply-add.
func TestCountMACs(t *testing.T) {
	needORT(t)
	for _, tt := range []struct {
		name  string
		gmacs string
	}{{"resnet18", "1.81"}, {"resnet50", "4.09"}, {"tiny", "0.00"}} {
		t.Run(tt.name, func(t *testing.T) {
			m := zooModel(t, tt.name)
			c, err := CountMACs(m)
			if err != nil {
				t.Fatal(err)
			}
			info, _ := LookupZoo(tt.name)
			if c.PerImageGMACs() != info.GMACs || fmt.Sprintf("%.2f", c.PerImageGMACs()) != tt.gmacs {
				t.Errorf("%s: %s, builder %.6f, want %s", tt.name, c.MACSummary(), info.GMACs, tt.gmacs)
			}
			if c.Uncounted["Relu"] == 0 {
				t.Errorf("Uncounted = %v, want Relu among them", c.Uncounted)
			}
		})
	}
}

// Attention's two MatMuls multiply activations by activations: A·Aᵀ and
// then by A again, for A = the image as [N, 64 tokens, 3].
func TestCountMACsAttention(t *testing.T) {
	t.Parallel()
	needORT(t)
	f32 := onnxpb.TensorProto_FLOAT
	g := &onnxpb.GraphProto{
		Name: "attention",
		Node: []*onnxpb.NodeProto{
			{OpType: "Reshape", Input: []string{"x", "shape"}, Output: []string{"seq"}}, // [N,3,64]
			{OpType: "Transpose", Input: []string{"seq"}, Output: []string{"tok"}, Attribute: []*onnxpb.AttributeProto{attrInts("perm", 0, 2, 1)}},
			{OpType: "MatMul", Input: []string{"tok", "seq"}, Output: []string{"scores"}}, // [N,64,64], K=3
			{OpType: "Softmax", Input: []string{"scores"}, Output: []string{"attn"}, Attribute: []*onnxpb.AttributeProto{attrInt("axis", -1)}},
			{OpType: "MatMul", Input: []string{"attn", "tok"}, Output: []string{"ctx"}}, // [N,64,3], K=64
			{OpType: "ReduceMean", Input: []string{"ctx"}, Output: []string{"y"}, Attribute: []*onnxpb.AttributeProto{attrInts("axes", 1), attrInt("keepdims", 0)}},
		},
		Initializer: []*onnxpb.TensorProto{{Name: "shape", Dims: []int64{3}, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: []int64{0, 3, 64}}},
		Input:       []*onnxpb.ValueInfoProto{valueInfo("x", f32, "N", 3, 8, 8)},
		Output:      []*onnxpb.ValueInfoProto{valueInfo("y", f32, "N", 3)},
	}
	m, err := ResolveWith(writeModel(t, g), ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := CountMACs(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(64*64*3 + 64*3*64); c.MACs != want || c.ByOp["MatMul"] != want || m.GMACs != float64(want)/1e9 {
		t.Errorf("MACs %d (%v), model GMACs %v; want %d", c.MACs, c.ByOp, m.GMACs, want)
	}
}

// The probe measures a positive rate once per key; the second call reads
// the cache.
func TestCachedPeak(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	opts := SessionOptions{IntraOpThreads: 1, Device: Device{Kind: DeviceCPU}}
	p, err := cachedPeak(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if p.Cached || !(p.GFLOPs > 0) || p.MinGFLOPs > p.GFLOPs || p.GFLOPs > p.MaxGFLOPs || p.Runs != 7 {
		t.Fatalf("first probe %+v", p)
	}
	t.Log(p)
	q, err := cachedPeak(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !q.Cached || q.GFLOPs != p.GFLOPs {
		t.Errorf("second call %+v, want the cached %v", q, p.GFLOPs)
	}
	if f := p.Fraction(p.GFLOPs / 4); math.Abs(f-0.25) > 1e-12 {
		t.Errorf("Fraction = %v", f)
	}
}

func TestProbabilitiesAndLabels(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		row  []float32
		prob bool
	}{
		{[]float32{0.1, 0.7, 0.2}, true},
		{[]float32{0.1, 0.7, 0.2005}, true},
		{[]float32{0.1, 0.7, 0.25}, false},
		{[]float32{-0.1, 0.9, 0.2}, false},
		{[]float32{1}, false},
		{[]float32{3, 1, -2}, false},
	} {
		if got := IsProbabilities(tt.row); got != tt.prob {
			t.Errorf("IsProbabilities(%v) = %v", tt.row, got)
		}
	}
	var top [5]int32
	if p, c, _ := Classify([]float32{0.1, 0.7, 0.2}, top[:]); p != 1 || c != 0.7 {
		t.Errorf("Classify of probabilities: %d %v, want 1 0.7", p, c)
	}
	path := filepath.Join(t.TempDir(), "labels.txt")
	os.WriteFile(path, []byte("cat\r\n\ndog\n\n"), 0o644)
	l, err := LoadLabels(path, 3)
	if err != nil || l.Name(2) != "dog" || l.Name(1) != "" || l.Name(3) != "" {
		t.Errorf("LoadLabels = %q, %v", l, err)
	}
	if _, err := LoadLabels(path, 1000); err == nil || !strings.Contains(err.Error(), "3 names, the model has 1000 classes") {
		t.Errorf("count mismatch: %v", err)
	}
}
