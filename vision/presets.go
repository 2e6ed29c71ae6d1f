package vision

import (
	"fmt"
	"math"
	"strings"
)

// Preset is a named recipe family: the transform a model family was
// trained and evaluated with, sized to any crop.
type Preset struct {
	Name string
	// Source cites where the recipe comes from, for the README and --help.
	Source string
	// resize is the shorter side for a crop whose shorter side is s, by
	// the family's own rule, so the canonical crop gets the canonical
	// resize exactly.
	resize func(s int) int
	// fill sets everything but the geometry.
	fill func(r *Recipe)
}

// DefaultPreset is the preset a model gets when neither its file nor the
// user names one.
const DefaultPreset = "torchvision"

var presets = []Preset{
	{
		Name: "torchvision",
		Source: "torchvision 0.14 transforms._presets.ImageClassification defaults " +
			"(resize_size=256, crop_size=224, BILINEAR, ImageNet mean/std), used by the " +
			"ResNet, MobileNetV3 and ViT_B_16 IMAGENET1K_V1 weights; other crops scale as int(crop·256/224)",
		resize: func(s int) int { return s * 256 / 224 },
		fill:   func(r *Recipe) {},
	},
	{
		Name: "torchvision-inception",
		Source: "torchvision 0.14 Inception_V3_Weights.IMAGENET1K_V1: " +
			"ImageClassification(crop_size=299, resize_size=342), bilinear, ImageNet mean/std",
		resize: func(s int) int { return s * 342 / 299 },
		fill:   func(r *Recipe) {},
	},
	{
		Name: "efficientnet",
		Source: "torchvision 0.14 EfficientNet_B0_Weights.IMAGENET1K_V1: " +
			"ImageClassification(crop_size=224, resize_size=256, interpolation=BICUBIC), ImageNet mean/std",
		resize: func(s int) int { return s * 256 / 224 },
		fill:   func(r *Recipe) { r.Interpolation = Bicubic },
	},
	{
		Name: "timm-half",
		Source: "timm's ViT default config (vision_transformer.py _cfg: crop_pct 0.9, bicubic, " +
			"IMAGENET_INCEPTION_MEAN/STD = 0.5) through transforms_imagenet_eval: resize floor(crop/crop_pct)",
		resize: func(s int) int { return int(math.Floor(float64(s) / 0.9)) },
		fill: func(r *Recipe) {
			r.Interpolation = Bicubic
			r.Mean, r.Std = [3]float32{0.5, 0.5, 0.5}, [3]float32{0.5, 0.5, 0.5}
		},
	},
	{
		Name: "uint8-baked",
		Source: "exports with normalisation inside the graph, as TensorFlow Lite's quantised " +
			"classifiers (e.g. mobilenet_v1_1.0_224_quant: uint8 [1,224,224,3]): bytes as they are, " +
			"uint8 NHWC; the geometry is torchvision's (256/224, bilinear)",
		resize: func(s int) int { return s * 256 / 224 },
		fill: func(r *Recipe) {
			r.Scale = 1
			r.Mean, r.Std = [3]float32{0, 0, 0}, [3]float32{1, 1, 1}
			r.Layout, r.DType = NHWC, Uint8
		},
	},
}

// Presets lists the named recipes in the order the README gives them.
func Presets() []Preset { return append([]Preset(nil), presets...) }

// PresetNames lists the presets' names.
func PresetNames() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.Name
	}
	return names
}

// Recipe returns the preset at crop h×w; h or w ≤ 0 means the family's own
// crop, 224×224 (299×299 for torchvision-inception).
func (p Preset) Recipe(h, w int) Recipe {
	if h <= 0 || w <= 0 {
		h, w = 224, 224
		if p.Name == "torchvision-inception" {
			h, w = 299, 299
		}
	}
	r := Recipe{Resize: p.resize(min(h, w)), CropH: h, CropW: w, Mean: ImageNetMean, Std: ImageNetStd}
	p.fill(&r)
	return r
}

// PresetRecipe returns the named preset (any case) at crop h×w (see
// Preset.Recipe). An unknown name is an error listing the presets.
func PresetRecipe(name string, h, w int) (Recipe, error) {
	for _, p := range presets {
		if strings.EqualFold(p.Name, strings.TrimSpace(name)) {
			return p.Recipe(h, w), nil
		}
	}
	return Recipe{}, fmt.Errorf("--preset %q: want one of %s", name, strings.Join(PresetNames(), ", "))
}

// PresetOf names the preset r equals at its own crop, or "" when r is
// custom; summaries print it before the one-line form.
func PresetOf(r Recipe) string {
	for _, p := range presets {
		q := p.Recipe(r.CropH, r.CropW)
		// A preset leaving layout and dtype to the model still matches
		// once the model has filled them in.
		if q.Layout == "" && q.DType == "" {
			q.Layout, q.DType = r.Layout, r.DType
		}
		if q.String() == r.String() {
			return p.Name
		}
	}
	return ""
}
