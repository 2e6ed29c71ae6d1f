package vision

import (
	"errors"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
)

// decodeRGB decodes data and returns its upright pixels as packed RGB.
func decodeRGB(t *testing.T, data []byte) (w, h int, pix []byte) {
	t.Helper()
	d, err := Decode(GoDecoder{}, data, 0, SizeHint{})
	if err != nil {
		t.Fatal(err)
	}
	b := d.Image.Bounds()
	pix = make([]byte, 3*b.Dx()*b.Dy())
	toRGB(d.Image, b, pix)
	return b.Dx(), b.Dy(), pix
}

func near(a, b uint8, tol int) bool {
	d := int(a) - int(b)
	return d >= -tol && d <= tol
}

// Each source format must come out as the RGB Pillow's convert("RGB") gives.
func TestDecodeFormats(t *testing.T) {
	t.Parallel()
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	gray := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range gray.Pix {
		gray.Pix[i] = 77
	}
	gray16 := image.NewGray16(image.Rect(0, 0, 4, 4))
	for i := 0; i < len(gray16.Pix); i += 2 {
		gray16.Pix[i], gray16.Pix[i+1] = 0xAB, 0xCD
	}
	rgb16 := image.NewRGBA64(image.Rect(0, 0, 4, 4))
	for i := 0; i < len(rgb16.Pix); i += 8 {
		copy(rgb16.Pix[i:], []byte{0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xFF, 0xFF})
	}
	alpha := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	for i := 0; i < len(alpha.Pix); i += 4 {
		// Half-transparent: the colour channels must survive unscaled.
		copy(alpha.Pix[i:], []byte{200, 100, 50, 128})
	}
	alpha0 := image.NewNRGBA(image.Rect(0, 0, 4, 4)) // fully transparent
	for i := 0; i < len(alpha0.Pix); i += 4 {
		copy(alpha0.Pix[i:], []byte{9, 8, 7, 0})
	}
	pal := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{
		color.RGBA{0, 0, 0, 255}, color.NRGBA{10, 250, 30, 255}, color.NRGBA{40, 50, 60, 99},
	})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(1 + i%2)
	}
	tests := []struct {
		name   string
		data   []byte
		tol    int
		expect func(x, y int) [3]uint8
	}{
		{"grayscale jpeg", encodeJPEG(t, gray, 100), 1, func(x, y int) [3]uint8 { return [3]uint8{77, 77, 77} }},
		{"ycbcr jpeg", encodeJPEG(t, solid(16, 16, rgb(200, 40, 90)), 100), 3, func(x, y int) [3]uint8 { return [3]uint8{200, 40, 90} }},
		// Fixtures from testdata/gen_cmyk.c: red | ink (200,50,0,60).
		// RGB = (255-C)(255-K)/255, Pillow's and image/color's formula.
		{"adobe cmyk jpeg", read("cmyk.jpg"), 3, cmykFixture},
		{"adobe ycck jpeg", read("ycck.jpg"), 3, cmykFixture},
		{"16-bit gray png", encodePNG(t, gray16), 0, func(x, y int) [3]uint8 { return [3]uint8{0xAB, 0xAB, 0xAB} }},
		{"16-bit rgb png", encodePNG(t, rgb16), 0, func(x, y int) [3]uint8 { return [3]uint8{0x12, 0x56, 0x9A} }},
		{"png with alpha", encodePNG(t, alpha), 0, func(x, y int) [3]uint8 { return [3]uint8{200, 100, 50} }},
		{"png fully transparent", encodePNG(t, alpha0), 0, func(x, y int) [3]uint8 { return [3]uint8{9, 8, 7} }},
		{"paletted png", encodePNG(t, pal), 0, func(x, y int) [3]uint8 {
			if (y*4+x)%2 == 0 {
				return [3]uint8{10, 250, 30}
			}
			return [3]uint8{40, 50, 60}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, h, pix := decodeRGB(t, tt.data)
			for y := range h {
				for x := range w {
					got := [3]uint8(pix[3*(y*w+x):])
					want := tt.expect(x, y)
					for c := range 3 {
						if !near(got[c], want[c], tt.tol) {
							t.Fatalf("pixel (%d,%d) = %v, want %v ±%d", x, y, got, want, tt.tol)
						}
					}
				}
			}
		})
	}
}

func cmykFixture(x, y int) [3]uint8 {
	if x < 16 {
		return [3]uint8{255, 0, 0}
	}
	// nk - round(ink·nk/255) with nk = 255-60 = 195.
	return [3]uint8{195 - 153, 195 - 38, 195 - 0}
}

