package model

import (
	"fmt"
	"path/filepath"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"workbench/model/onnxpb"
	"workbench/vision"
)

// needIO is the contract in one line, appended to every refusal.
const needIO = "need one image input [N,3,H,W] (NCHW) or [N,H,W,3] (NHWC) of float32, float16 or uint8, " +
	"and an output [N,K] of float32 or float16"

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

// dtypeOf maps the element types images may come in; ok is false for the
// rest.
func dtypeOf(t ort.TensorElementDataType) (vision.DType, bool) {
	switch t {
	case ort.TensorElementDataTypeFloat:
		return vision.Float32, true
	case ort.TensorElementDataTypeFloat16:
		return vision.Float16, true
	case ort.TensorElementDataTypeUint8:
		return vision.Uint8, true
	}
	return "", false
}

// inferLayout reads NCHW or NHWC off a rank-4 shape (−1 = dynamic). Only a
// shape with 3 (or a dynamic size) in both places is ambiguous; a user's
// layout settles it, and contradicting the shape is an error.
func inferLayout(d []int64, want vision.Layout) (vision.Layout, error) {
	chw := d[1] == 3 || d[1] == -1
	hwc := d[3] == 3 || d[3] == -1
	switch {
	case want == vision.NCHW && chw, want == vision.NHWC && hwc:
		return want, nil
	case want != "":
		return "", fmt.Errorf("input shape %v cannot be %s (3 channels must sit at axis %d)", d, want,
			map[vision.Layout]int{vision.NCHW: 1, vision.NHWC: 3}[want])
	case d[1] == 3 && d[3] != 3:
		return vision.NCHW, nil
	case d[3] == 3 && d[1] != 3:
		return vision.NHWC, nil
	case chw && hwc:
		return "", fmt.Errorf("input shape %v could be NCHW or NHWC; say which with --layout NCHW or --layout NHWC", d)
	}
	return "", fmt.Errorf("input shape %v has no axis of 3 colour channels", d)
}

// checkIO applies ResolveWith's input/output contract to ORT's description
// of a model file.
func checkIO(path string, ins, outs []ort.InputOutputInfo, o ResolveOptions) (*Model, error) {
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
	in := ins[0]
	d := in.Dimensions
	dt, okType := dtypeOf(in.DataType)
	if in.OrtValueType != ort.ONNXTypeTensor || !okType || len(d) != 4 || d[0] == 0 || d[0] < -1 {
		return nil, bad("input is " + describeIO(in))
	}
	if o.DType != "" && o.DType != dt {
		return nil, fmt.Errorf("model %s: input is %s, not %s; drop --dtype or set it to %s", path, describeIO(in), o.DType, dt)
	}
	layout, err := inferLayout(d, o.Layout)
	if err != nil {
		return nil, bad(fmt.Sprintf("input is %s: %v", describeIO(in), err))
	}
	h, w := d[2], d[3]
	if layout == vision.NHWC {
		h, w = d[1], d[2]
	}
	dynamic := false
	switch {
	case h > 0 && w > 0:
	case h == -1 && w == -1:
		dynamic = true
		h, w = int64(o.CropH), int64(o.CropW)
		if h <= 0 || w <= 0 {
			h, w = 224, 224 // the default preset's crop
		}
	default:
		return nil, bad("input is " + describeIO(in) + ": H and W must both be fixed or both dynamic")
	}

	out, err := pickOutput(outs, d[0], o.Output)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	outType, _ := dtypeOf(out.DataType)
	names := make([]string, len(outs))
	for i, x := range outs {
		names[i] = x.Name
	}
	fixed := 0
	if d[0] > 0 {
		fixed = int(d[0])
	}
	return &Model{
		Name:        filepath.Base(path),
		Path:        path,
		InputName:   in.Name,
		OutputName:  out.Name,
		InputC:      3,
		InputH:      int(h),
		InputW:      int(w),
		NumClasses:  int(out.Dimensions[1]),
		FixedBatch:  fixed,
		Precision:   FP32,
		InputLayout: layout,
		InputType:   dt,
		OutputType:  outType,
		Outputs:     names,
		DynamicSize: dynamic,
	}, nil
}

