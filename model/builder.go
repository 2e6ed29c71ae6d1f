package model

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"unsafe"

	"workbench/model/onnxpb"
)

// Precision is the element type of a zoo graph's weights and compute. The
// graph's input and output stay float32 in every precision, so the pipeline
// feeds all models the same tensors.
type Precision string

// The precisions the builder can emit.
const (
	FP32 Precision = "fp32"
	// FP16 stores weights as float16 and computes in float16, with a Cast
	// after the input and before the output. On CPU, ORT runs such graphs
	// through inserted casts (it has few fp16 CPU kernels); the gain is on
	// CUDA.
	FP16 Precision = "fp16"
)

// opsetVersion and irVersion are the ONNX versions every zoo graph declares.
const (
	opsetVersion = 17
	irVersion    = int64(onnxpb.Version_IR_VERSION) // 8
)

// Graph-wide value names.
const (
	inputName  = "input"
	outputName = "logits"
)

// graphStats is what the builder counts while it emits a graph; ZooInfo and
// the tests read it.
type graphStats struct {
	params    int64 // elements of all initializers
	macs      int64 // multiply-accumulates per image, conv + gemm
	convBias  int64 // elements of all Conv biases (= ΣC of folded BNs)
	convCount int
}

// act is an activation flowing through the graph: a value name and its
// per-image shape [c,h,w] (the batch dimension is implicit). After Flatten,
// h = w = 1.
type act struct {
	name    string
	c, h, w int
}

// graphBuilder emits ONNX nodes and initializers and tracks shapes, so that
// parameter and MAC counts are derived from the graph itself rather than
// typed in. With dry set it skips weight generation: Zoo() uses that to
// describe ResNet-50 without drawing 25M random numbers.
type graphBuilder struct {
	dry   bool
	prec  Precision
	rng   *rand.Rand
	nodes []*onnxpb.NodeProto
	inits []*onnxpb.TensorProto
	stats graphStats
}

func newGraphBuilder(seed uint64, prec Precision, dry bool) *graphBuilder {
	return &graphBuilder{
		dry:  dry,
		prec: prec,
		// A fixed PCG stream per model makes two exports byte-identical.
		rng: rand.New(rand.NewPCG(seed, 0x776f726b62656e63)), // "workbenc"
	}
}

func (b *graphBuilder) elemType() onnxpb.TensorProto_DataType {
	if b.prec == FP16 {
		return onnxpb.TensorProto_FLOAT16
	}
	return onnxpb.TensorProto_FLOAT
}

// initializer adds a weight tensor of the given dims whose elements are drawn
// from N(0, std²) (or are all zero when std is 0), stored in the builder's
// precision.
func (b *graphBuilder) initializer(name string, std float64, dims ...int64) {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	b.stats.params += n
	t := &onnxpb.TensorProto{Name: name, Dims: dims, DataType: int32(b.elemType())}
	if !b.dry {
		if b.prec == FP16 {
			w := make([]uint16, n)
			if std != 0 {
				for i := range w {
					w[i] = float32ToHalf(float32(b.rng.NormFloat64() * std))
				}
			}
			t.RawData = littleEndianBytes(w)
		} else {
			w := make([]float32, n)
			if std != 0 {
				for i := range w {
					w[i] = float32(b.rng.NormFloat64() * std)
				}
			}
			t.RawData = littleEndianBytes(w)
		}
	}
	b.inits = append(b.inits, t)
}

// littleEndianBytes is ONNX's raw_data encoding of w. On little-endian hosts
// (every platform ORT ships for) it reinterprets w's memory instead of
// encoding element by element, which keeps ResNet-50's 25M weights cheap
// even under the race detector.
func littleEndianBytes[T uint16 | float32](w []T) []byte {
	if len(w) == 0 {
		return []byte{}
	}
	size := int(unsafe.Sizeof(w[0]))
	if hostLittleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(w)*size)
	}
	return encodeLittleEndian(w)
}

// encodeLittleEndian is the portable path of littleEndianBytes.
func encodeLittleEndian[T uint16 | float32](w []T) []byte {
	var raw []byte
	for _, v := range w {
		switch v := any(v).(type) {
		case uint16:
			raw = binary.LittleEndian.AppendUint16(raw, v)
		case float32:
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
	}
	return raw
}

var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

func (b *graphBuilder) node(op, name string, inputs []string, attrs ...*onnxpb.AttributeProto) string {
	b.nodes = append(b.nodes, &onnxpb.NodeProto{
		OpType:    op,
		Name:      name,
		Input:     inputs,
		Output:    []string{name},
		Attribute: attrs,
	})
	return name
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: v}
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: v}
}

// conv adds Conv(k×k, stride, pad) with a bias — the form a convolution takes
// once the BatchNorm after it is folded in. Weights are He/Kaiming normal
// (fan-in, ReLU gain) times gain; gain < 1 tames residual branches.
func (b *graphBuilder) conv(name string, x act, cout, k, stride, pad int, gain float64) act {
	ho := (x.h+2*pad-k)/stride + 1
	wo := (x.w+2*pad-k)/stride + 1
	fanIn := x.c * k * k
	b.initializer(name+".weight", gain*math.Sqrt(2/float64(fanIn)), int64(cout), int64(x.c), int64(k), int64(k))
	b.initializer(name+".bias", 0, int64(cout))
	b.stats.macs += int64(cout) * int64(ho) * int64(wo) * int64(fanIn)
	b.stats.convBias += int64(cout)
	b.stats.convCount++
	out := b.node("Conv", name, []string{x.name, name + ".weight", name + ".bias"},
		attrInts("kernel_shape", int64(k), int64(k)),
		attrInts("strides", int64(stride), int64(stride)),
		attrInts("pads", int64(pad), int64(pad), int64(pad), int64(pad)),
		attrInts("dilations", 1, 1),
		attrInt("group", 1),
	)
	return act{name: out, c: cout, h: ho, w: wo}
}

