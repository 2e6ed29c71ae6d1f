package vision

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
)

// DefaultMaxPixels is the default pixel limit, 64 megapixels (64×10⁶): an
// image whose header declares more pixels is refused before decoding, so a
// decompression bomb never allocates its bitmap.
const DefaultMaxPixels int64 = 64_000_000

// Decoder turns encoded bytes into an image. It is the seam where a faster
// implementation (libjpeg-turbo, possibly with DCT-domain downscaling)
// replaces the standard library. Implementations need not be safe for
// concurrent use; each Preprocessor owns one.
type Decoder interface {
	// Name identifies the implementation in reports, e.g. "go".
	Name() string
	// DecodeConfig reads only the header: dimensions and format ("jpeg",
	// "png"). It must not decode pixel data.
	DecodeConfig(data []byte) (image.Config, string, error)
	// Decode decodes the whole image. hint gives the smallest size the caller
	// will use; a decoder may return a downscaled image no smaller than it
	// (the standard-library decoder ignores it).
	Decode(data []byte, hint SizeHint) (image.Image, string, error)
}

// SizeHint tells a decoder how small an image the caller can use: the
// shorter side must stay at least MinShortSide. Zero means full size.
type SizeHint struct {
	MinShortSide int
}

// GoDecoder decodes JPEG and PNG with the Go standard library. The zero value
// is ready to use.
type GoDecoder struct{}

var _ Decoder = GoDecoder{}

// Name returns "go".
func (GoDecoder) Name() string { return "go" }

// DecodeConfig reads the JPEG or PNG header. Errors are not yet classified;
// use the package-level DecodeConfig for that.
func (GoDecoder) DecodeConfig(data []byte) (image.Config, string, error) {
	switch sniff(data) {
	case "jpeg":
		c, err := jpeg.DecodeConfig(bytes.NewReader(data))
		return c, "jpeg", err
	case "png":
		c, err := png.DecodeConfig(bytes.NewReader(data))
		return c, "png", err
	}
	return image.Config{}, "", errUnknownFormat
}

// Decode decodes a JPEG or PNG; the hint is ignored.
func (GoDecoder) Decode(data []byte, _ SizeHint) (image.Image, string, error) {
	switch sniff(data) {
	case "jpeg":
		img, err := jpeg.Decode(bytes.NewReader(data))
		return img, "jpeg", err
	case "png":
		img, err := png.Decode(bytes.NewReader(data))
		return img, "png", err
	}
	return nil, "", errUnknownFormat
}

var errUnknownFormat = errors.New("unknown format")

// sniff names the container format from its magic bytes. Formats that are
// images but not decodable here are named too, so they can be reported as
// unsupported rather than "not an image".
func sniff(b []byte) string {
	switch {
	case len(b) >= 2 && b[0] == 0xFF && b[1] == 0xD8:
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	case bytes.HasPrefix(b, []byte("BM")) && len(b) >= 26:
		return "bmp"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return "tiff"
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		return "heif/avif"
	case bytes.HasPrefix(b, []byte("\x00\x00\x00\x0cjP  ")), bytes.HasPrefix(b, []byte("\xff\x4f\xff\x51")):
		return "jpeg2000"
	}
	return ""
}

// precheck classifies inputs that no decoder should see: empty data, data
// that is not an image, and images in formats we cannot decode.
func precheck(data []byte) (string, error) {
	if len(data) == 0 {
		return "", &DecodeError{Kind: ErrEmpty}
	}
	f := sniff(data)
	switch f {
	case "jpeg", "png":
		return f, nil
	case "":
		return "", &DecodeError{Kind: ErrNotImage, Msg: "unrecognised file signature " + signature(data)}
	}
	return f, &DecodeError{Kind: ErrUnsupported, Msg: f + " (only JPEG and PNG are decoded)"}
}

// signature renders up to the first 8 bytes for an error message.
func signature(b []byte) string {
	if len(b) > 8 {
		b = b[:8]
	}
	return fmt.Sprintf("% x", b)
}

// DecodeConfig reads the header of a JPEG or PNG with d and classifies any
// failure (ErrEmpty, ErrNotImage, ErrUnsupported, ErrTruncated, ErrCorrupt).
// It does not apply the pixel limit or EXIF orientation.
func DecodeConfig(d Decoder, data []byte) (cfg image.Config, format string, err error) {
	if format, err = precheck(data); err != nil {
		return cfg, format, err
	}
	defer recoverInto(&err, format)
	cfg, format, err = d.DecodeConfig(data)
	if err != nil {
		return cfg, format, refine(classify(format, err), format, data)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return cfg, format, &DecodeError{Kind: ErrCorrupt, Msg: fmt.Sprintf("%s header declares %d×%d pixels", format, cfg.Width, cfg.Height)}
	}
	return cfg, format, nil
}

// Decoded is the result of Decode: the image as stored, its format, and the
// EXIF orientation (1–8; 1 for PNG and for JPEGs without a tag) that must be
// applied to display it upright.
type Decoded struct {
	Image       image.Image
	Format      string
	Orientation int
}

// Size returns the displayed (oriented) width and height.
func (d Decoded) Size() (w, h int) {
	b := d.Image.Bounds()
	w, h = b.Dx(), b.Dy()
	if d.Orientation >= 5 {
		w, h = h, w
	}
	return w, h
}

