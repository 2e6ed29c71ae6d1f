package vision

import (
	"fmt"
	"image"
	"math"
	"unsafe"
)

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

	lut     [3][256]float32 // by source channel (R, G, B): byte → normalised value
	out     outLayout
	kernels kernelCache
	src     []byte  // oriented RGB source window
	full    []byte  // whole stored image: EXIF-rotated input, or the turbo decode
	tmp     []byte  // horizontal pass output
	acc     []int32 // vertical pass accumulators
	images  int64

	tj *tjHandle // this worker's own TurboJPEG handle, made on first use
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
	p.out = layoutOf(r)
	for c := range 3 {
		oc := p.out.channel[c]
		for v := range 256 {
			// float32 steps, as ToTensor then Normalize compute them.
			x := float32(v) / float32(255)
			if s := r.scale(); s != ScaleUnit {
				x = float32(v) * float32(s)
			}
			p.lut[c][v] = (x - r.Mean[oc]) / r.Std[oc]
		}
	}
	return p
}

// outLayout is where a recipe puts the values of one pixel: output pixel
// (y, x) of the crop starts at y·row + x·pix, and source channel c (R, G,
// B) lies off[c] further on, as output channel channel[c].
type outLayout struct {
	row, pix int
	off      [3]int
	channel  [3]int
}

func layoutOf(r Recipe) outLayout {
	l := outLayout{row: r.CropW, pix: 1, channel: [3]int{0, 1, 2}}
	chanStride := r.CropH * r.CropW
	if r.layout() == NHWC {
		l.row, l.pix, chanStride = 3*r.CropW, 3, 1
	}
	if r.channels() == BGR {
		l.channel = [3]int{2, 1, 0}
	}
	for c, oc := range l.channel {
		l.off[c] = oc * chanStride
	}
	return l
}

// ResamplerNote says which resampler the Preprocessor runs and, when it is
// not the fused native one a TurboDecoder would pair with, why; summaries
// print it. Every recipe (each interpolation, layout and channel order) runs
// on both resamplers with the same bits, so the only reason is a build
// without cgo.
func (p *Preprocessor) ResamplerNote() string {
	if _, turbo := p.dec.(*TurboDecoder); !turbo {
		return "Go resampler (Go decoder)"
	}
	if !nativeResample {
		return "Go resampler: this build has no native one (needs cgo on amd64 or arm64)"
	}
	return "fused native resampler"
}

// SetDecoder replaces the decoder (GoDecoder by default). The same Decoder
// value may be given to many Preprocessors: a *TurboDecoder is shared
// safely, since each Preprocessor decodes through a TurboJPEG handle of its
// own.
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
	if td, ok := p.dec.(*TurboDecoder); ok && sniff(data) == "jpeg" {
		return p.processTurbo(td, data, dst)
	}
	d, err := Decode(p.dec, data, p.maxPixels, SizeHint{MinShortSide: p.recipe.minShortSide()})
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
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	ow, oh := upright(sw, sh, o)
	g := p.plan(ow, oh, ow, oh, scaleFactor{1, 1}, o)
	x0, x1, y0, y1 := g.x0, g.x1, g.y0, g.y1
	bw, bh := x1-x0, y1-y0

	src := grow(&p.src, 3*bw*bh)
	if o == 1 {
		toRGB(img, image.Rect(x0, y0, x1, y1).Add(b.Min), src)
	} else {
		full := grow(&p.full, 3*sw*sh)
		toRGB(img, b, full)
		orientWindow(full, sw, sh, o, x0, y0, x1, y1, src)
		p.trim()
	}
	p.resampleGo(&g, src, 3*bw, x0, y0, dst)
}

// upright returns the displayed size of a w×h image stored with EXIF
// orientation o.
func upright(w, h, o int) (int, int) {
	if o >= 5 {
		return h, w
	}
	return w, h
}

// flipsX and flipsY report whether EXIF orientation o reverses the upright
// image's x or y axis relative to the stored one (see orientedSource).
func flipsX(o int) bool { return o == 2 || o == 3 || o == 6 || o == 7 }
func flipsY(o int) bool { return o == 3 || o == 4 || o == 7 || o == 8 }

