package vision

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ImageNet normalisation constants, as used by torchvision's pretrained
// classification models.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Interpolation is the resampling filter of a Recipe's resize. Every filter
// is Pillow's: bilinear and bicubic are antialiased when shrinking (the
// filter is widened by the scale factor, as Image.resize does), nearest
// picks one source pixel per output.
type Interpolation string

// The interpolations a Recipe accepts. The zero value means Bilinear.
const (
	Bilinear Interpolation = "bilinear"
	Bicubic  Interpolation = "bicubic"
	Nearest  Interpolation = "nearest"
)

// Channels is the order of the colour channels the model reads.
type Channels string

// The channel orders. The zero value means RGB.
const (
	RGB Channels = "RGB"
	BGR Channels = "BGR"
)

// Layout is the memory order of one batch of images. The zero value means
// "as the model takes it": model.Model.WithRecipe fills it in, and a
// Preprocessor given it writes NCHW.
type Layout string

// The layouts.
const (
	NCHW Layout = "NCHW"
	NHWC Layout = "NHWC"
)

// DType is the element type of the model's input. The Preprocessor always
// writes float32 values; model.Session.Run converts them to the input's
// type. The zero value means "as the model takes it".
type DType string

// The input element types.
const (
	Float32 DType = "float32"
	Float16 DType = "float16"
	Uint8   DType = "uint8"
)

// ScaleUnit is the Scale that maps bytes onto [0, 1], as ToTensor does.
const ScaleUnit = 1.0 / 255

// Recipe is the classic evaluation transform, generalised to the families
// models come from:
//
//	Resize(Resize, Interpolation) → CenterCrop(CropH, CropW) →
//	    v·Scale → (v − Mean)/Std → Channels order → Layout
//
// Resize is the length the shorter side is scaled to; the longer side
// becomes int(Resize·long/short), truncated as torchvision does. Resize 0
// means no resize: the crop is cut from the image as it is (padded with
// black where the image is smaller).
//
// Mean and Std are listed in the model's channel order: for a BGR model,
// blue's first. Setting the "channels" field through Set reverses them, so
// the value paired with each colour stays the same.
//
// The zero values of Interpolation, Scale and Channels mean bilinear, 1/255
// and RGB, so a Recipe written as torchvision's four numbers keeps meaning
// what it always did.
type Recipe struct {
	Resize        int
	CropH, CropW  int
	Mean, Std     [3]float32
	Interpolation Interpolation
	// Scale multiplies each byte before Mean and Std apply: ScaleUnit (also
	// the meaning of 0) or 1 (Mean and Std are then in byte units, and a
	// uint8 input gets the bytes themselves).
	Scale    float64
	Channels Channels
	Layout   Layout
	DType    DType
}

// RecipeFor returns the recipe for a model whose input is h×w: 256/224 for a
// 224×224 model, scaled proportionally otherwise (a 64×64 model gets resize
// int(64·256/224) = 73, crop 64×64), with ImageNet mean and std. It is the
// "torchvision" preset.
func RecipeFor(h, w int) Recipe {
	return Recipe{
		Resize: min(h, w) * 256 / 224,
		CropH:  h, CropW: w,
		Mean: ImageNetMean, Std: ImageNetStd,
	}
}

// interp, scale, channels and layout resolve the zero values.
func (r Recipe) interp() Interpolation {
	if r.Interpolation == "" {
		return Bilinear
	}
	return r.Interpolation
}

func (r Recipe) scale() float64 {
	if r.Scale == 0 {
		return ScaleUnit
	}
	return r.Scale
}

func (r Recipe) channels() Channels {
	if r.Channels == "" {
		return RGB
	}
	return r.Channels
}

func (r Recipe) layout() Layout {
	if r.Layout == "" {
		return NCHW
	}
	return r.Layout
}

// minShortSide is the decode size hint: a decoder may shrink the image (in
// the DCT domain) as long as its shorter side stays at least this; 0, for no
// resize, forbids shrinking.
func (r Recipe) minShortSide() int { return r.Resize }

