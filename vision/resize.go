package vision

import "math"

// precisionBits is Pillow's fixed-point precision for 8-bit resampling
// (32 bits minus 8 for the sample minus 2 for headroom).
const precisionBits = 32 - 8 - 2

// kernel holds the fixed-point weights of one of Pillow's filters for the output samples [first, first+n) of a resize from in to out
// samples along one axis. Output i reads source samples
// start[i] … start[i]+len(taps(i))-1.
type kernel struct {
	in, out, first int
	start          []int
	off            []int // taps(i) = w[off[i]:off[i+1]]
	w              []int32
}

// taps returns the weights of the i-th computed output sample.
func (k *kernel) taps(i int) []int32 { return k.w[k.off[i]:k.off[i+1]] }

// span returns the half-open range of source samples the kernel reads.
func (k *kernel) span() (lo, hi int) {
	n := len(k.start)
	if n == 0 {
		return 0, 0
	}
	return k.start[0], k.start[n-1] + k.off[n] - k.off[n-1]
}

// newKernelScaled reproduces Pillow's precompute_coeffs and normalize_coeffs_8bpc
// (libImaging/Resample.c) for the bilinear and bicubic filters: the filter
// (a triangle of support 1, or Keys' cubic with a = −0.5 and support 2) is,
// when downscaling by s, stretched by s so every source pixel contributes
// (antialiasing); upscaling uses it as it is. Weights are normalised to sum
// to one, then rounded to 22-bit fixed point, negative ones away from
// zero as Pillow rounds them. Zero weights at either end are trimmed; they
// add nothing. Nearest is Pillow's affine nearest-neighbour transform
// instead: one tap of weight one at int((i+0.5)·scale).
//
// scale is the source step per output sample, given explicitly (in/out for
// a full decode): for an input decoded at a DCT scaling factor s, the step is
// (full size/out)·s rather than in/out, which ⌈full·s⌉ rounding would skew.
// shift moves every centre by that many input samples: an axis that EXIF
// orientation flips starts at the far end of the last, partly padded,
// scaled sample. Taps are still clipped to the in samples that exist.
func newKernelScaled(in, out, first, n int, scale, shift float64, f Interpolation) *kernel {
	k := &kernel{in: in, out: out, first: first,
		start: make([]int, n), off: make([]int, n+1)}
	if f == Nearest {
		for i := range n {
			x := int((float64(first+i)+0.5)*scale + shift)
			k.start[i] = min(max(x, 0), in-1)
			k.w = append(k.w, 1<<precisionBits)
			k.off[i+1] = len(k.w)
		}
		return k
	}
	filter, fsupport := triangle, 1.0
	if f == Bicubic {
		filter, fsupport = bicubic, 2
	}
	filterscale := max(scale, 1)
	support := fsupport * filterscale
	inv := 1 / filterscale
	tmp := make([]float64, 0, int(math.Ceil(support))*2+1)
	for i := range n {
		center := (float64(first+i)+0.5)*scale + shift
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), in)
		tmp = tmp[:0]
		var sum float64
		for x := xmin; x < xmax; x++ {
			w := filter((float64(x) - center + 0.5) * inv)
			tmp = append(tmp, w)
			sum += w
		}
		lo, hi := 0, len(tmp)
		fixed := make([]int32, len(tmp))
		for j, w := range tmp {
			if sum != 0 {
				w /= sum
			}
			if w < 0 {
				fixed[j] = int32(-0.5 + w*(1<<precisionBits))
			} else {
				fixed[j] = int32(0.5 + w*(1<<precisionBits))
			}
		}
		for lo < hi && fixed[lo] == 0 {
			lo++
		}
		for hi > lo && fixed[hi-1] == 0 {
			hi--
		}
		k.start[i] = xmin + lo
		k.w = append(k.w, fixed[lo:hi]...)
		k.off[i+1] = len(k.w)
	}
	return k
}

func triangle(x float64) float64 {
	x = math.Abs(x)
	if x < 1 {
		return 1 - x
	}
	return 0
}

// bicubic is Pillow's bicubic_filter: Keys' cubic convolution with a = −0.5.
func bicubic(x float64) float64 {
	const a = -0.5
	x = math.Abs(x)
	switch {
	case x < 1:
		return ((a+2)*x-(a+3))*x*x + 1
	case x < 2:
		return (((x-5)*x+8)*x - 4) * a
	}
	return 0
}

// clip8 turns a fixed-point accumulator into a byte.
func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// kernelKey identifies a kernel: the axis resize and the output window.
type kernelKey struct {
	in, out, first, n int
	scale, shift      float64
	filter            Interpolation
}

// kernelCache is a small FIFO cache of kernels. Datasets have few distinct
// image sizes, so a handful of entries covers nearly every image; the bound
// keeps a pathological dataset from growing it without limit.
type kernelCache struct {
	keys    []kernelKey
	vals    []*kernel
	next    int
	hits    int64
	misses  int64
	maxSize int
}

func (c *kernelCache) get(in, out, first, n int, scale, shift float64, f Interpolation) *kernel {
	key := kernelKey{in, out, first, n, scale, shift, f}
	for i, k := range c.keys {
		if k == key {
			c.hits++
			return c.vals[i]
		}
	}
	c.misses++
	k := newKernelScaled(in, out, first, n, scale, shift, f)
	if len(c.keys) < c.maxSize {
		c.keys = append(c.keys, key)
		c.vals = append(c.vals, k)
	} else {
		c.keys[c.next], c.vals[c.next] = key, k
		c.next = (c.next + 1) % c.maxSize
	}
	return k
}
