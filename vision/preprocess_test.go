package vision

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"testing"
)

// norm is ToTensor + Normalize for one byte, in float32 as torchvision does.
func norm(b uint8, c int) float32 {
	return (float32(b)/float32(255) - ImageNetMean[c]) / ImageNetStd[c]
}

func TestResizedSize(t *testing.T) {
	t.Parallel()
	tests := []struct{ w, h, size, nw, nh int }{
		{500, 375, 256, 341, 256}, // int(341.33)
		{375, 500, 256, 256, 341},
		{256, 256, 256, 256, 256},
		{1000, 200, 256, 1280, 256},
		{37, 50, 64, 64, 86}, // int(86.49)
		{300, 200, 256, 384, 256},
	}
	for _, tt := range tests {
		if nw, nh := ResizedSize(tt.w, tt.h, tt.size); nw != tt.nw || nh != tt.nh {
			t.Errorf("ResizedSize(%d,%d,%d) = %d×%d, want %d×%d", tt.w, tt.h, tt.size, nw, nh, tt.nw, tt.nh)
		}
	}
}

func TestCropOffset(t *testing.T) {
	t.Parallel()
	tests := []struct{ n, c, want int }{
		{256, 224, 16},
		{341, 224, 58}, // round(58.5) = 58: Python rounds half to even
		{343, 224, 60}, // round(59.5) = 60
		{85, 56, 14},   // round(14.5) = 14
		{224, 224, 0},
		{20, 24, -2}, // crop overhangs: pad (24-20)//2 = 2 before
		{21, 24, -1}, // (24-21)//2 = 1
	}
	for _, tt := range tests {
		if got := CropOffset(tt.n, tt.c); got != tt.want {
			t.Errorf("CropOffset(%d, %d) = %d, want %d", tt.n, tt.c, got, tt.want)
		}
	}
}

func TestRecipeFor(t *testing.T) {
	t.Parallel()
	tests := []struct{ h, w, resize int }{
		{224, 224, 256},
		{64, 64, 73},    // int(64·256/224) = int(73.14)
		{299, 299, 341}, // int(341.7)
		{384, 640, 438},
	}
	for _, tt := range tests {
		r := RecipeFor(tt.h, tt.w)
		if r.Resize != tt.resize || r.CropH != tt.h || r.CropW != tt.w || r.Mean != ImageNetMean || r.Std != ImageNetStd {
			t.Errorf("RecipeFor(%d,%d) = %+v, want resize %d", tt.h, tt.w, r, tt.resize)
		}
		if err := r.Validate(); err != nil {
			t.Error(err)
		}
	}
	if r := RecipeFor(224, 224); r.OutputLen() != 3*224*224 || r.Shape() != [3]int{3, 224, 224} {
		t.Errorf("OutputLen %d Shape %v", r.OutputLen(), r.Shape())
	}
	bad := Recipe{Resize: 0, CropH: -1, CropW: 3, Std: [3]float32{1, 0, 1}}
	if err := bad.Validate(); err == nil {
		t.Error("invalid recipe validated")
	}
	if err := NewPreprocessor(bad, 0).Process(nil, make([]float32, 100)); err == nil {
		t.Error("Process with an invalid recipe succeeded")
	}
}

// A solid image stays solid through any resize, so every element must be
// exactly (c/255 - mean)/std.
func TestProcessSolidColour(t *testing.T) {
	t.Parallel()
	c := rgb(201, 37, 118)
	for _, sz := range [][2]int{{500, 375}, {375, 500}, {224, 224}, {100, 80}, {1001, 203}, {13, 11}} {
		for _, rec := range []Recipe{RecipeFor(224, 224), RecipeFor(64, 64), {Resize: 30, CropH: 20, CropW: 28, Mean: ImageNetMean, Std: ImageNetStd}} {
			p := NewPreprocessor(rec, 0)
			dst := make([]float32, rec.OutputLen())
			if err := p.ProcessImage(solid(sz[0], sz[1], c), dst); err != nil {
				t.Fatal(err)
			}
			plane := rec.CropH * rec.CropW
			for i, v := range dst {
				ch := i / plane
				if want := norm([]uint8{c.R, c.G, c.B}[ch], ch); v != want {
					t.Fatalf("%v %v: element %d = %v, want %v", sz, rec, i, v, want)
				}
			}
		}
	}
}

