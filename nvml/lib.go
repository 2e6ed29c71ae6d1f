package nvml

import (
	"strconv"
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// systemNVML is the real library. Creating it only records the path;
// libnvidia-ml.so.1 is dlopened by the first Init.
var systemNVML = nvml.New()

// session is one nvml.Interface's shared Init state. A failed Init is
// remembered for the life of the process so no caller ever retries it or
// calls into a library that did not initialise.
type session struct {
	refs   int
	failed bool
	reason string // "no NVIDIA GPU visible (...)" once failed
}

var (
	sessionsMu sync.Mutex
	sessions   = map[nvml.Interface]*session{}
)

// acquire initialises lib, or joins an existing initialisation, and reports
// whether it may be used. On false the caller must not call lib at all, and
// must not call release. reason is set only when ok is false.
//
// Keys are compared by interface identity, so lib must have a comparable
// dynamic type; go-nvml's library and its mocks are pointers.
func acquire(lib nvml.Interface) (ok bool, reason string) {
	sessionsMu.Lock()
	defer sessionsMu.Unlock()
	s := sessions[lib]
	if s == nil {
		s = &session{}
		sessions[lib] = s
	}
	switch {
	case s.failed:
		return false, s.reason
	case s.refs > 0:
		s.refs++
		return true, ""
	}
	if ret := lib.Init(); ret != nvml.SUCCESS {
		// go-nvml keeps libnvidia-ml dlopened when the library loaded but
		// nvmlInit failed; we leave it so rather than call Shutdown on an
		// uninitialised NVML.
		s.failed, s.reason = true, NoGPUReason(describeInitFailure(ret))
		return false, s.reason
	}
	s.refs = 1
	return true, ""
}

// release drops one reference taken by a successful acquire and shuts the
// library down when it was the last.
func release(lib nvml.Interface) {
	sessionsMu.Lock()
	defer sessionsMu.Unlock()
	s := sessions[lib]
	if s == nil || s.refs == 0 {
		return
	}
	s.refs--
	if s.refs == 0 {
		// A failed Shutdown leaves nothing for us to do; the next acquire
		// calls Init again, which NVML allows.
		_ = lib.Shutdown()
		delete(sessions, lib)
	}
}

// NoGPUReason formats the single message the package uses for an absent
// GPU: "no NVIDIA GPU visible (REASON)".
func NoGPUReason(reason string) string {
	return "no NVIDIA GPU visible (" + reason + ")"
}

// describeInitFailure turns nvmlInit's return into words a workshop user
// can act on. It never calls NVML: once libnvidia-ml is loaded, go-nvml's
// Return.Error calls nvmlErrorString in the library, so codes are named
// from our own table instead.
func describeInitFailure(ret nvml.Return) string {
	switch ret {
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return "libnvidia-ml.so.1 not found; is the NVIDIA driver installed? [ERROR_LIBRARY_NOT_FOUND]"
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return "NVIDIA kernel driver not loaded [ERROR_DRIVER_NOT_LOADED]"
	case nvml.ERROR_NO_PERMISSION:
		return "no permission to open the NVIDIA device nodes [ERROR_NO_PERMISSION]"
	case nvml.ERROR_LIB_RM_VERSION_MISMATCH:
		return "NVML library and kernel driver versions differ; reboot or reload the driver [ERROR_LIB_RM_VERSION_MISMATCH]"
	case nvml.ERROR_FUNCTION_NOT_FOUND:
		return "libnvidia-ml.so.1 lacks nvmlInit; the driver is too old [ERROR_FUNCTION_NOT_FOUND]"
	}
	return "nvmlInit returned " + strconv.Itoa(int(ret))
}
