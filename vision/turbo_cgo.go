//go:build cgo

package vision

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

// The TurboJPEG 2.x API, declared here rather than included: the library is
// opened at run time, so neither its header nor its .so is needed to build.
typedef void *wb_tjhandle;
typedef struct { int num, denom; } wb_tjscalingfactor;

typedef struct {
	void *lib;
	wb_tjhandle (*initDecompress)(void);
	int (*destroy)(wb_tjhandle);
	int (*decompressHeader3)(wb_tjhandle, const unsigned char *, unsigned long,
	                         int *, int *, int *, int *);
	wb_tjscalingfactor *(*getScalingFactors)(int *);
	int (*decompress2)(wb_tjhandle, const unsigned char *, unsigned long,
	                   unsigned char *, int, int, int, int, int);
	char *(*getErrorStr2)(wb_tjhandle);
	int (*getErrorCode)(wb_tjhandle);
	void *tj3Init; // present only in libjpeg-turbo ≥ 3.0; reported, not used
} wb_tj;

// wb_tj_open fills t from the library at path. It returns NULL on success
// and dlerror's message otherwise; the library is never closed, as the
// handles it hands out may live as long as the process.
static const char *wb_tj_open(const char *path, wb_tj *t) {
	dlerror();
	t->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!t->lib) return dlerror();
#define WB_SYM(field, name) \
	*(void **)(&t->field) = dlsym(t->lib, name); \
	if (!t->field) { const char *e = dlerror(); return e ? e : "missing symbol " name; }
	WB_SYM(initDecompress, "tjInitDecompress");
	WB_SYM(destroy, "tjDestroy");
	WB_SYM(decompressHeader3, "tjDecompressHeader3");
	WB_SYM(getScalingFactors, "tjGetScalingFactors");
	WB_SYM(decompress2, "tjDecompress2");
	WB_SYM(getErrorStr2, "tjGetErrorStr2");
	WB_SYM(getErrorCode, "tjGetErrorCode");
#undef WB_SYM
	t->tj3Init = dlsym(t->lib, "tj3Init");
	return NULL;
}

// wb_tj_file names the file the library was loaded from.
static const char *wb_tj_file(wb_tj *t) {
	Dl_info info;
	if (dladdr(*(void **)(&t->initDecompress), &info) && info.dli_fname) return info.dli_fname;
	return "";
}

static wb_tjhandle wb_tj_init(wb_tj *t) { return t->initDecompress(); }
static int wb_tj_destroy(wb_tj *t, wb_tjhandle h) { return t->destroy(h); }

static int wb_tj_header(wb_tj *t, wb_tjhandle h, const unsigned char *buf, unsigned long n,
                        int *w, int *hh, int *subsamp, int *cs) {
	return t->decompressHeader3(h, buf, n, w, hh, subsamp, cs);
}

static int wb_tj_decompress(wb_tj *t, wb_tjhandle h, const unsigned char *buf, unsigned long n,
                            unsigned char *dst, int w, int pitch, int hh, int pf, int flags) {
	return t->decompress2(h, buf, n, dst, w, pitch, hh, pf, flags);
}

static const char *wb_tj_error(wb_tj *t, wb_tjhandle h) { return t->getErrorStr2(h); }
static int wb_tj_error_code(wb_tj *t, wb_tjhandle h) { return t->getErrorCode(h); }

static wb_tjscalingfactor *wb_tj_factors(wb_tj *t, int *n) { return t->getScalingFactors(n); }
*/
import "C"

import (
	"path/filepath"
	"runtime"
	"unsafe"
)

// cgoTurbo is the loaded library: its C function table and what it says
// about itself.
type cgoTurbo struct {
	t       *C.wb_tj
	file    string
	tj3     bool
	factors []scaleFactor
}

func openTurbo(path string) (*turboLib, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	t := (*C.wb_tj)(C.calloc(1, C.sizeof_wb_tj))
	if msg := C.wb_tj_open(cpath, t); msg != nil {
		err := C.GoString(msg)
		if t.lib != nil {
			C.dlclose(t.lib)
		}
		C.free(unsafe.Pointer(t))
		return nil, turboLoadError(path, err)
	}
	c := &cgoTurbo{t: t, file: C.GoString(C.wb_tj_file(t)), tj3: t.tj3Init != nil}
	if real, err := filepath.EvalSymlinks(c.file); err == nil {
		c.file = real
	}
	var n C.int
	if f := C.wb_tj_factors(t, &n); f != nil && n > 0 {
		for _, s := range unsafe.Slice(f, int(n)) {
			if s.num > 0 && s.denom > 0 {
				c.factors = append(c.factors, scaleFactor{int(s.num), int(s.denom)})
			}
		}
	}
	return &turboLib{path: path, c: c, file: c.file, tj3: c.tj3, factors: c.factors}, nil
}