// Validate reports every problem that keeps the recipe from being applied,
// each naming the field (and so the flag) to change.
func (r Recipe) Validate() error {
	var errs []error
	if r.Resize < 0 {
		errs = append(errs, fmt.Errorf("resize %d must be positive, or none (--resize)", r.Resize))
	}
	if r.CropH <= 0 || r.CropW <= 0 {
		errs = append(errs, fmt.Errorf("crop %d×%d must be positive (--crop H×W)", r.CropH, r.CropW))
	}
	for c, s := range r.Std {
		if s == 0 || math.IsNaN(float64(s)) {
			errs = append(errs, fmt.Errorf("std[%d] is %v; it divides, so it must be a non-zero number (--std)", c, s))
		}
	}
	for _, f := range recipeFields {
		if f.check != nil {
			if err := f.check(r); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// OutputLen is the number of float32 values Process writes: 3·CropH·CropW.
func (r Recipe) OutputLen() int { return 3 * r.CropH * r.CropW }

// Shape is the per-image tensor shape in the recipe's layout: [3, CropH,
// CropW] for NCHW (and an unset layout), [CropH, CropW, 3] for NHWC.
func (r Recipe) Shape() [3]int {
	if r.layout() == NHWC {
		return [3]int{r.CropH, r.CropW, 3}
	}
	return [3]int{3, r.CropH, r.CropW}
}

// String is the one-line form ParseRecipe reads back, every field in
// RecipeKeys order, e.g.
//
//	resize=256 crop=224x224 interpolation=bilinear channels=RGB scale=1/255 mean=0.485,0.456,0.406 std=0.229,0.224,0.225 layout=NCHW dtype=float32
//
// An unset layout or dtype prints as "auto". Summaries and records print it
// as the recipe that was applied.
func (r Recipe) String() string {
	var b strings.Builder
	for i, f := range recipeFields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.key + "=" + f.get(r))
	}
	return b.String()
}

// RecipeKeys are the fields a Recipe parses from strings (Set, Get,
// ParseRecipe), in the order String prints them and ApplyRecipeKnobs applies
// them. "preset" is not among them: it replaces every field at once and is
// applied before them.
func RecipeKeys() []string {
	keys := make([]string, len(recipeFields))
	for i, f := range recipeFields {
		keys[i] = f.key
	}
	return keys
}

// PresetKey is the key Set and ApplyRecipeKnobs accept for a named preset.
const PresetKey = "preset"

// recipeField is one field's string form: how to read it, print it and
// check it. Channels comes before mean and std so that the one-line form
// parses back to the same values (setting channels reverses them).
type recipeField struct {
	key, help string
	set       func(r *Recipe, v string) error
	get       func(r Recipe) string
	check     func(r Recipe) error
}

var recipeFields = []recipeField{
	{key: "resize", help: "shorter side after resizing, or none",
		set: func(r *Recipe, v string) error {
			n, err := ParseResize(v)
			r.Resize = n
			return err
		},
		get: func(r Recipe) string {
			if r.Resize == 0 {
				return "none"
			}
			return strconv.Itoa(r.Resize)
		}},
	{key: "crop", help: "centre crop H×W (or one number for a square)",
		set: func(r *Recipe, v string) (err error) {
			r.CropH, r.CropW, err = ParseCrop(v)
			return err
		},
		get: func(r Recipe) string { return fmt.Sprintf("%dx%d", r.CropH, r.CropW) }},
	{key: "interpolation", help: "bilinear, bicubic or nearest",
		set: func(r *Recipe, v string) (err error) {
			r.Interpolation, err = ParseInterpolation(v)
			return err
		},
		get: func(r Recipe) string { return string(r.interp()) },
		check: func(r Recipe) error {
			_, err := ParseInterpolation(string(r.interp()))
			return err
		}},
	{key: "channels", help: "RGB or BGR",
		set: func(r *Recipe, v string) error {
			c, err := ParseChannels(v)
			if err != nil {
				return err
			}
			if c != r.channels() {
				// Keep each colour's mean and std with the colour.
				slices.Reverse(r.Mean[:])
				slices.Reverse(r.Std[:])
			}
			r.Channels = c
			return nil
		},
		get: func(r Recipe) string { return string(r.channels()) },
		check: func(r Recipe) error {
			_, err := ParseChannels(string(r.channels()))
			return err
		}},
	{key: "scale", help: "1/255 or 1: what each byte is multiplied by before mean and std",
		set: func(r *Recipe, v string) (err error) {
			r.Scale, err = ParseScale(v)
			return err
		},
		get: func(r Recipe) string { return formatScale(r.scale()) },
		check: func(r Recipe) error {
			if s := r.scale(); !(s > 0) || math.IsInf(s, 0) {
				return fmt.Errorf("scale %v must be positive: 1/255 or 1 (--scale)", s)
			}
			return nil
		}},
	{key: "mean", help: "three numbers, one per channel in the model's order (or one for all)",
		set: func(r *Recipe, v string) (err error) {
			r.Mean, err = parseTriple("mean", v)
			return err
		},
		get: func(r Recipe) string { return formatTriple(r.Mean) }},
	{key: "std", help: "three non-zero numbers, one per channel in the model's order (or one for all)",
		set: func(r *Recipe, v string) (err error) {
			r.Std, err = parseTriple("std", v)
			return err
		},
		get: func(r Recipe) string { return formatTriple(r.Std) }},
	{key: "layout", help: "NCHW, NHWC or auto (as the model takes it)",
		set: func(r *Recipe, v string) (err error) {
			r.Layout, err = ParseLayout(v)
			return err
		},
		get: func(r Recipe) string { return autoOr(string(r.Layout)) },
		check: func(r Recipe) error {
			_, err := ParseLayout(autoOr(string(r.Layout)))
			return err
		}},
	{key: "dtype", help: "float32, float16, uint8 or auto (as the model takes it)",
		set: func(r *Recipe, v string) (err error) {
			r.DType, err = ParseDType(v)
			return err
		},
		get: func(r Recipe) string { return autoOr(string(r.DType)) },
		check: func(r Recipe) error {
			_, err := ParseDType(autoOr(string(r.DType)))
			return err
		}},
}

func autoOr(s string) string {
	if s == "" {
		return "auto"
	}
	return s
}

// RecipeKeyHelp is one line of help for a key of RecipeKeys (or PresetKey),
// for flag usage texts; "" for an unknown key.
func RecipeKeyHelp(key string) string {
	if key == PresetKey {
		return "named recipe: " + strings.Join(PresetNames(), ", ")
	}
	for _, f := range recipeFields {
		if f.key == key {
			return f.help
		}
	}
	return ""
}

// Get returns the string form of one field, as String prints it; "" for an
// unknown key.
func (r Recipe) Get(key string) string {
	for _, f := range recipeFields {
		if f.key == key {
			return f.get(r)
		}
	}
	return ""
}

// Set returns r with one field parsed from its string form. key is one of
// RecipeKeys, or PresetKey, which replaces every field by the named preset
// sized to r's crop (the preset's own crop when r has none). The error
// names the flag (--key) and what it accepts.
func (r Recipe) Set(key, value string) (Recipe, error) {
	key = strings.ToLower(strings.TrimSpace(key))
	if key == PresetKey {
		h, w := r.CropH, r.CropW
		return PresetRecipe(value, h, w)
	}
	for _, f := range recipeFields {
		if f.key == key {
			err := f.set(&r, strings.TrimSpace(value))
			return r, err
		}
	}
	return r, fmt.Errorf("recipe has no field %q; want %s or %s", key, PresetKey, strings.Join(RecipeKeys(), ", "))
}

// ApplyRecipeKnobs returns base with every key of set applied through Set:
// the preset first (if any), then the fields in RecipeKeys order, so the
// outcome does not depend on map order and a preset never undoes a field
// set beside it. All problems are reported, not just the first.
func ApplyRecipeKnobs(base Recipe, set map[string]string) (Recipe, error) {
	r := base
	var errs []error
	keys := append([]string{PresetKey}, RecipeKeys()...)
	for k := range set {
		if !slices.Contains(keys, strings.ToLower(k)) {
			errs = append(errs, fmt.Errorf("recipe has no field %q; want %s", k, strings.Join(keys, ", ")))
		}
	}
	for _, k := range keys {
		for sk, v := range set {
			if strings.ToLower(sk) != k {
				continue
			}
			next, err := r.Set(k, v)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			r = next
		}
	}
	return r, errors.Join(errs...)
}

// ParseRecipe reads a recipe written in one of three forms:
//
//   - the one-line form String prints, "key=value" pairs separated by
//     spaces (or commas between pairs), fields not given taken from the
//     torchvision preset at the given crop (224×224 when none);
//   - a preset name, alone or as preset=NAME among the pairs;
//   - a JSON object with the same keys, whose values are strings, numbers
//     or arrays of numbers ("crop": [299, 299], "mean": [0.5, 0.5, 0.5]).
//
// It is what model files carry under the workbench.recipe metadata key.
func ParseRecipe(s string) (Recipe, error) {
	s = strings.TrimSpace(s)
	set := map[string]string{}
	switch {
	case strings.HasPrefix(s, "{"):
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return Recipe{}, fmt.Errorf("recipe JSON: %w", err)
		}
		for k, v := range m {
			str, err := jsonField(k, v)
			if err != nil {
				return Recipe{}, err
			}
			set[k] = str
		}
	case !strings.Contains(s, "="):
		set[PresetKey] = s
	default:
		for tok := range strings.FieldsSeq(s) {
			tok = strings.Trim(tok, ",;")
			if tok == "" {
				continue
			}
			k, v, ok := strings.Cut(tok, "=")
			if !ok {
				return Recipe{}, fmt.Errorf("recipe %q: %q is not key=value (keys: %s, %s)", s, tok, PresetKey, strings.Join(RecipeKeys(), ", "))
			}
			if _, dup := set[k]; dup {
				return Recipe{}, fmt.Errorf("recipe %q: %s given twice", s, k)
			}
			set[k] = v
		}
	}
	// The crop sizes the preset, so it is read first.
	base := RecipeFor(224, 224)
	if c, ok := set["crop"]; ok {
		h, w, err := ParseCrop(c)
		if err != nil {
			return Recipe{}, err
		}
		base = RecipeFor(h, w)
	}
	r, err := ApplyRecipeKnobs(base, set)
	if err != nil {
		return Recipe{}, err
	}
	return r, r.Validate()
}