// Decode reads the header, refuses images above maxPixels (≤ 0 means
// DefaultMaxPixels) without decoding them, then decodes with d. A panic
// inside the decoder is recovered into an ErrCorrupt error. Every error for a
// bad input is a *DecodeError wrapping one of the kind sentinels.
func Decode(d Decoder, data []byte, maxPixels int64, hint SizeHint) (dec Decoded, err error) {
	cfg, format, err := DecodeConfig(d, data)
	if err != nil {
		return dec, err
	}
	if err := checkPixels(cfg.Width, cfg.Height, maxPixels); err != nil {
		return dec, err
	}
	defer recoverInto(&err, format)
	img, format, err := d.Decode(data, hint)
	if err != nil {
		return dec, refine(classify(format, err), format, data)
	}
	dec = Decoded{Image: img, Format: format, Orientation: 1}
	if format == "jpeg" {
		dec.Orientation = JPEGOrientation(data)
	}
	return dec, nil
}

// checkPixels enforces the pixel limit on header dimensions.
func checkPixels(w, h int, maxPixels int64) error {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if n := int64(w) * int64(h); n > maxPixels {
		return &DecodeError{Kind: ErrTooLarge, Msg: fmt.Sprintf(
			"%d×%d is %.1f megapixels, above the limit of %.1f megapixels (raise it with --max-pixels)",
			w, h, float64(n)/1e6, float64(maxPixels)/1e6)}
	}
	return nil
}

// recoverInto turns a decoder panic (hostile input can trigger index errors
// in decoders) into an ErrCorrupt error instead of killing the worker.
func recoverInto(err *error, format string) {
	if r := recover(); r != nil {
		*err = &DecodeError{Kind: ErrCorrupt, Msg: fmt.Sprintf("%s decoder panicked: %v", format, r)}
	}
}

// isUnsupportedError reports whether a std decoder rejected a feature it
// does not implement (e.g. arithmetic-coded JPEG, 12-bit JPEG).
func isUnsupportedError(err error) bool {
	var je jpeg.UnsupportedError
	var pe png.UnsupportedError
	return errors.As(err, &je) || errors.As(err, &pe)
}

// refine corrects the kind of a JPEG decoding error where the decoder could
// not tell truncation from damage (see refineJPEG).
func refine(err error, format string, data []byte) error {
	if format != "jpeg" {
		return err
	}
	return refineJPEG(err, data)
}

// refineJPEG turns an ErrCorrupt into ErrTruncated when the JPEG's marker
// structure is intact up to where the data stops short of its EOI marker.
// Decoders disagree on how running out shows: image/jpeg mid-scan says
// "short Huffman data", libjpeg invents an EOI and then trips over it. One
// structural rule, applied to both, makes a cut file the same error row
// whichever decoder read it.
func refineJPEG(err error, data []byte) error {
	de, ok := err.(*DecodeError)
	if !ok || de.Kind != ErrCorrupt || !scanJPEG(data).endsEarly {
		return err
	}
	return &DecodeError{Kind: ErrTruncated, Msg: de.Msg, Err: de.Err}
}

// jpegLayout is what a walk over a JPEG's markers learns without decoding.
type jpegLayout struct {
	// endsEarly: the data runs out before the EOI marker with no structural
	// fault on the way (a byte where a marker must be, a segment length
	// below 2).
	endsEarly bool
	// sof is the first start-of-frame marker (0xC0–0xCF but C4, C8, CC),
	// 0 if none was reached; precision, width and height are its fields.
	sof                      byte
	precision, width, height int
}

// scanJPEG walks a JPEG's marker segments and skips its entropy-coded data
// to learn its layout. It reads no pixel data, is linear in len(data), and
// never panics.
func scanJPEG(data []byte) (l jpegLayout) {
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return l
	}
	p := 2
	for {
		if p >= len(data) {
			l.endsEarly = true
			return l
		}
		if data[p] != 0xFF {
			return l
		}
		for p < len(data) && data[p] == 0xFF { // fill bytes
			p++
		}
		if p >= len(data) {
			l.endsEarly = true
			return l
		}
		m := data[p]
		p++
		switch {
		case m == 0xD9:
			return l // complete
		case m == 0x00 || m == 0xD8:
			return l
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			continue // standalone markers
		}
		if p+2 > len(data) {
			l.endsEarly = true
			return l
		}
		n := int(data[p])<<8 | int(data[p+1])
		if n < 2 {
			return l
		}
		if p+n > len(data) {
			l.endsEarly = true
			return l
		}
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC && l.sof == 0 && n >= 8 {
			l.sof, l.precision = m, int(data[p+2])
			l.height = int(data[p+3])<<8 | int(data[p+4])
			l.width = int(data[p+5])<<8 | int(data[p+6])
		}
		p += n
		if m != 0xDA {
			continue
		}
		// Entropy-coded data runs to the next marker other than a stuffed
		// FF 00 or a restart marker.
		for {
			i := bytes.IndexByte(data[p:], 0xFF)
			if i < 0 || p+i+1 >= len(data) {
				l.endsEarly = true
				return l
			}
			p += i
			next := data[p+1]
			if next == 0xFF {
				p++ // fill byte before a marker
				continue
			}
			if next == 0x00 || (next >= 0xD0 && next <= 0xD7) {
				p += 2
				continue
			}
			break
		}
	}
}
