package vision

import (
	"errors"
	"fmt"
	"image"
	"math"
)

// ImageNet normalisation constants, as used by torchvision's pretrained
// classification models.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Recipe is torchvision's classic evaluation transform:
//
//	Resize(Resize) → CenterCrop(CropH, CropW) → ToTensor → Normalize(Mean, Std)
//
// Resize is the length the shorter side is scaled to; the longer side
// becomes int(Resize·long/short), truncated as torchvision does.
type Recipe struct {
	Resize       int
	CropH, CropW int
	Mean, Std    [3]float32
}

// RecipeFor returns the recipe for a model whose input is h×w: 256/224 for a
// 224×224 model, scaled proportionally otherwise (a 64×64 model gets resize
// int(64·256/224) = 73, crop 64×64), with ImageNet mean and std.
func RecipeFor(h, w int) Recipe {
	return Recipe{
		Resize: min(h, w) * 256 / 224,
		CropH:  h, CropW: w,
		Mean: ImageNetMean, Std: ImageNetStd,
	}
}

// Validate reports a recipe that cannot be applied.
func (r Recipe) Validate() error {
	var errs []error
	if r.Resize <= 0 {
		errs = append(errs, fmt.Errorf("resize %d must be positive", r.Resize))
	}
	if r.CropH <= 0 || r.CropW <= 0 {
		errs = append(errs, fmt.Errorf("crop %d×%d must be positive", r.CropH, r.CropW))
	}
	for c, s := range r.Std {
		if s == 0 || math.IsNaN(float64(s)) {
			errs = append(errs, fmt.Errorf("std[%d] is %v", c, s))
		}
	}
	return errors.Join(errs...)
}

// OutputLen is the number of float32 values Process writes: 3·CropH·CropW.
func (r Recipe) OutputLen() int { return 3 * r.CropH * r.CropW }

// Shape is the per-image tensor shape, channels first: [3, CropH, CropW].
func (r Recipe) Shape() [3]int { return [3]int{3, r.CropH, r.CropW} }

// String summarises the recipe, e.g. "resize 256, crop 224×224".
func (r Recipe) String() string {
	return fmt.Sprintf("resize %d, crop %d×%d", r.Resize, r.CropH, r.CropW)
}

// ResizedSize is the size torchvision's Resize(size) gives a w×h image: the
// shorter side becomes size, the longer int(size·long/short).
func ResizedSize(w, h, size int) (nw, nh int) {
	if w <= h {
		return size, int(float64(size*h) / float64(w))
	}
	return int(float64(size*w) / float64(h)), size
}

// CropOffset is torchvision's center_crop offset along one axis of length n
// for a crop of length c: int(round((n-c)/2)) with Python's round-half-even.
// When the crop is larger, torchvision pads with zeros, (c-n)//2 before; the
// offset is then negative.
func CropOffset(n, c int) int {
	if c > n {
		return -((c - n) / 2)
	}
	return int(math.RoundToEven(float64(n-c) / 2))
}

// Preprocessor turns encoded images into normalised CHW float32 tensors by
// a Recipe. It keeps state that is costly to rebuild: resize kernels for
// recent (source size, output window) pairs, per-channel byte→float
// normalisation tables, and pixel scratch buffers that grow to the largest
// image seen. Make one per worker and reuse it; a Preprocessor is not safe
// for concurrent use.
type Preprocessor struct {
	recipe    Recipe
	maxPixels int64
	dec       Decoder
	err       error // recipe validation, reported by every Process

	lut     [3][256]float32
	kernels kernelCache
	src     []byte  // oriented RGB source window
	full    []byte  // whole stored image, only for EXIF-rotated input
	tmp     []byte  // horizontal pass output
	acc     []int32 // vertical pass accumulators
	images  int64
}

// NewPreprocessor returns a Preprocessor for recipe r that refuses images
// above maxPixels (≤ 0 means DefaultMaxPixels) and decodes with GoDecoder.
// An invalid recipe is reported by every call to Process.
func NewPreprocessor(r Recipe, maxPixels int64) *Preprocessor {
	p := &Preprocessor{recipe: r, maxPixels: maxPixels, dec: GoDecoder{}, err: r.Validate()}
	if maxPixels <= 0 {
		p.maxPixels = DefaultMaxPixels
	}
	p.kernels.maxSize = 16
	for c := range 3 {
		for v := range 256 {
			// float32 steps, as ToTensor then Normalize compute them.
			x := float32(v) / float32(255)
			p.lut[c][v] = (x - r.Mean[c]) / r.Std[c]
		}
	}
	return p
}

// SetDecoder replaces the decoder (GoDecoder by default).
func (p *Preprocessor) SetDecoder(d Decoder) { p.dec = d }

// Decoder returns the decoder in use.
func (p *Preprocessor) Decoder() Decoder { return p.dec }

// Recipe returns the recipe the Preprocessor applies.
func (p *Preprocessor) Recipe() Recipe { return p.recipe }

// MaxPixels returns the pixel limit in force.
func (p *Preprocessor) MaxPixels() int64 { return p.maxPixels }

// PreprocessorStats counts work a Preprocessor has done; kernel misses are
// the rebuilds a fresh Preprocessor pays for.
type PreprocessorStats struct {
	Images       int64
	KernelHits   int64
	KernelMisses int64
}

// Stats returns the counters so far.
func (p *Preprocessor) Stats() PreprocessorStats {
	return PreprocessorStats{Images: p.images, KernelHits: p.kernels.hits, KernelMisses: p.kernels.misses}
}

