package model

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

// The three CUDA runtime calls host pinning needs, found with dlsym so
// that the binary neither links nor needs libcudart where there is no GPU.
typedef struct {
	void *lib;
	int (*reg)(void *, size_t, unsigned int);
	int (*unreg)(void *);
	const char *(*errstr)(int);
} wb_cudart;

static const char *wb_cudart_open(const char *path, wb_cudart *c) {
	dlerror();
	c->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!c->lib) return dlerror();
	*(void **)(&c->reg) = dlsym(c->lib, "cudaHostRegister");
	*(void **)(&c->unreg) = dlsym(c->lib, "cudaHostUnregister");
	*(void **)(&c->errstr) = dlsym(c->lib, "cudaGetErrorString");
	if (!c->reg || !c->unreg || !c->errstr) return "cudaHostRegister, cudaHostUnregister or cudaGetErrorString missing";
	return NULL;
}

// cudaHostRegisterPortable (1): pinned for every CUDA context, so the
// sessions of every actor copy from it by DMA.
static int wb_pin(wb_cudart *c, void *p, size_t n) { return c->reg(p, n, 1); }
static int wb_unpin(wb_cudart *c, void *p) { return c->unreg(p); }
static const char *wb_cuda_err(wb_cudart *c, int e) { return c->errstr(e); }
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// CUDARuntimeNames are the CUDA runtime libraries NewCUDAPinner tries, in
// order: CUDA 13 (what the ORT 1.29 CUDA provider links), then 12, then
// the unversioned name. They are found on the loader's path
// (LD_LIBRARY_PATH), where the CUDA provider finds them too.
var CUDARuntimeNames = []string{"libcudart.so.13", "libcudart.so.12", "libcudart.so"}

// CUDAPinner page-locks host memory with cudaHostRegister, so ONNX
// Runtime's CUDA provider copies a batch to the GPU by DMA, asynchronously
// on its stream, instead of staging it through a driver buffer first. It
// satisfies pipeline.Pinner; it is safe for concurrent use.
type CUDAPinner struct {
	c    *C.wb_cudart // C memory: cgo forbids handing C a Go struct of pointers
	Path string       // the library that was opened
}

var (
	pinnerOnce sync.Once
	pinner     *CUDAPinner
	pinnerErr  error
)

// SharedCUDAPinner opens the CUDA runtime once per process (the first of
// CUDARuntimeNames that loads) and returns the same pinner every time.
func SharedCUDAPinner() (*CUDAPinner, error) {
	pinnerOnce.Do(func() { pinner, pinnerErr = NewCUDAPinner(CUDARuntimeNames...) })
	return pinner, pinnerErr
}

// NewCUDAPinner opens the first of paths that loads as a CUDA runtime. The
// error names every path tried and why each failed.
func NewCUDAPinner(paths ...string) (*CUDAPinner, error) {
	var why []string
	for _, p := range paths {
		cp := C.CString(p)
		c := (*C.wb_cudart)(C.calloc(1, C.size_t(unsafe.Sizeof(C.wb_cudart{}))))
		msg := C.wb_cudart_open(cp, c)
		C.free(unsafe.Pointer(cp))
		if msg == nil {
			return &CUDAPinner{c: c, Path: p}, nil
		}
		why = append(why, fmt.Sprintf("%s: %s", p, C.GoString(msg)))
		if c.lib != nil {
			C.dlclose(c.lib)
		}
		C.free(unsafe.Pointer(c))
	}
	return nil, fmt.Errorf("no CUDA runtime for pinned memory (%s); input copies stay pageable", strings.Join(why, "; "))
}

// Pin page-locks b, which must not be Go-heap memory that could move (the
// tensor pool maps its buffers outside the heap).
func (p *CUDAPinner) Pin(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if e := C.wb_pin(p.c, unsafe.Pointer(&b[0]), C.size_t(len(b))); e != 0 {
		return fmt.Errorf("cudaHostRegister(%d bytes): %s (error %d)", len(b), C.GoString(C.wb_cuda_err(p.c, e)), int(e))
	}
	return nil
}

// Unpin undoes Pin; call it before the memory is unmapped.
func (p *CUDAPinner) Unpin(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if e := C.wb_unpin(p.c, unsafe.Pointer(&b[0])); e != 0 {
		return fmt.Errorf("cudaHostUnregister: %s (error %d)", C.GoString(C.wb_cuda_err(p.c, e)), int(e))
	}
	return nil
}
