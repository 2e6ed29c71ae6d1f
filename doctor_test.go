package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"workbench/model"
	"workbench/nvml"
)

func init() {
	// Another test file of package main may register -update first.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
	}
}

func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// checkGolden compares got with testdata/name, rewriting it under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updateGolden() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

const (
	fakeCache  = "/home/u/.cache/workbench"
	fakeCPULib = fakeCache + "/onnxruntime-" + model.ORTVersion + "/" + model.ORTLibName
	fakeGPULib = fakeCache + "/onnxruntime-gpu-" + model.GPUORTVersion + "/" + model.ORTLibName
	noNVML     = "no NVIDIA GPU visible (libnvidia-ml.so.1 not found; is the NVIDIA driver installed? [ERROR_LIBRARY_NOT_FOUND])"
)

var fakeHost = nvml.HostInfo{CPUModel: "Intel(R) Xeon(R) Processor", LogicalCores: 2, UsableCores: 2, MemTotalBytes: 24 << 30}

// fakeEnv is a machine described by its parts; each test changes a few.
type fakeEnv struct {
	gpus      []nvml.GPUInfo
	gpuCached bool     // make setup-gpu has run
	initErr   error    // ORT does not load
	probeErr  error    // the CUDA provider does not attach
	missing   []string // CUDA libraries the loader cannot find
	turbo     bool
	preferGPU *bool // records what doctor asked the lookup for
}

func (f fakeEnv) env() doctorEnv {
	return doctorEnv{
		InitORT: func(flagPath string, preferGPU bool) (model.Library, error) {
			if f.preferGPU != nil {
				*f.preferGPU = preferGPU
			}
			if f.initErr != nil {
				return model.Library{}, f.initErr
			}
			if preferGPU && f.gpuCached {
				return model.Library{Path: fakeGPULib, Source: model.SourceGPUCache, Version: model.GPUORTVersion}, nil
			}
			return model.Library{Path: fakeCPULib, Source: model.SourceCache, Version: model.ORTVersion}, nil
		},
		ProbeCUDA: func(int) error { return f.probeErr },
		MissingCUDALibs: func() []model.MissingLib {
			var out []model.MissingLib
			for _, l := range model.CUDALibs {
				for _, m := range f.missing {
					if m == l.Name {
						out = append(out, model.MissingLib{CUDALib: l, Reason: m + ": cannot open shared object file: No such file or directory"})
					}
				}
			}
			return out
		},
		Inventory: func() nvml.Inventory {
			inv := nvml.Inventory{GPUs: f.gpus, Host: fakeHost}
			if len(f.gpus) == 0 {
				inv.NVMLReason = noNVML
			} else {
				inv.NVMLAvailable, inv.DriverVersion, inv.CUDADriverVersion = true, "580.82.07", "13.0"
			}
			return inv
		},
		CacheDir: func() (string, error) { return fakeCache, nil },
		HasCUDAProvider: func(p string) bool {
			return f.gpuCached && filepath.Dir(p) == filepath.Dir(fakeGPULib)
		},
		JPEG: func() (string, bool) {
			if f.turbo {
				return "turbo: /usr/lib/x86_64-linux-gnu/libturbojpeg.so.0", true
			}
			return "go (libjpeg-turbo not loaded)", false
		},
	}
}

var allCUDALibs = func() []string {
	var n []string
	for _, l := range model.CUDALibs {
		n = append(n, l.Name)
	}
	return n
}()

var h100 = []nvml.GPUInfo{{Index: 0, Name: "NVIDIA H100 80GB HBM3", MemTotalBytes: 85520809984, DriverVersion: "580.82.07", CUDADriverVersion: "13.0"}}

