package vision

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Sentinel error kinds. Every error returned by Decode, DecodeConfig and
// Preprocessor.Process for a bad input wraps exactly one of these, so callers
// can test with errors.Is and result rows can name the failure with Kind.
var (
	// ErrEmpty: the file has no bytes.
	ErrEmpty = errors.New("empty file")
	// ErrTruncated: the data starts like a supported image but ends early.
	ErrTruncated = errors.New("truncated image")
	// ErrNotImage: the bytes are not any known image format (text, random
	// bytes, a mislabelled file).
	ErrNotImage = errors.New("not an image")
	// ErrUnsupported: a recognised image format (GIF, WebP, TIFF, …) or a
	// feature of JPEG/PNG that this decoder does not handle.
	ErrUnsupported = errors.New("unsupported image format")
	// ErrCorrupt: the data is a JPEG or PNG but is malformed (bad markers,
	// bad checksums, invalid dimensions), including a decoder panic.
	ErrCorrupt = errors.New("corrupt image")
	// ErrTooLarge: the header declares more pixels than the configured limit;
	// the image was not decoded.
	ErrTooLarge = errors.New("image exceeds pixel limit")
)

// DecodeError is the concrete error for a bad input. Kind is one of the
// sentinels above; Err, when set, is the underlying decoder error.
type DecodeError struct {
	Kind error
	Msg  string
	Err  error
}

// Error returns a readable message such as
// "truncated image: unexpected EOF".
func (e *DecodeError) Error() string {
	switch {
	case e.Msg != "" && e.Err != nil:
		return fmt.Sprintf("%v: %s: %v", e.Kind, e.Msg, e.Err)
	case e.Msg != "":
		return fmt.Sprintf("%v: %s", e.Kind, e.Msg)
	case e.Err != nil:
		return fmt.Sprintf("%v: %v", e.Kind, e.Err)
	}
	return e.Kind.Error()
}

// Unwrap exposes both the kind sentinel and the cause to errors.Is/As.
func (e *DecodeError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Kind names the category of err for result rows and reports: "empty",
// "truncated", "not_image", "unsupported", "corrupt", "too_large"; "" for a
// nil error and "other" for anything else (an I/O error, say).
func Kind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrEmpty):
		return "empty"
	case errors.Is(err, ErrTruncated):
		return "truncated"
	case errors.Is(err, ErrNotImage):
		return "not_image"
	case errors.Is(err, ErrUnsupported):
		return "unsupported"
	case errors.Is(err, ErrCorrupt):
		return "corrupt"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	}
	return "other"
}

// classify maps an error from a standard-library decoder onto a kind. The
// std decoders report truncation as io.ErrUnexpectedEOF (or io.EOF when the
// data stops at a segment boundary).
func classify(format string, err error) error {
	var de *DecodeError
	if errors.As(err, &de) {
		return err
	}
	kind := ErrCorrupt
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		// image/png flattens a short read into a FormatError's text.
		strings.HasSuffix(err.Error(), io.ErrUnexpectedEOF.Error()):
		kind = ErrTruncated
	case isUnsupportedError(err):
		kind = ErrUnsupported
	}
	msg := format
	if strings.HasPrefix(err.Error(), format+":") {
		msg = "" // the std decoders already name themselves
	}
	return &DecodeError{Kind: kind, Msg: msg, Err: err}
}
