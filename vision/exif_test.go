package vision

import (
	"testing"
)

func TestJPEGOrientation(t *testing.T) {
	t.Parallel()
	base := encodeJPEG(t, solid(16, 16, rgb(10, 20, 30)), 90)
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"no exif", base, 1},
		{"not a jpeg", []byte("hello world"), 1},
		{"empty", nil, 1},
		{"unknown value 9", withAPP1(base, tiff("II", 3, 9)), 1},
		{"value 0", withAPP1(base, tiff("MM", 3, 0)), 1},
		{"LONG type tolerated", withAPP1(base, tiff("II", 4, 6)), 6},
		{"wrong type", withAPP1(base, tiff("II", 2, 6)), 1},
		{"bad byte order", withAPP1(base, append([]byte("XX"), tiff("II", 3, 6)[2:]...)), 1},
		{"bad magic", withAPP1(base, append([]byte("II\x2b\x00"), tiff("II", 3, 6)[4:]...)), 1},
		{"IFD offset past end", withAPP1(base, []byte("II\x2a\x00\xff\xff\xff\x7f")), 1},
		{"entry count past end", withAPP1(base, []byte("II\x2a\x00\x08\x00\x00\x00\xff\xff")), 1},
		{"segment length past end", []byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x'}, 1},
		{"segment length too small", []byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01, 0xFF, 0xD9}, 1},
		{"fill bytes before marker", append([]byte{0xFF, 0xD8, 0xFF, 0xFF}, withAPP1(base, tiff("MM", 3, 8))[3:]...), 8},
		{"exif after SOS ignored", append(append([]byte{0xFF, 0xD8, 0xFF, 0xDA}, 0, 2), withAPP1(base, tiff("II", 3, 6))[2:]...), 1},
	}
	for o := 1; o <= 8; o++ {
		for _, order := range []string{"II", "MM"} {
			tests = append(tests, struct {
				name string
				data []byte
				want int
			}{order + " " + string(rune('0'+o)), withAPP1(base, tiff(order, 3, uint32(o))), o})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := JPEGOrientation(tt.data); got != tt.want {
				t.Errorf("JPEGOrientation = %d, want %d", got, tt.want)
			}
		})
	}
}

// Every prefix of a valid EXIF JPEG must parse without panicking and give
// either the tag or the default.
func TestJPEGOrientationTruncated(t *testing.T) {
	t.Parallel()
	for _, order := range []string{"II", "MM"} {
		data := withAPP1(encodeJPEG(t, solid(8, 8, rgb(1, 2, 3)), 90), tiff(order, 3, 6))
		for n := range len(data) {
			if got := JPEGOrientation(data[:n]); got != 1 && got != 6 {
				t.Fatalf("%s prefix %d: orientation %d", order, n, got)
			}
		}
	}
}

func FuzzJPEGOrientation(f *testing.F) {
	base := encodeJPEG(f, solid(8, 8, rgb(1, 2, 3)), 90)
	f.Add(base)
	f.Add(withAPP1(base, tiff("II", 3, 6)))
	f.Add(withAPP1(base, tiff("MM", 4, 3)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := JPEGOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d out of range", o)
		}
	})
}
