package model

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

func TestResolveDevice(t *testing.T) {
	t.Parallel()
	ok := func(int) error { return nil }
	noProvider := func(int) error { return errors.New("libcublasLt.so.13: cannot open shared object file") }
	mustNotProbe := func(int) error { t.Error("probe called without a GPU"); return nil }
	for _, tc := range []struct {
		name    string
		in      Device
		gpus    int
		reason  string
		probe   func(int) error
		want    Device
		wantWhy []string // substrings; nil means why must be empty
	}{
		{"cpu passes through", Device{Kind: DeviceCPU}, 8, "", mustNotProbe, Device{Kind: DeviceCPU}, nil},
		{"cuda passes through", Device{Kind: DeviceCUDA, ID: 3}, 0, "", mustNotProbe, Device{Kind: DeviceCUDA, ID: 3}, nil},
		{"auto without GPU names NVML's reason", Device{Kind: DeviceAuto}, 0,
			"no NVIDIA GPU visible (libnvidia-ml.so.1 not found)", mustNotProbe,
			Device{Kind: DeviceCPU}, []string{"device auto: using cpu", "libnvidia-ml.so.1 not found"}},
		{"auto without GPU or reason", Device{Kind: DeviceAuto}, 0, "", mustNotProbe,
			Device{Kind: DeviceCPU}, []string{"using cpu", "NVML sees no NVIDIA GPU"}},
		{"auto with GPU but no provider", Device{Kind: DeviceAuto}, 2, "", noProvider,
			Device{Kind: DeviceCPU}, []string{"using cpu", "2 GPU(s) visible", "libcublasLt.so.13"}},
		{"auto with GPU and provider", Device{Kind: DeviceAuto}, 1, "", ok,
			Device{Kind: DeviceCUDA, ID: 0}, []string{"using cuda:0", "CUDA provider loads"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := ResolveDevice(tc.in, tc.gpus, tc.reason, tc.probe)
			if got != tc.want {
				t.Errorf("device = %v, want %v", got, tc.want)
			}
			if tc.wantWhy == nil && why != "" {
				t.Errorf("why = %q, want empty", why)
			}
			if strings.Contains(why, "\n") {
				t.Errorf("why spans lines: %q", why)
			}
			for _, w := range tc.wantWhy {
				if !strings.Contains(why, w) {
					t.Errorf("why = %q, lacks %q", why, w)
				}
			}
		})
	}
}

