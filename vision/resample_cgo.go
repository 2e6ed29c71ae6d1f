//go:build cgo && (amd64 || arm64)

package vision

/*
#cgo CFLAGS: -O3
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The same fixed-point arithmetic as resampleGo, bit for bit (Pillow's
// 22-bit bilinear weights, 8-bit intermediate), in C: the horizontal pass
// has an SSE4.1 path chosen at run time, and the compiler vectorises the
// vertical pass, for which on x86-64 target_clones builds an AVX2 copy next
// to the baseline one and picks between them once, when the program loads.
// Elsewhere (arm64) both passes are plain C, vectorised for the baseline.
#if defined(__x86_64__)
#define WB_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define WB_CLONES
#endif

#define WB_PB 22
#define WB_HALF (1 << (WB_PB - 1))

static inline uint8_t wb_clip8(int32_t v) {
	v >>= WB_PB;
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

typedef struct {
	const int64_t *start, *off; // per output: first source sample, tap offsets
	const int32_t *w;           // the taps
} wb_kernel;

typedef struct {
	const uint8_t *src;  // packed RGB, first pixel is source pixel (ox, oy)
	int64_t stride, ox, oy;
	wb_kernel kh, kv;
	int64_t cw, rows;    // crop columns and rows computed (c1-c0, r1-r0)
	int64_t y0, bh;      // first source row read, rows read
	uint8_t *tmp;        // 3·cw·bh bytes: the horizontal pass
	int32_t *acc;        // 3·cw accumulators
	const float *lut;    // 3×256 normalisation tables, by source channel
	float *dst;          // output in the recipe's layout
	int64_t row, pix, first; // output steps per crop row and pixel, offset of output (r0, c0)
	int64_t offr, offg, offb; // where each source channel's value lies from its pixel's start
} wb_resample_args;

static void wb_hpass_scalar(const wb_resample_args *a) {
	const int64_t n = 3 * a->cw;
	const int64_t *hs = a->kh.start, *ho = a->kh.off;
	const int32_t *hw = a->kh.w;
	for (int64_t y = 0; y < a->bh; y++) {
		const uint8_t *row = a->src + (a->y0 + y - a->oy) * a->stride - 3 * a->ox;
		uint8_t *out = a->tmp + n * y;
		for (int64_t j = 0; j < a->cw; j++) {
			const int32_t *t = hw + ho[j];
			const int64_t nt = ho[j + 1] - ho[j];
			const uint8_t *px = row + 3 * hs[j];
			int32_t r = WB_HALF, g = WB_HALF, b = WB_HALF;
			for (int64_t k = 0; k < nt; k++) {
				r += (int32_t)px[3 * k] * t[k];
				g += (int32_t)px[3 * k + 1] * t[k];
				b += (int32_t)px[3 * k + 2] * t[k];
			}
			out[3 * j] = wb_clip8(r);
			out[3 * j + 1] = wb_clip8(g);
			out[3 * j + 2] = wb_clip8(b);
		}
	}
}

#if defined(__x86_64__)
// wb_hpass_sse41 does the three channels of a tap in one 4-lane multiply:
// it loads 4 bytes per pixel (R, G, B and the next pixel's R, weighted
// but discarded), so every row but the last may be read one byte past the
// pixels the kernel reaches; the last row goes through the scalar loop.
__attribute__((target("sse4.1")))
static void wb_hpass_sse41(const wb_resample_args *a) {
	const int64_t n = 3 * a->cw;
	const int64_t *hs = a->kh.start, *ho = a->kh.off;
	const int32_t *hw = a->kh.w;
	const __m128i half = _mm_set1_epi32(WB_HALF);
	for (int64_t y = 0; y + 1 < a->bh; y++) {
		const uint8_t *row = a->src + (a->y0 + y - a->oy) * a->stride - 3 * a->ox;
		uint8_t *out = a->tmp + n * y;
		for (int64_t j = 0; j < a->cw; j++) {
			const int32_t *t = hw + ho[j];
			const int64_t nt = ho[j + 1] - ho[j];
			const uint8_t *px = row + 3 * hs[j];
			__m128i acc = half;
			for (int64_t k = 0; k < nt; k++) {
				int32_t v;
				memcpy(&v, px + 3 * k, 4);
				__m128i p = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(v));
				acc = _mm_add_epi32(acc, _mm_mullo_epi32(p, _mm_set1_epi32(t[k])));
			}
			// Arithmetic shift, then saturating packs: clip8's clamp.
			__m128i w = _mm_packs_epi32(_mm_srai_epi32(acc, WB_PB), _mm_setzero_si128());
			int32_t rgb = _mm_cvtsi128_si32(_mm_packus_epi16(w, w));
			out[3 * j] = (uint8_t)rgb;
			out[3 * j + 1] = (uint8_t)(rgb >> 8);
			out[3 * j + 2] = (uint8_t)(rgb >> 16);
		}
	}
	wb_resample_args last = *a;
	last.src = a->src;
	last.y0 = a->y0 + a->bh - 1;
	last.bh = 1;
	last.tmp = a->tmp + n * (a->bh - 1);
	wb_hpass_scalar(&last);
}
#endif

// wb_scalar_only, set by tests, keeps wb_hpass on the portable loop so
// that both paths are checked on machines that have SSE4.1.
static int wb_scalar_only;
static void wb_force_scalar(int on) { wb_scalar_only = on; }

static void wb_hpass(const wb_resample_args *a) {
#if defined(__x86_64__)
	if (!wb_scalar_only && __builtin_cpu_supports("sse4.1")) {
		wb_hpass_sse41(a);
		return;
	}
#endif
	wb_hpass_scalar(a);
}

WB_CLONES
void wb_vpass(const wb_resample_args *a) {
	const int64_t n = 3 * a->cw;
	int32_t *acc = a->acc;
	const float *lr = a->lut, *lg = a->lut + 256, *lb = a->lut + 512;
	for (int64_t i = 0; i < a->rows; i++) {
		const int32_t *t = a->kv.w + a->kv.off[i];
		const int64_t last = a->kv.off[i + 1] - a->kv.off[i] - 1;
		const uint8_t *rows = a->tmp + n * (a->kv.start[i] - a->y0);
		for (int64_t q = 0; q < n; q++) acc[q] = WB_HALF;
		for (int64_t k = 0; k < last; k++) {
			const uint8_t *row = rows + n * k;
			const int32_t w = t[k];
			for (int64_t q = 0; q < n; q++) acc[q] += (int32_t)row[q] * w;
		}
		const uint8_t *l = rows + n * last;
		const int32_t kl = t[last];
		float *px = a->dst + a->first + i * a->row;
		float *rc = px + a->offr, *gc = px + a->offg, *bc = px + a->offb;
		if (a->pix == 1) { // planar: three unit-stride rows, which vectorise
			for (int64_t j = 0; j < a->cw; j++) {
				rc[j] = lr[wb_clip8(acc[3 * j] + (int32_t)l[3 * j] * kl)];
				gc[j] = lg[wb_clip8(acc[3 * j + 1] + (int32_t)l[3 * j + 1] * kl)];
				bc[j] = lb[wb_clip8(acc[3 * j + 2] + (int32_t)l[3 * j + 2] * kl)];
			}
			continue;
		}
		const int64_t ps = a->pix;
		for (int64_t j = 0; j < a->cw; j++) {
			rc[j * ps] = lr[wb_clip8(acc[3 * j] + (int32_t)l[3 * j] * kl)];
			gc[j * ps] = lg[wb_clip8(acc[3 * j + 1] + (int32_t)l[3 * j + 1] * kl)];
			bc[j * ps] = lb[wb_clip8(acc[3 * j + 2] + (int32_t)l[3 * j + 2] * kl)];
		}
	}
}

// wb_resample takes its pointers one by one, not in a struct: cgo lets Go
// pass pointers to pointer-free memory, never memory holding pointers.
static void wb_resample(const uint8_t *src, int64_t stride, int64_t ox, int64_t oy,
		const int64_t *hstart, const int64_t *hoff, const int32_t *hw,
		const int64_t *vstart, const int64_t *voff, const int32_t *vw,
		int64_t cw, int64_t rows, int64_t y0, int64_t bh,
		uint8_t *tmp, int32_t *acc, const float *lut, float *dst,
		int64_t row, int64_t pix, int64_t first, int64_t offr, int64_t offg, int64_t offb) {
	wb_resample_args a = {
		.src = src, .stride = stride, .ox = ox, .oy = oy,
		.kh = {hstart, hoff, hw}, .kv = {vstart, voff, vw},
		.cw = cw, .rows = rows, .y0 = y0, .bh = bh,
		.tmp = tmp, .acc = acc, .lut = lut, .dst = dst,
		.row = row, .pix = pix, .first = first,
		.offr = offr, .offg = offg, .offb = offb,
	};
	wb_hpass(&a);
	wb_vpass(&a);
}
*/
import "C"