// tjHandle is one TurboJPEG decompressor. A handle carries libjpeg's
// per-image state, so one goroutine at a time may use it; the C side is
// freed when the Go value becomes unreachable.
type tjHandle struct {
	lib *turboLib
	box *tjBox
	// hdr receives tjDecompressHeader3's four outputs. It lives here, not
	// on the stack, because cgo moves any local whose address reaches C to
	// the heap: four allocations per image.
	hdr [4]C.int
}

// tjBox holds the C handle apart from tjHandle so that the cleanup, which
// must not keep tjHandle reachable, can still see a handle replaced by
// reset.
type tjBox struct{ h C.wb_tjhandle }

func (l *turboLib) newHandle() (*tjHandle, error) {
	h := C.wb_tj_init(l.c.t)
	if h == nil {
		return nil, &turboError{msg: "tjInitDecompress failed"}
	}
	th := &tjHandle{lib: l, box: &tjBox{h}}
	t := l.c.t
	runtime.AddCleanup(th, func(b *tjBox) {
		if b.h != nil {
			C.wb_tj_destroy(t, b.h)
		}
	}, th.box)
	return th, nil
}

// reset replaces the C handle after a failure. tjDecompressHeader3 does not
// abort libjpeg's state when it fails, so the next header read on the same
// handle would resume mid-header and report "two SOI markers"; a fresh
// handle costs a few microseconds, on the error path only.
func (h *tjHandle) reset() {
	t := h.lib.c.t
	if h.box.h != nil {
		C.wb_tj_destroy(t, h.box.h)
	}
	h.box.h = C.wb_tj_init(t)
}

var errNoHandle = &turboError{msg: "tjInitDecompress failed"}

// header reads the frame header: size, chroma subsampling (TJSAMP_*) and
// colour space (TJCS_*).
func (h *tjHandle) header(data []byte) (w, ht, subsamp, cs int, err error) {
	if h.box.h == nil {
		return 0, 0, 0, 0, errNoHandle
	}
	o := &h.hdr
	*o = [4]C.int{} // a tables-only stream returns success and sets nothing
	r := C.wb_tj_header(h.lib.c.t, h.box.h, (*C.uchar)(unsafe.Pointer(unsafe.SliceData(data))),
		C.ulong(len(data)), &o[0], &o[1], &o[2], &o[3])
	runtime.KeepAlive(data)
	if r != 0 {
		err := h.err()
		h.reset()
		return 0, 0, 0, 0, err
	}
	return int(o[0]), int(o[1]), int(o[2]), int(o[3]), nil
}

// decompress decodes data scaled to w×ht (a size tjGetScalingFactors allows)
// into dst, rows pitch bytes apart, in pixel format pf. A warning (libjpeg
// recovered and wrote the whole image) is returned as a *turboError with
// warning set.
func (h *tjHandle) decompress(data, dst []byte, w, pitch, ht, pf, flags int) error {
	if h.box.h == nil {
		return errNoHandle
	}
	r := C.wb_tj_decompress(h.lib.c.t, h.box.h,
		(*C.uchar)(unsafe.Pointer(unsafe.SliceData(data))), C.ulong(len(data)),
		(*C.uchar)(unsafe.Pointer(unsafe.SliceData(dst))), C.int(w), C.int(pitch), C.int(ht),
		C.int(pf), C.int(flags))
	runtime.KeepAlive(data)
	runtime.KeepAlive(dst)
	if r != 0 {
		err := h.err()
		if !err.warning {
			h.reset()
		}
		return err
	}
	return nil
}

func (h *tjHandle) err() *turboError {
	return &turboError{
		msg:     C.GoString(C.wb_tj_error(h.lib.c.t, h.box.h)),
		warning: C.wb_tj_error_code(h.lib.c.t, h.box.h) == 0, // TJERR_WARNING
	}
}
