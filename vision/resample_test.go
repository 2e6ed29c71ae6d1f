package vision

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// resampleCase is one geometry for the resampler: the upright full size,
// the DCT scale the source was decoded at, the EXIF orientation, the crop
// and resize, and whether the source is only the plan's window (as
// orientWindow leaves it) rather than the whole image.
type resampleCase struct {
	w, h     int
	sf       scaleFactor
	o        int
	crop     [2]int // h, w
	resize   int
	windowed bool
}

// TestResampleNativeMatchesGo holds the C resampler to the Go one, bit for
// bit, on both of its code paths (SSE4.1 where the CPU has it, and the
// portable loop): down- and upscaling, crops larger than the image
// (padding), non-square crops, odd sizes, DCT-scaled sources, flipped
// orientations, and window sources with an offset.
func TestResampleNativeMatchesGo(t *testing.T) {
	if !nativeResample {
		t.Skip("skipping: no native resampler in this build (needs cgo on amd64 or arm64)")
	}
	one := scaleFactor{1, 1}
	cases := []resampleCase{
		{w: 500, h: 375, sf: one, o: 1, crop: [2]int{224, 224}, resize: 256},
		{w: 375, h: 500, sf: one, o: 1, crop: [2]int{224, 224}, resize: 256},
		{w: 1920, h: 1080, sf: scaleFactor{1, 4}, o: 1, crop: [2]int{224, 224}, resize: 256},
		{w: 1001, h: 777, sf: scaleFactor{3, 8}, o: 1, crop: [2]int{224, 224}, resize: 256},
		{w: 100, h: 60, sf: one, o: 1, crop: [2]int{224, 224}, resize: 256}, // upscale
		{w: 40, h: 30, sf: one, o: 1, crop: [2]int{224, 224}, resize: 32},   // padded crop
		{w: 1, h: 1, sf: one, o: 1, crop: [2]int{8, 8}, resize: 8},
		{w: 640, h: 480, sf: scaleFactor{1, 2}, o: 6, crop: [2]int{224, 224}, resize: 256, windowed: true},
		{w: 640, h: 480, sf: scaleFactor{1, 2}, o: 3, crop: [2]int{224, 224}, resize: 256, windowed: true},
		{w: 333, h: 517, sf: one, o: 8, crop: [2]int{199, 150}, resize: 211, windowed: true},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	defer forceScalarResample(false)
	for _, isa := range []string{"best", "scalar"} {
		forceScalarResample(isa == "scalar")
		for _, c := range cases {
			name := fmt.Sprintf("%s/%dx%d/%d-%d/o%d/crop%dx%d", isa, c.w, c.h, c.sf.num, c.sf.denom, c.o, c.crop[0], c.crop[1])
			t.Run(name, func(t *testing.T) { checkResample(t, rng, c) })
		}
	}
}

func checkResample(t *testing.T, rng *rand.Rand, c resampleCase) {
	checkResampleRecipe(t, rng, c, Recipe{Resize: c.resize, CropH: c.crop[0], CropW: c.crop[1], Mean: ImageNetMean, Std: ImageNetStd})
}

func checkResampleRecipe(t *testing.T, rng *rand.Rand, c resampleCase, r Recipe) {
	p := NewPreprocessor(r, 0)
	iw, ih := c.sf.scaled(c.w), c.sf.scaled(c.h)
	g := p.plan(c.w, c.h, iw, ih, c.sf, c.o)
	src := make([]byte, 3*iw*ih)
	for i := range src {
		src[i] = uint8(rng.UintN(256))
	}
	stride, ox, oy := 3*iw, 0, 0
	if c.windowed {
		bw, bh := g.x1-g.x0, g.y1-g.y0
		src, stride, ox, oy = src[:3*bw*bh], 3*bw, g.x0, g.y0
	}
	n := p.Recipe().OutputLen()
	want, got := make([]float32, n), make([]float32, n)
	for i := range got { // stale values must all be overwritten
		got[i] = float32(i)
	}
	p.resampleGo(&g, src, stride, ox, oy, want)
	p.resampleNative(&g, src, stride, ox, oy, got)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("native and Go resamplers differ at %d of %d: %v vs %v", i, n, got[i], want[i])
		}
	}
}
