package vision

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"strings"
	"sync"
)

// DefaultTurboLibrary is the name handed to dlopen when neither
// TurboOptions.Library nor $WORKBENCH_TURBOJPEG names a file: the dynamic
// linker then searches its usual path (Debian's libturbojpeg0 package puts
// it in /usr/lib/<arch>/).
const DefaultTurboLibrary = "libturbojpeg.so.0"

// TurboLibraryEnv is the environment variable that overrides
// DefaultTurboLibrary, e.g. to point at a copy carried to a machine that
// lacks the package.
const TurboLibraryEnv = "WORKBENCH_TURBOJPEG"

// ErrTurboUnavailable is wrapped by every error that says libjpeg-turbo
// could not be used: the library is missing, lacks a symbol, or the binary
// was built without cgo.
var ErrTurboUnavailable = errors.New("libjpeg-turbo unavailable")

// TurboJPEG constants from turbojpeg.h (2.x), which is not needed to build.
const (
	tjpfRGB  = 0
	tjpfGray = 6
	tjpfRGBA = 7
	tjpfCMYK = 11

	tjcsGray = 2
	tjcsCMYK = 3
	tjcsYCCK = 4

	// tjflagLimitScans makes libjpeg-turbo (≥ 2.1) refuse progressive JPEGs
	// with more than 500 scans, each of which costs a full pass over the
	// coefficients: a tiny file could otherwise burn minutes of CPU.
	tjflagLimitScans = 32768
)

// scaleFactor is one of libjpeg's DCT-domain scaling factors, num/denom.
type scaleFactor struct{ num, denom int }

// scaled is TJSCALED: the size libjpeg produces for a side of n pixels.
func (s scaleFactor) scaled(n int) int { return (n*s.num + s.denom - 1) / s.denom }

// turboLib is one loaded libturbojpeg. It is shared by every decoder that
// names the same file and is never unloaded.
type turboLib struct {
	path    string // as given to dlopen
	file    string // as resolved by the dynamic linker, symlinks followed
	tj3     bool   // the library also exports the 3.x API
	factors []scaleFactor
	c       *cgoTurbo
}

// describe names the library for doctor and logs.
func (l *turboLib) describe() string {
	api := "TurboJPEG 2.x API"
	if l.tj3 {
		api += ", library is libjpeg-turbo ≥ 3.0"
	}
	return fmt.Sprintf("%s (%s)", l.file, api)
}

var turboLibs struct {
	sync.Mutex
	m map[string]turboLoad
}

type turboLoad struct {
	lib *turboLib
	err error
}

// loadTurbo opens the library at path once per process; a failure is
// remembered too, so a missing library costs one dlopen, not one per image.
func loadTurbo(path string) (*turboLib, error) {
	if path == "" {
		path = os.Getenv(TurboLibraryEnv)
	}
	if path == "" {
		path = DefaultTurboLibrary
	}
	turboLibs.Lock()
	defer turboLibs.Unlock()
	if r, ok := turboLibs.m[path]; ok {
		return r.lib, r.err
	}
	lib, err := openTurbo(path)
	if turboLibs.m == nil {
		turboLibs.m = map[string]turboLoad{}
	}
	turboLibs.m[path] = turboLoad{lib, err}
	return lib, err
}

func turboLoadError(path, why string) error {
	if !strings.Contains(why, path) { // dlerror usually names the file itself
		why = path + ": " + why
	}
	return fmt.Errorf("%w: %s (install Debian's libturbojpeg0, e.g. with scripts/setup-turbo.sh, or point %s at the library)",
		ErrTurboUnavailable, why, TurboLibraryEnv)
}

// TurboAvailable reports whether the default libjpeg-turbo library loads,
// and says why: the file it was loaded from, or what went wrong. It is what
// `workbench doctor` prints.
func TurboAvailable() (ok bool, reason string) {
	lib, err := loadTurbo("")
	if err != nil {
		return false, err.Error()
	}
	return true, lib.describe()
}

// turboError is a failure reported by TurboJPEG: its message, and whether
// libjpeg flagged it as a warning (it recovered and wrote an image).
type turboError struct {
	msg     string
	warning bool
}

func (e *turboError) Error() string { return "libjpeg-turbo: " + e.msg }

