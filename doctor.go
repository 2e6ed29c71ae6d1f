package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"workbench/model"
	"workbench/nvml"
	"workbench/vision"
)

// doctorEnv is everything doctor asks the machine. Tests inject fakes; the
// command uses realDoctorEnv.
type doctorEnv struct {
	InitORT         func(flagPath string, preferGPU bool) (model.Library, error)
	ProbeCUDA       func(deviceID int) error
	MissingCUDALibs func() []model.MissingLib
	Inventory       func() nvml.Inventory
	CacheDir        func() (string, error)
	HasCUDAProvider func(libPath string) bool
	// JPEG says which JPEG decoder runs use and whether it is libjpeg-turbo.
	JPEG func() (decoder string, turbo bool)
}

// jpegDecoderStatus is what --decoder auto (the default) picks here, with
// the library it loaded or why it could not.
func jpegDecoderStatus() (string, bool) {
	d, note, err := vision.SelectDecoder("auto", vision.TurboOptions{})
	if err != nil {
		return "go: " + err.Error(), false
	}
	_, turbo := d.(*vision.TurboDecoder)
	return note, turbo
}

func realDoctorEnv() doctorEnv {
	return doctorEnv{
		InitORT:         model.InitFor,
		ProbeCUDA:       model.ProbeCUDA,
		MissingCUDALibs: model.MissingCUDALibs,
		Inventory:       nvml.Probe,
		CacheDir:        model.CacheDir,
		HasCUDAProvider: model.HasCUDAProvider,
		JPEG:            jpegDecoderStatus,
	}
}

// doctorReport is one check of the environment, rendered as text or JSON.
type doctorReport struct {
	ORT struct {
		Loaded  bool   `json:"loaded"`
		Path    string `json:"path,omitempty"`
		Source  string `json:"source,omitempty"`
		Version string `json:"version,omitempty"`
		Build   string `json:"build"`
		Error   string `json:"error,omitempty"`
	} `json:"ort"`
	Providers []doctorProvider `json:"providers"`
	GPUBuild  struct {
		Dir    string `json:"dir"`
		Cached bool   `json:"cached"`
	} `json:"gpu_build"`
	CUDALibs []doctorLib `json:"cuda_libs"`
	NVML     struct {
		Available  bool           `json:"available"`
		Reason     string         `json:"reason,omitempty"`
		Driver     string         `json:"driver_version,omitempty"`
		CUDADriver string         `json:"cuda_driver_version,omitempty"`
		GPUs       []nvml.GPUInfo `json:"gpus"`
	} `json:"nvml"`
	Host     nvml.HostInfo `json:"host"`
	CacheDir string        `json:"cache_dir"`
	JPEG     struct {
		Decoder string `json:"decoder"`
		Turbo   bool   `json:"turbo"`
	} `json:"jpeg"`
	// Auto is what --device auto resolves to here, and why.
	Auto struct {
		Device string `json:"device"`
		Why    string `json:"why"`
	} `json:"device_auto"`
	FP16     string          `json:"fp16"`
	Problems []doctorProblem `json:"problems"`
	// CPUPipelineOK is the exit status: true (exit 0) when ONNX Runtime
	// loads, so a CPU run can go ahead.
	CPUPipelineOK bool `json:"cpu_pipeline_ok"`
}

type doctorProvider struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

type doctorLib struct {
	Name   string `json:"name"`
	Linked bool   `json:"linked"`
	Found  bool   `json:"found"`
	Reason string `json:"reason,omitempty"`
}

// doctorProblem is one thing wrong, with the command that fixes it.
// Severity is "error" (no CPU pipeline), "warning" (a visible GPU cannot be
// used) or "hint" (a speed-up is available).
type doctorProblem struct {
	Severity string `json:"severity"`
	What     string `json:"what"`
	Fix      string `json:"fix"`
}

// cudaLibsFix is the one command that installs what the CUDA provider needs.
const cudaLibsFix = "apt-get install -y cuda-libraries-13-0 libcudnn9-cuda-13 (NVIDIA's CUDA apt repository), " +
	"or put the folders holding these libraries on LD_LIBRARY_PATH"

