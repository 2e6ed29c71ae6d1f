package vision

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

func encodeJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// solid returns a w×h opaque image of one colour.
func solid(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

// tiff builds a minimal TIFF structure with one IFD0 entry for the
// orientation tag, in the given byte order, with the given field type.
func tiff(order string, typ uint16, value uint32) []byte {
	var bo binary.AppendByteOrder = binary.LittleEndian
	if order == "MM" {
		bo = binary.BigEndian
	}
	b := []byte(order)
	b = bo.AppendUint16(b, 42)
	b = bo.AppendUint32(b, 8)
	b = bo.AppendUint16(b, 2) // two entries: an unrelated tag first
	// ImageDescription-like ASCII entry pointing nowhere we read.
	b = bo.AppendUint16(b, 0x010E)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint32(b, 4)
	b = append(b, 'a', 'b', 'c', 0)
	b = bo.AppendUint16(b, 0x0112)
	b = bo.AppendUint16(b, typ)
	b = bo.AppendUint32(b, 1)
	if typ == 3 {
		b = bo.AppendUint16(b, uint16(value))
		b = append(b, 0, 0)
	} else {
		b = bo.AppendUint32(b, value)
	}
	return bo.AppendUint32(b, 0) // no next IFD
}

// withAPP1 inserts an EXIF APP1 segment holding tiffData right after SOI.
func withAPP1(jpg, tiffData []byte) []byte {
	payload := append([]byte("Exif\x00\x00"), tiffData...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// pngHeader returns a PNG signature and a valid IHDR chunk declaring w×h
// 8-bit RGB, with no image data after it.
func pngHeader(w, h uint32) []byte {
	ihdr := []byte("IHDR")
	ihdr = binary.BigEndian.AppendUint32(ihdr, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

// patchSOF rewrites the frame dimensions of a baseline JPEG.
func patchSOF(t testing.TB, jpg []byte, w, h uint16) []byte {
	t.Helper()
	out := append([]byte{}, jpg...)
	for i := 2; i+9 < len(out); i++ {
		if out[i] == 0xFF && out[i+1] == 0xC0 {
			binary.BigEndian.PutUint16(out[i+5:], h)
			binary.BigEndian.PutUint16(out[i+7:], w)
			return out
		}
	}
	t.Fatal("no SOF0 marker")
	return nil
}

func rgb(r, g, b uint8) color.RGBA { return color.RGBA{r, g, b, 255} }
