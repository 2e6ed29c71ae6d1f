package vision

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var genTurboFixtures = flag.Bool("gen-turbo-fixtures", false,
	"rewrite testdata/*.jpg fixtures that need cjpeg/jpegtran (libjpeg-turbo-progs)")

// turboFixtures are JPEG variants Go's encoder cannot write, made once with
// libjpeg-turbo's tools from a synthetic 400×300 photograph (whose 300 px
// short side makes the turbo path decode at 7/8 scale) and committed.
var turboFixtures = []struct {
	file string
	tool string // cjpeg (reading the PPM) or jpegtran (reading the named file)
	args []string
}{
	{"progressive.jpg", "cjpeg", []string{"-quality", "75", "-progressive"}},
	{"gray_progressive.jpg", "cjpeg", []string{"-quality", "75", "-grayscale", "-progressive"}},
	{"yuv444.jpg", "cjpeg", []string{"-quality", "75", "-sample", "1x1"}},
	{"yuv422.jpg", "cjpeg", []string{"-quality", "75", "-sample", "2x1"}},
	{"arithmetic.jpg", "cjpeg", []string{"-quality", "75", "-arithmetic"}},
	{"cmyk_progressive.jpg", "jpegtran", []string{"-progressive", "testdata/cmyk.jpg"}},
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTurboFixtures regenerates the fixtures with -gen-turbo-fixtures and
// otherwise checks they are present and are what their names say.
func TestTurboFixtures(t *testing.T) {
	if *genTurboFixtures {
		src, err := SynthJPEGSized(7, 400, 300, 95)
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		var ppm bytes.Buffer
		fmt.Fprintf(&ppm, "P6\n400 300\n255\n")
		pix := make([]byte, 3*400*300)
		toRGB(img, img.Bounds(), pix)
		ppm.Write(pix)
		for _, f := range turboFixtures {
			cmd := exec.Command(f.tool, f.args...)
			if f.tool == "cjpeg" {
				cmd.Stdin = bytes.NewReader(ppm.Bytes())
			}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s %v: %v", f.tool, f.args, err)
			}
			if err := os.WriteFile(filepath.Join("testdata", f.file), out, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, f := range turboFixtures {
		data := fixture(t, f.file)
		progressive := bytes.Contains(data, []byte{0xFF, 0xC2})
		if want := strings.Contains(f.file, "progressive"); progressive != want {
			t.Errorf("%s: progressive SOF2 present = %v, want %v", f.file, progressive, want)
		}
	}
}

// turboOrSkip returns a TurboDecoder, or skips the test where libjpeg-turbo
// is not installed: the Go path is then the only one there is to test.
func turboOrSkip(t testing.TB, full bool) *TurboDecoder {
	t.Helper()
	return turboWith(t, TurboOptions{FullSize: full})
}

func turboWith(t testing.TB, o TurboOptions) *TurboDecoder {
	t.Helper()
	d, err := NewTurboDecoder(o)
	if errors.Is(err, ErrTurboUnavailable) {
		t.Skipf("skipping: libjpeg-turbo is not loadable here (%v); install it with scripts/setup-turbo.sh", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The fallback must work on every machine, so this test never skips: a
// library path that does not exist stands in for a machine without it.
func TestTurboFallback(t *testing.T) {
	t.Parallel()
	missing := TurboOptions{Library: filepath.Join(t.TempDir(), "libturbojpeg.so.0")}

	d, note, err := SelectDecoder("auto", missing)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(GoDecoder); !ok {
		t.Fatalf("auto without the library chose %T, want GoDecoder", d)
	}
	for _, want := range []string{"go (auto)", missing.Library, TurboLibraryEnv} {
		if !strings.Contains(note, want) {
			t.Errorf("auto note %q does not mention %q", note, want)
		}
	}
	for _, name := range []string{"turbo", "turbo-full", "turbo-anyscale"} {
		if _, _, err := SelectDecoder(name, missing); !errors.Is(err, ErrTurboUnavailable) {
			t.Errorf("%s without the library: err = %v, want ErrTurboUnavailable", name, err)
		}
	}
	if _, err := NewTurboDecoder(missing); !errors.Is(err, ErrTurboUnavailable) {
		t.Errorf("NewTurboDecoder: err = %v, want ErrTurboUnavailable", err)
	}

	// The fallback decoder does the job.
	p := NewPreprocessor(RecipeFor(32, 32), 0)
	p.SetDecoder(d)
	if err := p.Process(encodeJPEG(t, solid(40, 40, rgb(9, 9, 9)), 90), make([]float32, 3*32*32)); err != nil {
		t.Fatal(err)
	}
}

func TestParseDecoder(t *testing.T) {
	t.Parallel()
	if d, err := ParseDecoder("go"); err != nil || d.Name() != "go" {
		t.Errorf(`ParseDecoder("go") = %v, %v`, d, err)
	}
	if _, err := ParseDecoder("pillow"); err == nil || !strings.Contains(err.Error(), "auto, go, turbo") {
		t.Errorf(`ParseDecoder("pillow") err = %v, want the list of names`, err)
	}
	ok, reason := TurboAvailable()
	d, err := ParseDecoder("auto")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[bool]string{true: "turbo", false: "go"}[ok]; d.Name() != want {
		t.Errorf("auto chose %q while TurboAvailable() = %v (%s)", d.Name(), ok, reason)
	}
	if reason == "" {
		t.Error("TurboAvailable gives no reason")
	}
}

func TestTurboScaleFor(t *testing.T) {
	t.Parallel()
	decoders := map[string]*TurboDecoder{
		"turbo":          turboOrSkip(t, false),
		"turbo-full":     turboOrSkip(t, true),
		"turbo-anyscale": turboWith(t, TurboOptions{AnyScale: true}),
	}
	tests := []struct {
		dec        string
		w, h, hint int
		want       scaleFactor
	}{
		{"turbo", 500, 375, 256, scaleFactor{1, 1}}, // 1/2 gives 188
		{"turbo", 375, 500, 256, scaleFactor{1, 1}},
		{"turbo", 1024, 768, 256, scaleFactor{1, 2}},  // 384
		{"turbo", 4000, 3000, 256, scaleFactor{1, 8}}, // 375
		{"turbo", 2048, 2048, 256, scaleFactor{1, 8}}, // exactly 256
		{"turbo", 2047, 2047, 256, scaleFactor{1, 8}}, // ⌈2047/8⌉ = 256
		{"turbo", 2040, 2040, 256, scaleFactor{1, 4}}, // 1/8 gives 255
		{"turbo", 200, 200, 256, scaleFactor{1, 1}},   // already small: no upscaling in the IDCT
		{"turbo", 4000, 3000, 0, scaleFactor{1, 1}},   // no hint
		{"turbo-full", 4000, 3000, 256, scaleFactor{1, 1}},
		{"turbo-anyscale", 500, 375, 256, scaleFactor{3, 4}},  // 282; 5/8 gives 235
		{"turbo-anyscale", 400, 300, 256, scaleFactor{7, 8}},  // 263
		{"turbo-anyscale", 1000, 750, 256, scaleFactor{3, 8}}, // 282
		{"turbo-anyscale", 4000, 3000, 256, scaleFactor{1, 8}},
	}
	for _, tt := range tests {
		got := decoders[tt.dec].scaleFor(tt.w, tt.h, tt.hint)
		if got.num*tt.want.denom != tt.want.num*got.denom {
			t.Errorf("%s scaleFor(%d×%d, %d) = %d/%d, want %d/%d",
				tt.dec, tt.w, tt.h, tt.hint, got.num, got.denom, tt.want.num, tt.want.denom)
		}
	}
}

// tensorDiff is the mean and the largest absolute difference between two
// tensors, in 8-bit pixel levels: the normalised difference times std·255.
func tensorDiff(a, b []float32) (mean, maxAbs float64) {
	plane := len(a) / 3
	var sum float64
	for i := range a {
		d := math.Abs(float64(a[i]-b[i])) * float64(ImageNetStd[i/plane]) * 255
		sum += d
		maxAbs = max(maxAbs, d)
	}
	return sum / float64(len(a)), maxAbs
}

// process runs data through a fresh Preprocessor with decoder d.
func process(t testing.TB, d Decoder, r Recipe, data []byte) []float32 {
	t.Helper()
	p := NewPreprocessor(r, 0)
	p.SetDecoder(d)
	dst := make([]float32, r.OutputLen())
	if err := p.Process(data, dst); err != nil {
		t.Fatalf("%s: %v", d.Name(), err)
	}
	return dst
}

// Tolerances for the synthetic set, in 8-bit levels of the final tensor.
// The Go and libjpeg decoders differ in chroma upsampling (Go replicates,
// libjpeg interpolates, as Pillow does) and IDCT rounding, so even a
// full-size decode differs slightly from the Go path; DCT scaling adds the
// difference between libjpeg's scaled IDCT and the Pillow filter it
// replaces for the first reduction. Each per-image bound is about 1.5× the
// worst image the synthetic set measures (-v prints them; the package doc
// quotes them), so a real regression (a misaligned kernel, swapped
// channels) fails while decoder rounding passes.
const (
	tolFullVsGo   = 1.1 // turbo-full vs go
	tolScaledVsGo = 3.0 // turbo or turbo-anyscale vs go
	tolScaled     = 3.0 // turbo or turbo-anyscale vs turbo-full: the cost of DCT scaling
)

// The turbo and Go paths must agree on the synthetic set, whose sizes
// (200–1000 px long sides) exercise scaling factors from 1/1 to 3/8. -v
// prints the mean absolute differences the package doc quotes.
func TestTurboAgreesWithGo(t *testing.T) {
	t.Parallel()
	full := turboOrSkip(t, true)
	scaled := []*TurboDecoder{turboOrSkip(t, false), turboWith(t, TurboOptions{AnyScale: true})}
	n := 48
	if testing.Short() {
		n = 12
	}
	r := RecipeFor(224, 224)
	type stat struct{ sum, worst float64 }
	add := func(s *stat, v float64) { s.sum += v; s.worst = max(s.worst, v) }
	var fullGo stat
	scaledGo, scaledFull := make([]stat, len(scaled)), make([]stat, len(scaled))
	for i := range n {
		data, err := SynthJPEG(1, i, 10)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := jpeg.DecodeConfig(bytes.NewReader(data))
		g := process(t, GoDecoder{}, r, data)
		f := process(t, full, r, data)
		fg, _ := tensorDiff(f, g)
		add(&fullGo, fg)
		if fg > tolFullVsGo {
			t.Errorf("image %d (%d×%d): turbo-full vs go mean |Δ| %.3f levels, want ≤ %v", i, cfg.Width, cfg.Height, fg, tolFullVsGo)
		}
		for k, d := range scaled {
			s := process(t, d, r, data)
			sg, _ := tensorDiff(s, g)
			sf, _ := tensorDiff(s, f)
			add(&scaledGo[k], sg)
			add(&scaledFull[k], sf)
			if sg > tolScaledVsGo || sf > tolScaled {
				t.Errorf("image %d (%d×%d): %s mean |Δ| vs go %.3f (≤ %v), vs turbo-full %.3f (≤ %v) levels",
					i, cfg.Width, cfg.Height, d.Name(), sg, tolScaledVsGo, sf, tolScaled)
			}
		}
	}
	t.Logf("%d synthetic images, mean |Δ| of the tensor in 8-bit levels (mean over images, worst image):", n)
	t.Logf("  turbo-full vs go: %.3f, %.3f", fullGo.sum/float64(n), fullGo.worst)
	for k, d := range scaled {
		t.Logf("  %s vs turbo-full (cost of DCT scaling): %.3f, %.3f; vs go: %.3f, %.3f", d.Name(),
			scaledFull[k].sum/float64(n), scaledFull[k].worst, scaledGo[k].sum/float64(n), scaledGo[k].worst)
	}
}

// Progressive, grayscale, CMYK/YCCK, 4:4:4, 4:2:2 and EXIF-rotated JPEGs
// decode on both paths to the same tensor within tolerance. Arithmetic
// coding is the one documented difference: libjpeg-turbo decodes it, Go
// refuses it as unsupported.
func TestTurboFormats(t *testing.T) {
	t.Parallel()
	turbo, full := turboOrSkip(t, false), turboOrSkip(t, true)
	anyScale := turboWith(t, TurboOptions{AnyScale: true})
	gray := image.NewGray(image.Rect(0, 0, 300, 260))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7 % 251)
	}
	photo, err := SynthJPEGSized(3, 500, 375, 90)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		tol  float64 // mean |Δ| vs go, levels
	}{
		{"progressive", fixture(t, "progressive.jpg"), tolScaledVsGo},
		{"progressive grayscale", fixture(t, "gray_progressive.jpg"), tolScaledVsGo},
		{"baseline grayscale", encodeJPEG(t, gray, 90), tolScaledVsGo},
		{"4:4:4", fixture(t, "yuv444.jpg"), tolScaledVsGo},
		{"4:2:2", fixture(t, "yuv422.jpg"), tolScaledVsGo},
		{"adobe cmyk", fixture(t, "cmyk.jpg"), 1},
		// ycck.jpg subsamples chroma 2×2 across a hard red|ink edge:
		// libjpeg interpolates chroma over it (as Pillow does), Go
		// replicates, and the 7× upscale to 224 widens the blend.
		{"adobe ycck", fixture(t, "ycck.jpg"), 6},
		{"progressive cmyk", fixture(t, "cmyk_progressive.jpg"), 1},
		{"exif 6, scaled", withAPP1(photo, tiff("II", 3, 6)), tolScaledVsGo},
		{"exif 3, scaled", withAPP1(photo, tiff("MM", 3, 3)), tolScaledVsGo},
		{"exif 8, scaled", withAPP1(photo, tiff("MM", 3, 8)), tolScaledVsGo},
	}
	r := RecipeFor(224, 224)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := process(t, GoDecoder{}, r, tt.data)
			for _, d := range []*TurboDecoder{turbo, full, anyScale} {
				got := process(t, d, r, tt.data)
				if m, _ := tensorDiff(got, g); m > tt.tol {
					t.Errorf("%s vs go: mean |Δ| %.3f levels, want ≤ %v", d.Name(), m, tt.tol)
				}
			}
		})
	}

	t.Run("arithmetic", func(t *testing.T) {
		t.Parallel()
		data := fixture(t, "arithmetic.jpg")
		if err := NewPreprocessor(r, 0).Process(data, make([]float32, r.OutputLen())); !errors.Is(err, ErrUnsupported) {
			t.Errorf("go: err = %v, want ErrUnsupported", err)
		}
		ref := process(t, full, r, fixture(t, "yuv422.jpg")) // same picture, other coding
		if m, _ := tensorDiff(process(t, full, r, data), ref); m > 2 {
			t.Errorf("turbo arithmetic vs huffman: mean |Δ| %.3f levels", m)
		}
	})

	// The interface path (Decode to an image.Image) agrees with the fused
	// one and gives CMYK in Go's ink convention.
	t.Run("decoder interface", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{"cmyk.jpg", "ycck.jpg", "cmyk_progressive.jpg"} {
			dec, err := Decode(full, fixture(t, name), 0, SizeHint{})
			if err != nil {
				t.Fatal(err)
			}
			b := dec.Image.Bounds()
			pix := make([]byte, 3*b.Dx()*b.Dy())
			toRGB(dec.Image, b, pix)
			for y := range b.Dy() {
				for x := range b.Dx() {
					if name == "ycck.jpg" && x >= 14 && x < 18 {
						continue // the interpolated chroma edge, see above
					}
					got, want := [3]uint8(pix[3*(y*b.Dx()+x):]), cmykFixture(x, y)
					for c := range 3 {
						if !near(got[c], want[c], 3) {
							t.Fatalf("%s (%d,%d) = %v, want %v", name, x, y, got, want)
						}
					}
				}
			}
		}
		for _, data := range [][]byte{photo, fixture(t, "gray_progressive.jpg")} {
			dec, err := Decode(anyScale, data, 0, SizeHint{MinShortSide: 256})
			if err != nil {
				t.Fatal(err)
			}
			if w, h := dec.Size(); min(w, h) < 256 || min(w, h) > 300 {
				t.Errorf("scaled decode is %d×%d, want short side in [256, 300]", w, h)
			}
			// The fused path decodes the same scaled pixels into its
			// scratch buffer.
			p := NewPreprocessor(r, 0)
			p.SetDecoder(anyScale)
			if err := p.Process(data, make([]float32, r.OutputLen())); err != nil {
				t.Fatal(err)
			}
			b := dec.Image.Bounds()
			pix := make([]byte, 3*b.Dx()*b.Dy())
			toRGB(dec.Image, b, pix)
			if !bytes.Equal(pix, p.full[:len(pix)]) {
				t.Errorf("Decode's %v image differs from the fused path's scratch pixels", b.Size())
			}
		}
	})
}

