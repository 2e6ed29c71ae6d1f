package model

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// testCache is a temporary cache folder shared by the package's tests and
// benchmarks, so zoo exports never touch the user's cache.
var testCache string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "workbench-model-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testCache = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needORT initialises ONNX Runtime through the same lookup the CLI uses. A
// missing library is a failure carrying the setup hint, never a skip: CI
// runs `make setup` first, so a skip would only hide a broken setup.
func needORT(t testing.TB) Library {
	t.Helper()
	lib, err := ortOnce()
	if err != nil {
		t.Fatalf("ONNX Runtime unavailable: %v", err)
	}
	return lib
}

var ortOnce = sync.OnceValues(func() (Library, error) { return InitFromFlag("") })

// zooModel resolves a zoo model into the test cache, once per name.
func zooModel(t testing.TB, name string) *Model {
	t.Helper()
	zooMu.Lock()
	defer zooMu.Unlock()
	if m, ok := zooCache[name]; ok {
		return m
	}
	m, err := resolve(name, func() (string, error) { return testCache, nil }, ResolveOptions{})
	if err != nil {
		t.Fatalf("resolve %s: %v", name, err)
	}
	zooCache[name] = m
	return m
}

var (
	zooMu    sync.Mutex
	zooCache = map[string]*Model{}
)

type fakeFile struct{ dir bool }

func (f fakeFile) Name() string       { return "f" }
func (f fakeFile) Size() int64        { return 1 }
func (f fakeFile) Mode() fs.FileMode  { return map[bool]fs.FileMode{true: fs.ModeDir}[f.dir] }
func (f fakeFile) ModTime() time.Time { return time.Time{} }
func (f fakeFile) IsDir() bool        { return f.dir }
func (f fakeFile) Sys() any           { return nil }

func TestLookupOrder(t *testing.T) {
	t.Parallel()
	const cached = "/home/u/.cache/workbench/onnxruntime-" + ORTVersion + "/" + ORTLibName
	const gpuDir = "/home/u/.cache/workbench/onnxruntime-gpu-" + GPUORTVersion
	const gpuCore, gpuProv = gpuDir + "/" + ORTLibName, gpuDir + "/" + CUDAProviderLibName
	tests := []struct {
		name       string
		flag       string
		preferGPU  bool
		env        map[string]string
		files      []string // existing files
		dirs       []string
		wantPath   string
		wantSource Source
		wantErr    []string // substrings, all required
	}{
		{
			name: "flag wins over env and cache", flag: "/opt/ort/lib.so",
			env:      map[string]string{"ONNXRUNTIME_LIB": "/env/lib.so"},
			files:    []string{"/opt/ort/lib.so", "/env/lib.so", cached},
			wantPath: "/opt/ort/lib.so", wantSource: SourceFlag,
		},
		{
			name: "missing flag path is an error, not a fall-through", flag: "/nope.so",
			env:     map[string]string{"ONNXRUNTIME_LIB": "/env/lib.so"},
			files:   []string{"/env/lib.so", cached},
			wantErr: []string{"--ort-lib /nope.so", "no such file"},
		},
		{
			name: "flag naming a folder", flag: "/opt/ort", dirs: []string{"/opt/ort"},
			wantErr: []string{"--ort-lib /opt/ort", "folder"},
		},
		{
			name:     "env wins over cache",
			env:      map[string]string{"ONNXRUNTIME_LIB": "/env/lib.so"},
			files:    []string{"/env/lib.so", cached},
			wantPath: "/env/lib.so", wantSource: SourceEnv,
		},
		{
			name:    "missing env path is an error",
			env:     map[string]string{"ONNXRUNTIME_LIB": "/env/gone.so"},
			files:   []string{cached},
			wantErr: []string{"ONNXRUNTIME_LIB=/env/gone.so", "no such file"},
		},
		{
			name: "user cache folder", files: []string{cached},
			wantPath: cached, wantSource: SourceCache,
		},
		{
			name:     "WORKBENCH_CACHE moves the cache",
			env:      map[string]string{"WORKBENCH_CACHE": "/wc"},
			files:    []string{"/wc/onnxruntime-" + ORTVersion + "/" + ORTLibName, cached},
			wantPath: "/wc/onnxruntime-" + ORTVersion + "/" + ORTLibName, wantSource: SourceCache,
		},
		{
			name: "GPU build ignored without PreferGPU", files: []string{gpuCore, gpuProv, cached},
			wantPath: cached, wantSource: SourceCache,
		},
		{
			name: "PreferGPU takes the GPU build", preferGPU: true, files: []string{gpuCore, gpuProv, cached},
			wantPath: gpuCore, wantSource: SourceGPUCache,
		},
		{
			name: "PreferGPU never overrides the environment", preferGPU: true,
			env:      map[string]string{"ONNXRUNTIME_LIB": "/env/lib.so"},
			files:    []string{"/env/lib.so", gpuCore, gpuProv},
			wantPath: "/env/lib.so", wantSource: SourceEnv,
		},
		{
			name: "PreferGPU: core without provider falls back to CPU", preferGPU: true,
			files: []string{gpuCore, cached}, wantPath: cached, wantSource: SourceCache,
		},
		{
			name: "PreferGPU, nothing cached: both setup commands", preferGPU: true,
			wantErr: []string{gpuCore + " (missing; run: make setup-gpu", cached + " (missing)", "run: make setup "},
		},
		{
			name: "nowhere: every place and the setup command",
			wantErr: []string{
				"ONNX Runtime library not found",
				"--ort-lib (not given)", "$ONNXRUNTIME_LIB (not set)", cached + " (missing)",
				"run: make setup",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := Lookup{
				Flag:         tt.flag,
				PreferGPU:    tt.preferGPU,
				Getenv:       func(k string) string { return tt.env[k] },
				UserCacheDir: func() (string, error) { return "/home/u/.cache", nil },
				Stat: func(p string) (fs.FileInfo, error) {
					for _, f := range tt.files {
						if f == p {
							return fakeFile{}, nil
						}
					}
					for _, d := range tt.dirs {
						if d == p {
							return fakeFile{dir: true}, nil
						}
					}
					return nil, fs.ErrNotExist
				},
			}
			lib, err := l.Find()
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Find() = %+v, want error", lib)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Find(): %v", err)
			}
			if lib.Path != tt.wantPath || lib.Source != tt.wantSource {
				t.Errorf("Find() = %s from %s, want %s from %s", lib.Path, lib.Source, tt.wantPath, tt.wantSource)
			}
		})
	}
}