// jsonField turns one JSON value into the string form of field k.
func jsonField(k string, v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			f, ok := e.(float64)
			if !ok {
				return "", fmt.Errorf("recipe JSON: %s[%d] is %v, want a number", k, i, e)
			}
			parts[i] = strconv.FormatFloat(f, 'g', -1, 64)
		}
		sep := ","
		if k == "crop" {
			sep = "x"
		}
		return strings.Join(parts, sep), nil
	}
	return "", fmt.Errorf("recipe JSON: %s is %v, want a string, a number or an array of numbers", k, v)
}

// ParseResize reads a resize: a positive shorter side, or "none" (0).
func ParseResize(s string) (int, error) {
	if strings.EqualFold(strings.TrimSpace(s), "none") {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--resize %q: want the shorter side in pixels (e.g. 256) or none", s)
	}
	return n, nil
}

// ParseCrop reads a crop "H×W" (also "HxW", or "N" for N×N).
func ParseCrop(s string) (h, w int, err error) {
	v := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "×", "x")
	hs, ws, ok := strings.Cut(v, "x")
	if !ok {
		ws = hs
	}
	h, err1 := strconv.Atoi(strings.TrimSpace(hs))
	w, err2 := strconv.Atoi(strings.TrimSpace(ws))
	if err1 != nil || err2 != nil || h <= 0 || w <= 0 {
		return 0, 0, fmt.Errorf("--crop %q: want H×W in pixels, e.g. 224x224 (or 224)", s)
	}
	return h, w, nil
}

