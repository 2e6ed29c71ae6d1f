package vision

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"workbench/pipeline/outfile"
)

// SynthOptions configures Synthesize. Zero fields take the defaults noted.
type SynthOptions struct {
	// N is the number of images to write.
	N int
	// Seed selects the dataset: the same seed and N give byte-identical
	// files (on the same CPU architecture; a platform that fuses floating-
	// point multiply-adds may differ in low bits).
	Seed uint64
	// Classes is the number of class subfolders (default 10). The first
	// ten carry the synset IDs of ImageNet's first ten classes.
	Classes int
	// Workers is the number of images encoded in parallel (default
	// GOMAXPROCS). It does not change the output.
	Workers int
	// Progress, if set, is called after each file is written with the number
	// written so far. Calls are serialised.
	Progress func(done, total int)
}

// SynthStats describes a generated dataset.
type SynthStats struct {
	Files     int
	Classes   int
	Bytes     int64
	MeanBytes float64
	MinBytes  int64
	MaxBytes  int64
	// Pixels is the total number of pixels, for decode-cost estimates.
	Pixels int64
	// Elapsed is the wall time Synthesize took.
	Elapsed time.Duration
}

// imagenetSynsets are the WordNet IDs of ImageNet-1k classes 0–9 (tench,
// goldfish, great white shark, tiger shark, hammerhead, electric ray,
// stingray, cock, hen, ostrich), so the tree looks like an ImageNet split.
var imagenetSynsets = []string{
	"n01440764", "n01443537", "n01484850", "n01491361", "n01494475",
	"n01496331", "n01498041", "n01514668", "n01514859", "n01518878",
}

// SynthClassName returns the folder name of class c.
func SynthClassName(c int) string {
	if c < len(imagenetSynsets) {
		return imagenetSynsets[c]
	}
	return fmt.Sprintf("n9%07d", c)
}

// SynthPath returns the path, relative to the dataset root, of image i in a
// dataset of the given number of classes: "<synset>/<synset>_<i>.JPEG", as
// in ImageNet's training split. Images are dealt to classes round-robin.
func SynthPath(i, classes int) string {
	if classes <= 0 {
		classes = 10
	}
	c := SynthClassName(i % classes)
	return filepath.Join(c, fmt.Sprintf("%s_%06d.JPEG", c, i))
}

// Synthesize writes n synthetic photographs under dir with the given seed;
// see SynthesizeContext.
func Synthesize(dir string, n int, seed uint64) (SynthStats, error) {
	return SynthesizeContext(context.Background(), dir, SynthOptions{N: n, Seed: seed})
}

