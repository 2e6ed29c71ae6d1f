package model

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"

	"workbench/model/onnxpb"
)

// UntrainedNotice must accompany every summary or output that names a zoo
// model: the weights are seeded noise, so only the speed is meaningful.
const UntrainedNotice = "untrained weights: throughput is representative, labels are not"

// zooVersion names the generation of the zoo builders. It is part of every
// cached file name, so bump it whenever a builder's output bytes change
// (TestExportDeterministic fails when they do) and stale caches are never reused.
const zooVersion = "z1"

// ZooInfo describes a built-in model without building its weights.
type ZooInfo struct {
	Name string
	// Params counts every weight element, with BatchNorm folded into conv
	// biases.
	Params int64
	// GMACs is multiply-accumulates per image, in billions, counted from the
	// graph's shapes: conv Cout·Hout·Wout·(Cin/groups)·kh·kw plus gemm in·out.
	// Bias adds, activations and pooling are not counted. This is the
	// convention behind torchvision's "GFLOPS" column (4.09 for ResNet-50),
	// which is really GMACs.
	GMACs float64
	// InputShape is the per-batch input, e.g. "N×3×224×224".
	InputShape string
	Classes    int
	Precision  Precision
	// Description is one line for `workbench models`-style listings.
	Description string
}

// GFLOPs is floating-point operations per image in billions, counting a
// multiply-accumulate as two operations (GFLOPs = 2 × GMACs).
func (z ZooInfo) GFLOPs() float64 { return 2 * z.GMACs }

// zooSpec is one zoo entry: its shape, seed and builder.
type zooSpec struct {
	name    string
	desc    string
	seed    uint64
	prec    Precision
	c, h, w int
	classes int
	build   func(b *graphBuilder, s *zooSpec)
}

var zooSpecs = []*zooSpec{
	{
		name: "resnet50", seed: 50, prec: FP32, c: 3, h: 224, w: 224, classes: 1000,
		desc:  "torchvision ResNet-50 v1.5 topology, BatchNorm folded, fp32",
		build: func(b *graphBuilder, s *zooSpec) { buildResNet(b, s, true, [4]int{3, 4, 6, 3}) },
	},
	{
		name: "resnet18", seed: 18, prec: FP32, c: 3, h: 224, w: 224, classes: 1000,
		desc:  "torchvision ResNet-18 topology, BatchNorm folded, fp32",
		build: func(b *graphBuilder, s *zooSpec) { buildResNet(b, s, false, [4]int{2, 2, 2, 2}) },
	},
	{
		// The fp16 variants share their fp32 sibling's seed, so their
		// weights are the same numbers rounded to half precision.
		name: "resnet50-fp16", seed: 50, prec: FP16, c: 3, h: 224, w: 224, classes: 1000,
		desc:  "ResNet-50 with fp16 weights and compute (float32 in/out via Cast); fast on CUDA, slow on CPU",
		build: func(b *graphBuilder, s *zooSpec) { buildResNet(b, s, true, [4]int{3, 4, 6, 3}) },
	},
	{
		name: "resnet18-fp16", seed: 18, prec: FP16, c: 3, h: 224, w: 224, classes: 1000,
		desc:  "ResNet-18 with fp16 weights and compute (float32 in/out via Cast); fast on CUDA, slow on CPU",
		build: func(b *graphBuilder, s *zooSpec) { buildResNet(b, s, false, [4]int{2, 2, 2, 2}) },
	},
	{
		name: "tiny", seed: 1, prec: FP32, c: 3, h: 64, w: 64, classes: 10,
		desc:  "two 3×3 convolutions at 64×64, 10 classes: milliseconds per batch on one core",
		build: buildTiny,
	},
}

func zooSpecFor(name string) (*zooSpec, bool) {
	for _, s := range zooSpecs {
		if s.name == name {
			return s, true
		}
	}
	return nil, false
}

// ZooNames lists the zoo's model names, sorted.
func ZooNames() []string {
	names := make([]string, len(zooSpecs))
	for i, s := range zooSpecs {
		names[i] = s.name
	}
	sort.Strings(names)
	return names
}

// graph emits the spec's graph. A dry build has shapes and counts but no
// weight bytes.
func (s *zooSpec) graph(dry bool) (*onnxpb.ModelProto, graphStats) {
	b := newGraphBuilder(s.seed, s.prec, dry)
	s.build(b, s)
	return b.modelProto(s), b.stats
}

func (s *zooSpec) info(st graphStats) ZooInfo {
	return ZooInfo{
		Name:        s.name,
		Params:      st.params,
		GMACs:       float64(st.macs) / 1e9,
		InputShape:  fmt.Sprintf("N×%d×%d×%d", s.c, s.h, s.w),
		Classes:     s.classes,
		Precision:   s.prec,
		Description: s.desc,
	}
}

var zooInfos = sync.OnceValue(func() []ZooInfo {
	infos := make([]ZooInfo, 0, len(zooSpecs))
	for _, s := range zooSpecs {
		_, st := s.graph(true)
		infos = append(infos, s.info(st))
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return infos
})

// Zoo describes every built-in model, sorted by name. It builds no weights,
// so it is cheap (the descriptions are computed once per process); each call
// returns a fresh slice the caller may modify.
func Zoo() []ZooInfo {
	return append([]ZooInfo(nil), zooInfos()...)
}

// LookupZoo returns the ZooInfo for name, or false when name is not a zoo
// model.
func LookupZoo(name string) (ZooInfo, bool) {
	for _, z := range zooInfos() {
		if z.Name == name {
			return z, true
		}
	}
	return ZooInfo{}, false
}

// ExportZoo writes the named zoo model as an ONNX file (IR version 8, opset
// 17). Two exports of the same model are byte-identical. ResNet-50 is about
// 100 MB and takes a fraction of a second to generate.
func ExportZoo(name string, w io.Writer) error {
	data, err := marshalZoo(name)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

func marshalZoo(name string) ([]byte, error) {
	s, ok := zooSpecFor(name)
	if !ok {
		return nil, unknownZooError(name)
	}
	m, _ := s.graph(false)
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("zoo %s: encoding ONNX: %w", name, err)
	}
	return data, nil
}

func unknownZooError(name string) error {
	return fmt.Errorf("%q is not a zoo model (%s)", name, strings.Join(ZooNames(), ", "))
}