func (b *graphBuilder) relu(name string, x act) act {
	x.name = b.node("Relu", name, []string{x.name})
	return x
}

func (b *graphBuilder) add(name string, x, y act) act {
	if x.c != y.c || x.h != y.h || x.w != y.w {
		panic(fmt.Sprintf("model: %s adds %dx%dx%d to %dx%dx%d", name, x.c, x.h, x.w, y.c, y.h, y.w))
	}
	x.name = b.node("Add", name, []string{x.name, y.name})
	return x
}

func (b *graphBuilder) maxPool(name string, x act, k, stride, pad int) act {
	x.name = b.node("MaxPool", name, []string{x.name},
		attrInts("kernel_shape", int64(k), int64(k)),
		attrInts("strides", int64(stride), int64(stride)),
		attrInts("pads", int64(pad), int64(pad), int64(pad), int64(pad)),
	)
	x.h = (x.h+2*pad-k)/stride + 1
	x.w = (x.w+2*pad-k)/stride + 1
	return x
}

func (b *graphBuilder) globalAvgPool(name string, x act) act {
	return act{name: b.node("GlobalAveragePool", name, []string{x.name}), c: x.c, h: 1, w: 1}
}

func (b *graphBuilder) flatten(name string, x act) act {
	return act{name: b.node("Flatten", name, []string{x.name}, attrInt("axis", 1)), c: x.c * x.h * x.w, h: 1, w: 1}
}

// gemm is a fully connected layer laid out like torch.nn.Linear: weight
// [out,in] used transposed.
func (b *graphBuilder) gemm(name string, x act, out int) act {
	b.initializer(name+".weight", 1/math.Sqrt(float64(x.c)), int64(out), int64(x.c))
	b.initializer(name+".bias", 0, int64(out))
	b.stats.macs += int64(x.c) * int64(out)
	return act{name: b.node("Gemm", name, []string{x.name, name + ".weight", name + ".bias"}, attrInt("transB", 1)), c: out, h: 1, w: 1}
}

// input returns the graph input as the first activation, cast to the compute
// precision when that is not float32.
func (b *graphBuilder) input(c, h, w int) act {
	x := act{name: inputName, c: c, h: h, w: w}
	if b.prec == FP16 {
		x.name = b.node("Cast", "input_fp16", []string{inputName}, attrInt("to", int64(onnxpb.TensorProto_FLOAT16)))
	}
	return x
}

// output routes the last activation to the float32 graph output "logits".
func (b *graphBuilder) output(x act) {
	last := b.nodes[len(b.nodes)-1]
	if last.Output[0] != x.name {
		panic("model: output must follow the node that produced it")
	}
	if b.prec == FP16 {
		b.node("Cast", outputName, []string{x.name}, attrInt("to", int64(onnxpb.TensorProto_FLOAT)))
		return
	}
	last.Output[0] = outputName
}

func tensorValueInfo(name string, dims ...any) *onnxpb.ValueInfoProto {
	return typedValueInfo(name, onnxpb.TensorProto_FLOAT, dims...)
}

// typedValueInfo is a tensor value of element type t whose dims are ints
// (fixed) or strings (symbolic).
func typedValueInfo(name string, t onnxpb.TensorProto_DataType, dims ...any) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		switch d := d.(type) {
		case string:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}
		case int:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{
		Name: name,
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: int32(t),
			Shape:    shape,
		}}},
	}
}

// modelProto wraps the emitted graph with input [N,c,h,w] and output
// [N,classes], both float32 with a dynamic batch dimension "N".
func (b *graphBuilder) modelProto(s *zooSpec) *onnxpb.ModelProto {
	return &onnxpb.ModelProto{
		IrVersion:       irVersion,
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: "", Version: opsetVersion}},
		ProducerName:    "workbench",
		ProducerVersion: zooVersion,
		DocString:       s.desc + " (" + UntrainedNotice + ")",
		Graph: &onnxpb.GraphProto{
			Name:        s.name,
			Node:        b.nodes,
			Initializer: b.inits,
			Input:       []*onnxpb.ValueInfoProto{tensorValueInfo(inputName, "N", s.c, s.h, s.w)},
			Output:      []*onnxpb.ValueInfoProto{tensorValueInfo(outputName, "N", s.classes)},
		},
		MetadataProps: []*onnxpb.StringStringEntryProto{
			{Key: "workbench.zoo", Value: s.name},
			{Key: "workbench.notice", Value: UntrainedNotice},
		},
	}
}

// float32ToHalf converts to IEEE 754 binary16 bits, rounding to nearest even,
// saturating to ±Inf and keeping NaN a NaN.
func float32ToHalf(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int32(bits>>23) & 0xff
	mant := bits & 0x7fffff
	switch {
	case exp == 0xff: // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127 > 15: // overflow
		return sign | 0x7c00
	case exp-127 >= -14: // normal half
		e := uint32(exp-127+15) << 10
		m := mant >> 13
		h := e | m
		rest := mant & 0x1fff
		if rest > 0x1000 || (rest == 0x1000 && m&1 == 1) {
			h++ // may carry into the exponent, which is the right answer
		}
		return sign | uint16(h)
	case exp-127 >= -25: // subnormal half
		m := mant | 0x800000 // implicit leading one
		shift := uint32(-14-(exp-127)) + 13
		h := m >> shift
		rest := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rest > half || (rest == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	default: // underflow to signed zero
		return sign
	}
}