// gatherDoctor runs every check. device is --device: cuda, or auto with a
// visible GPU, makes the ORT lookup prefer the cached CUDA build, exactly as
// a run would.
func gatherDoctor(env doctorEnv, ortLib string, device model.Device) doctorReport {
	var r doctorReport
	r.FP16 = model.FP16CPUNotice
	inv := env.Inventory()
	r.NVML.Available, r.NVML.Reason = inv.NVMLAvailable, inv.NVMLReason
	r.NVML.Driver, r.NVML.CUDADriver, r.NVML.GPUs = inv.DriverVersion, inv.CUDADriverVersion, inv.GPUs
	if r.NVML.GPUs == nil {
		r.NVML.GPUs = []nvml.GPUInfo{}
	}
	r.Host = inv.Host
	for _, e := range inv.HostErrors {
		r.Problems = append(r.Problems, doctorProblem{"warning", "host readings: " + e, "run on Linux with /proc mounted"})
	}

	dir, err := env.CacheDir()
	if err != nil {
		r.CacheDir = "(" + err.Error() + ")"
	} else {
		r.CacheDir = dir
		r.GPUBuild.Dir = filepath.Dir(model.GPUCachePath(dir))
		r.GPUBuild.Cached = env.HasCUDAProvider(model.GPUCachePath(dir))
	}

	gpus := len(inv.GPUs)
	preferGPU := device.Kind == model.DeviceCUDA || (device.Kind == model.DeviceAuto && gpus > 0)
	lib, err := env.InitORT(ortLib, preferGPU)
	if err != nil {
		r.ORT.Build = model.BuildName("", false)
		r.ORT.Error = err.Error()
		fix := "make setup"
		if ortLib != "" {
			fix = "fix --ort-lib, or leave it out and run: make setup"
		} else if strings.Contains(err.Error(), "ONNXRUNTIME_LIB") {
			fix = "fix ONNXRUNTIME_LIB, or unset it and run: make setup"
		}
		r.Problems = append(r.Problems, doctorProblem{"error", "ONNX Runtime does not load: " + err.Error(), fix})
		r.Providers = []doctorProvider{{Name: "CPU", Detail: "ONNX Runtime not loaded"}, {Name: "CUDA", Detail: "ONNX Runtime not loaded"}}
		r.Auto.Device, r.Auto.Why = model.DeviceCPU, "device auto: using cpu: ONNX Runtime is not loaded"
	} else {
		r.CPUPipelineOK = true
		r.ORT.Loaded, r.ORT.Path, r.ORT.Source, r.ORT.Version = true, lib.Path, string(lib.Source), lib.Version
		hasProv := env.HasCUDAProvider(lib.Path)
		r.ORT.Build = model.BuildName(lib.Version, hasProv)
		cuda := doctorProvider{Name: "CUDA"}
		var probeErr error
		if !hasProv {
			probeErr = errors.New("no CUDA provider beside this library")
			cuda.Detail = "this build has no " + model.CUDAProviderLibName + " beside it"
		} else if probeErr = env.ProbeCUDA(0); probeErr == nil {
			cuda.OK, cuda.Detail = true, "provider loads"
		} else {
			cuda.Detail = cudaReason(probeErr)
		}
		r.Providers = []doctorProvider{{Name: "CPU", OK: true, Detail: "always available"}, cuda}
		d, why := model.ResolveDevice(model.Device{Kind: model.DeviceAuto}, gpus, inv.NVMLReason,
			func(int) error {
				if probeErr != nil {
					return errors.New(cuda.Detail)
				}
				return nil
			})
		r.Auto.Device, r.Auto.Why = d.String(), why
	}

	missing := map[string]model.MissingLib{}
	for _, m := range env.MissingCUDALibs() {
		missing[m.Name] = m
	}
	var names []string
	for _, l := range model.CUDALibs {
		m, gone := missing[l.Name]
		r.CUDALibs = append(r.CUDALibs, doctorLib{Name: l.Name, Linked: l.Linked, Found: !gone, Reason: m.Reason})
		if gone {
			names = append(names, l.Name)
		}
	}

	cudaOK := len(r.Providers) == 2 && r.Providers[1].OK
	if device.Kind == model.DeviceCUDA && gpus == 0 {
		r.Problems = append(r.Problems, doctorProblem{"warning",
			"--device " + device.String() + ", but " + inv.NVMLReason,
			"use --device cpu or auto here; on a GPU machine, install the NVIDIA driver (nvidia-smi must list the GPU)"})
	}
	if (gpus > 0 || device.Kind == model.DeviceCUDA) && r.ORT.Loaded && !cudaOK {
		switch {
		case !r.GPUBuild.Cached:
			r.Problems = append(r.Problems, doctorProblem{"warning",
				"the loaded ONNX Runtime has no CUDA provider, and no CUDA build is cached", "make setup-gpu"})
		case len(names) > 0:
			r.Problems = append(r.Problems, doctorProblem{"warning",
				"the CUDA provider cannot load; missing: " + strings.Join(names, ", "), cudaLibsFix})
		default:
			r.Problems = append(r.Problems, doctorProblem{"warning",
				"the CUDA provider does not attach: " + r.Providers[1].Detail,
				"run workbench doctor --device cuda for the full error; meanwhile use --device cpu"})
		}
	}
	r.JPEG.Decoder, r.JPEG.Turbo = env.JPEG()
	if !r.JPEG.Turbo {
		r.Problems = append(r.Problems, doctorProblem{"hint",
			"JPEG decoding uses Go's image/jpeg; libjpeg-turbo is faster", "apt-get install -y libturbojpeg0"})
	}
	return r
}

