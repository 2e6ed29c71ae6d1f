package model

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"

	"workbench/model/onnxpb"
	"workbench/vision"
)

// MACCount is the multiply-accumulate count of one forward pass, from the
// graph and the shapes ONNX Runtime infers for it.
//
// The rule: a node counts the multiply-adds of its dense products, and
// nothing else.
//
//   - Conv: output elements × (Cin/group)·kh·kw, i.e. N·Cout·Hout·Wout·
//     (Cin/group)·kh·kw.
//   - ConvTranspose: input elements × (Cout/group)·kh·kw (each input element
//     is scattered through the kernel).
//   - Gemm and MatMul: output elements × the reduced dimension K, which
//     covers batched MatMuls, and so attention's Q·Kᵀ and softmax·V as
//     exported from PyTorch.
//   - Everything else (element-wise ops, activations, normalisation,
//     pooling, Softmax, Resize, reshapes) counts 0: they are bound by memory
//     bandwidth, not arithmetic, and together hold a few per cent of a CNN's
//     or a ViT's arithmetic. Bias adds are not counted either. This is the
//     convention behind torchvision's "GFLOPS" column (4.09 for ResNet-50),
//     which is really GMACs.
//
// Nodes inside subgraphs (If, Loop, Scan) are not visited; their op types
// are listed in Uncounted.
type MACCount struct {
	// MACs is the total for Batch images.
	MACs  int64
	Batch int
	// ByOp splits MACs by op type.
	ByOp map[string]int64
	// Uncounted maps the op types counted as 0 to how many nodes have
	// them.
	Uncounted map[string]int
}

// PerImageGMACs is MACs per image in billions.
func (c MACCount) PerImageGMACs() float64 {
	if c.Batch == 0 {
		return 0
	}
	return float64(c.MACs) / float64(c.Batch) / 1e9
}

// countedOps are the op types with a MAC rule.
var countedOps = []string{"Conv", "ConvTranspose", "Gemm", "MatMul"}

// CountMACs counts m's multiply-adds (see MACCount) for any ONNX file, zoo
// or user's. Shapes come from ONNX Runtime: a copy of the graph that also
// outputs every value a counted node reads or writes runs once on the CPU,
// with graph optimisation off so no node is fused away, on one blank batch
// (the fixed batch size, else 1) at the model's input size. It costs about
// one forward pass, and needs Init.
func CountMACs(m *Model) (MACCount, error) {
	if !initialised() {
		return MACCount{}, errNotInitialised
	}
	pb := readProto(m.Path)
	if pb == nil {
		return MACCount{}, fmt.Errorf("count MACs of %s: %s is not a readable ONNX protobuf", m.Name, m.Path)
	}
	g := pb.GetGraph()
	inits := map[string][]int64{}
	for _, t := range g.GetInitializer() {
		inits[t.Name] = t.Dims
	}
	batch := max(m.FixedBatch, 1)
	inShape := []int64{int64(batch), int64(m.InputC), int64(m.InputH), int64(m.InputW)}
	if m.layout() == vision.NHWC {
		inShape = []int64{int64(batch), int64(m.InputH), int64(m.InputW), int64(m.InputC)}
	}
	known := map[string][]int64{m.InputName: inShape}
	maps := func(name string) bool {
		_, a := inits[name]
		_, b := known[name]
		return a || b
	}

	// The values whose shapes the rules read.
	var want []string
	need := func(name string) {
		if name != "" && !maps(name) && !slices.Contains(want, name) {
			want = append(want, name)
		}
	}
	c := MACCount{Batch: batch, ByOp: map[string]int64{}, Uncounted: map[string]int{}}
	for _, n := range g.GetNode() {
		if !slices.Contains(countedOps, n.OpType) || n.Domain != "" {
			c.Uncounted[n.OpType]++
			continue
		}
		for i, name := range n.Input {
			if i < 2 {
				need(name)
			}
		}
		need(n.Output[0])
	}
	shapes, err := probeShapes(pb, m, want, inShape)
	if err != nil {
		return MACCount{}, fmt.Errorf("count MACs of %s: %w", m.Name, err)
	}
	for k, v := range inits {
		shapes[k] = v
	}
	shapes[m.InputName] = inShape

	for _, n := range g.GetNode() {
		if !slices.Contains(countedOps, n.OpType) || n.Domain != "" {
			continue
		}
		macs, err := nodeMACs(n, shapes)
		if err != nil {
			return MACCount{}, fmt.Errorf("count MACs of %s: node %s (%s): %w", m.Name, n.Name, n.OpType, err)
		}
		c.ByOp[n.OpType] += macs
		c.MACs += macs
	}
	return c, nil
}