// Bad JPEGs fail on the turbo path as the same kind of error row as on the
// Go path.
func TestTurboErrorsMatchGo(t *testing.T) {
	t.Parallel()
	turbo := turboOrSkip(t, false)
	good := encodeJPEG(t, solid(64, 48, rgb(1, 2, 3)), 90)
	photo, err := SynthJPEGSized(5, 320, 240, 85)
	if err != nil {
		t.Fatal(err)
	}
	prog := fixture(t, "progressive.jpg")
	tests := []struct {
		name string
		data []byte
		kind error
	}{
		{"empty", nil, ErrEmpty},
		{"text", []byte("not a picture"), ErrNotImage},
		{"jpeg magic only", good[:2], ErrTruncated},
		{"truncated header", good[:20], ErrTruncated},
		{"truncated body", good[:len(good)/2], ErrTruncated},
		{"corrupt markers", append(append([]byte{}, good[:2]...), 0xFF, 0x01, 0x13, 0x37, 0xFF, 0xC0, 0, 0), ErrCorrupt},
		{"huge header", patchSOF(t, good, 65535, 65535), ErrTooLarge},
		{"zero-height header", patchSOF(t, good, 64, 0), ErrCorrupt},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), ErrUnsupported},
		{"png", encodePNG(t, solid(8, 8, rgb(1, 2, 3))), nil},
	}
	// Cut a baseline and a progressive photo at many points: wherever the
	// data ends, both decoders must call it truncated.
	for _, src := range []struct {
		name string
		data []byte
	}{{"baseline", photo}, {"progressive", prog}} {
		for _, frac := range []float64{0.01, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99} {
			n := int(frac * float64(len(src.data)))
			tests = append(tests, struct {
				name string
				data []byte
				kind error
			}{fmt.Sprintf("%s cut at %d%%", src.name, int(frac*100)), src.data[:n], ErrTruncated})
		}
	}
	r := RecipeFor(32, 32)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dst := make([]float32, r.OutputLen())
			gerr := NewPreprocessor(r, 0).Process(tt.data, dst)
			p := NewPreprocessor(r, 0)
			p.SetDecoder(turbo)
			terr := p.Process(tt.data, dst)
			_, derr := Decode(turbo, tt.data, 0, SizeHint{MinShortSide: 32})
			if Kind(gerr) != Kind(tt.kind) {
				t.Errorf("go: %v, want kind %q", gerr, Kind(tt.kind))
			}
			if Kind(terr) != Kind(gerr) || Kind(derr) != Kind(gerr) {
				t.Errorf("turbo Process: %v (%q), turbo Decode: %v (%q); go: %v (%q)",
					terr, Kind(terr), derr, Kind(derr), gerr, Kind(gerr))
			}
		})
	}
}