// referenceTensor computes the recipe by its definition, independently of
// the implementation: each resized sample is the normalised triangle-
// weighted mean over *all* source pixels (the triangle's half-width is the
// downscale factor, at least 1), computed horizontally then vertically in
// float64. With pillow set, the horizontal result is rounded to 8 bits
// before the vertical pass, as Pillow's resampler stores it; otherwise the
// only rounding is at the end. The crop offsets are given by the caller.
func referenceTensor(src *image.RGBA, nw, nh, top, left, ch, cw int, pillow bool) [][3]uint8 {
	sw, sh := src.Bounds().Dx(), src.Bounds().Dy()
	weights := func(in, out int) [][]float64 { return filterWeights(in, out, triangle, 1) }
	wx, wy := weights(sw, nw), weights(sh, nh)
	// Horizontal pass over every source row, for the crop's columns.
	horiz := make([][][3]float64, sh)
	for sy := range sh {
		horiz[sy] = make([][3]float64, cw)
		for j := range cw {
			x := left + j
			if x < 0 || x >= nw {
				continue
			}
			for sx := range sw {
				if wx[x][sx] == 0 {
					continue
				}
				p := src.Pix[src.PixOffset(sx, sy):]
				for c := range 3 {
					horiz[sy][j][c] += wx[x][sx] * float64(p[c])
				}
			}
			if pillow {
				for c := range 3 {
					horiz[sy][j][c] = math.Round(horiz[sy][j][c])
				}
			}
		}
	}
	out := make([][3]uint8, ch*cw) // zero padding outside the resized image
	for i := range ch {
		for j := range cw {
			y, x := top+i, left+j
			if y < 0 || y >= nh || x < 0 || x >= nw {
				continue
			}
			var acc [3]float64
			for sy := range sh {
				if wy[y][sy] == 0 {
					continue
				}
				for c := range 3 {
					acc[c] += wy[y][sy] * horiz[sy][j][c]
				}
			}
			for c := range 3 {
				out[i*cw+j][c] = uint8(math.Round(acc[c]))
			}
		}
	}
	return out
}