func TestDoctorGolden(t *testing.T) {
	t.Parallel()
	cudaErr := &model.CUDAError{DeviceID: 0, Library: fakeGPULib,
		Err: errors.New("loading " + filepath.Dir(fakeGPULib) + "/libonnxruntime_providers_cuda.so: Failed to load library with error: libcublasLt.so.13: cannot open shared object file: No such file or directory")}
	for _, tc := range []struct {
		golden  string
		env     fakeEnv
		device  string
		wantOK  bool
		wantPre bool // the lookup was asked to prefer the GPU build
	}{
		// This machine: no GPU, CPU build, GPU build cached, no CUDA.
		{"doctor_cpu", fakeEnv{gpuCached: true, missing: allCUDALibs}, "auto", true, false},
		// The lent H100 with everything in place.
		{"doctor_gpu", fakeEnv{gpus: h100, gpuCached: true, turbo: true}, "auto", true, true},
		// A GPU, the CUDA build, but cuBLASLt and cuDNN missing.
		{"doctor_gpu_nolibs", fakeEnv{gpus: h100, gpuCached: true, probeErr: cudaErr,
			missing: []string{"libcublasLt.so.13", "libcudnn.so.9"}}, "auto", true, true},
		// A GPU but only the CPU build.
		{"doctor_gpu_nobuild", fakeEnv{gpus: h100, missing: allCUDALibs}, "auto", true, true},
		// --device cuda on a machine without a GPU.
		{"doctor_cuda_nogpu", fakeEnv{gpuCached: true, probeErr: cudaErr, missing: allCUDALibs}, "cuda", true, true},
		// No ONNX Runtime at all: exit 1.
		{"doctor_noort", fakeEnv{initErr: errors.New("ONNX Runtime library not found; looked at --ort-lib (not given), $ONNXRUNTIME_LIB (not set), " +
			fakeCPULib + " (missing); " + model.SetupHint), missing: allCUDALibs}, "auto", false, false},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			t.Parallel()
			var pre bool
			tc.env.preferGPU = &pre
			dev, err := model.ParseDevice(tc.device)
			if err != nil {
				t.Fatal(err)
			}
			r := gatherDoctor(tc.env.env(), "", dev)
			if r.CPUPipelineOK != tc.wantOK {
				t.Errorf("CPUPipelineOK = %v, want %v", r.CPUPipelineOK, tc.wantOK)
			}
			if pre != tc.wantPre {
				t.Errorf("lookup preferGPU = %v, want %v", pre, tc.wantPre)
			}
			for _, p := range r.Problems {
				if p.Fix == "" {
					t.Errorf("problem %q has no fix", p.What)
				}
			}
			var text bytes.Buffer
			r.writeText(&text)
			checkGolden(t, tc.golden+".golden", text.Bytes())
			js, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.golden+".json.golden", append(js, '\n'))
		})
	}
}

// TestDoctorSaysWhatIsMissing checks the facts the goldens encode, so a
// careless -update cannot bless a report that hides them.
func TestDoctorSaysWhatIsMissing(t *testing.T) {
	t.Parallel()
	r := gatherDoctor(fakeEnv{gpus: h100, gpuCached: true, probeErr: errors.New("x"),
		missing: []string{"libcublasLt.so.13", "libcudnn.so.9"}}.env(), "", model.Device{Kind: model.DeviceAuto})
	var text bytes.Buffer
	r.writeText(&text)
	for _, want := range []string{"libcublasLt.so.13", "libcudnn.so.9", "2 of 7 missing", "apt-get install -y cuda-libraries-13-0",
		"auto → cpu", "CUDA 13 build 1.29.0", "NVIDIA H100", "fp16", "slowdown"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
	ok := gatherDoctor(fakeEnv{gpus: h100, gpuCached: true, turbo: true}.env(), "", model.Device{Kind: model.DeviceAuto})
	if len(ok.Problems) != 0 || ok.Auto.Device != "cuda:0" {
		t.Errorf("healthy GPU machine: problems %v, auto %s", ok.Problems, ok.Auto.Device)
	}
}

// TestDoctorCommand runs the real command on this machine: it must exit 0
// (make setup has run, so ORT loads), both as text and as JSON.
func TestDoctorCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(t.Context(), &out, &errOut, []string{"doctor"}); err != nil {
		t.Fatalf("doctor: %v\n%s%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "A CPU pipeline can run.") {
		t.Errorf("doctor output:\n%s", out.String())
	}
	out.Reset()
	if err := run(t.Context(), &out, &errOut, []string{"doctor", "--json"}); err != nil {
		t.Fatal(err)
	}
	var r doctorReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("doctor --json is not JSON: %v\n%s", err, out.String())
	}
	if !r.CPUPipelineOK || !r.ORT.Loaded || len(r.Providers) != 2 || !r.Providers[0].OK {
		t.Errorf("doctor --json = %+v", r)
	}
}