import "unsafe"

// nativeResample reports whether resampleNative is compiled in.
const nativeResample = true

// resampleNative is resampleGo in C: same plan, same arguments, same
// output bits (TestResampleNativeMatchesGo). Only the slices' first
// elements cross into C, and C keeps none of them.
func (p *Preprocessor) resampleNative(g *resamplePlan, src []byte, stride, ox, oy int, dst []float32) {
	r := p.recipe
	kv, kh := g.kv, g.kh
	cw, rows, bh := g.c1-g.c0, g.r1-g.r0, g.y1-g.y0
	if cw <= 0 || rows <= 0 {
		p.padCrop(g, dst)
		return
	}
	n := 3 * cw
	tmp := grow(&p.tmp, n*bh)
	acc := growInt32(&p.acc, n)
	p.padCrop(g, dst)
	l := &p.out
	// Bounds the C code relies on, checked here once: the source rows and
	// columns the kernels reach, and the whole output.
	_ = src[(g.y1-1-oy)*stride+3*(g.x1-ox)-1]
	_ = dst[r.OutputLen()-1]
	C.wb_resample(
		(*C.uint8_t)(unsafe.SliceData(src)), C.int64_t(stride), C.int64_t(ox), C.int64_t(oy),
		i64(kh.start), i64(kh.off), (*C.int32_t)(unsafe.SliceData(kh.w)),
		i64(kv.start), i64(kv.off), (*C.int32_t)(unsafe.SliceData(kv.w)),
		C.int64_t(cw), C.int64_t(rows), C.int64_t(g.y0), C.int64_t(bh),
		(*C.uint8_t)(unsafe.SliceData(tmp)), (*C.int32_t)(unsafe.SliceData(acc)),
		(*C.float)(&p.lut[0][0]), (*C.float)(unsafe.SliceData(dst)),
		C.int64_t(l.row), C.int64_t(l.pix), C.int64_t((g.r0-g.top)*l.row+(g.c0-g.left)*l.pix),
		C.int64_t(l.off[0]), C.int64_t(l.off[1]), C.int64_t(l.off[2]))
}

// forceScalarResample keeps the native resampler on its portable loop, for
// tests; it is not safe to call while images are being processed.
func forceScalarResample(on bool) {
	v := 0
	if on {
		v = 1
	}
	C.wb_force_scalar(C.int(v))
}

// i64 passes a []int to C as int64_t*: the build constraint limits this
// file to 64-bit targets, where the two have the same layout.
func i64(s []int) *C.int64_t { return (*C.int64_t)(unsafe.Pointer(unsafe.SliceData(s))) }
