package model

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// ORTVersion is the ONNX Runtime release that scripts/setup-ort.sh fetches
// into the cache; it names the cache folder the lookup searches.
const ORTVersion = "1.30.0"

// GPUORTVersion is the ONNX Runtime release of the CUDA 13 build that
// scripts/setup-gpu.sh fetches (npm com.github.asus4.onnxruntime@0.4.9 and
// its linux-x64-gpu package) into CacheDir()/onnxruntime-gpu-<GPUORTVersion>.
const GPUORTVersion = "1.29.0"

// SetupGPUHint is the one command that installs the CUDA build.
const SetupGPUHint = "run: make setup-gpu (scripts/setup-gpu.sh fetches ONNX Runtime " + GPUORTVersion + " with its CUDA 13 provider into the cache)"

// ORTLibName is the file name of the ONNX Runtime shared library inside the
// cache folder.
const ORTLibName = "libonnxruntime.so.1"

// SetupHint is what every "library not found" error ends with, so that a
// user always learns the one command that fixes it.
const SetupHint = "run: make setup (scripts/setup-ort.sh fetches ONNX Runtime " + ORTVersion + " into the cache)"

// Source says which place a library path came from.
type Source string

// The places the lookup searches, in order.
const (
	SourceFlag  Source = "--ort-lib"
	SourceEnv   Source = "ONNXRUNTIME_LIB"
	SourceCache Source = "cache"
	// SourceGPUCache is the CUDA build from make setup-gpu, searched only
	// when Lookup.PreferGPU is set.
	SourceGPUCache Source = "cache (GPU build)"
)

// Library is a located (and, after Init, loaded) ONNX Runtime library.
type Library struct {
	// Path is the shared library file.
	Path string
	// Source says which place Path came from.
	Source Source
	// Version is ort.GetVersion() once the library is initialised; empty
	// when the Library only came from a lookup.
	Version string
}

// String renders the library for run summaries, e.g.
// "onnxruntime 1.30.0 (/root/.cache/…/libonnxruntime.so.1, from cache)".
func (l Library) String() string {
	v := l.Version
	if v == "" {
		v = "(not loaded)"
	}
	return fmt.Sprintf("onnxruntime %s (%s, from %s)", v, l.Path, l.Source)
}

// CacheDir is workbench's cache folder: $WORKBENCH_CACHE when set, else
// os.UserCacheDir()/workbench. It matches the folder scripts/setup-ort.sh
// writes to. The folder is not created.
func CacheDir() (string, error) {
	return cacheDir(os.Getenv, os.UserCacheDir)
}

func cacheDir(getenv func(string) string, userCacheDir func() (string, error)) (string, error) {
	if d := getenv("WORKBENCH_CACHE"); d != "" {
		return d, nil
	}
	d, err := userCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache folder: %w (set WORKBENCH_CACHE)", err)
	}
	return filepath.Join(d, "workbench"), nil
}

// Lookup finds the ONNX Runtime library. Its function fields let tests run
// the search without touching the real environment or file system; a nil
// field means the os package's function.
type Lookup struct {
	// Flag is the --ort-lib value; empty when the flag was not given.
	Flag string
	// Getenv reads ONNXRUNTIME_LIB and WORKBENCH_CACHE.
	Getenv func(string) string
	// Stat tells whether a candidate exists.
	Stat func(string) (fs.FileInfo, error)
	// UserCacheDir is the fallback base of CacheDir.
	UserCacheDir func() (string, error)
	// PreferGPU puts the cached CUDA build (see GPUCachePath) ahead of the
	// CPU build. It never overrides the flag or the environment.
	PreferGPU bool
}

// GPUCachePath is where make setup-gpu puts the CUDA build's core library
// under the cache folder dir; its providers sit beside it.
func GPUCachePath(dir string) string {
	return filepath.Join(dir, "onnxruntime-gpu-"+GPUORTVersion, ORTLibName)
}

