package vision

import (
	"image"
	"image/color"
)

// toRGB writes the pixels of r (in img's coordinates, inside its bounds) to
// dst as packed 8-bit RGB, row-major with stride 3*r.Dx(). Alpha is dropped
// the way Pillow's convert("RGB") drops it: the colour channels keep their
// non-premultiplied values. The common concrete types are converted without
// per-pixel interface calls.
func toRGB(img image.Image, r image.Rectangle, dst []byte) {
	w := r.Dx()
	switch m := img.(type) {
	case *image.YCbCr:
		ycbcrToRGB(m, r, dst)
	case *image.NYCbCrA:
		ycbcrToRGB(&m.YCbCr, r, dst)
	case *image.Gray:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			src := m.Pix[m.PixOffset(r.Min.X, y):][:w]
			out := dst[(y-r.Min.Y)*3*w:][:3*w]
			for x, v := range src {
				out[3*x], out[3*x+1], out[3*x+2] = v, v, v
			}
		}
	case *image.Gray16:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			src := m.Pix[m.PixOffset(r.Min.X, y):][:2*w]
			out := dst[(y-r.Min.Y)*3*w:][:3*w]
			for x := range w {
				v := src[2*x] // high byte: 16-bit samples are big-endian
				out[3*x], out[3*x+1], out[3*x+2] = v, v, v
			}
		}
	case *image.NRGBA:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			src := m.Pix[m.PixOffset(r.Min.X, y):][:4*w]
			out := dst[(y-r.Min.Y)*3*w:][:3*w]
			for x := range w {
				out[3*x], out[3*x+1], out[3*x+2] = src[4*x], src[4*x+1], src[4*x+2]
			}
		}
	case *image.NRGBA64:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			src := m.Pix[m.PixOffset(r.Min.X, y):][:8*w]
			out := dst[(y-r.Min.Y)*3*w:][:3*w]
			for x := range w {
				out[3*x], out[3*x+1], out[3*x+2] = src[8*x], src[8*x+2], src[8*x+4]
			}
		}
	case *image.RGBA:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			src := m.Pix[m.PixOffset(r.Min.X, y):][:4*w]
			out := dst[(y-r.Min.Y)*3*w:][:3*w]
			for x := range w {
				p := src[4*x : 4*x+4]
				if a := p[3]; a == 0xFF {
					out[3*x], out[3*x+1], out[3*x+2] = p[0], p[1], p[2]
				} else {
					out[3*x], out[3*x+1], out[3*x+2] = unpremul8(p[0], a), unpremul8(p[1], a), unpremul8(p[2], a)
				}
			}
		}
	case *image.RGBA64:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			src := m.Pix[m.PixOffset(r.Min.X, y):][:8*w]
			out := dst[(y-r.Min.Y)*3*w:][:3*w]
			for x := range w {
				p := src[8*x : 8*x+8]
				a := uint32(p[6])<<8 | uint32(p[7])
				for c := range 3 {
					v := uint32(p[2*c])<<8 | uint32(p[2*c+1])
					if a != 0xFFFF {
						v = unpremul16(v, a)
					}
					out[3*x+c] = uint8(v >> 8)
				}
			}
		}
	case *image.CMYK:
		// Pillow's cmyk2rgb: R = (255-K) - round(C·(255-K)/255). image/color
		// truncates instead and can differ by one.
		for y := r.Min.Y; y < r.Max.Y; y++ {
			src := m.Pix[m.PixOffset(r.Min.X, y):][:4*w]
			out := dst[(y-r.Min.Y)*3*w:][:3*w]
			for x := range w {
				p := src[4*x : 4*x+4]
				nk := 255 - uint32(p[3])
				out[3*x] = uint8(nk - muldiv255(uint32(p[0]), nk))
				out[3*x+1] = uint8(nk - muldiv255(uint32(p[1]), nk))
				out[3*x+2] = uint8(nk - muldiv255(uint32(p[2]), nk))
			}
		}
	case *image.Paletted:
		var lut [256][3]uint8
		for i, c := range m.Palette {
			if i < 256 {
				lut[i] = rgbOf(c)
			}
		}
		for y := r.Min.Y; y < r.Max.Y; y++ {
			src := m.Pix[m.PixOffset(r.Min.X, y):][:w]
			out := dst[(y-r.Min.Y)*3*w:][:3*w]
			for x, v := range src {
				p := lut[v]
				out[3*x], out[3*x+1], out[3*x+2] = p[0], p[1], p[2]
			}
		}
	default:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			out := dst[(y-r.Min.Y)*3*w:][:3*w]
			for x := range w {
				p := rgbOf(img.At(r.Min.X+x, y))
				out[3*x], out[3*x+1], out[3*x+2] = p[0], p[1], p[2]
			}
		}
	}
}

