package model

import (
	"math"
	"unsafe"
)

// float32sToHalf rounds src to IEEE binary16, nearest even, into dst.
func float32sToHalf(src []float32, dst []uint16) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = float32ToHalf(v)
	}
}

// float32sToUint8 rounds src half away from zero and clamps to 0–255 into
// dst: the preprocessing of a uint8 recipe writes whole bytes, so rounding
// only absorbs float noise, and clamping keeps a custom recipe's values
// from wrapping around. NaN becomes 0.
func float32sToUint8(src []float32, dst []uint8) {
	dst = dst[:len(src)]
	for i, v := range src {
		switch {
		case !(v > 0): // also NaN
			dst[i] = 0
		case v >= 255:
			dst[i] = 255
		default:
			dst[i] = uint8(v + 0.5)
		}
	}
}

// halfToFloat32s widens binary16 values into dst.
func halfToFloat32s(src []uint16, dst []float32) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = halfToFloat32(h)
	}
}

// halfToFloat32 is the exact widening of one binary16 value.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: value = mant·2^-24
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			return -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// halfBytes views a binary16 slice as the little-endian bytes ORT reads
// (every platform ORT ships for is little-endian).
func halfBytes(h []uint16) []byte {
	if len(h) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&h[0])), 2*len(h))
}

// growSlice returns buf[:n], reallocating only when its capacity is short.
func growSlice[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}