// TestIsOOM classifies error text that ONNX Runtime really printed, copied
// verbatim from the threads named in each case, plus near misses that must
// not count.
func TestIsOOM(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		source string
		msg    string
		want   bool
	}{
		{
			// microsoft/onnxruntime#22702 (ORT 1.19, CUDA 12, Linux)
			"github.com/microsoft/onnxruntime/issues/22702",
			"[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running Conv node. Name:'/patch_embed/stages/stages.0/blocks/blocks.0/mlp/fc1/Conv' Status Message: \n/onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:376 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 4585490524328388608",
			true,
		},
		{
			// microsoft/onnxruntime#16307 (ORT 1.14.1, CUDA 11.3)
			"github.com/microsoft/onnxruntime/issues/16307",
			"Non-zero status code returned while running ReduceSum node. onnxruntime::BFCArena::AllocateRawInternal Failed to allocate memory for requested buffer of size 939524096",
			true,
		},
		{
			// microsoft/onnxruntime#9939 (ORT 1.9.0, V100 16 GB)
			"github.com/microsoft/onnxruntime/issues/9939",
			"[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running FusedMatMul node. Name:'MatMul_92_FusedMatMulAndScale' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:331 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool) Failed to allocate memory for requested buffer of size 8388608000",
			true,
		},
		{
			// hacksider/Deep-Live-Cam#584: cudaStreamCreateWithFlags out of memory
			"github.com/hacksider/Deep-Live-Cam/issues/584",
			`[ONNXRuntimeError] : 1 : FAIL : D:\a\_work\1\s\onnxruntime\core\providers\cuda\cuda_call.cc:121 onnxruntime::CudaCall D:\a\_work\1\s\onnxruntime\core\providers\cuda\cuda_call.cc:114 onnxruntime::CudaCall CUDA failure 2: out of memory ; GPU=0 ; hostname=DESKTOP-QUBEI ; file=D:\a\_work\1\s\onnxruntime\core\providers\cuda\cuda_stream_handle.cc ; line=175 ; expr=cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);`,
			true,
		},
		{
			// hacksider/Deep-Live-Cam#645: cublasCreate could not allocate
			"github.com/hacksider/Deep-Live-Cam/issues/645",
			`[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running Gemm node. Name:'fc1' Status Message: D:\a\_work\1\s\onnxruntime\core\providers\cuda\cuda_call.cc:121 onnxruntime::CudaCall D:\a\_work\1\s\onnxruntime\core\providers\cuda\cuda_call.cc:114 onnxruntime::CudaCall CUBLAS failure 3: CUBLAS_STATUS_ALLOC_FAILED ; GPU=0 ; hostname=TOBI ; file=D:\a\_work\1\s\onnxruntime\core\providers\cuda\cuda_execution_provider.cc ; line=168 ; expr=cublasCreate(&cublas_handle_);`,
			true,
		},
		{
			// Same thread, the arena failure that followed on the CPU arena.
			"github.com/hacksider/Deep-Live-Cam/issues/645",
			`[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running Conv node. Name:'Conv_111' Status Message: D:\a\_work\1\s\onnxruntime\core\framework\bfc_arena.cc:376 onnxruntime::BFCArena::AllocateRawInternal Failed to allocate memory for requested buffer of size 13111296`,
			true,
		},
		{
			// Not an ORT message: the CUDA runtime's name for error 2, for
			// code paths that print cudaGetErrorName. No verbatim ORT
			// example was found; the pattern is kept on the enum's name.
			"cudaGetErrorName(cudaErrorMemoryAllocation)",
			"CUDA error cudaErrorMemoryAllocation: out of memory",
			true,
		},
		// Near misses.
		{
			// triton-inference-server/server#3776: a buffer size mismatch.
			"github.com/triton-inference-server/server/issues/3776",
			"onnx runtime error 2: not enough space: expected 318080, got 314240",
			false,
		},
		{
			// C0untFloyd/roop-unleashed#995: a kernel failure, not memory.
			"github.com/C0untFloyd/roop-unleashed/issues/995",
			"CUBLAS failure 13: CUBLAS_STATUS_EXECUTION_FAILED ; GPU=0 ; hostname=LED-PC ; file=D:\\a\\_work\\1\\s\\onnxruntime\\core\\providers\\cuda\\math\\gemm.cc ; line=121",
			false,
		},
		{
			// This machine: ORT 1.29.0 CPU core asked for the legacy CUDA EP.
			"model.ProbeCUDA on the asus4 1.29.0 core",
			"CUDA execution provider is not enabled in this build.",
			false,
		},
		{
			// This machine: the CPU build 1.30.0 looking for its providers.
			"model.ProbeCUDA on onnxruntime-node 1.30.0",
			"Failed to load library /root/.cache/workbench/onnxruntime-1.30.0/libonnxruntime_providers_shared.so with error: /root/.cache/workbench/onnxruntime-1.30.0/libonnxruntime_providers_shared.so: cannot open shared object file: No such file or directory",
			false,
		},
	} {
		if got := IsOOM(errors.New(tc.msg)); got != tc.want {
			t.Errorf("IsOOM(%s) = %v, want %v\n%s", tc.source, got, tc.want, tc.msg)
		}
		// Wrapping, as NewSession and Session.Run do, keeps the verdict.
		wrapped := fmt.Errorf("model resnet50: run batch of 256: %w", errors.New(tc.msg))
		if got := IsOOM(wrapped); got != tc.want {
			t.Errorf("IsOOM(wrapped %s) = %v, want %v", tc.source, got, tc.want)
		}
	}
	if IsOOM(nil) {
		t.Error("IsOOM(nil) = true")
	}
	if !IsOOM(fmt.Errorf("cell b=512: %w", ErrOOM)) {
		t.Error("IsOOM(wrapped ErrOOM) = false")
	}
}