// classifyTurbo maps a TurboJPEG failure for data onto the kinds the Go
// path reports, so a bad file fails as the same error row whichever decoder
// ran. The kind comes from the data's structure, never from the message:
// TurboJPEG 2.x formats libjpeg's messages into one process-wide buffer, so
// when two workers fail at once the text may describe the other image. (It
// is still attached, as the best description there is.) libjpeg also hides
// truncation: reading from memory, it patches a missing end with a fake EOI
// and then trips over something else.
func classifyTurbo(err error, data []byte) error {
	te, ok := err.(*turboError)
	if !ok {
		return err
	}
	l := scanJPEG(data)
	kind := ErrCorrupt
	switch {
	case l.endsEarly:
		kind = ErrTruncated
	case l.width > maxJPEGSide || l.height > maxJPEGSide:
		kind = ErrTooLarge
	case l.sof != 0 && (l.precision != 8 || !turboFrames[l.sof&0x0F]):
		kind = ErrUnsupported
	}
	return &DecodeError{Kind: kind, Msg: "jpeg", Err: te}
}

// maxJPEGSide is libjpeg's JPEG_MAX_DIMENSION: it refuses longer sides
// before the pixel limit gets a look, so such a header is reported as
// too large, as the Go path reports it.
const maxJPEGSide = 65500

// turboFrames are the frame types (SOFn, by n) libjpeg-turbo 2.x decodes:
// baseline, extended and progressive, Huffman or arithmetic coded.
// Lossless and hierarchical frames it rejects, as Go does.
var turboFrames = [16]bool{0: true, 1: true, 2: true, 9: true, 10: true}

// fatalTurbo reports whether a decompress result must fail the image. A
// warning means libjpeg recovered and wrote every row; that is accepted, as
// Pillow accepts it, unless the data was cut short (libjpeg filled the rest
// with grey), which Go and Pillow both refuse.
func fatalTurbo(err error, data []byte) bool {
	if err == nil {
		return false
	}
	te, ok := err.(*turboError) // not errors.As: its target escapes, an allocation per image
	if !ok || !te.warning {
		return true
	}
	return scanJPEG(data).endsEarly
}

// TurboOptions configures a TurboDecoder. The zero value uses the default
// library with DCT-domain scaling by 1/2, 1/4 and 1/8.
type TurboOptions struct {
	// Library is the file given to dlopen; "" means $WORKBENCH_TURBOJPEG,
	// else DefaultTurboLibrary.
	Library string
	// FullSize turns DCT-domain scaling off, so every JPEG is decoded at its
	// full size: exactly the pixels libjpeg (and so Pillow) decodes. The
	// decoder is then named "turbo-full".
	FullSize bool
	// AnyScale lets the decoder use every n/8 factor, not only 1/2, 1/4 and
	// 1/8. libjpeg-turbo (2.x and 3.x) has SIMD inverse DCTs only for those
	// three and full size; the others run scalar code and, measured here
	// on 500×375 photos, decode slower than full size (see the package
	// doc), so they are off by default. The decoder is then named
	// "turbo-anyscale".
	AnyScale bool
}

// TurboDecoder decodes JPEGs with libjpeg-turbo through its TurboJPEG API,
// opened at run time with dlopen; other formats go to GoDecoder. Unless
// FullSize is set it decodes at the smallest DCT scaling factor n/8 that
// keeps the shorter side at least SizeHint.MinShortSide, so most of a large
// photograph's pixels are never produced.
//
// A TurboDecoder is safe for concurrent use: its Decoder methods borrow a
// TurboJPEG handle from a pool. A Preprocessor given one does not use the
// pool: it keeps a handle of its own and decodes straight into its scratch
// buffer (see Preprocessor.Process).
type TurboDecoder struct {
	lib       *turboLib
	full, any bool
	handles   sync.Pool // *tjHandle
}

var _ Decoder = (*TurboDecoder)(nil)

// NewTurboDecoder loads libjpeg-turbo (once per process and path) and
// returns a decoder using it. The error wraps ErrTurboUnavailable when the
// library cannot be loaded, and says where it was looked for.
func NewTurboDecoder(o TurboOptions) (*TurboDecoder, error) {
	lib, err := loadTurbo(o.Library)
	if err != nil {
		return nil, err
	}
	return &TurboDecoder{lib: lib, full: o.FullSize, any: o.AnyScale && !o.FullSize}, nil
}

// Name returns "turbo", "turbo-full" (FullSize) or "turbo-anyscale"
// (AnyScale).
func (d *TurboDecoder) Name() string {
	switch {
	case d.full:
		return "turbo-full"
	case d.any:
		return "turbo-anyscale"
	}
	return "turbo"
}

// Library describes the loaded library: its file and API level.
func (d *TurboDecoder) Library() string { return d.lib.describe() }

func (d *TurboDecoder) handle() (*tjHandle, error) {
	if h, ok := d.handles.Get().(*tjHandle); ok {
		return h, nil
	}
	return d.lib.newHandle()
}