// pickOutput is the output named name, else the only [N,K] one; batch is
// the input's batch dimension, which a fixed output batch must equal.
func pickOutput(outs []ort.InputOutputInfo, batch int64, name string) (ort.InputOutputInfo, error) {
	logits := func(x ort.InputOutputInfo) bool {
		dt, ok := dtypeOf(x.DataType)
		o := x.Dimensions
		return x.OrtValueType == ort.ONNXTypeTensor && ok && dt != vision.Uint8 &&
			len(o) == 2 && o[1] > 0 && (o[0] == batch || o[0] == -1)
	}
	var all, cands []string
	var pick []ort.InputOutputInfo
	for _, x := range outs {
		all = append(all, describeIO(x))
		if name != "" && x.Name == name {
			if !logits(x) {
				return x, fmt.Errorf("--output %q is %s, not [N,K] float32 or float16 scores; %s", name, describeIO(x), needIO)
			}
			return x, nil
		}
		if logits(x) {
			cands = append(cands, fmt.Sprintf("%q", x.Name))
			pick = append(pick, x)
		}
	}
	switch {
	case name != "":
		return ort.InputOutputInfo{}, fmt.Errorf("--output %q names no output; it has [%s]", name, strings.Join(all, ", "))
	case len(outs) == 0:
		return ort.InputOutputInfo{}, fmt.Errorf("has no outputs; %s", needIO)
	case len(pick) == 1:
		return pick[0], nil
	case len(pick) == 0:
		return ort.InputOutputInfo{}, fmt.Errorf("no output is [N,K] scores: [%s]; %s", strings.Join(all, ", "), needIO)
	}
	return ort.InputOutputInfo{}, fmt.Errorf("outputs %s are all [N,K]; name the one to classify from with --output NAME",
		strings.Join(cands, ", "))
}

// RecipeMetadataKey is the ONNX metadata_props key under which a model file
// records its preprocessing: the value is the one-line form
// vision.Recipe.String prints ("resize=256 crop=224x224 ..."), a preset
// name, or a JSON object with the same keys (see vision.ParseRecipe).
// Fields it leaves out are the torchvision preset's.
const RecipeMetadataKey = "workbench.recipe"

// recipeFromProto reads RecipeMetadataKey; ok is false when the file has
// none. A recorded recipe that does not parse is an error: it is the
// file's author's intent, and guessing past it would mis-serve the model.
func recipeFromProto(m *onnxpb.ModelProto) (r vision.Recipe, ok bool, err error) {
	for _, p := range m.GetMetadataProps() {
		if p.GetKey() == RecipeMetadataKey {
			r, err := vision.ParseRecipe(p.GetValue())
			if err != nil {
				return r, false, fmt.Errorf("metadata %s = %q: %w", RecipeMetadataKey, p.GetValue(), err)
			}
			return r, true, nil
		}
	}
	return vision.Recipe{}, false, nil
}

// SetRecipeMetadata records r in m's metadata_props under
// RecipeMetadataKey (replacing an earlier one), in its one-line form.
func SetRecipeMetadata(m *onnxpb.ModelProto, r vision.Recipe) {
	for _, p := range m.MetadataProps {
		if p.Key == RecipeMetadataKey {
			p.Value = r.String()
			return
		}
	}
	m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: RecipeMetadataKey, Value: r.String()})
}

// defaultRecipe is the preset a model without a recorded recipe gets: bytes
// as they are for a uint8 input (normalising to [0,1] would round every
// value to 0 or 1), torchvision's otherwise, at the model's size.
func defaultRecipe(m *Model) (vision.Recipe, string) {
	name := vision.DefaultPreset
	if m.InputType == vision.Uint8 {
		name = "uint8-baked"
	}
	r, _ := vision.PresetRecipe(name, m.InputH, m.InputW)
	// The input, not the preset, decides layout and dtype.
	r.Layout, r.DType = "", ""
	return r, "default (" + name + ")"
}

