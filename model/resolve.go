package model

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"

	"workbench/model/onnxpb"
)

// Model is a resolved, validated model: a file on disk whose single input is
// float32 [N,C,H,W] images and whose output is float32 [N,K] logits.
type Model struct {
	// Name is the zoo name, or the file's base name for user models.
	Name string
	// Path is the .onnx file sessions load.
	Path string
	// Zoo is true for built-in models, whose outputs must carry
	// UntrainedNotice.
	Zoo        bool
	InputName  string
	OutputName string
	// InputC, InputH and InputW are the per-image input shape the
	// preprocessing must produce.
	InputC, InputH, InputW int
	NumClasses             int
	// FixedBatch is the batch size the model's graph hard-codes, or 0 when
	// its batch dimension is dynamic. Session.Run splits batches to fit.
	FixedBatch int
	// Params counts weight elements (initializers); 0 when unknown.
	Params int64
	// GMACs is multiply-accumulates per image in billions (see ZooInfo);
	// 0 means unknown, as for user files.
	GMACs float64
	// Precision is "fp32" or "fp16", the element type of most weights.
	Precision Precision
}

// ImageElems is the number of float32 values one input image occupies.
func (m *Model) ImageElems() int { return m.InputC * m.InputH * m.InputW }

// GFLOPs is 2 × GMACs (see ZooInfo.GFLOPs); 0 when unknown.
func (m *Model) GFLOPs() float64 { return 2 * m.GMACs }

// Notice is UntrainedNotice for zoo models and "" otherwise.
func (m *Model) Notice() string {
	if m.Zoo {
		return UntrainedNotice
	}
	return ""
}

// Resolve turns a zoo name or a path into a Model.
//
// A zoo name is exported, if not already cached, to
// CacheDir()/models/<name>-<zoo version>.onnx (written to a temporary file and
// renamed, so concurrent runs never see half a file); zoo models need no ORT.
//
// Any other existing file is inspected with ONNX Runtime, so Init must have
// been called: its one input must be float32 [N,3,H,W] with fixed H and W
// (N dynamic or fixed) and its first output float32 [N,K]. Anything else is
// an error naming what was found and what is needed. A name that is neither
// is an error listing the zoo.
func Resolve(nameOrPath string) (*Model, error) {
	return resolve(nameOrPath, CacheDir)
}

// resolve is Resolve with the cache folder injected, so tests export into a
// temporary folder instead of the user's cache.
func resolve(nameOrPath string, cacheDir func() (string, error)) (*Model, error) {
	if s, ok := zooSpecFor(nameOrPath); ok {
		dir, err := cacheDir()
		if err != nil {
			return nil, err
		}
		return resolveZoo(s, dir)
	}
	fi, err := os.Stat(nameOrPath)
	switch {
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("model %s is a folder; want a .onnx file or a zoo model (%s)",
			nameOrPath, strings.Join(ZooNames(), ", "))
	case err == nil:
		return inspectFile(nameOrPath)
	case errors.Is(err, fs.ErrNotExist) && strings.HasSuffix(nameOrPath, ".onnx"):
		return nil, fmt.Errorf("model file %s: no such file", nameOrPath)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("model %q is neither a zoo model (%s) nor an existing .onnx file",
			nameOrPath, strings.Join(ZooNames(), ", "))
	default:
		return nil, fmt.Errorf("model %s: %w", nameOrPath, err)
	}
}

func resolveZoo(s *zooSpec, dir string) (*Model, error) {
	path := filepath.Join(dir, "models", s.name+"-"+zooVersion+".onnx")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := exportFile(s.name, path); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("zoo %s: %w", s.name, err)
	}
	info, _ := LookupZoo(s.name)
	return &Model{
		Name:       s.name,
		Path:       path,
		Zoo:        true,
		InputName:  inputName,
		OutputName: outputName,
		InputC:     s.c,
		InputH:     s.h,
		InputW:     s.w,
		NumClasses: s.classes,
		Params:     info.Params,
		GMACs:      info.GMACs,
		Precision:  s.prec,
	}, nil
}

