package vision

import "encoding/binary"

// JPEGOrientation returns the EXIF orientation (1–8) stored in a JPEG's APP1
// segment, or 1 when there is none or it is unreadable. It scans only the
// marker segments before the first scan and bounds-checks every read, so
// hostile input yields 1, never a panic.
//
// The values follow the TIFF/EXIF specification:
//
//	1 upright            2 mirrored left–right
//	3 rotated 180°       4 mirrored top–bottom
//	5 transposed         6 needs 90° clockwise rotation
//	7 transversed        8 needs 90° counter-clockwise rotation
func JPEGOrientation(data []byte) int {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 1
	}
	p := 2
	for p+1 < len(data) {
		if data[p] != 0xFF {
			return 1 // not at a marker: malformed; give up quietly
		}
		m := data[p+1]
		p += 2
		switch {
		case m == 0xFF: // fill byte: the marker code follows
			p--
			continue
		case m == 0xD9 || m == 0xDA: // EOI or SOS: no metadata after this
			return 1
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // standalone markers
			continue
		}
		if p+2 > len(data) {
			return 1
		}
		n := int(binary.BigEndian.Uint16(data[p:]))
		if n < 2 || p+n > len(data) {
			return 1
		}
		seg := data[p+2 : p+n]
		p += n
		if m == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			if o := tiffOrientation(seg[6:]); o != 0 {
				return o
			}
		}
	}
	return 1
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure in either
// byte order. It returns 0 when the tag is absent or invalid.
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(b[2:]) != 42 {
		return 0
	}
	off := uint64(bo.Uint32(b[4:]))
	if off+2 > uint64(len(b)) {
		return 0
	}
	count := int(bo.Uint16(b[off:]))
	entries := b[off+2:]
	for i := 0; i < count && 12*i+12 <= len(entries); i++ {
		e := entries[12*i : 12*i+12]
		if bo.Uint16(e) != 0x0112 {
			continue
		}
		typ, n := bo.Uint16(e[2:]), bo.Uint32(e[4:])
		if n < 1 {
			return 0
		}
		var v uint32
		switch typ {
		case 3: // SHORT: left-justified in the value field
			v = uint32(bo.Uint16(e[8:]))
		case 4: // LONG: not per spec, but some writers use it
			v = bo.Uint32(e[8:])
		default:
			return 0
		}
		if v >= 1 && v <= 8 {
			return int(v)
		}
		return 0
	}
	return 0
}