// CPUCachePath is where make setup puts the CPU build under the cache
// folder dir.
func CPUCachePath(dir string) string {
	return filepath.Join(dir, "onnxruntime-"+ORTVersion, ORTLibName)
}

// Find searches, in order: the --ort-lib flag, $ONNXRUNTIME_LIB, then (with
// PreferGPU) GPUCachePath when both it and its CUDA provider are there, then
// CPUCachePath(CacheDir()). A flag or
// environment path that does not exist is an error naming it (falling through
// would silently load a different library than the one asked for). When no
// place has it, the error lists every place looked at and ends with
// SetupHint.
func (l Lookup) Find() (Library, error) {
	getenv, stat, ucd := l.Getenv, l.Stat, l.UserCacheDir
	if getenv == nil {
		getenv = os.Getenv
	}
	if stat == nil {
		stat = os.Stat
	}
	if ucd == nil {
		ucd = os.UserCacheDir
	}
	exists := func(p string) (bool, error) {
		fi, err := stat(p)
		switch {
		case err == nil && fi.IsDir():
			return false, fmt.Errorf("%s is a folder, not the library file", p)
		case err == nil:
			return true, nil
		case errors.Is(err, fs.ErrNotExist):
			return false, nil
		default:
			return false, err
		}
	}

	var looked []string
	if l.Flag != "" {
		ok, err := exists(l.Flag)
		if err != nil {
			return Library{}, fmt.Errorf("--ort-lib %s: %w", l.Flag, err)
		}
		if !ok {
			return Library{}, fmt.Errorf("--ort-lib %s: no such file", l.Flag)
		}
		return Library{Path: l.Flag, Source: SourceFlag}, nil
	}
	looked = append(looked, "--ort-lib (not given)")

	if p := getenv("ONNXRUNTIME_LIB"); p != "" {
		ok, err := exists(p)
		if err != nil {
			return Library{}, fmt.Errorf("ONNXRUNTIME_LIB=%s: %w", p, err)
		}
		if !ok {
			return Library{}, fmt.Errorf("ONNXRUNTIME_LIB=%s: no such file", p)
		}
		return Library{Path: p, Source: SourceEnv}, nil
	}
	looked = append(looked, "$ONNXRUNTIME_LIB (not set)")

	dir, err := cacheDir(getenv, ucd)
	if err != nil {
		looked = append(looked, "cache ("+err.Error()+")")
	} else {
		if l.PreferGPU {
			p := GPUCachePath(dir)
			core, err := exists(p)
			if err != nil {
				return Library{}, fmt.Errorf("cached GPU library %s: %w", p, err)
			}
			prov, _ := exists(filepath.Join(filepath.Dir(p), CUDAProviderLibName))
			if core && prov {
				return Library{Path: p, Source: SourceGPUCache}, nil
			}
			looked = append(looked, p+" (missing; "+SetupGPUHint+")")
		}
		p := CPUCachePath(dir)
		ok, err := exists(p)
		if err != nil {
			return Library{}, fmt.Errorf("cached library %s: %w", p, err)
		}
		if ok {
			return Library{Path: p, Source: SourceCache}, nil
		}
		looked = append(looked, p+" (missing)")
	}
	return Library{}, fmt.Errorf("ONNX Runtime library not found; looked at %s; %s",
		strings.Join(looked, ", "), SetupHint)
}

// FindLibrary runs the lookup against the real environment and file system.
func FindLibrary(flagPath string) (Library, error) {
	return Lookup{Flag: flagPath}.Find()
}

// The process-wide ONNX Runtime environment. ORT allows one environment per
// process and the Go binding keeps it in package globals, so Init guards it.
var ortState struct {
	sync.Mutex
	path    string // non-empty once initialised
	version string
}