func TestMissingLibs(t *testing.T) {
	t.Parallel()
	libs := []CUDALib{{Name: "liba.so.1", Linked: true}, {Name: "libb.so.2"}, {Name: "libc.so.3"}}
	got := missingLibs(libs, func(name string) error {
		if name == "libb.so.2" {
			return nil
		}
		return errors.New(name + ": cannot open shared object file")
	})
	if len(got) != 2 || got[0].Name != "liba.so.1" || !got[0].Linked || got[1].Name != "libc.so.3" {
		t.Fatalf("missingLibs = %+v", got)
	}
	if !strings.Contains(got[1].Reason, "cannot open") {
		t.Errorf("reason %q lacks the loader's words", got[1].Reason)
	}
}

// TestCanLoad uses the real loader: libc is always there, a made-up name
// never is.
func TestCanLoad(t *testing.T) {
	t.Parallel()
	if err := canLoad("libc.so.6"); err != nil {
		t.Errorf("canLoad(libc.so.6) = %v", err)
	}
	err := canLoad("libworkbench-does-not-exist.so.7")
	if err == nil || !strings.Contains(err.Error(), "libworkbench-does-not-exist.so.7") {
		t.Errorf("canLoad(missing) = %v, want an error naming it", err)
	}
}

// TestCUDALibsMatchProvider checks CUDALibs against the NEEDED entries of a
// real libonnxruntime_providers_cuda.so when one is cached (make setup-gpu).
func TestCUDALibsMatchProvider(t *testing.T) {
	t.Parallel()
	dir, err := CacheDir()
	if err != nil {
		t.Skip(err)
	}
	prov := filepath.Join(filepath.Dir(GPUCachePath(dir)), CUDAProviderLibName)
	if _, err := os.Stat(prov); err != nil {
		t.Skipf("no cached CUDA provider (%v); run make setup-gpu to check CUDALibs against it", err)
	}
	if _, err := exec.LookPath("readelf"); err != nil {
		t.Skip("readelf not installed")
	}
	out, err := exec.Command("readelf", "-d", prov).Output()
	if err != nil {
		t.Fatal(err)
	}
	linked := map[string]bool{}
	for _, l := range CUDALibs {
		if l.Linked {
			linked[l.Name] = true
		}
	}
	for _, m := range regexp.MustCompile(`NEEDED.*\[(lib(cu[a-zA-Z]*)\.so[.0-9]*)\]`).FindAllStringSubmatch(string(out), -1) {
		if !linked[m[1]] {
			t.Errorf("provider needs %s, which CUDALibs does not list as linked", m[1])
		}
		delete(linked, m[1])
	}
	for name := range linked {
		t.Errorf("CUDALibs lists %s as linked, but the provider does not need it", name)
	}
}

// TestOrtAPIIndices re-derives the OrtApi table indices cudaplugin.go uses
// from the onnxruntime_c_api.h that onnxruntime_go vendors, by counting the
// table's members in order.
func TestOrtAPIIndices(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH; cannot find the module cache")
	}
	dirOut, err := exec.Command(goTool, "list", "-m", "-f", "{{.Dir}}", "github.com/yalue/onnxruntime_go").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dirOut)), "onnxruntime_c_api.h"))
	if err != nil {
		t.Skip(err)
	}
	s := string(src)
	start := strings.Index(s, "struct OrtApi {")
	end := strings.Index(s[start:], "\n};")
	body := s[start : start+end]
	body = regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(body, "")
	body = regexp.MustCompile(`//[^\n]*`).ReplaceAllString(body, "")
	member := regexp.MustCompile(`ORT_API2_STATUS\(\s*(\w+)|ORT_CLASS_RELEASE2?\(\s*(\w+)\s*\)|\(\s*ORT_API_CALL\s*\*\s*(\w+)\s*\)|ORT_API_T\(\s*[^,]+,\s*(\w+)`)
	index := map[string]int{}
	n := 0
	for _, m := range member.FindAllStringSubmatch(body, -1) {
		name := m[1] + m[3] + m[4]
		if m[2] != "" {
			name = "Release" + m[2]
		}
		if _, dup := index[name]; !dup {
			index[name] = n
		}
		n++
	}
	// The C compiler counted 415 members in the header of onnxruntime_go
	// v1.27.0 (sizeof(OrtApi)/sizeof(void*)); a different total means the
	// parse above missed a member form, or the binding's header changed and
	// the indices need checking again.
	if n != 415 {
		t.Fatalf("parsed %d OrtApi members, want 415", n)
	}
	for name, want := range map[string]int{
		"GetErrorMessage": 2, "CreateEnv": 3, "ReleaseEnv": 92, "ReleaseStatus": 93,
		"GetKeyValue": 297, "GetEpDevices": 303, "SessionOptionsAppendExecutionProvider_V2": 304,
		"EpDevice_EpName": 312, "EpDevice_EpOptions": 315,
	} {
		if got, ok := index[name]; !ok || got != want {
			t.Errorf("OrtApi.%s is member %d (found %v), cudaplugin.go uses %d", name, got, ok, want)
		}
	}
}