// cudaReason is ORT's own reason inside a model.CUDAError, without the
// advice that doctor gives separately.
func cudaReason(err error) string {
	var ce *model.CUDAError
	if errors.As(err, &ce) {
		return ce.Err.Error()
	}
	return err.Error()
}

// writeText renders the report on one screen.
func (r doctorReport) writeText(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	mark := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "no"
	}
	p("ONNX Runtime")
	if r.ORT.Loaded {
		p("  library    %s (from %s)", r.ORT.Path, r.ORT.Source)
		p("  version    %s: %s", r.ORT.Version, r.ORT.Build)
	} else {
		p("  library    not loaded")
	}
	for i, pr := range r.Providers {
		label := "  providers "
		if i > 0 {
			label = "            "
		}
		p("%s %-5s %s: %s", label, pr.Name, mark(pr.OK), pr.Detail)
	}
	if r.GPUBuild.Dir != "" {
		state := "not cached (make setup-gpu)"
		if r.GPUBuild.Cached {
			state = "cached; used by --device cuda, and by auto when a GPU is visible"
		}
		p("  GPU build  %s: %s", r.GPUBuild.Dir, state)
	}
	var missing []string
	for _, l := range r.CUDALibs {
		if !l.Found {
			missing = append(missing, l.Name)
		}
	}
	if len(missing) == 0 {
		p("  CUDA libs  all %d found", len(r.CUDALibs))
	} else {
		p("  CUDA libs  %d of %d missing: %s", len(missing), len(r.CUDALibs), strings.Join(missing, ", "))
	}
	p("  device     auto → %s", strings.TrimPrefix(r.Auto.Why, "device auto: using "))

	p("")
	if len(r.NVML.GPUs) == 0 {
		p("GPUs         %s", r.NVML.Reason)
	} else {
		p("GPUs         driver %s, CUDA %s", r.NVML.Driver, r.NVML.CUDADriver)
		for _, g := range r.NVML.GPUs {
			p("  %d          %s, %.1f GiB", g.Index, g.Name, float64(g.MemTotalBytes)/(1<<30))
		}
	}
	p("Host         %s; %d of %d logical cores usable; %.1f GiB RAM", r.Host.CPUModel, r.Host.UsableCores,
		r.Host.LogicalCores, float64(r.Host.MemTotalBytes)/(1<<30))
	p("Cache        %s", r.CacheDir)
	p("JPEG         %s", r.JPEG.Decoder)
	p("fp16         %s", r.FP16)

	p("")
	if len(r.Problems) == 0 {
		p("No problems found.")
	}
	for _, pr := range r.Problems {
		p("%-7s  %s", pr.Severity, pr.What)
		p("         fix: %s", pr.Fix)
	}
	if r.CPUPipelineOK {
		p("\nA CPU pipeline can run.")
	} else {
		p("\nA CPU pipeline cannot run until the errors above are fixed.")
	}
}