// The fast per-type converters must agree with the generic colour-model
// path on every image type, including sub-images with non-zero origins.
func TestToRGBMatchesColorModel(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	fill := func(b []byte) {
		for i := range b {
			b[i] = uint8(r.IntN(256))
		}
	}
	rect := image.Rect(-3, 5, 14, 18)
	var imgs []image.Image
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		for _, rc := range []image.Rectangle{rect, image.Rect(0, 0, 17, 13), image.Rect(3, 1, 20, 14)} {
			m := image.NewYCbCr(rc, ratio)
			fill(m.Y)
			fill(m.Cb)
			fill(m.Cr)
			imgs = append(imgs, m)
		}
	}
	gray, g16 := image.NewGray(rect), image.NewGray16(rect)
	nrgba, n64 := image.NewNRGBA(rect), image.NewNRGBA64(rect)
	rgba, r64 := image.NewRGBA(rect), image.NewRGBA64(rect)
	cmyk := image.NewCMYK(rect)
	for _, b := range [][]byte{gray.Pix, g16.Pix, nrgba.Pix, n64.Pix, cmyk.Pix} {
		fill(b)
	}
	// Premultiplied images need colour ≤ alpha to be valid.
	for _, m := range []struct {
		pix  []byte
		size int
	}{{rgba.Pix, 1}, {r64.Pix, 2}} {
		fill(m.pix)
		px := 4 * m.size
		for i := 0; i < len(m.pix); i += px {
			if i%(3*px) == 0 { // some fully opaque pixels
				for k := 3 * m.size; k < px; k++ {
					m.pix[i+k] = 0xFF
				}
			}
			for c := range 3 {
				if m.size == 1 {
					m.pix[i+c] = min(m.pix[i+c], m.pix[i+3])
				} else if uint16(m.pix[i+2*c])<<8|uint16(m.pix[i+2*c+1]) > uint16(m.pix[i+6])<<8|uint16(m.pix[i+7]) {
					m.pix[i+2*c], m.pix[i+2*c+1] = m.pix[i+6], m.pix[i+7]
				}
			}
		}
	}
	pal := image.NewPaletted(rect, color.Palette{color.RGBA{1, 2, 3, 255}, color.NRGBA{200, 100, 0, 7}, color.Gray{99}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(r.IntN(3))
	}
	nyca := image.NewNYCbCrA(rect, image.YCbCrSubsampleRatio420)
	fill(nyca.Y)
	fill(nyca.Cb)
	fill(nyca.Cr)
	fill(nyca.A)
	alpha := image.NewAlpha(rect) // generic fallback
	fill(alpha.Pix)
	imgs = append(imgs, gray, g16, nrgba, n64, rgba, r64, cmyk, pal, nyca, alpha)

	for _, img := range imgs {
		b := img.Bounds()
		sub := image.Rect(b.Min.X+1, b.Min.Y+2, b.Max.X-1, b.Max.Y)
		got := make([]byte, 3*sub.Dx()*sub.Dy())
		toRGB(img, sub, got)
		i := 0
		for y := sub.Min.Y; y < sub.Max.Y; y++ {
			for x := sub.Min.X; x < sub.Max.X; x++ {
				var want [3]uint8
				switch m := img.(type) {
				case *image.NYCbCrA: // alpha is dropped, not applied
					want = rgbOf(m.YCbCr.At(x, y))
				case *image.CMYK: // Pillow's rounding, not image/color's
					c := m.CMYKAt(x, y)
					nk := 255 - float64(c.K)
					for i, v := range []uint8{c.C, c.M, c.Y} {
						want[i] = uint8(nk - math.Round(float64(v)*nk/255))
					}
				default:
					want = rgbOf(img.At(x, y))
				}
				// Un-premultiplying rounds where image/color truncates.
				tol := 0
				switch img.(type) {
				case *image.RGBA, *image.RGBA64, *image.NRGBA64:
					tol = 1 // and image/color's 16-bit round trip truncates
				}
				for c := range 3 {
					if !near(got[i+c], want[c], tol) {
						t.Fatalf("%T %v at (%d,%d): got %v want %v", img, b, x, y, got[i:i+3], want)
					}
				}
				i += 3
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	good := encodeJPEG(t, solid(64, 48, rgb(1, 2, 3)), 90)
	goodPNG := encodePNG(t, solid(64, 48, rgb(1, 2, 3)))
	random := make([]byte, 4096)
	rr := rand.New(rand.NewPCG(3, 4))
	for i := range random {
		random[i] = uint8(rr.Uint32())
	}
	random[0] = 0x42
	tests := []struct {
		name    string
		data    []byte
		kind    error
		name2   string
		message string
	}{
		{"empty", nil, ErrEmpty, "empty", "empty file"},
		{"random bytes", random, ErrNotImage, "not_image", "unrecognised file signature 42"},
		{"text named .jpg", []byte("this is not a picture\n"), ErrNotImage, "not_image", "not an image"},
		{"truncated jpeg body", good[:len(good)/2], ErrTruncated, "truncated", "unexpected EOF"},
		{"truncated jpeg header", good[:20], ErrTruncated, "truncated", "truncated image"},
		{"jpeg magic only", good[:2], ErrTruncated, "truncated", "jpeg"},
		{"truncated png", goodPNG[:len(goodPNG)-20], ErrTruncated, "truncated", "png"},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), ErrUnsupported, "unsupported", "gif"},
		{"webp", []byte("RIFF\x10\x00\x00\x00WEBPVP8 "), ErrUnsupported, "unsupported", "webp"},
		{"corrupt jpeg", append(append([]byte{}, good[:2]...), 0xFF, 0x01, 0x13, 0x37, 0xFF, 0xC0, 0, 0), ErrCorrupt, "corrupt", "jpeg"},
		{"png bad checksum", append(append([]byte{}, goodPNG[:29]...), 0, 0, 0, 0), ErrCorrupt, "corrupt", "checksum"},
		{"zero width png", pngHeader(0, 10), ErrCorrupt, "corrupt", "png"},
		{"huge png header", pngHeader(100000, 100000), ErrTooLarge, "too_large", "100000×100000 is 10000.0 megapixels, above the limit of 64.0 megapixels (raise it with --max-pixels)"},
		{"huge jpeg header", patchSOF(t, good, 65535, 65535), ErrTooLarge, "too_large", "65535×65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(GoDecoder{}, tt.data, 0, SizeHint{})
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want kind %v", err, tt.kind)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err %T is not a *DecodeError", err)
			}
			if got := Kind(err); got != tt.name2 {
				t.Errorf("Kind = %q, want %q", got, tt.name2)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("message %q does not contain %q", err, tt.message)
			}
			// Process reports the same error.
			p := NewPreprocessor(RecipeFor(8, 8), 0)
			if err := p.Process(tt.data, make([]float32, 3*8*8)); !errors.Is(err, tt.kind) {
				t.Errorf("Process err = %v, want kind %v", err, tt.kind)
			}
		})
	}
}