// TestRawSessionOptions guards the reflection in rawSessionOptions against a
// binding upgrade.
func TestRawSessionOptions(t *testing.T) {
	t.Parallel()
	needORT(t)
	so, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	p, err := rawSessionOptions(so)
	if err != nil || p == nil {
		t.Fatalf("rawSessionOptions = %v, %v", p, err)
	}
	so.Destroy()
}

// TestCUDAPluginWithoutGPU runs the plugin path against the cached CUDA
// build on a machine without CUDA: registration must fail with the loader's
// words, naming the missing library. It needs a process of its own (one
// ORT library per process), so it re-runs the test binary.
func TestCUDAPluginWithoutGPU(t *testing.T) {
	t.Parallel()
	if os.Getenv("WORKBENCH_PLUGIN_CHILD") == "1" {
		return
	}
	dir, err := CacheDir()
	if err != nil {
		t.Skip(err)
	}
	core := GPUCachePath(dir)
	if !HasCUDAProvider(core) {
		t.Skipf("no cached CUDA build at %s; run make setup-gpu", filepath.Dir(core))
	}
	if len(MissingCUDALibs()) == 0 {
		t.Skip("every CUDA library loads here; this test covers a machine without them")
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestCUDAPluginChild$", "-test.v")
	cmd.Env = append(os.Environ(), "WORKBENCH_PLUGIN_CHILD=1", "ONNXRUNTIME_LIB="+core)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{"PROBE:", "cannot use CUDA", ".so"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
}

// TestCUDAPluginChild is TestCUDAPluginWithoutGPU's child process.
func TestCUDAPluginChild(t *testing.T) {
	if os.Getenv("WORKBENCH_PLUGIN_CHILD") != "1" {
		t.Skip("runs only as TestCUDAPluginWithoutGPU's child")
	}
	needORT(t)
	err := ProbeCUDA(0)
	if err == nil {
		t.Fatal("ProbeCUDA succeeded without CUDA libraries")
	}
	fmt.Println("PROBE:", err)
}

// TestCUDAPinnerMissing: without a CUDA runtime the pinner says which
// libraries it tried and why, so the run can go on with pageable copies.
func TestCUDAPinnerMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libcudart.so.13")
	_, err := NewCUDAPinner(missing, "libwb-no-such-cudart.so")
	if err == nil {
		t.Fatal("a pinner from missing libraries loaded")
	}
	for _, want := range []string{missing, "libwb-no-such-cudart.so", "pageable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	// A library that loads but is not the CUDA runtime is refused by name.
	if _, err := NewCUDAPinner("libc.so.6"); err == nil || !strings.Contains(err.Error(), "cudaHostRegister") {
		t.Errorf("libc as a CUDA runtime: %v", err)
	}
}

func TestFP16OnCPU(t *testing.T) {
	fp16, fp32 := &Model{Name: "mine.onnx", Precision: FP16}, &Model{Name: "resnet18-fp16-named", Precision: FP32}
	for _, c := range []struct {
		m    *Model
		kind string
		said bool
	}{
		{fp16, DeviceCPU, true}, // a user's fp16 file, found by its weights, not its name
		{fp16, DeviceCUDA, false},
		{fp32, DeviceCPU, false},
	} {
		if got := FP16OnCPU(c.m, c.kind) != ""; got != c.said {
			t.Errorf("%s (%s) on %s: said %v, want %v", c.m.Name, c.m.Precision, c.kind, got, c.said)
		}
	}
}