// Init loads the ONNX Runtime library at libPath and creates the process's
// ORT environment, with telemetry off and logging at error level (ORT's
// warnings, such as thread-affinity notices in containers, would otherwise
// interleave with workbench's own output). It is safe for concurrent callers:
// the first successful call wins, a later call with the same path is a no-op,
// and a later call with a different path is an error, because one process
// cannot hold two ORT libraries. A failed call leaves nothing initialised,
// so it may be retried.
func Init(libPath string) error {
	ortState.Lock()
	defer ortState.Unlock()
	if ortState.path != "" {
		if ortState.path == libPath {
			return nil
		}
		return fmt.Errorf("onnxruntime already initialised from %s; cannot switch to %s in the same process",
			ortState.path, libPath)
	}
	if ort.IsInitialized() {
		// Someone used the binding directly; adopting it would hide which
		// library is loaded.
		return errors.New("onnxruntime was initialised outside model.Init")
	}
	ort.SetSharedLibraryPath(libPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("loading onnxruntime from %s: %w", libPath, err)
	}
	if err := ort.DisableTelemetry(); err != nil {
		_ = ort.DestroyEnvironment()
		return fmt.Errorf("onnxruntime %s: disabling telemetry: %w", libPath, err)
	}
	ortState.path = libPath
	ortState.version = ort.GetVersion()
	return nil
}

// Version is the loaded ONNX Runtime's version string (e.g. "1.30.0"), or ""
// before Init has succeeded.
func Version() string {
	ortState.Lock()
	defer ortState.Unlock()
	return ortState.version
}

// LoadedLibrary is the path Init loaded, or "" before Init has succeeded.
func LoadedLibrary() string {
	ortState.Lock()
	defer ortState.Unlock()
	return ortState.path
}

// InitFromFlag finds the library (see Lookup.Find) and initialises it. The
// returned Library carries the loaded version.
func InitFromFlag(flagPath string) (Library, error) { return InitFor(flagPath, false) }

// InitFor is InitFromFlag that, with preferGPU, puts the cached CUDA build
// ahead of the CPU build (see Lookup.PreferGPU). Callers set preferGPU for
// --device cuda, and for --device auto when a GPU is visible.
func InitFor(flagPath string, preferGPU bool) (Library, error) {
	lib, err := Lookup{Flag: flagPath, PreferGPU: preferGPU}.Find()
	if err != nil {
		return Library{}, err
	}
	if err := Init(lib.Path); err != nil {
		return Library{}, err
	}
	lib.Version = Version()
	return lib, nil
}

// initialised reports whether Init has succeeded; operations that need the
// ORT environment check it to return a useful error instead of the binding's
// terse one.
func initialised() bool {
	ortState.Lock()
	defer ortState.Unlock()
	return ortState.path != ""
}

// errNotInitialised is returned by operations that need ORT before Init.
var errNotInitialised = errors.New("onnxruntime is not initialised (call model.Init or model.InitFromFlag first)")

// HasCUDAProvider reports whether the CUDA provider library sits beside the
// ONNX Runtime library at libPath, where ORT looks for it.
func HasCUDAProvider(libPath string) bool {
	fi, err := os.Stat(filepath.Join(filepath.Dir(libPath), CUDAProviderLibName))
	return err == nil && !fi.IsDir()
}

// BuildName names an ONNX Runtime build from its version and whether a CUDA
// provider sits beside it, in the words doctor and run summaries use.
func BuildName(version string, cudaProvider bool) string {
	switch {
	case cudaProvider && version == GPUORTVersion:
		return "CUDA 13 build " + GPUORTVersion + " (npm com.github.asus4.onnxruntime + linux-x64-gpu 0.4.9; make setup-gpu)"
	case cudaProvider:
		return "GPU build " + version + " (a CUDA provider sits beside it)"
	case version == ORTVersion:
		return "CPU build " + ORTVersion + " (npm onnxruntime-node; make setup)"
	case version == GPUORTVersion:
		return "CPU-only core " + GPUORTVersion + " (its CUDA provider " + CUDAProviderLibName + " is missing)"
	case version == "":
		return "not loaded"
	}
	return "build " + version + " (CPU only: no CUDA provider beside it)"
}