func TestKind(t *testing.T) {
	t.Parallel()
	if Kind(nil) != "" || Kind(os.ErrNotExist) != "other" {
		t.Errorf("Kind(nil)=%q Kind(ErrNotExist)=%q", Kind(nil), Kind(os.ErrNotExist))
	}
}

// A decompression bomb must be refused from its header: decoding the
// 100000×100000 header must not allocate anything like its 30 GB bitmap.
func TestPixelLimitDoesNotDecode(t *testing.T) {
	data := pngHeader(100000, 100000)
	jpg := patchSOF(t, encodeJPEG(t, solid(64, 48, rgb(1, 2, 3)), 90), 65535, 65535)
	for _, d := range [][]byte{data, jpg} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		allocs := testing.AllocsPerRun(10, func() {
			if _, err := Decode(GoDecoder{}, d, 0, SizeHint{}); !errors.Is(err, ErrTooLarge) {
				t.Fatal(err)
			}
		})
		runtime.ReadMemStats(&after)
		if perRun := (after.TotalAlloc - before.TotalAlloc) / 11; perRun > 64<<10 {
			t.Errorf("refusing a bomb allocated %d bytes per call", perRun)
		}
		if allocs > 100 {
			t.Errorf("refusing a bomb made %v allocations", allocs)
		}
	}
	// The limit is configurable both ways.
	small := encodePNG(t, solid(100, 100, rgb(1, 2, 3)))
	if _, err := Decode(GoDecoder{}, small, 9999, SizeHint{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("10000 px with limit 9999: err = %v", err)
	}
	if _, err := Decode(GoDecoder{}, small, 10000, SizeHint{}); err != nil {
		t.Errorf("10000 px with limit 10000: err = %v", err)
	}
}

// panicDecoder stands in for a decoder that crashes on hostile input.
type panicDecoder struct{ GoDecoder }

func (panicDecoder) Decode([]byte, SizeHint) (image.Image, string, error) {
	var s []int
	_ = s[3]
	return nil, "", nil
}

func TestDecoderPanicIsRecovered(t *testing.T) {
	t.Parallel()
	data := encodeJPEG(t, solid(8, 8, rgb(1, 2, 3)), 90)
	p := NewPreprocessor(RecipeFor(8, 8), 0)
	p.SetDecoder(panicDecoder{})
	err := p.Process(data, make([]float32, 3*8*8))
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("err = %v, want a recovered ErrCorrupt", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encodeJPEG(f, solid(8, 8, rgb(1, 2, 3)), 90))
	f.Add(encodePNG(f, solid(8, 8, rgb(1, 2, 3))))
	f.Add([]byte{})
	p := NewPreprocessor(RecipeFor(8, 8), 1<<20)
	dst := make([]float32, 3*8*8)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := p.Process(data, dst); err != nil && Kind(err) == "other" {
			t.Fatalf("unclassified error: %v", err)
		}
	})
}