// rgbOf converts any colour to its non-premultiplied 8-bit RGB.
func rgbOf(c color.Color) [3]uint8 {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]uint8{n.R, n.G, n.B}
}

// muldiv255 is round(a·b/255) for bytes, Pillow's MULDIV255.
func muldiv255(a, b uint32) uint32 {
	t := a*b + 128
	return (t>>8 + t) >> 8
}

func unpremul8(v, a uint8) uint8 {
	if a == 0 {
		return 0
	}
	return uint8((uint32(v)*255 + uint32(a)/2) / uint32(a))
}

func unpremul16(v, a uint32) uint32 {
	if a == 0 {
		return 0
	}
	return min((v*0xFFFF+a/2)/a, 0xFFFF)
}

// ycbcrToRGB converts with the same fixed-point formula as
// image/color.YCbCrToRGB, inlined so the compiler keeps it in the loop.
func ycbcrToRGB(m *image.YCbCr, r image.Rectangle, dst []byte) {
	w := r.Dx()
	var hs, vs int // chroma subsampling shifts
	ratio := m.SubsampleRatio
	if m.Rect.Min.X < 0 || m.Rect.Min.Y < 0 {
		ratio = -1 // shifts floor where COffset truncates: use COffset
	}
	switch ratio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	default: // 4:1:1 and 4:1:0 are rare: take the general path.
		for y := r.Min.Y; y < r.Max.Y; y++ {
			out := dst[(y-r.Min.Y)*3*w:][:3*w]
			for x := range w {
				yi, ci := m.YOffset(r.Min.X+x, y), m.COffset(r.Min.X+x, y)
				out[3*x], out[3*x+1], out[3*x+2] = ycc(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
		return
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		yrow := m.Y[m.YOffset(r.Min.X, y):][:w]
		crow := (y>>vs - m.Rect.Min.Y>>vs) * m.CStride
		cx0 := m.Rect.Min.X >> hs
		out := dst[(y-r.Min.Y)*3*w:][:3*w]
		for x, yy := range yrow {
			ci := crow + (r.Min.X+x)>>hs - cx0
			// ycc, inlined by hand: the call is too big for the inliner
			// and this loop runs for every source pixel.
			yy1 := int32(yy) * 0x10101
			cb1 := int32(m.Cb[ci]) - 128
			cr1 := int32(m.Cr[ci]) - 128
			rr := yy1 + 91881*cr1
			if uint32(rr)&0xff000000 == 0 {
				rr >>= 16
			} else {
				rr = ^(rr >> 31)
			}
			gg := yy1 - 22554*cb1 - 46802*cr1
			if uint32(gg)&0xff000000 == 0 {
				gg >>= 16
			} else {
				gg = ^(gg >> 31)
			}
			bb := yy1 + 116130*cb1
			if uint32(bb)&0xff000000 == 0 {
				bb >>= 16
			} else {
				bb = ^(bb >> 31)
			}
			o := out[3*x : 3*x+3]
			o[0], o[1], o[2] = uint8(rr), uint8(gg), uint8(bb)
		}
	}
}

// ycc is image/color.YCbCrToRGB.
func ycc(y, cb, cr uint8) (uint8, uint8, uint8) {
	yy1 := int32(y) * 0x10101
	cb1 := int32(cb) - 128
	cr1 := int32(cr) - 128
	r := yy1 + 91881*cr1
	if uint32(r)&0xff000000 == 0 {
		r >>= 16
	} else {
		r = ^(r >> 31)
	}
	g := yy1 - 22554*cb1 - 46802*cr1
	if uint32(g)&0xff000000 == 0 {
		g >>= 16
	} else {
		g = ^(g >> 31)
	}
	b := yy1 + 116130*cb1
	if uint32(b)&0xff000000 == 0 {
		b >>= 16
	} else {
		b = ^(b >> 31)
	}
	return uint8(r), uint8(g), uint8(b)
}

// orientedSource maps a pixel of the upright (oriented) image back to the
// stored image of size w×h, for EXIF orientation o.
func orientedSource(o, ox, oy, w, h int) (sx, sy int) {
	switch o {
	case 2:
		return w - 1 - ox, oy
	case 3:
		return w - 1 - ox, h - 1 - oy
	case 4:
		return ox, h - 1 - oy
	case 5:
		return oy, ox
	case 6:
		return oy, h - 1 - ox
	case 7:
		return w - 1 - oy, h - 1 - ox
	case 8:
		return w - 1 - oy, ox
	}
	return ox, oy
}