func TestProcessMatchesReference(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	noise := func(w, h int) *image.RGBA {
		img := solid(w, h, rgb(0, 0, 0))
		for i := range img.Pix {
			if i%4 != 3 {
				img.Pix[i] = uint8(r.IntN(256))
			}
		}
		return img
	}
	gradient := func(w, h int) *image.RGBA {
		img := solid(w, h, rgb(0, 0, 0))
		for y := range h {
			for x := range w {
				v := uint8(x * 255 / (w - 1))
				copy(img.Pix[img.PixOffset(x, y):], []uint8{v, 255 - v, uint8(y * 255 / (h - 1))})
			}
		}
		return img
	}
	split := func(w, h int) *image.RGBA {
		img := solid(w, h, rgb(250, 10, 60))
		for y := range h {
			for x := w / 3; x < w; x++ {
				copy(img.Pix[img.PixOffset(x, y):], []uint8{5, 200, 120})
			}
		}
		return img
	}
	small := Recipe{Resize: 64, CropH: 56, CropW: 56, Mean: ImageNetMean, Std: ImageNetStd}
	tests := []struct {
		name              string
		img               *image.RGBA
		rec               Recipe
		nw, nh, top, left int // derived by hand from torchvision's rules
	}{
		{"downscale noise 260x195", noise(260, 195), small, 85, 64, 4, 14},
		{"downscale gradient 500x375", gradient(500, 375), small, 85, 64, 4, 14},
		{"downscale split 195x260", split(195, 260), small, 64, 85, 14, 4},
		{"upscale noise 150x100", noise(150, 100), Recipe{Resize: 128, CropH: 112, CropW: 112, Mean: ImageNetMean, Std: ImageNetStd}, 192, 128, 8, 40},
		{"upscale gradient 37x50", gradient(37, 50), small, 64, 86, 15, 4},
		{"mixed noise 90x61 non-square crop", noise(90, 61), Recipe{Resize: 40, CropH: 30, CropW: 36, Mean: ImageNetMean, Std: ImageNetStd}, 59, 40, 5, 12},
		{"identity 56x56", noise(56, 56), Recipe{Resize: 56, CropH: 56, CropW: 56, Mean: ImageNetMean, Std: ImageNetStd}, 56, 56, 0, 0},
		{"padded crop 40x30", noise(40, 30), Recipe{Resize: 20, CropH: 24, CropW: 16, Mean: ImageNetMean, Std: ImageNetStd}, 26, 20, -2, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := tt.rec
			exact := referenceTensor(tt.img, tt.nw, tt.nh, tt.top, tt.left, rec.CropH, rec.CropW, false)
			pillow := referenceTensor(tt.img, tt.nw, tt.nh, tt.top, tt.left, rec.CropH, rec.CropW, true)
			n := rec.OutputLen()
			dst := make([]float32, n+7)
			for i := range dst {
				dst[i] = -999
			}
			p := NewPreprocessor(rec, 0)
			if err := p.ProcessImage(tt.img, dst); err != nil {
				t.Fatal(err)
			}
			for i := n; i < len(dst); i++ {
				if dst[i] != -999 {
					t.Fatalf("wrote past OutputLen at %d", i)
				}
			}
			// Against the exact resize, every element is within one 8-bit
			// level (1/255/std) because of the intermediate rounding.
			// Against the model of Pillow's 8-bit intermediate, elements
			// match exactly except where 22-bit fixed-point weights tip a
			// value sitting on a rounding boundary: allow 0.5% of them.
			plane := rec.CropH * rec.CropW
			same := 0
			for i := range plane {
				for c := range 3 {
					got := dst[c*plane+i]
					ref := norm(exact[i][c], c)
					if levels := math.Abs(float64(got-ref)) * float64(ImageNetStd[c]) * 255; levels > 1.001 {
						t.Fatalf("pixel %d channel %d: got %v, exact reference %v (%.2f levels apart)", i, c, got, ref, levels)
					}
					if got == norm(pillow[i][c], c) {
						same++
					}
				}
			}
			if frac := float64(same) / float64(3*plane); frac < 0.995 {
				t.Errorf("only %.2f%% of elements match the 8-bit-intermediate reference", 100*frac)
			}
		})
	}
}

// Process on encoded bytes must equal ProcessImage on the decoded image:
// the restricted source-window conversion changes nothing.
func TestProcessBytesMatchesImage(t *testing.T) {
	t.Parallel()
	data, err := SynthJPEGSized(9, 500, 375, 90)
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	rec := RecipeFor(224, 224)
	a, b := make([]float32, rec.OutputLen()), make([]float32, rec.OutputLen())
	p := NewPreprocessor(rec, 0)
	if err := p.Process(data, a); err != nil {
		t.Fatal(err)
	}
	// Convert via the generic path to cross-check the YCbCr fast path too.
	rgba := image.NewRGBA(img.Bounds())
	for y := range rgba.Rect.Dy() {
		for x := range rgba.Rect.Dx() {
			rgba.Set(x, y, img.At(x, y))
		}
	}
	if err := p.ProcessImage(rgba, b); err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("element %d: Process %v, ProcessImage %v", i, a[i], b[i])
		}
	}
}

// blocks returns an upright 48×32 test card: a 3×2 grid of 16-px blocks of
// distinct colours, so any flip or rotation is visible.
var blockColours = [6][3]uint8{{230, 20, 20}, {20, 230, 20}, {20, 20, 230}, {230, 230, 20}, {20, 230, 230}, {230, 20, 230}}

func blocks() *image.RGBA {
	img := solid(48, 32, rgb(0, 0, 0))
	for y := range 32 {
		for x := range 48 {
			c := blockColours[(y/16)*3+x/16]
			copy(img.Pix[img.PixOffset(x, y):], c[:])
		}
	}
	return img
}

// Two primitive operations from which the test builds every orientation,
// independently of the implementation's index formulas.
func flipLR(m *image.RGBA) *image.RGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			out.SetRGBA(w-1-x, y, m.RGBAAt(x, y))
		}
	}
	return out
}