// exportFile writes a zoo model to path atomically.
func exportFile(name, path string) error {
	data, err := marshalZoo(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("zoo %s: %w", name, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("zoo %s: %w", name, err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("zoo %s: writing %s: %w", name, f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("zoo %s: %w", name, err)
	}
	return nil
}

// inspectFile validates a user's ONNX file through ORT's own view of its
// inputs and outputs, then counts its parameters from the protobuf.
func inspectFile(path string) (*Model, error) {
	if !initialised() {
		return nil, fmt.Errorf("inspecting %s: %w", path, errNotInitialised)
	}
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return nil, fmt.Errorf("model %s: ONNX Runtime cannot load it: %w", path, err)
	}
	m, err := checkIO(path, ins, outs)
	if err != nil {
		return nil, err
	}
	m.Params, m.Precision = countParams(path)
	return m, nil
}

const needIO = "need one float32 input [N,3,H,W] (fixed H and W) and a float32 output [N,K]"

func describeIO(io ort.InputOutputInfo) string {
	if io.OrtValueType != ort.ONNXTypeTensor {
		return fmt.Sprintf("%q: %s", io.Name, io.OrtValueType)
	}
	return fmt.Sprintf("%q: %s %s", io.Name, elemTypeName(io.DataType), io.Dimensions)
}

func elemTypeName(t ort.TensorElementDataType) string {
	switch t {
	case ort.TensorElementDataTypeFloat:
		return "float32"
	case ort.TensorElementDataTypeFloat16:
		return "float16"
	case ort.TensorElementDataTypeDouble:
		return "float64"
	case ort.TensorElementDataTypeUint8:
		return "uint8"
	case ort.TensorElementDataTypeInt8:
		return "int8"
	case ort.TensorElementDataTypeInt32:
		return "int32"
	case ort.TensorElementDataTypeInt64:
		return "int64"
	}
	return strings.ToLower(strings.TrimPrefix(t.String(), "ONNX_TENSOR_ELEMENT_DATA_TYPE_"))
}

// checkIO applies Resolve's input/output contract to ORT's description of a
// model.
func checkIO(path string, ins, outs []ort.InputOutputInfo) (*Model, error) {
	bad := func(what string) error {
		return fmt.Errorf("model %s: %s; %s", path, what, needIO)
	}
	if len(ins) != 1 {
		names := make([]string, len(ins))
		for i, in := range ins {
			names[i] = describeIO(in)
		}
		return nil, bad(fmt.Sprintf("has %d inputs [%s]", len(ins), strings.Join(names, ", ")))
	}
	if len(outs) == 0 {
		return nil, bad("has no outputs")
	}
	in, out := ins[0], outs[0]
	d := in.Dimensions
	if in.OrtValueType != ort.ONNXTypeTensor || in.DataType != ort.TensorElementDataTypeFloat ||
		len(d) != 4 || d[1] != 3 || d[2] <= 0 || d[3] <= 0 || d[0] == 0 || d[0] < -1 {
		return nil, bad("input is " + describeIO(in))
	}
	o := out.Dimensions
	if out.OrtValueType != ort.ONNXTypeTensor || out.DataType != ort.TensorElementDataTypeFloat ||
		len(o) != 2 || o[1] <= 0 || !(o[0] == d[0] || o[0] == -1) {
		return nil, bad("output is " + describeIO(out))
	}
	fixed := 0
	if d[0] > 0 {
		fixed = int(d[0])
	}
	return &Model{
		Name:       filepath.Base(path),
		Path:       path,
		InputName:  in.Name,
		OutputName: out.Name,
		InputC:     int(d[1]),
		InputH:     int(d[2]),
		InputW:     int(d[3]),
		NumClasses: int(o[1]),
		FixedBatch: fixed,
		Precision:  FP32,
	}, nil
}

// countParams sums initializer elements and reports the majority weight
// precision. It is best effort: a file that does not parse (ORT already
// accepted it, so this is unlikely) reports 0 parameters and fp32.
func countParams(path string) (int64, Precision) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, FP32
	}
	var m onnxpb.ModelProto
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &m); err != nil {
		return 0, FP32
	}
	var total, half int64
	for _, t := range m.GetGraph().GetInitializer() {
		n := int64(1)
		for _, d := range t.Dims {
			n *= d
		}
		total += n
		if t.DataType == int32(onnxpb.TensorProto_FLOAT16) {
			half += n
		}
	}
	if 2*half > total {
		return total, FP16
	}
	return total, FP32
}