// orientWindow copies the window [x0,x1)×[y0,y1) of the upright image out
// of full, the packed RGB stored image (w×h, EXIF orientation o), into dst.
func orientWindow(full []byte, w, h, o, x0, y0, x1, y1 int, dst []byte) {
	i := 0
	for oy := y0; oy < y1; oy++ {
		for ox := x0; ox < x1; ox++ {
			sx, sy := orientedSource(o, ox, oy, w, h)
			copy(dst[i:i+3], full[3*(sy*w+sx):])
			i += 3
		}
	}
}

// maxKeptScratch bounds the whole-image scratch a Preprocessor keeps
// between images (48 MB, a 16-megapixel RGB image): one huge photograph
// must not pin its bitmap for the life of the worker.
const maxKeptScratch = 48 << 20

func (p *Preprocessor) trim() {
	if cap(p.full) > maxKeptScratch {
		p.full = nil
	}
}

// resamplePlan is where the crop window lies: in the resized image (top,
// left; rows r0–r1 and columns c0–c1 of it fall inside the crop, the rest
// is padding) and in the source (x0–x1, y0–y1 are the pixels the filter
// taps read), with the two axis kernels.
type resamplePlan struct {
	kv, kh         *kernel
	top, left      int
	r0, r1, c0, c1 int
	x0, x1, y0, y1 int
}

// plan lays out the recipe for an image whose upright size is ow×oh, of
// which the caller holds an upright copy of iw×ih pixels decoded at scale
// sf (iw = ⌈ow·sf⌉) from a JPEG stored with EXIF orientation o. The output
// geometry (resized size, crop offsets) always follows from the full size,
// as torchvision computes it; only the filter's source coordinates are
// scaled, so a DCT-scaled decode samples the same scene positions as a full
// one.
func (p *Preprocessor) plan(ow, oh, iw, ih int, sf scaleFactor, o int) resamplePlan {
	r := p.recipe
	nw, nh := ow, oh
	if r.Resize > 0 {
		nw, nh = ResizedSize(ow, oh, r.Resize)
	}
	g := resamplePlan{top: CropOffset(nh, r.CropH), left: CropOffset(nw, r.CropW)}
	g.r0, g.r1 = max(g.top, 0), min(g.top+r.CropH, nh)
	g.c0, g.c1 = max(g.left, 0), min(g.left+r.CropW, nw)
	// ow/nw·num/denom, evaluated so that the full-size case is exactly
	// in/out, the scale Pillow uses.
	sv := float64(oh*sf.num) / float64(nh*sf.denom)
	shz := float64(ow*sf.num) / float64(nw*sf.denom)
	// libjpeg's scaled sample k covers full-size [k, k+1)·denom/num, so
	// the last one overhangs the image by iw - ow·num/denom samples. An
	// axis the orientation reverses begins with that overhang.
	var dx, dy float64
	if flipsX(o) {
		dx = float64(iw) - float64(ow*sf.num)/float64(sf.denom)
	}
	if flipsY(o) {
		dy = float64(ih) - float64(oh*sf.num)/float64(sf.denom)
	}
	f := r.interp()
	g.kv = p.kernels.get(ih, nh, g.r0, g.r1-g.r0, sv, dy, f)
	g.kh = p.kernels.get(iw, nw, g.c0, g.c1-g.c0, shz, dx, f)
	g.y0, g.y1 = g.kv.span()
	g.x0, g.x1 = g.kh.span()
	return g
}