// ParseInterpolation reads bilinear, bicubic or nearest (any case).
func ParseInterpolation(s string) (Interpolation, error) {
	switch v := Interpolation(strings.ToLower(strings.TrimSpace(s))); v {
	case Bilinear, Bicubic, Nearest:
		return v, nil
	}
	return "", fmt.Errorf("--interpolation %q: want bilinear, bicubic or nearest", s)
}

// ParseChannels reads RGB or BGR (any case).
func ParseChannels(s string) (Channels, error) {
	switch v := Channels(strings.ToUpper(strings.TrimSpace(s))); v {
	case RGB, BGR:
		return v, nil
	}
	return "", fmt.Errorf("--channels %q: want RGB or BGR", s)
}

// ParseLayout reads NCHW, NHWC or auto ("") in any case.
func ParseLayout(s string) (Layout, error) {
	switch v := strings.ToUpper(strings.TrimSpace(s)); v {
	case "", "AUTO":
		return "", nil
	case string(NCHW), string(NHWC):
		return Layout(v), nil
	}
	return "", fmt.Errorf("--layout %q: want NCHW, NHWC or auto", s)
}

// ParseDType reads float32, float16, uint8 or auto (""); fp32 and fp16 are
// accepted too.
func ParseDType(s string) (DType, error) {
	switch v := strings.ToLower(strings.TrimSpace(s)); v {
	case "", "auto":
		return "", nil
	case "float32", "fp32", "float":
		return Float32, nil
	case "float16", "fp16", "half":
		return Float16, nil
	case "uint8", "u8":
		return Uint8, nil
	}
	return "", fmt.Errorf("--dtype %q: want float32, float16, uint8 or auto", s)
}