// DecodeConfig reads a JPEG's frame header with libjpeg-turbo, or any other
// format's with GoDecoder. Errors are *DecodeError values.
func (d *TurboDecoder) DecodeConfig(data []byte) (image.Config, string, error) {
	if sniff(data) != "jpeg" {
		return GoDecoder{}.DecodeConfig(data)
	}
	h, err := d.handle()
	if err != nil {
		return image.Config{}, "jpeg", err
	}
	defer d.handles.Put(h)
	w, ht, _, cs, err := h.header(data)
	if err != nil {
		return image.Config{}, "jpeg", classifyTurbo(err, data)
	}
	if w <= 0 || ht <= 0 {
		return image.Config{}, "jpeg", noImage(w, ht, data)
	}
	return image.Config{ColorModel: turboColorModel(cs), Width: w, Height: ht}, "jpeg", nil
}

// Decode decodes a JPEG to an *image.RGBA (*image.Gray for grayscale,
// *image.CMYK, in ink values, for CMYK and YCCK), scaled in the DCT domain
// as far as hint allows; other formats go to GoDecoder. It does not check
// the pixel limit: the package-level Decode does that from the header
// first.
func (d *TurboDecoder) Decode(data []byte, hint SizeHint) (image.Image, string, error) {
	if sniff(data) != "jpeg" {
		return GoDecoder{}.Decode(data, hint)
	}
	h, err := d.handle()
	if err != nil {
		return nil, "jpeg", err
	}
	defer d.handles.Put(h)
	w, ht, _, cs, err := h.header(data)
	if err != nil {
		return nil, "jpeg", classifyTurbo(err, data)
	}
	if w <= 0 || ht <= 0 {
		return nil, "jpeg", noImage(w, ht, data)
	}
	sf := d.scaleFor(w, ht, hint.MinShortSide)
	sw, sh := sf.scaled(w), sf.scaled(ht)
	r := image.Rect(0, 0, sw, sh)
	var (
		pix    []byte
		stride int
		pf     int
		img    image.Image
	)
	switch cs {
	case tjcsGray:
		m := image.NewGray(r)
		pix, stride, pf, img = m.Pix, m.Stride, tjpfGray, m
	case tjcsCMYK, tjcsYCCK:
		m := image.NewCMYK(r)
		pix, stride, pf, img = m.Pix, m.Stride, tjpfCMYK, m
	default:
		m := image.NewRGBA(r)
		pix, stride, pf, img = m.Pix, m.Stride, tjpfRGBA, m
	}
	if err := h.decompress(data, pix, sw, stride, sh, pf, tjflagLimitScans); fatalTurbo(err, data) {
		return nil, "jpeg", classifyTurbo(err, data)
	}
	if pf == tjpfCMYK {
		invert(pix) // Adobe stores 255 as no ink; image.CMYK holds ink.
	}
	return img, "jpeg", nil
}

// scaleFor picks the smallest allowed scaling factor (at most 1) whose
// output keeps the shorter side at least minShort; 1/1 when scaling is
// off, no hint is given, or the image is already small.
func (d *TurboDecoder) scaleFor(w, h, minShort int) scaleFactor {
	best := scaleFactor{1, 1}
	if d.full || minShort <= 0 {
		return best
	}
	short := min(w, h)
	for _, f := range d.lib.factors {
		if !d.any && !f.simd() {
			continue
		}
		if f.num*best.denom < best.num*f.denom && f.scaled(short) >= minShort {
			best = f
		}
	}
	return best
}

// simd reports whether libjpeg-turbo has a SIMD inverse DCT for the
// factor: full size, 1/2, 1/4 and 1/8 (jsimd_idct_islow, _4x4, _2x2 and
// the DC-only 1×1).
func (s scaleFactor) simd() bool {
	return s.num == 1 && (s.denom == 2 || s.denom == 4 || s.denom == 8)
}

// noImage is the error for a header that reads cleanly but declares no
// pixels: TurboJPEG accepts a tables-only stream (SOI, tables, EOI) that
// way, and data that stops right after SOI looks like one.
func noImage(w, h int, data []byte) error {
	return refineJPEG(&DecodeError{Kind: ErrCorrupt, Msg: fmt.Sprintf("jpeg header declares %d×%d pixels", w, h)}, data)
}

func turboColorModel(cs int) color.Model {
	switch cs {
	case tjcsGray:
		return color.GrayModel
	case tjcsCMYK, tjcsYCCK:
		return color.CMYKModel
	}
	return color.RGBAModel
}

func invert(b []byte) {
	for i, v := range b {
		b[i] = 255 - v
	}
}
