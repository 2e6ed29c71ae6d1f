package vision

import (
	"flag"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestPresetsGolden pins every preset's recipe at its own crop and at two
// others, with its source, in testdata/presets.golden (-update rewrites it).
// The canonical sizes are also checked against the numbers the sources give.
func TestPresetsGolden(t *testing.T) {
	var b strings.Builder
	for _, p := range Presets() {
		fmt.Fprintf(&b, "%s\n  source: %s\n", p.Name, p.Source)
		for _, c := range [][2]int{{0, 0}, {224, 224}, {299, 299}, {64, 48}} {
			r := p.Recipe(c[0], c[1])
			if err := r.Validate(); err != nil {
				t.Errorf("%s at %v: %v", p.Name, c, err)
			}
			fmt.Fprintf(&b, "  %dx%d: %s\n", c[0], c[1], r)
		}
	}
	got := b.String()
	path := filepath.Join("testdata", "presets.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./vision -run TestPresetsGolden -update)", err)
	}
	if got != string(want) {
		t.Errorf("presets changed; if on purpose, run -update.\ngot:\n%s\nwant:\n%s", got, want)
	}

	canon := []struct {
		preset string
		resize int
		crop   int
		interp Interpolation
		mean   float32
	}{
		{"torchvision", 256, 224, Bilinear, 0.485},
		{"torchvision-inception", 342, 299, Bilinear, 0.485},
		{"efficientnet", 256, 224, Bicubic, 0.485},
		{"timm-half", 248, 224, Bicubic, 0.5},
		{"uint8-baked", 256, 224, Bilinear, 0},
	}
	for _, c := range canon {
		r, err := PresetRecipe(c.preset, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if r.Resize != c.resize || r.CropH != c.crop || r.interp() != c.interp || r.Mean[0] != c.mean {
			t.Errorf("%s: %s; want resize %d crop %d %s mean %v", c.preset, r, c.resize, c.crop, c.interp, c.mean)
		}
		if PresetOf(r) != c.preset {
			t.Errorf("PresetOf(%s) = %q, want %q", r, PresetOf(r), c.preset)
		}
	}
	if r := RecipeFor(299, 299); r.Resize != 341 {
		t.Errorf("torchvision at 299: resize %d, want 341 (the issue's number)", r.Resize)
	}
}

// Every recipe prints in one line that parses back to itself, in the
// key=value form and as JSON.
func TestRecipeRoundTrip(t *testing.T) {
	t.Parallel()
	custom := RecipeFor(240, 200)
	custom.Resize = 0
	custom.Scale = 1
	custom.Channels = BGR
	custom.Mean = [3]float32{103.94, 116.78, 123.68}
	custom.Std = [3]float32{1, 1, 1}
	custom.Layout, custom.DType = NHWC, Float16
	custom.Interpolation = Nearest
	recipes := []Recipe{custom}
	for _, p := range Presets() {
		recipes = append(recipes, p.Recipe(0, 0), p.Recipe(320, 256))
	}
	for _, r := range recipes {
		s := r.String()
		if strings.Contains(s, "\n") {
			t.Fatalf("%q is not one line", s)
		}
		back, err := ParseRecipe(s)
		if err != nil {
			t.Fatalf("ParseRecipe(%q): %v", s, err)
		}
		if back.String() != s {
			t.Errorf("round trip:\n got %s\nwant %s", back, s)
		}
		var js []string
		for _, k := range RecipeKeys() {
			js = append(js, fmt.Sprintf("%q: %q", k, r.Get(k)))
		}
		back, err = ParseRecipe("{" + strings.Join(js, ", ") + "}")
		if err != nil || back.String() != s {
			t.Errorf("JSON round trip of %s: %v, %v", s, back, err)
		}
	}
	// JSON numbers and arrays, and a preset with one field changed.
	r, err := ParseRecipe(`{"preset": "timm-half", "crop": [288, 288], "resize": 320}`)
	if err != nil {
		t.Fatal(err)
	}
	if r.Resize != 320 || r.CropH != 288 || r.interp() != Bicubic || r.Mean[1] != 0.5 {
		t.Errorf("JSON preset with fields: %s", r)
	}
	if r, err := ParseRecipe("efficientnet"); err != nil || r.interp() != Bicubic {
		t.Errorf("a bare preset name: %v, %v", r, err)
	}
}

// Each field parses from its string form and names its flag when it
// cannot.
func TestRecipeSet(t *testing.T) {
	t.Parallel()
	base := RecipeFor(224, 224)
	tests := []struct {
		key, value string
		want       string // Get(key) after, or the error's substring
		err        bool
	}{
		{"resize", "342", "342", false},
		{"resize", "none", "none", false},
		{"resize", "-3", "--resize", true},
		{"crop", "299x299", "299x299", false},
		{"crop", "240×320", "240x320", false},
		{"crop", "224", "224x224", false},
		{"crop", "0x4", "--crop", true},
		{"interpolation", "BICUBIC", "bicubic", false},
		{"interpolation", "lanczos", "--interpolation", true},
		{"scale", "1", "1", false},
		{"scale", "1/255", "1/255", false},
		{"scale", "0", "--scale", true},
		{"mean", "0.5", "0.5,0.5,0.5", false},
		{"mean", "[0.1, 0.2, 0.3]", "0.1,0.2,0.3", false},
		{"mean", "1,2", "--mean", true},
		{"std", "x,1,1", "--std", true},
		{"channels", "bgr", "BGR", false},
		{"channels", "RGBA", "--channels", true},
		{"layout", "nhwc", "NHWC", false},
		{"layout", "auto", "auto", false},
		{"layout", "CHW", "--layout", true},
		{"dtype", "fp16", "float16", false},
		{"dtype", "int8", "--dtype", true},
		{"preset", "nope", "--preset", true},
		{"colour", "red", "no field", true},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			r, err := base.Set(tt.key, tt.value)
			if tt.err {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want one containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Get(tt.key); got != tt.want {
				t.Errorf("Get(%s) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
	// Changing the channel order keeps each colour's mean and std with it.
	r, _ := base.Set("channels", "BGR")
	if r.Mean != [3]float32{0.406, 0.456, 0.485} || r.Std[0] != 0.225 {
		t.Errorf("BGR: mean %v std %v", r.Mean, r.Std)
	}
	// Knobs apply in a fixed order whatever the map order: preset first.
	for range 20 {
		r, err := ApplyRecipeKnobs(base, map[string]string{"resize": "300", "preset": "efficientnet", "channels": "BGR", "mean": "1,2,3"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Resize != 300 || r.interp() != Bicubic || r.Mean != [3]float32{1, 2, 3} {
			t.Fatalf("ApplyRecipeKnobs: %s", r)
		}
	}
	if _, err := ApplyRecipeKnobs(base, map[string]string{"crop": "x", "mean": "y"}); err == nil ||
		!strings.Contains(err.Error(), "--crop") || !strings.Contains(err.Error(), "--mean") {
		t.Errorf("every problem at once: %v", err)
	}
}

// Layout and channel order move values, never change them: NHWC is the
// transpose of NCHW and BGR swaps the planes, on both resamplers; scale 1
// with mean 0 and std 1 gives the bytes themselves.
func TestRecipeLayoutAndChannels(t *testing.T) {
	t.Parallel()
	img := noiseImage(rand.New(rand.NewPCG(3, 4)), 173, 131)
	for _, interp := range []Interpolation{Bilinear, Bicubic, Nearest} {
		base := RecipeFor(56, 48)
		base.Resize = 64
		base.Interpolation = interp
		ref := processImage(t, base, img)
		plane := 56 * 48
		variants := []struct {
			name string
			set  map[string]string
			at   func(c, i int) int // where NCHW's channel c, pixel i lands
		}{
			{"NHWC", map[string]string{"layout": "NHWC"}, func(c, i int) int { return 3*i + c }},
			{"BGR", map[string]string{"channels": "BGR"}, func(c, i int) int { return (2-c)*plane + i }},
			{"NHWC+BGR", map[string]string{"layout": "NHWC", "channels": "BGR"}, func(c, i int) int { return 3*i + 2 - c }},
		}
		for _, v := range variants {
			r, err := ApplyRecipeKnobs(base, v.set)
			if err != nil {
				t.Fatal(err)
			}
			got := processImage(t, r, img)
			for c := range 3 {
				for i := range plane {
					if g, w := got[v.at(c, i)], ref[c*plane+i]; g != w {
						t.Fatalf("%s %s: channel %d pixel %d = %v, want %v", interp, v.name, c, i, g, w)
					}
				}
			}
		}
		raw, _ := ApplyRecipeKnobs(base, map[string]string{"scale": "1", "mean": "0", "std": "1"})
		bytes := processImage(t, raw, img)
		for i, v := range bytes {
			c := i / plane
			want := (float32(v)/255 - ImageNetMean[c]) / ImageNetStd[c]
			if v != float32(math.Round(float64(v))) || ref[i] != want {
				t.Fatalf("%s raw bytes: element %d = %v, normalised %v want %v", interp, i, v, ref[i], want)
			}
		}
	}
}

// Bicubic and nearest follow their definitions: bicubic within one 8-bit
// level of a float64 Keys-cubic resize of a smooth image (the negative lobes
// make Pillow's 8-bit intermediate clip, so smooth content is the fair
// test), nearest exactly the source pixel at int((i+0.5)·scale).
func TestInterpolationsMatchDefinition(t *testing.T) {
	t.Parallel()
	const sw, sh = 150, 110
	img := image.NewRGBA(image.Rect(0, 0, sw, sh))
	for y := range sh {
		for x := range sw {
			v := 128 + 100*math.Sin(float64(x)/9)*math.Cos(float64(y)/13)
			copy(img.Pix[img.PixOffset(x, y):], []uint8{uint8(v), uint8(255 - v), uint8(x + y), 255})
		}
	}
	for _, resize := range []int{40, 220} { // down and up
		r := Recipe{Resize: resize, CropH: resize, CropW: resize, Mean: [3]float32{}, Std: [3]float32{1, 1, 1}, Scale: 1}
		nw, nh := ResizedSize(sw, sh, resize)
		left, top := CropOffset(nw, resize), CropOffset(nh, resize)

		r.Interpolation = Bicubic
		got := processImage(t, r, img)
		ref := floatResize(img, nw, nh, bicubic, 2)
		plane := resize * resize
		for c := range 3 {
			for y := range resize {
				for x := range resize {
					g := got[c*plane+y*resize+x]
					w := ref[y+top][x+left][c]
					if math.Abs(float64(g)-math.Round(min(max(w, 0), 255))) > 1 {
						t.Fatalf("bicubic resize %d: (%d,%d,%d) = %v, float reference %.2f", resize, x, y, c, g, w)
					}
				}
			}
		}

		r.Interpolation = Nearest
		got = processImage(t, r, img)
		for y := range resize {
			for x := range resize {
				sx := int((float64(x+left) + 0.5) * float64(sw) / float64(nw))
				sy := int((float64(y+top) + 0.5) * float64(sh) / float64(nh))
				for c := range 3 {
					if g, w := got[c*plane+y*resize+x], img.Pix[img.PixOffset(sx, sy)+c]; g != float32(w) {
						t.Fatalf("nearest resize %d: (%d,%d,%d) = %v, source (%d,%d) has %d", resize, x, y, c, g, sx, sy, w)
					}
				}
			}
		}
	}
}

// floatResize is a separable resize by definition in float64: every
// source pixel weighted by filter(distance/stretch), normalised, with the
// filter stretched by the downscale factor.
func floatResize(img *image.RGBA, nw, nh int, filter func(float64) float64, support float64) [][][3]float64 {
	sw, sh := img.Bounds().Dx(), img.Bounds().Dy()
	wx, wy := filterWeights(sw, nw, filter, support), filterWeights(sh, nh, filter, support)
	out := make([][][3]float64, nh)
	for i := range nh {
		out[i] = make([][3]float64, nw)
		for j := range nw {
			for y, a := range wy[i] {
				if a == 0 {
					continue
				}
				for x, b := range wx[j] {
					if b == 0 {
						continue
					}
					p := img.Pix[img.PixOffset(x, y):]
					for c := range 3 {
						out[i][j][c] += a * b * float64(p[c])
					}
				}
			}
		}
	}
	return out
}

// filterWeights is the weight of every source sample in each of out
// output samples: filter(distance/stretch) within its support, the filter
// stretched by the downscale factor, normalised to sum to one.
func filterWeights(in, out int, filter func(float64) float64, support float64) [][]float64 {
	scale := float64(in) / float64(out)
	stretch := math.Max(scale, 1)
	ws := make([][]float64, out)
	for i := range out {
		center := (float64(i) + 0.5) * scale
		w := make([]float64, in)
		var sum float64
		for x := range in {
			if d := (float64(x) + 0.5 - center) / stretch; math.Abs(d) < support {
				w[x] = filter(d)
				sum += w[x]
			}
		}
		for x := range w {
			w[x] /= sum
		}
		ws[i] = w
	}
	return ws
}

// The native resampler matches the Go one bit for bit for every
// interpolation, layout and channel order.
func TestResampleNativeMatchesGoRecipes(t *testing.T) {
	if !nativeResample {
		t.Skip("skipping: no native resampler in this build (needs cgo on amd64 or arm64)")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	one := scaleFactor{1, 1}
	geoms := []resampleCase{
		{w: 500, h: 375, sf: one, o: 1, crop: [2]int{224, 224}, resize: 256},
		{w: 1001, h: 777, sf: scaleFactor{1, 2}, o: 6, crop: [2]int{199, 150}, resize: 211, windowed: true},
		{w: 100, h: 60, sf: one, o: 1, crop: [2]int{96, 128}, resize: 120},
		{w: 300, h: 200, sf: one, o: 1, crop: [2]int{224, 224}, resize: 0}, // no resize, padded
	}
	for _, interp := range []Interpolation{Bilinear, Bicubic, Nearest} {
		for _, layout := range []Layout{NCHW, NHWC} {
			for _, ch := range []Channels{RGB, BGR} {
				for _, c := range geoms {
					r := Recipe{Resize: c.resize, CropH: c.crop[0], CropW: c.crop[1], Mean: ImageNetMean, Std: ImageNetStd,
						Interpolation: interp, Layout: layout, Channels: ch}
					name := fmt.Sprintf("%s/%s/%s/%dx%d-r%d", interp, layout, ch, c.w, c.h, c.resize)
					t.Run(name, func(t *testing.T) { checkResampleRecipe(t, rng, c, r) })
				}
			}
		}
	}
}

func processImage(t *testing.T, r Recipe, img image.Image) []float32 {
	t.Helper()
	dst := make([]float32, r.OutputLen())
	if err := NewPreprocessor(r, 0).ProcessImage(img, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func noiseImage(rng *rand.Rand, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.UintN(256))
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img
}