// ParseScale reads "1/255", "1" or another positive number (a decimal or
// 1/N).
func ParseScale(s string) (float64, error) {
	v := strings.TrimSpace(s)
	bad := fmt.Errorf("--scale %q: want 1/255 (bytes to [0,1], as ToTensor) or 1 (bytes as they are)", s)
	if num, den, ok := strings.Cut(v, "/"); ok {
		n, err1 := strconv.ParseFloat(strings.TrimSpace(num), 64)
		d, err2 := strconv.ParseFloat(strings.TrimSpace(den), 64)
		if err1 != nil || err2 != nil || !(n > 0) || !(d > 0) || math.IsInf(n/d, 0) {
			return 0, bad
		}
		return n / d, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) {
		return 0, bad
	}
	return f, nil
}

func formatScale(s float64) string {
	if s == ScaleUnit {
		return "1/255"
	}
	return strconv.FormatFloat(s, 'g', -1, 64)
}

// parseTriple reads "a,b,c" or a single number meaning all three.
func parseTriple(key, s string) ([3]float32, error) {
	var t [3]float32
	parts := strings.Split(strings.Trim(strings.TrimSpace(s), "[]()"), ",")
	if len(parts) != 1 && len(parts) != 3 {
		return t, fmt.Errorf("--%s %q: want three numbers a,b,c (one per channel) or one for all", key, s)
	}
	for i := range t {
		p := parts[min(i, len(parts)-1)]
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return t, fmt.Errorf("--%s %q: %q is not a number; want a,b,c", key, s, strings.TrimSpace(p))
		}
		t[i] = float32(f)
	}
	return t, nil
}

func formatTriple(t [3]float32) string {
	return fmt.Sprintf("%s,%s,%s", fmtF32(t[0]), fmtF32(t[1]), fmtF32(t[2]))
}

func fmtF32(f float32) string { return strconv.FormatFloat(float64(f), 'g', -1, 32) }