// SynthesizeContext writes opts.N deterministic, ImageNet-like JPEGs under
// dir in class subfolders (see SynthPath), creating folders as needed and
// replacing files of the same name. Sizes centre on 500×375 and 375×500 and
// spread from about 200 to 1000 pixels; quality is 75–95; content has
// lighting gradients, soft objects, multi-octave texture and sensor noise, so
// file sizes and decode cost resemble real photographs. Each file is written
// under a temporary name and renamed into place, so a reader never sees a
// partial file. It stops at the first error or when ctx is cancelled.
func SynthesizeContext(ctx context.Context, dir string, opts SynthOptions) (SynthStats, error) {
	start := time.Now()
	if opts.N < 0 {
		return SynthStats{}, fmt.Errorf("synthesize: negative image count %d", opts.N)
	}
	if opts.Classes <= 0 {
		opts.Classes = 10
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	for c := range min(opts.Classes, max(opts.N, 1)) {
		if err := os.MkdirAll(filepath.Join(dir, SynthClassName(c)), 0o755); err != nil {
			return SynthStats{}, fmt.Errorf("synthesize: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := SynthStats{Classes: min(opts.Classes, opts.N), MinBytes: math.MaxInt64}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	jobs := make(chan int)
	for range opts.Workers {
		wg.Go(func() {
			for i := range jobs {
				p := synthParamsFor(opts.Seed, i, opts.Classes)
				data, err := p.encode()
				if err == nil {
					err = writeAtomic(filepath.Join(dir, SynthPath(i, opts.Classes)), data)
				}
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("synthesize image %d: %w", i, err)
					}
					cancel()
				} else {
					n := int64(len(data))
					st.Files++
					st.Bytes += n
					st.MinBytes = min(st.MinBytes, n)
					st.MaxBytes = max(st.MaxBytes, n)
					st.Pixels += int64(p.w) * int64(p.h)
					if opts.Progress != nil {
						opts.Progress(st.Files, opts.N)
					}
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range opts.N {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if st.Files > 0 {
		st.MeanBytes = float64(st.Bytes) / float64(st.Files)
	} else {
		st.MinBytes = 0
	}
	st.Elapsed = time.Since(start)
	if firstErr == nil && st.Files < opts.N {
		firstErr = fmt.Errorf("synthesize: %w", context.Cause(ctx))
	}
	return st, firstErr
}

// writeAtomic writes data to a temporary file beside path and renames it.
func writeAtomic(path string, data []byte) error {
	// Through the engine's output temp: the user's umask decides the mode,
	// as for any new file, not CreateTemp's 0600.
	f, err := outfile.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}

// SynthJPEG returns the bytes Synthesize writes for image i of the dataset
// with this seed and class count (default 10 when ≤ 0).
func SynthJPEG(seed uint64, i, classes int) ([]byte, error) {
	if classes <= 0 {
		classes = 10
	}
	return synthParamsFor(seed, i, classes).encode()
}

// SynthJPEGSized renders one synthetic photograph of exactly w×h at the
// given JPEG quality, for benchmarks that need a fixed size.
func SynthJPEGSized(seed uint64, w, h, quality int) ([]byte, error) {
	p := synthParamsFor(seed, 0, 10)
	p.w, p.h, p.quality = w, h, quality
	return p.encode()
}

// synthParams fixes everything about one image; its rng seed drives the
// content.
type synthParams struct {
	w, h, quality, class int
	seed                 uint64
}

func synthParamsFor(seed uint64, i, classes int) synthParams {
	r := newRNG(seed ^ 0x5851F42D4C957F2D*uint64(i+1))
	p := synthParams{class: i % classes, seed: r.next()}
	switch u := r.float(); {
	case u < 0.45:
		p.w, p.h = 500, 375
	case u < 0.6:
		p.w, p.h = 375, 500
	default:
		// Long side log-normal around 500 px, clamped to 200–1000, with a
		// common camera or web aspect ratio.
		long := int(math.Round(500 * math.Exp(0.35*r.gauss())))
		long = min(max(long, 200), 1000)
		aspects := []float64{4.0 / 3, 3.0 / 2, 16.0 / 10, 16.0 / 9, 5.0 / 4, 1}
		short := int(math.Round(float64(long) / aspects[r.intn(len(aspects))]))
		p.w, p.h = long, short
		if r.float() < 0.3 {
			p.w, p.h = short, long
		}
	}
	p.quality = 75 + r.intn(21)
	return p
}

func (p synthParams) encode() ([]byte, error) {
	img := p.render()
	var buf bytes.Buffer
	buf.Grow(p.w * p.h / 2)
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: p.quality}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ellipse is a soft-edged object with its own colour, shading and texture.
type ellipse struct {
	cx, cy, cos, sin, ia, ib float64 // centre, rotation, inverse radii
	soft                     float64
	col, shade               [3]float64
	tex                      float64
	x0, y0, x1, y1           int // bounding box
}

// render paints the image: a lit two-tone background, soft objects, coarse
// colour variation, multi-octave luminance texture and sensor noise.
func (p synthParams) render() *image.RGBA {
	r := newRNG(p.seed)
	w, h := p.w, p.h
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	classHue := math.Mod(float64(p.class)*0.618034, 1)

	// Background: two colours split along a soft horizon at a random angle.
	bgA := hsv(r.float(), 0.2+0.5*r.float(), 0.45+0.5*r.float())
	bgB := hsv(math.Mod(classHue+0.3*r.gauss(), 1)+1, 0.3+0.5*r.float(), 0.2+0.5*r.float())
	ang := (r.float() - 0.5) * 0.8
	hx, hy := math.Sin(ang), math.Cos(ang)
	horizon := (0.3 + 0.4*r.float()) * float64(h)
	horizonSoft := 20 + 80*r.float()
	lx, ly := r.float()*float64(w), r.float()*float64(h)*0.5 // light position
	lightR := 1 / (0.6 * math.Hypot(float64(w), float64(h)))

	objs := make([]ellipse, 3+r.intn(5))
	md := float64(min(w, h))
	for k := range objs {
		o := &objs[k]
		o.cx, o.cy = r.float()*float64(w), (0.2+0.8*r.float())*float64(h)
		a, b := md*(0.06+0.3*r.float()), md*(0.06+0.3*r.float())
		th := r.float() * math.Pi
		o.cos, o.sin, o.ia, o.ib = math.Cos(th), math.Sin(th), 1/a, 1/b
		o.soft = (0.7 + 4*r.float()) / min(a, b)
		hue := classHue + 0.12*r.gauss()
		if k%3 == 2 {
			hue = r.float()
		}
		o.col = hsv(math.Mod(hue+2, 1), 0.3+0.6*r.float(), 0.3+0.65*r.float())
		for c := range 3 {
			o.shade[c] = 0.5 + 0.5*r.float()
		}
		o.tex = 0.5 + 1.5*r.float()
		ext := max(a, b) * (1 + 2*o.soft) * 1.05
		o.x0, o.x1 = max(int(o.cx-ext), 0), min(int(o.cx+ext)+1, w)
		o.y0, o.y1 = max(int(o.cy-ext), 0), min(int(o.cy+ext)+1, h)
	}

	// Texture fields: coarse colour variation and a luminance texture whose
	// finest octaves (cells of 2–8 px) set how much detail JPEG must keep.
	fine := 0.5 + 2*r.float()
	lum := newFractal(&r, w, h, []int{96, 48, 24, 12, 6, 3, 2}, []float64{18, 10, 7, 6 * fine, 6 * fine, 5 * fine, 4 * fine})
	cu := newFractal(&r, w, h, []int{160, 80, 40}, []float64{10, 6, 3})
	cv := newFractal(&r, w, h, []int{160, 80, 40}, []float64{10, 6, 3})
	// Busy regions (foliage, fabric, gravel): strong fine detail where a
	// coarse mask field is high, so images mix smooth and detailed areas.
	busy := 15 + 35*r.float()
	detail := newFractal(&r, w, h, []int{5, 3, 2}, []float64{busy, busy, 0.8 * busy})
	mask := newFractal(&r, w, h, []int{150, 70}, []float64{1, 0.5})
	maskBias := r.float() - 0.2
	sigma := 2 + 3*r.float()
	noise := newRNG(r.next())

	lrow, urow, vrow := make([]float64, w), make([]float64, w), make([]float64, w)
	drow, mrow := make([]float64, w), make([]float64, w)
	col := make([][3]float64, w)
	for y := range h {
		lum.row(y, lrow)
		cu.row(y, urow)
		cv.row(y, vrow)
		detail.row(y, drow)
		mask.row(y, mrow)
		for x := range w {
			lrow[x] += drow[x] * min(max(2*(mrow[x]+maskBias), 0), 1)
		}
		fy := float64(y)
		for x := range w {
			fx := float64(x)
			t := smoothstep((fx*hx + fy*hy - horizon) / horizonSoft)
			light := 1.15 - 0.5*math.Min(1, math.Hypot(fx-lx, fy-ly)*lightR)
			for c := range 3 {
				col[x][c] = (bgA[c] + (bgB[c]-bgA[c])*t) * light
			}
		}
		for k := range objs {
			o := &objs[k]
			if y < o.y0 || y >= o.y1 {
				continue
			}
			dy := fy - o.cy
			for x := o.x0; x < o.x1; x++ {
				dx := float64(x) - o.cx
				u := (dx*o.cos + dy*o.sin) * o.ia
				v := (-dx*o.sin + dy*o.cos) * o.ib
				d := math.Sqrt(u*u + v*v)
				a := 1 - smoothstep((d-1)/o.soft)
				if a <= 0 {
					continue
				}
				s := 1 + 0.35*(u*o.shade[0]-v*o.shade[1]) - 0.25*d*d // shading
				tex := 1 + 0.004*o.tex*lrow[x]
				for c := range 3 {
					oc := o.col[c] * s * tex
					col[x][c] += (oc - col[x][c]) * a
				}
			}
		}
		pix := img.Pix[y*img.Stride:]
		for x := range w {
			l := lrow[x]
			n := noise.next()
			base := [3]float64{
				255*col[x][0] + l + urow[x],
				255*col[x][1] + l - 0.5*urow[x] - 0.5*vrow[x],
				255*col[x][2] + l + vrow[x],
			}
			for c := range 3 {
				// Sensor noise: the sum of two 10-bit uniforms is a cheap
				// bell-shaped sample with standard deviation 0.408.
				g := float64(n>>(20*c)&0x3FF+n>>(20*c+10)&0x3FF)/1024 - 1
				v := base[c] + sigma*g/0.408
				pix[4*x+c] = uint8(min(max(v+0.5, 0), 255))
			}
			pix[4*x+3] = 255
		}
	}
	return img
}

func smoothstep(t float64) float64 {
	// Maps (-∞,-1]→0 and [1,∞)→1 with a smooth cubic between.
	t = min(max(t*0.5+0.5, 0), 1)
	return t * t * (3 - 2*t)
}

// hsv converts hue, saturation and value (each 0–1) to RGB in 0–1.
func hsv(h, s, v float64) [3]float64 {
	h = math.Mod(h, 1) * 6
	i := int(h)
	f := h - float64(i)
	p, q, t := v*(1-s), v*(1-s*f), v*(1-s*(1-f))
	switch i {
	case 0:
		return [3]float64{v, t, p}
	case 1:
		return [3]float64{q, v, p}
	case 2:
		return [3]float64{p, v, t}
	case 3:
		return [3]float64{p, q, v}
	case 4:
		return [3]float64{t, p, v}
	}
	return [3]float64{v, p, q}
}

// fractal is multi-octave value noise, evaluated a row at a time: each
// octave's lattice is interpolated vertically once per row, then
// horizontally per pixel with precomputed smoothstep fractions.
type fractal struct {
	oct []octave
	tmp []float64
}

type octave struct {
	cell, gw int
	amp      float64
	lat      []float64 // (gh × gw) lattice values in [-1, 1]
	ix       []int32   // per x: lattice column
	fx       []float64 // per x: smoothed fraction
}

func newFractal(r *rng, w, h int, cells []int, amps []float64) *fractal {
	f := &fractal{}
	for i, cell := range cells {
		gw, gh := w/cell+2, h/cell+2
		o := octave{cell: cell, gw: gw, amp: amps[i], lat: make([]float64, gw*gh),
			ix: make([]int32, w), fx: make([]float64, w)}
		for j := range o.lat {
			o.lat[j] = 2*r.float() - 1
		}
		for x := range w {
			o.ix[x] = int32(x / cell)
			t := float64(x%cell) / float64(cell)
			o.fx[x] = t * t * (3 - 2*t)
		}
		f.oct = append(f.oct, o)
		f.tmp = make([]float64, max(len(f.tmp), gw))
	}
	return f
}

// row writes the field's values for row y into out.
func (f *fractal) row(y int, out []float64) {
	clear(out)
	for k := range f.oct {
		o := &f.oct[k]
		gy := y / o.cell
		t := float64(y%o.cell) / float64(o.cell)
		sy := t * t * (3 - 2*t)
		a, b := o.lat[gy*o.gw:(gy+1)*o.gw], o.lat[(gy+1)*o.gw:(gy+2)*o.gw]
		rv := f.tmp[:o.gw]
		for j := range rv {
			rv[j] = o.amp * (a[j] + (b[j]-a[j])*sy)
		}
		for x := range out {
			i := o.ix[x]
			v0, v1 := rv[i], rv[i+1]
			out[x] += v0 + (v1-v0)*o.fx[x]
		}
	}
}

// rng is SplitMix64: tiny, fast, and fixed forever, so datasets stay
// reproducible across Go releases (math/rand's streams may change).
type rng struct{ s uint64 }

func newRNG(seed uint64) rng { return rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// float returns a uniform value in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a uniform integer in [0, n).
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// gauss returns a standard normal sample (Box–Muller).
func (r *rng) gauss() float64 {
	u := 1 - r.float()
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*r.float())
}
