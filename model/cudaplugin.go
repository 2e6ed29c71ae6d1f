package model

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// A minimal view of ONNX Runtime's C API. OrtApi is a table of function
// pointers whose order ORT never changes (new entries are only appended), so
// the few entries called here are addressed by index. The indices are those
// of onnxruntime_c_api.h as vendored by github.com/yalue/onnxruntime_go, and
// TestOrtAPIIndices re-derives them from that header.
enum {
	wbGetErrorMessage = 2,
	wbCreateEnv = 3,
	wbReleaseEnv = 92,
	wbReleaseStatus = 93,
	wbGetKeyValue = 297,
	wbGetEpDevices = 303,
	wbSessionOptionsAppendExecutionProvider_V2 = 304,
	wbEpDevice_EpName = 312,
	wbEpDevice_EpOptions = 315,
};

// 22 is the first API version (ORT 1.22) with plugin execution providers.
#define WB_ORT_API_VERSION 22

typedef struct { const void* (*GetApi)(uint32_t); const char* (*GetVersionString)(void); } wbApiBase;
typedef void* (*wbStatusFn)();

static void* const* wb_api(const char* lib, char** err) {
	void* h = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD);
	if (!h) { *err = "the ONNX Runtime library is not loaded"; return NULL; }
	const wbApiBase* (*get_base)(void) = (const wbApiBase* (*)(void))dlsym(h, "OrtGetApiBase");
	dlclose(h); // drops only our NOLOAD reference; the binding keeps its own
	if (!get_base) { *err = "OrtGetApiBase not found"; return NULL; }
	void* const* api = (void* const*)get_base()->GetApi(WB_ORT_API_VERSION);
	if (!api) { *err = "this ONNX Runtime is older than 1.22 and has no plugin execution providers"; return NULL; }
	return api;
}

// wb_message copies an OrtStatus's message into a malloc'ed string and
// releases the status. NULL status gives NULL.
static char* wb_message(void* const* api, void* status) {
	if (!status) return NULL;
	const char* m = ((const char* (*)(void*))api[wbGetErrorMessage])(status);
	char* out = m ? strdup(m) : strdup("unknown ONNX Runtime error");
	((void (*)(void*))api[wbReleaseStatus])(status);
	return out;
}

// wb_append_cuda finds the CUDAExecutionProvider device whose EP option
// device_id equals want (or, when none carries the option, the want-th CUDA
// device) among the environment's EP devices and appends it to so with the
// given provider options. It returns NULL on success or a malloc'ed message.
// *found reports how many CUDA EP devices the environment lists and
// *picked whether one matched want; nothing is appended when none did.
static char* wb_append_cuda(const char* lib, void* so, int want,
                            const char* const* keys, const char* const* vals, size_t n, int* found, int* picked) {
	char* err = NULL;
	void* const* api = wb_api(lib, &err);
	if (!api) return strdup(err);
	// CreateEnv returns the process's one OrtEnv (the binding's) with its
	// reference count raised; ReleaseEnv lowers it again.
	void* env = NULL;
	char* msg = wb_message(api, ((void* (*)(int, const char*, void**))api[wbCreateEnv])(3, "workbench", &env));
	if (msg) return msg;
	const void* const* devices = NULL;
	size_t count = 0;
	msg = wb_message(api, ((void* (*)(void*, const void* const**, size_t*))api[wbGetEpDevices])(env, &devices, &count));
	if (msg) { ((void (*)(void*))api[wbReleaseEnv])(env); return msg; }
	const void* pick = NULL;
	int nth = 0, cuda = 0;
	char idbuf[16];
	snprintf(idbuf, sizeof idbuf, "%d", want);
	for (size_t i = 0; i < count; i++) {
		const char* name = ((const char* (*)(const void*))api[wbEpDevice_EpName])(devices[i]);
		if (!name || strcmp(name, "CUDAExecutionProvider") != 0) continue;
		cuda++;
		const void* opts = ((const void* (*)(const void*))api[wbEpDevice_EpOptions])(devices[i]);
		const char* id = opts ? ((const char* (*)(const void*, const char*))api[wbGetKeyValue])(opts, "device_id") : NULL;
		if (id ? strcmp(id, idbuf) == 0 : nth == want) { if (!pick) pick = devices[i]; }
		nth++;
	}
	*found = cuda;
	*picked = pick != NULL;
	if (!pick) { ((void (*)(void*))api[wbReleaseEnv])(env); return NULL; }
	msg = wb_message(api, ((void* (*)(void*, void*, const void* const*, size_t, const char* const*, const char* const*, size_t))
		api[wbSessionOptionsAppendExecutionProvider_V2])(so, env, &pick, 1, keys, vals, n));
	((void (*)(void*))api[wbReleaseEnv])(env);
	return msg;
}