// resampleGo runs the two-pass resize over the plan's source window and
// writes the normalised CHW crop into dst. src holds packed RGB rows stride
// bytes apart whose first pixel is source pixel (ox, oy); it must cover the
// plan's window. This is the fused step: the horizontal pass reads only the
// rows and columns the crop needs, the vertical pass normalises through the
// lookup tables and stores each output once, straight into dst.
func (p *Preprocessor) resampleGo(g *resamplePlan, src []byte, stride, ox, oy int, dst []float32) {
	r := p.recipe
	kv, kh := g.kv, g.kh
	y0, y1 := g.y0, g.y1
	bh := y1 - y0
	r0, r1, c0, c1, top, left := g.r0, g.r1, g.c0, g.c1, g.top, g.left

	// Horizontal pass over every source row the vertical pass reads. The
	// loops walk their slices forward (px = px[3:]) so the compiler checks
	// bounds once per tap, not once per byte.
	cw := c1 - c0
	n := 3 * cw // bytes per intermediate row
	tmp := grow(&p.tmp, n*bh)
	const half = 1 << (precisionBits - 1)
	hstart, hoff, hw := kh.start[:cw], kh.off[:cw+1], kh.w
	for y := range bh {
		row := src[(y0+y-oy)*stride:]
		out := tmp[n*y : n*y+n]
		for j, st := range hstart {
			taps := hw[hoff[j]:hoff[j+1]]
			px := row[3*(st-ox):]
			px = px[:3*len(taps)] // bounds checked here, once per output
			base := unsafe.Pointer(unsafe.SliceData(px))
			var ar, ag, ab int32 = half, half, half
			for t, k := range taps {
				// In bounds: t < len(taps) and len(px) = 3·len(taps). The
				// compiler cannot see it and would check all three bytes of
				// every tap, a third of this loop's time.
				q := (*[3]byte)(unsafe.Add(base, 3*t))
				ar += int32(q[0]) * k
				ag += int32(q[1]) * k
				ab += int32(q[2]) * k
			}
			o := (*[3]byte)(out[3*j:])
			o[0], o[1], o[2] = clip8(ar), clip8(ag), clip8(ab)
		}
	}

	// Vertical pass, normalisation and the recipe's layout.
	out := dst[:r.OutputLen()]
	l := &p.out
	p.padCrop(g, out)
	// Each output row is a weighted sum of whole intermediate rows: all taps
	// but the last accumulate row by row into acc (a loop the compiler
	// keeps free of bounds checks), the last is folded into the loop that
	// normalises and stores, saving a pass over acc.
	acc := growInt32(&p.acc, n)
	lr, lg, lb := &p.lut[0], &p.lut[1], &p.lut[2]
	for i := range r1 - r0 {
		taps := kv.taps(i)
		rows := tmp[n*(kv.start[i]-y0):]
		for q := range acc {
			acc[q] = half
		}
		last := len(taps) - 1
		for t, k := range taps[:last] {
			row := rows[n*t : n*t+n]
			row = row[:len(acc)]
			for q, v := range row {
				acc[q] += int32(v) * k
			}
		}
		kl := taps[last]
		lrow := rows[n*last : n*last+n]
		lrow = lrow[:len(acc)]
		o := (r0+i-top)*l.row + (c0-left)*l.pix
		if l.pix != 1 {
			// Interleaved (NHWC): one pixel's three values side by side.
			px := out[o : o+3*cw]
			for j := range cw {
				a, s := (*[3]int32)(acc[3*j:]), (*[3]byte)(lrow[3*j:])
				q := px[3*j : 3*j+3 : 3*j+3]
				q[l.off[0]] = lr[clip8(a[0]+int32(s[0])*kl)]
				q[l.off[1]] = lg[clip8(a[1]+int32(s[1])*kl)]
				q[l.off[2]] = lb[clip8(a[2]+int32(s[2])*kl)]
			}
			continue
		}
		rc, gc, bc := out[l.off[0]+o:l.off[0]+o+cw], out[l.off[1]+o:l.off[1]+o+cw], out[l.off[2]+o:l.off[2]+o+cw]
		for j := range rc {
			a, s := (*[3]int32)(acc[3*j:]), (*[3]byte)(lrow[3*j:])
			rc[j] = lr[clip8(a[0]+int32(s[0])*kl)]
			gc[j] = lg[clip8(a[1]+int32(s[1])*kl)]
			bc[j] = lb[clip8(a[2]+int32(s[2])*kl)]
		}
	}
}

// padCrop fills the whole output with the normalised value of black when
// part of the crop lies outside the resized image (an image smaller than
// the crop), before the resampler writes the part inside.
func (p *Preprocessor) padCrop(g *resamplePlan, dst []float32) {
	r := p.recipe
	if g.r0 > g.top || g.r1 < g.top+r.CropH || g.c0 > g.left || g.c1 < g.left+r.CropW {
		n := r.CropH * r.CropW
		for c := range 3 {
			v, off := p.lut[c][0], p.out.off[c]
			for i := range n {
				dst[off+i*p.out.pix] = v
			}
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