// Process decodes data (JPEG or PNG), applies EXIF orientation and the
// recipe, and writes exactly Recipe().OutputLen() values, channel-major
// (CHW), into dst[:OutputLen()]. It allocates no output. A bad input returns
// a *DecodeError (see Kind); dst is then left unspecified.
func (p *Preprocessor) Process(data []byte, dst []float32) error {
	if err := p.check(dst); err != nil {
		return err
	}
	d, err := Decode(p.dec, data, p.maxPixels, SizeHint{MinShortSide: p.recipe.Resize})
	if err != nil {
		return err
	}
	p.apply(d.Image, d.Orientation, dst)
	return nil
}

// ProcessImage applies the recipe to an already decoded, upright image.
func (p *Preprocessor) ProcessImage(img image.Image, dst []float32) error {
	if err := p.check(dst); err != nil {
		return err
	}
	if b := img.Bounds(); b.Empty() {
		return &DecodeError{Kind: ErrCorrupt, Msg: fmt.Sprintf("image has no pixels (%v)", b)}
	}
	p.apply(img, 1, dst)
	return nil
}

func (p *Preprocessor) check(dst []float32) error {
	if p.err != nil {
		return fmt.Errorf("invalid recipe: %w", p.err)
	}
	if n := p.recipe.OutputLen(); len(dst) < n {
		return fmt.Errorf("vision: dst holds %d floats, recipe needs %d", len(dst), n)
	}
	return nil
}

// apply resizes the crop window of img (stored orientation o) and writes the
// normalised tensor. Only the source pixels the window's filter taps reach
// are converted to RGB, and only the window's outputs are computed.
func (p *Preprocessor) apply(img image.Image, o int, dst []float32) {
	p.images++
	r := p.recipe
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	ow, oh := sw, sh // upright size
	if o >= 5 {
		ow, oh = sh, sw
	}
	nw, nh := ResizedSize(ow, oh, r.Resize)
	top, left := CropOffset(nh, r.CropH), CropOffset(nw, r.CropW)
	// Output rows/cols of the resized image that land inside the crop; the
	// rest of the crop (if it overhangs) is zero padding.
	r0, r1 := max(top, 0), min(top+r.CropH, nh)
	c0, c1 := max(left, 0), min(left+r.CropW, nw)
	kv := p.kernels.get(oh, nh, r0, r1-r0)
	kh := p.kernels.get(ow, nw, c0, c1-c0)
	y0, y1 := kv.span()
	x0, x1 := kh.span()
	bw, bh := x1-x0, y1-y0

	src := grow(&p.src, 3*bw*bh)
	if o == 1 {
		toRGB(img, image.Rect(x0, y0, x1, y1).Add(b.Min), src)
	} else {
		full := grow(&p.full, 3*sw*sh)
		toRGB(img, b, full)
		i := 0
		for oy := y0; oy < y1; oy++ {
			for ox := x0; ox < x1; ox++ {
				sx, sy := orientedSource(o, ox, oy, sw, sh)
				copy(src[i:i+3], full[3*(sy*sw+sx):])
				i += 3
			}
		}
	}

	// Horizontal pass over every source row the vertical pass reads.
	cw := c1 - c0
	tmp := grow(&p.tmp, 3*cw*bh)
	const half = 1 << (precisionBits - 1)
	for y := range bh {
		row := src[3*bw*y : 3*bw*(y+1)]
		out := tmp[3*cw*y : 3*cw*(y+1)]
		for j := range cw {
			taps := kh.taps(j)
			s := 3 * (kh.start[j] - x0)
			px := row[s : s+3*len(taps)]
			var ar, ag, ab int32 = half, half, half
			for t, k := range taps {
				p := px[3*t : 3*t+3 : 3*t+3]
				ar += int32(p[0]) * k
				ag += int32(p[1]) * k
				ab += int32(p[2]) * k
			}
			o := out[3*j : 3*j+3 : 3*j+3]
			o[0], o[1], o[2] = clip8(ar), clip8(ag), clip8(ab)
		}
	}

	// Vertical pass, normalisation and CHW layout.
	plane := r.CropH * r.CropW
	out := dst[:3*plane]
	if r0 > top || r1 < top+r.CropH || c0 > left || c1 < left+r.CropW {
		for c := range 3 {
			pad := p.lut[c][0]
			for i := range plane {
				out[c*plane+i] = pad
			}
		}
	}
	acc := growInt32(&p.acc, 3*cw)
	for i := range r1 - r0 {
		for q := range acc {
			acc[q] = half
		}
		s := kv.start[i] - y0
		for t, k := range kv.taps(i) {
			row := tmp[3*cw*(s+t) : 3*cw*(s+t+1)]
			for q, v := range row {
				acc[q] += int32(v) * k
			}
		}
		base := (r0+i-top)*r.CropW + (c0 - left)
		rc, gc, bc := out[base:base+cw], out[plane+base:plane+base+cw], out[2*plane+base:2*plane+base+cw]
		for j := range cw {
			rc[j] = p.lut[0][clip8(acc[3*j])]
			gc[j] = p.lut[1][clip8(acc[3*j+1])]
			bc[j] = p.lut[2][clip8(acc[3*j+2])]
		}
	}
}

// grow returns (*buf)[:n], reallocating only when the capacity is short.
func grow(buf *[]byte, n int) []byte {
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	return (*buf)[:n]
}

func growInt32(buf *[]int32, n int) []int32 {
	if cap(*buf) < n {
		*buf = make([]int32, n)
	}
	return (*buf)[:n]
}