// wb_can_load reports whether the dynamic loader finds name; on failure it
// returns dlerror's message.
static char* wb_can_load(const char* name) {
	void* h = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
	if (h) { dlclose(h); return NULL; }
	const char* e = dlerror();
	return strdup(e ? e : "dlopen failed");
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"unsafe"

	ort "github.com/yalue/onnxruntime_go"
)

// CUDAProviderLibName is the CUDA execution provider's shared library. ORT
// looks for it, and for libonnxruntime_providers_shared.so, in the folder of
// the core library, so a GPU build keeps all three files together.
const CUDAProviderLibName = "libonnxruntime_providers_cuda.so"

// CUDALib is one shared library the CUDA provider of ORT 1.29.0 (the
// asus4 linux-x64-gpu 0.4.9 build) needs at run time.
type CUDALib struct {
	// Name is the soname the loader searches for.
	Name string
	// Linked is true for readelf NEEDED entries, without which the provider
	// does not load at all; false for libraries it dlopens later, whose
	// absence fails only the operators that use them.
	Linked bool
	// Provides says, for a person, what the library is and where it comes
	// from.
	Provides string
}

// CUDALibs is what libonnxruntime_providers_cuda.so from
// com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 needs, found with
// `readelf -d` (the NEEDED entries) and `strings` (the names it dlopens:
// "cuDNN library was not found", "cuFFT library was not found"). glibc and
// libstdc++ entries are left out.
var CUDALibs = []CUDALib{
	{Name: "libcuda.so.1", Linked: true, Provides: "CUDA driver API, from the NVIDIA driver"},
	{Name: "libcudart.so.13", Linked: true, Provides: "CUDA 13 runtime (nvidia-cuda-runtime)"},
	{Name: "libcublas.so.13", Linked: true, Provides: "cuBLAS 13 (nvidia-cublas)"},
	{Name: "libcublasLt.so.13", Linked: true, Provides: "cuBLASLt 13 (nvidia-cublas)"},
	{Name: "libcurand.so.10", Linked: true, Provides: "cuRAND 10 from CUDA 13 (nvidia-curand)"},
	{Name: "libcudnn.so.9", Linked: false, Provides: "cuDNN 9 for CUDA 13 (nvidia-cudnn-cu13); every Conv needs it"},
	{Name: "libcufft.so.12", Linked: false, Provides: "cuFFT 12 from CUDA 13 (nvidia-cufft); only FFT operators"},
}

// MissingLib is a CUDALib the dynamic loader could not open, with its reason.
type MissingLib struct {
	CUDALib
	Reason string
}

// MissingCUDALibs tries to dlopen every CUDALibs entry, as the CUDA provider
// would, and returns the ones that fail. It loads nothing of ORT and works
// before Init.
func MissingCUDALibs() []MissingLib { return missingLibs(CUDALibs, canLoad) }

func missingLibs(libs []CUDALib, load func(string) error) []MissingLib {
	var out []MissingLib
	for _, l := range libs {
		if err := load(l.Name); err != nil {
			out = append(out, MissingLib{CUDALib: l, Reason: err.Error()})
		}
	}
	return out
}

// canLoad reports whether the dynamic loader finds name.
func canLoad(name string) error {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	if msg := C.wb_can_load(cs); msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return errors.New(C.GoString(msg))
	}
	return nil
}

// pluginState remembers the one registration of the CUDA provider as a
// plugin execution provider library; ORT refuses a second registration
// under the same name, and a failed one will fail the same way again.
var pluginState struct {
	sync.Mutex
	lib string // the core library it was registered against
	err error
}