// A bomb is refused from its header on the turbo path too.
func TestTurboPixelLimit(t *testing.T) {
	turbo := turboOrSkip(t, false)
	bomb := patchSOF(t, encodeJPEG(t, solid(64, 48, rgb(1, 2, 3)), 90), 65535, 65535)
	p := NewPreprocessor(RecipeFor(224, 224), 0)
	p.SetDecoder(turbo)
	dst := make([]float32, p.Recipe().OutputLen())
	allocs := testing.AllocsPerRun(10, func() {
		if err := p.Process(bomb, dst); !errors.Is(err, ErrTooLarge) {
			t.Fatal(err)
		}
	})
	if allocs > 20 {
		t.Errorf("refusing a bomb made %v allocations", allocs)
	}
	if cap(p.full) != 0 {
		t.Errorf("refusing a bomb grew the scratch buffer to %d bytes", cap(p.full))
	}
	small := encodeJPEG(t, solid(100, 100, rgb(1, 2, 3)), 90)
	p = NewPreprocessor(RecipeFor(32, 32), 9999)
	p.SetDecoder(turbo)
	if err := p.Process(small, make([]float32, 3*32*32)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("10000 px with limit 9999: err = %v", err)
	}
}

func TestTurboProcessDoesNotAllocate(t *testing.T) {
	turbo := turboOrSkip(t, false)
	data, err := SynthJPEGSized(1, 500, 375, 90)
	if err != nil {
		t.Fatal(err)
	}
	rotated := withAPP1(data, tiff("II", 3, 6))
	p := NewPreprocessor(RecipeFor(224, 224), 0)
	p.SetDecoder(turbo)
	dst := make([]float32, p.Recipe().OutputLen())
	for _, d := range [][]byte{data, rotated} {
		allocs := testing.AllocsPerRun(5, func() {
			if err := p.Process(d, dst); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("turbo Process allocates %v times per image once warm", allocs)
		}
	}
}

// One TurboDecoder shared by many Preprocessors (as the pipeline shares
// JobConfig.Decoder) and by direct Decode calls, all at once: -race checks
// the sharing, the comparison checks no handle state leaks between images.
func TestTurboConcurrent(t *testing.T) {
	t.Parallel()
	turbo := turboOrSkip(t, false)
	r := RecipeFor(64, 64)
	var inputs [][]byte
	var want [][]float32
	for i := range 8 {
		data, err := SynthJPEG(9, i, 10)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, data)
		want = append(want, process(t, turbo, r, data))
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			p := NewPreprocessor(r, 0)
			p.SetDecoder(turbo)
			dst := make([]float32, r.OutputLen())
			for k := range 3 * len(inputs) {
				i := (k + w) % len(inputs)
				if err := p.Process(inputs[i], dst); err != nil {
					t.Error(err)
					return
				}
				if m, _ := tensorDiff(dst, want[i]); m != 0 {
					t.Errorf("worker %d image %d differs by %.3f levels", w, i, m)
				}
				if _, err := Decode(turbo, inputs[i], 0, SizeHint{MinShortSide: 73}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

func FuzzTurboDecode(f *testing.F) {
	turbo, err := NewTurboDecoder(TurboOptions{})
	if err != nil {
		f.Skipf("skipping: libjpeg-turbo is not loadable here (%v)", err)
	}
	f.Add(encodeJPEG(f, solid(8, 8, rgb(1, 2, 3)), 90))
	photo, err := SynthJPEGSized(2, 300, 280, 80)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(photo)
	for _, name := range []string{"progressive.jpg", "gray_progressive.jpg", "cmyk.jpg", "ycck.jpg", "cmyk_progressive.jpg", "arithmetic.jpg", "yuv422.jpg"} {
		f.Add(fixture(f, name))
	}
	f.Add(withAPP1(encodeJPEG(f, solid(24, 16, rgb(1, 2, 3)), 90), tiff("MM", 3, 6)))
	// The pixel limit bounds what one input may make either allocator hold:
	// 2 megapixels is a 6 MB scratch buffer at most.
	p := NewPreprocessor(RecipeFor(32, 32), 2<<20)
	p.SetDecoder(turbo)
	dst := make([]float32, 3*32*32)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := p.Process(data, dst); err != nil && Kind(err) == "other" {
			t.Fatalf("unclassified error: %v", err)
		}
		if cap(p.full) > 4*(2<<20) {
			t.Fatalf("scratch grew to %d bytes under a 2 MP limit", cap(p.full))
		}
		if _, err := Decode(turbo, data, 2<<20, SizeHint{MinShortSide: 37}); err != nil && Kind(err) == "other" {
			t.Fatalf("unclassified Decode error: %v", err)
		}
	})
}