// settled fills a recipe's open layout and dtype from the model.
func settled(r vision.Recipe, l vision.Layout, d vision.DType) vision.Recipe {
	if r.Layout == "" {
		r.Layout = l
	}
	if r.DType == "" {
		r.DType = d
	}
	return r
}

// WithRecipe checks recipe r against the model and returns the two made
// consistent: r's open layout and dtype take the model's, a model with a
// dynamic size takes r's crop. A recipe that contradicts the model (another
// layout, dtype or fixed size, or a 1/255 scale into a uint8 input) is an
// error naming the flag to change. m is not modified.
func (m *Model) WithRecipe(r vision.Recipe) (*Model, vision.Recipe, error) {
	r = settled(r, m.layout(), m.dtype())
	var errs []string
	if r.Layout != m.layout() {
		errs = append(errs, fmt.Sprintf("the recipe's layout %s is not the input's %s (--layout %s or auto)", r.Layout, m.layout(), m.layout()))
	}
	if r.DType != m.dtype() {
		errs = append(errs, fmt.Sprintf("the recipe's dtype %s is not the input's %s (--dtype %s or auto)", r.DType, m.dtype(), m.dtype()))
	}
	out := *m
	if m.DynamicSize {
		out.InputH, out.InputW = r.CropH, r.CropW
	} else if r.CropH != m.InputH || r.CropW != m.InputW {
		errs = append(errs, fmt.Sprintf("crop %dx%d does not fit the input's fixed %dx%d (--crop %dx%d)", r.CropH, r.CropW, m.InputH, m.InputW, m.InputH, m.InputW))
	}
	if m.dtype() == vision.Uint8 && r.Scale != 1 {
		errs = append(errs, "a uint8 input takes bytes, so scale must be 1 (--scale 1 --mean 0 --std 1, or --preset uint8-baked)")
	}
	if err := r.Validate(); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return nil, r, fmt.Errorf("model %s with recipe %s: %s", m.Name, r, strings.Join(errs, "; "))
	}
	out.Recipe = r
	return &out, r, nil
}

func (m *Model) layout() vision.Layout {
	if m.InputLayout == "" {
		return vision.NCHW
	}
	return m.InputLayout
}

func (m *Model) dtype() vision.DType {
	if m.InputType == "" {
		return vision.Float32
	}
	return m.InputType
}

// InputShape is the per-batch input as the summary prints it, e.g.
// "N×3×224×224 float32 NCHW" or "1×224×224×3 uint8 NHWC".
func (m *Model) InputShape() string {
	n := "N"
	if m.FixedBatch > 0 {
		n = fmt.Sprint(m.FixedBatch)
	}
	dims := fmt.Sprintf("%s×%d×%d×%d", n, m.InputC, m.InputH, m.InputW)
	if m.layout() == vision.NHWC {
		dims = fmt.Sprintf("%s×%d×%d×%d", n, m.InputH, m.InputW, m.InputC)
	}
	return fmt.Sprintf("%s %s %s", dims, m.dtype(), m.layout())
}

// BatchNote says how Session.Run splits a batch of n for a model with a
// fixed batch size, e.g. "model fixed at batch 1: a batch of 64 runs as 64
// runs"; "" when the batch dimension is dynamic.
func (m *Model) BatchNote(n int) string {
	if m.FixedBatch == 0 {
		return ""
	}
	runs := (n + m.FixedBatch - 1) / m.FixedBatch
	s := fmt.Sprintf("model fixed at batch %d: a batch of %d runs as %d run", m.FixedBatch, n, runs)
	if runs != 1 {
		s += "s"
	}
	if pad := runs*m.FixedBatch - n; pad > 0 {
		s += fmt.Sprintf(", the last padded with %d blank image", pad)
		if pad != 1 {
			s += "s"
		}
	}
	return s
}