// registerCUDAPlugin registers the CUDA provider that sits beside the loaded
// core library with the ORT environment, once per process.
func registerCUDAPlugin() error {
	core := LoadedLibrary()
	if core == "" {
		return errNotInitialised
	}
	pluginState.Lock()
	defer pluginState.Unlock()
	if pluginState.lib == core {
		return pluginState.err
	}
	path := filepath.Join(filepath.Dir(core), CUDAProviderLibName)
	if _, err := os.Stat(path); err != nil {
		// Not remembered: make setup-gpu may put it there later, though this
		// process cannot switch libraries anyway.
		return fmt.Errorf("no CUDA provider beside %s (%s is missing); run: make setup-gpu", core, CUDAProviderLibName)
	}
	pluginState.lib = core
	pluginState.err = ort.RegisterExecutionProviderLibrary("CUDA", path)
	if pluginState.err != nil {
		pluginState.err = fmt.Errorf("loading %s: %w", path, pluginState.err)
	}
	return pluginState.err
}

// appendCUDAPlugin attaches the CUDA provider through ORT's plugin
// execution provider API (RegisterExecutionProviderLibrary, GetEpDevices,
// SessionOptionsAppendExecutionProvider_V2). This is the only way to use
// CUDA with a core library built without CUDA, such as the asus4 1.29.0
// build that make setup-gpu fetches: its CreateCUDAProviderOptions answers
// "CUDA execution provider is not enabled in this build".
func appendCUDAPlugin(so *ort.SessionOptions, id int, c CUDAOptions) error {
	if err := registerCUDAPlugin(); err != nil {
		return err
	}
	raw, err := rawSessionOptions(so)
	if err != nil {
		return err
	}
	// The device is chosen through its OrtEpDevice, which carries the
	// device_id option itself.
	opts := c.ProviderOptions(id)
	delete(opts, "device_id")
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ck := make([]*C.char, len(keys))
	cv := make([]*C.char, len(keys))
	for i, k := range keys {
		ck[i], cv[i] = C.CString(k), C.CString(opts[k])
	}
	defer func() {
		for i := range ck {
			C.free(unsafe.Pointer(ck[i]))
			C.free(unsafe.Pointer(cv[i]))
		}
	}()
	// The key/value arrays live in C memory because cgo forbids passing Go
	// memory that holds Go pointers (the *C.char pointers are C memory, but
	// the slice holding them is Go memory).
	n := len(keys)
	var kp, vp **C.char
	if n > 0 {
		size := C.size_t(n) * C.size_t(unsafe.Sizeof((*C.char)(nil)))
		kp, vp = (**C.char)(C.malloc(size)), (**C.char)(C.malloc(size))
		defer C.free(unsafe.Pointer(kp))
		defer C.free(unsafe.Pointer(vp))
		copy(unsafe.Slice(kp, n), ck)
		copy(unsafe.Slice(vp, n), cv)
	}
	lib := C.CString(LoadedLibrary())
	defer C.free(unsafe.Pointer(lib))
	var found, picked C.int
	msg := C.wb_append_cuda(lib, raw, C.int(id), kp, vp, C.size_t(n), &found, &picked)
	if msg != nil {
		defer C.free(unsafe.Pointer(msg))
		return errors.New(C.GoString(msg))
	}
	if picked == 0 {
		return fmt.Errorf("the CUDA provider loaded but lists %d CUDA device(s), none of them cuda:%d", int(found), id)
	}
	return nil
}

// rawSessionOptions digs the C OrtSessionOptions pointer out of the
// binding's SessionOptions, which does not export it. TestRawSessionOptions
// fails if a new onnxruntime_go version renames or retypes the field.
func rawSessionOptions(so *ort.SessionOptions) (unsafe.Pointer, error) {
	f := reflect.ValueOf(so).Elem().FieldByName("o")
	if !f.IsValid() || f.Kind() != reflect.Pointer {
		return nil, errors.New("onnxruntime_go.SessionOptions has no C pointer field 'o'; this binding version is not supported for plugin execution providers")
	}
	p := unsafe.Pointer(f.Pointer())
	if p == nil {
		return nil, errors.New("session options already destroyed")
	}
	return p, nil
}

// notEnabled reports whether err is ORT's answer for a provider that the
// core library was built without.
func notEnabled(err error) bool {
	return err != nil && strings.Contains(err.Error(), "not enabled in this build")
}