// nodeMACs applies MACCount's rule to one node.
func nodeMACs(n *onnxpb.NodeProto, shapes map[string][]int64) (int64, error) {
	get := func(i int, name string) ([]int64, error) {
		s, ok := shapes[name]
		if !ok {
			return nil, fmt.Errorf("no shape for %s %q", []string{"input", "weight"}[min(i, 1)], name)
		}
		return s, nil
	}
	if len(n.Input) < 2 || len(n.Output) < 1 {
		return 0, errors.New("too few inputs or outputs")
	}
	x, err := get(0, n.Input[0])
	if err != nil {
		return 0, err
	}
	w, err := get(1, n.Input[1])
	if err != nil {
		return 0, err
	}
	y, ok := shapes[n.Output[0]]
	if !ok {
		return 0, fmt.Errorf("no shape for output %q", n.Output[0])
	}
	switch n.OpType {
	case "Conv":
		// W is [Cout, Cin/group, k...]: each output reads Cin/group·Πk.
		return elems(y) * elems(w) / max(w[0], 1), nil
	case "ConvTranspose":
		// W is [Cin, Cout/group, k...]: each input writes Cout/group·Πk.
		return elems(x) * elems(w) / max(w[0], 1), nil
	case "Gemm":
		k := x[len(x)-1]
		if attrInt64(n, "transA") != 0 {
			k = x[0]
		}
		return elems(y) * k, nil
	case "MatMul":
		return elems(y) * x[len(x)-1], nil
	}
	return 0, nil
}

func elems(s []int64) int64 {
	n := int64(1)
	for _, d := range s {
		n *= d
	}
	return n
}

func attrInt64(n *onnxpb.NodeProto, name string) int64 {
	for _, a := range n.Attribute {
		if a.Name == name {
			return a.I
		}
	}
	return 0
}

// probeShapes runs a copy of the graph that outputs the values named in
// want and returns their shapes.
func probeShapes(pb *onnxpb.ModelProto, m *Model, want []string, inShape []int64) (map[string][]int64, error) {
	shapes := map[string][]int64{}
	if len(want) == 0 {
		return shapes, nil
	}
	probe := proto.Clone(pb).(*onnxpb.ModelProto)
	g := probe.Graph
	outs := map[string]bool{}
	for _, o := range g.Output {
		outs[o.Name] = true
	}
	for _, name := range want {
		if !outs[name] {
			// ORT infers the type of an output declared by name alone.
			g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: name})
		}
	}
	data, err := proto.Marshal(probe)
	if err != nil {
		return nil, err
	}
	// External weights are found relative to the model file, so a model
	// that has them is probed from beside it.
	dir := ""
	if hasExternalData(pb) {
		dir = filepath.Dir(m.Path)
	}
	f, err := os.CreateTemp(dir, ".workbench-macs-*.onnx")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Close()); err != nil {
		return nil, err
	}
	return runProbe(f.Name(), m, want, inShape)
}

func hasExternalData(pb *onnxpb.ModelProto) bool {
	for _, t := range pb.GetGraph().GetInitializer() {
		if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
			return true
		}
	}
	return false
}

func runProbe(path string, m *Model, want []string, inShape []int64) (map[string][]int64, error) {
	opts := SessionOptions{IntraOpThreads: 0, GraphOptimization: "disabled"}
	so, err := opts.ortOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	sess, err := ort.NewDynamicAdvancedSession(path, []string{m.InputName}, want, so)
	if err != nil {
		return nil, err
	}
	defer sess.Destroy()
	probe := &Session{model: m, sess: sess}
	in, err := probe.inputValue(ort.NewShape(inShape...), make([]float32, elems(inShape)))
	if err != nil {
		return nil, err
	}
	defer in.Destroy()
	outs := make([]ort.Value, len(want))
	if err := sess.Run([]ort.Value{in}, outs); err != nil {
		return nil, err
	}
	shapes := map[string][]int64{}
	for i, v := range outs {
		if v == nil {
			continue
		}
		shapes[want[i]] = slices.Clone([]int64(v.GetShape()))
		v.Destroy()
	}
	return shapes, nil
}

// MACSummary is one line for summaries: "4.09 GMACs/image (Conv 4.09,
// Gemm 0.00)".
func (c MACCount) MACSummary() string {
	ops := make([]string, 0, len(c.ByOp))
	for op := range c.ByOp {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	s := fmt.Sprintf("%.2f GMACs/image (", c.PerImageGMACs())
	for i, op := range ops {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %.2f", op, float64(c.ByOp[op])/float64(max(c.Batch, 1))/1e9)
	}
	return s + ")"
}