func TestBuildName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version string
		cuda    bool
		want    string
	}{
		{ORTVersion, false, "CPU build " + ORTVersion},
		{GPUORTVersion, true, "CUDA 13 build " + GPUORTVersion},
		{GPUORTVersion, false, "its CUDA provider " + CUDAProviderLibName + " is missing"},
		{"1.22.0", true, "GPU build 1.22.0"},
		{"1.20.1", false, "CPU only"},
		{"", false, "not loaded"},
	} {
		if got := BuildName(tc.version, tc.cuda); !strings.Contains(got, tc.want) {
			t.Errorf("BuildName(%q, %v) = %q, want it to contain %q", tc.version, tc.cuda, got, tc.want)
		}
	}
}

func TestCacheDirWithoutHome(t *testing.T) {
	t.Parallel()
	_, err := cacheDir(func(string) string { return "" }, func() (string, error) {
		return "", errors.New("neither $XDG_CACHE_HOME nor $HOME are defined")
	})
	if err == nil || !strings.Contains(err.Error(), "WORKBENCH_CACHE") {
		t.Errorf("cacheDir error = %v, want a hint to set WORKBENCH_CACHE", err)
	}
}

func TestInitOnce(t *testing.T) {
	t.Parallel()
	lib := needORT(t)
	if lib.Source == "" || lib.Version == "" {
		t.Errorf("InitFromFlag = %+v, want a source and a version", lib)
	}
	if v := Version(); v != ORTVersion && lib.Source == SourceCache {
		t.Errorf("cached library reports version %q, want %s", v, ORTVersion)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := Init(lib.Path); err != nil {
				t.Errorf("second Init with the same path: %v", err)
			}
		})
	}
	wg.Wait()
	other := filepath.Join(t.TempDir(), "other.so")
	if err := Init(other); err == nil || !strings.Contains(err.Error(), "already initialised") {
		t.Errorf("Init(%s) after Init(%s) = %v, want an error", other, lib.Path, err)
	}
}
