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
	"workbench/pipeline/outfile"
	"workbench/vision"
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

	// InputLayout and InputType are how the model takes images: NCHW or
	// NHWC, float32, float16 or uint8. Zoo models and the zero value mean
	// NCHW float32. Session.Run converts the float32 values the
	// preprocessing writes (already in InputLayout) to InputType.
	InputLayout vision.Layout
	InputType   vision.DType
	// OutputType is the logits' element type: float32 (also the zero
	// value) or float16, which Session.Run widens.
	OutputType vision.DType
	// Outputs names every output of the graph, OutputName among them.
	Outputs []string
	// DynamicSize is true when the graph leaves H and W open; InputH and
	// InputW are then the recipe's crop.
	DynamicSize bool
	// Recipe is the preprocessing the model asks for: the one recorded
	// under RecipeMetadataKey when the file has one, else the default
	// preset for its input (uint8-baked for a uint8 input, torchvision
	// otherwise), with layout and dtype filled in from the model.
	Recipe vision.Recipe
	// RecipeSource says where Recipe came from, for summaries.
	RecipeSource string
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

// Resolve turns a zoo name or a path into a Model, with no options (see
// ResolveWith).
//
// A zoo name is exported, if not already cached, to
// CacheDir()/models/<name>-<zoo version>.onnx (written to a temporary file and
// renamed, so concurrent runs never see half a file); zoo models need no ORT.
//
// Any other existing file is inspected with ONNX Runtime, so Init must have
// been called; the forms it accepts are those of ResolveOptions. Anything
// else is an error naming what was found, what is needed and the flag that
// settles an ambiguity. A name that is neither is an error listing the zoo.
func Resolve(nameOrPath string) (*Model, error) {
	return ResolveWith(nameOrPath, ResolveOptions{})
}

// ResolveWith is Resolve with the choices a user can make about a model
// file. Accepted inputs: one image tensor of rank 4, [N,3,H,W] (NCHW) or
// [N,H,W,3] (NHWC), of float32, float16 or uint8, N dynamic or fixed, H and W
// fixed or dynamic (then the recipe's crop sets them). Accepted outputs: a
// float32 or float16 [N,K], named by Output or else the only one of that
// shape. The options settle what the graph leaves open; given when the graph
// already says otherwise, they are errors.
func ResolveWith(nameOrPath string, o ResolveOptions) (*Model, error) {
	return resolve(nameOrPath, CacheDir, o)
}

// ResolveOptions are the user's answers to what a model file may leave
// open. The zero value asks nothing.
type ResolveOptions struct {
	// Output names the output to classify from (--output).
	Output string
	// Layout and DType settle an input whose shape or type does not say
	// (--layout, --dtype).
	Layout vision.Layout
	DType  vision.DType
	// CropH and CropW size a graph whose H and W are dynamic (--crop); 0
	// takes the recipe's (224×224 by default).
	CropH, CropW int
	// SkipFLOPs leaves GMACs at 0 instead of counting them (CountMACs runs
	// the model once at batch 1).
	SkipFLOPs bool
}

// resolve is Resolve with the cache folder injected, so tests export into a
// temporary folder instead of the user's cache.
func resolve(nameOrPath string, cacheDir func() (string, error), o ResolveOptions) (*Model, error) {
	if s, ok := zooSpecFor(nameOrPath); ok {
		dir, err := cacheDir()
		if err != nil {
			return nil, err
		}
		m, err := resolveZoo(s, dir)
		if err != nil {
			return nil, err
		}
		if o.Output != "" && o.Output != m.OutputName {
			return nil, fmt.Errorf("model %s has one output, %q; --output %q names none", m.Name, m.OutputName, o.Output)
		}
		return m, nil
	}
	fi, err := os.Stat(nameOrPath)
	switch {
	case err == nil && fi.IsDir():
		return nil, fmt.Errorf("model %s is a folder; want a .onnx file or a zoo model (%s)",
			nameOrPath, strings.Join(ZooNames(), ", "))
	case err == nil:
		return inspectFile(nameOrPath, o)
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

		InputLayout:  vision.NCHW,
		InputType:    vision.Float32,
		OutputType:   vision.Float32,
		Outputs:      []string{outputName},
		Recipe:       settled(vision.RecipeFor(s.h, s.w), vision.NCHW, vision.Float32),
		RecipeSource: "default (" + vision.DefaultPreset + ")",
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
	f, err := outfile.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp") // the umask's mode, not 0600
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
// inputs and outputs, then reads its parameters and recorded recipe from the
// protobuf and counts its multiply-adds.
func inspectFile(path string, o ResolveOptions) (*Model, error) {
	if !initialised() {
		return nil, fmt.Errorf("inspecting %s: %w", path, errNotInitialised)
	}
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return nil, fmt.Errorf("model %s: ONNX Runtime cannot load it: %w", path, err)
	}
	pb := readProto(path)
	recorded, hasRecipe, err := recipeFromProto(pb)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	if hasRecipe && o.CropH == 0 {
		// The recorded recipe's crop sizes a dynamic input.
		o.CropH, o.CropW = recorded.CropH, recorded.CropW
	}
	m, err := checkIO(path, ins, outs, o)
	if err != nil {
		return nil, err
	}
	if hasRecipe {
		m.Recipe, m.RecipeSource = recorded, "model metadata ("+RecipeMetadataKey+")"
	} else {
		m.Recipe, m.RecipeSource = defaultRecipe(m)
	}
	m.Recipe = settled(m.Recipe, m.InputLayout, m.InputType)
	m.Params, m.Precision = countParams(pb)
	if !o.SkipFLOPs {
		if c, err := CountMACs(m); err == nil {
			m.GMACs = c.PerImageGMACs()
		}
	}
	return m, nil
}

// readProto parses the file's protobuf, best effort: nil when it does not
// parse (ORT already accepted it, so that is unlikely).
func readProto(path string) *onnxpb.ModelProto {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var m onnxpb.ModelProto
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, &m); err != nil {
		return nil
	}
	return &m
}

// countParams sums initializer elements and reports the majority weight
// precision; a nil model reports 0 parameters and fp32.
func countParams(m *onnxpb.ModelProto) (int64, Precision) {
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