func rotCCW(m *image.RGBA) *image.RGBA { // 90° counter-clockwise
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := image.NewRGBA(image.Rect(0, 0, h, w))
	for y := range h {
		for x := range w {
			out.SetRGBA(y, w-1-x, m.RGBAAt(x, y))
		}
	}
	return out
}

func TestProcessEXIFOrientation(t *testing.T) {
	t.Parallel()
	rot := func(m *image.RGBA, n int) *image.RGBA {
		for range n {
			m = rotCCW(m)
		}
		return m
	}
	// stored[o] is what a camera writes for an upright scene when it tags
	// orientation o: the inverse of the transform a viewer applies
	// (2 mirror, 3 rotate 180°, 4 flip, 5 transpose, 6 rotate 90° CW,
	// 7 transverse, 8 rotate 90° CCW).
	stored := map[int]func(*image.RGBA) *image.RGBA{
		1: func(m *image.RGBA) *image.RGBA { return m },
		2: flipLR,
		3: func(m *image.RGBA) *image.RGBA { return rot(m, 2) },
		4: func(m *image.RGBA) *image.RGBA { return rot(flipLR(m), 2) },
		5: func(m *image.RGBA) *image.RGBA { return rotCCW(flipLR(m)) }, // self-inverse
		6: func(m *image.RGBA) *image.RGBA { return rotCCW(m) },         // undoes CW
		7: func(m *image.RGBA) *image.RGBA { return rot(flipLR(m), 3) }, // self-inverse
		8: func(m *image.RGBA) *image.RGBA { return rot(m, 3) },         // undoes CCW
	}
	rec := Recipe{Resize: 32, CropH: 32, CropW: 48, Mean: ImageNetMean, Std: ImageNetStd}
	for o := 1; o <= 8; o++ {
		for _, order := range []string{"II", "MM"} {
			data := withAPP1(encodeJPEG(t, stored[o](blocks()), 100), tiff(order, 3, uint32(o)))
			p := NewPreprocessor(rec, 0)
			dst := make([]float32, rec.OutputLen())
			if err := p.Process(data, dst); err != nil {
				t.Fatal(err)
			}
			for by := range 2 {
				for bx := range 3 {
					y, x := by*16+8, bx*16+8
					for c := range 3 {
						v := dst[c*32*48+y*48+x]
						got := math.Round(float64((v*ImageNetStd[c] + ImageNetMean[c]) * 255))
						if want := float64(blockColours[by*3+bx][c]); math.Abs(got-want) > 8 {
							t.Fatalf("orientation %d %s: block (%d,%d) channel %d = %v, want %v", o, order, bx, by, c, got, want)
						}
					}
				}
			}
		}
	}
}

func TestProcessDoesNotAllocate(t *testing.T) {
	img := solid(500, 375, rgb(1, 2, 3))
	p := NewPreprocessor(RecipeFor(224, 224), 0)
	dst := make([]float32, p.Recipe().OutputLen())
	allocs := testing.AllocsPerRun(5, func() {
		if err := p.ProcessImage(img, dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ProcessImage allocates %v times per image once warm", allocs)
	}
}

func TestKernelCache(t *testing.T) {
	t.Parallel()
	p := NewPreprocessor(RecipeFor(64, 64), 0)
	dst := make([]float32, p.Recipe().OutputLen())
	for range 3 {
		if err := p.ProcessImage(solid(500, 375, rgb(1, 2, 3)), dst); err != nil {
			t.Fatal(err)
		}
	}
	if s := p.Stats(); s.Images != 3 || s.KernelMisses != 2 || s.KernelHits != 4 {
		t.Errorf("after 3 same-size images: %+v, want 2 misses and 4 hits", s)
	}
	for w := 100; w < 140; w++ {
		if err := p.ProcessImage(solid(w, 90, rgb(1, 2, 3)), dst); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(p.kernels.keys); n > p.kernels.maxSize {
		t.Errorf("cache holds %d kernels, bound is %d", n, p.kernels.maxSize)
	}
}

func TestProcessShortDst(t *testing.T) {
	t.Parallel()
	p := NewPreprocessor(RecipeFor(8, 8), 0)
	if err := p.ProcessImage(solid(8, 8, rgb(1, 2, 3)), make([]float32, 10)); err == nil {
		t.Error("short dst accepted")
	}
}
