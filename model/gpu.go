package model

import (
	"errors"
	"fmt"
	"strings"
)

// FP16CPUNotice goes wherever fp16 models are offered (model list, doctor):
// their cost on CPU is never hidden.
const FP16CPUNotice = "fp16 zoo models (resnet50-fp16, resnet18-fp16) are meant for CUDA. On CPU they run, " +
	"but ONNX Runtime has no CPU fp16 kernels for most operators and casts to fp32 around them: " +
	"expect no speed-up, possibly a slowdown (measure: go test -bench InferResNet18 ./model/)"

// FP16OnCPU is the note a run or ceiling carries when m holds fp16 weights
// (a zoo -fp16 variant or a user's file, as countParams found them) and
// runs on a device kind other than DeviceCUDA; "" otherwise.
func FP16OnCPU(m *Model, kind string) string {
	if m.Precision != FP16 || kind == DeviceCUDA {
		return ""
	}
	return "fp16 on the CPU: " + FP16CPUNotice
}

// ResolveDevice turns DeviceAuto into CUDA or CPU; cpu and cuda[:N] pass
// through unchanged with an empty why. Auto picks cuda:0 when gpus > 0 (the
// number of GPUs NVML sees) and probe(0) (normally ProbeCUDA, after Init)
// returns nil; otherwise it picks cpu. why is one line for the user either
// way, naming the reason: noGPUReason (NVML's "no NVIDIA GPU visible (...)")
// when gpus is 0, or the probe's error. probe is not called when gpus is 0,
// so a GPU-less machine never touches the CUDA provider.
func ResolveDevice(d Device, gpus int, noGPUReason string, probe func(deviceID int) error) (Device, string) {
	if d.Kind != DeviceAuto {
		return d, ""
	}
	cpu := Device{Kind: DeviceCPU}
	if gpus <= 0 {
		if noGPUReason == "" {
			noGPUReason = "NVML sees no NVIDIA GPU"
		}
		return cpu, "device auto: using cpu: " + noGPUReason
	}
	if err := probe(0); err != nil {
		return cpu, fmt.Sprintf("device auto: using cpu: %d GPU(s) visible but the CUDA provider does not load: %v", gpus, err)
	}
	return Device{Kind: DeviceCUDA, ID: 0}, fmt.Sprintf("device auto: using cuda:0 (%d GPU(s) visible, CUDA provider loads)", gpus)
}

// ErrOOM marks an error as out-of-memory for errors.Is; IsOOM also
// recognises ORT's own messages, which arrive as plain strings.
var ErrOOM = errors.New("out of memory")

// oomMarkers are the fragments, lower-cased, that ONNX Runtime and the CUDA
// libraries put in an allocation failure. Each has a verbatim example with
// its source in TestIsOOM.
var oomMarkers = []string{
	// ORT's BFC arena (CUDA, and the CPU arena too) when an Extend fails.
	"failed to allocate memory for requested buffer of size",
	// ORT's CudaCall: "CUDA failure %d: %s" with cudaGetErrorString(2).
	"cuda failure 2: out of memory",
	// cudaGetErrorName(2), printed by code paths that name the enum.
	"cudaerrormemoryallocation",
	// cuBLAS could not allocate its workspace (cublasCreate and friends).
	"cublas_status_alloc_failed",
	// The CUDA driver API's name for the same thing.
	"cuda_error_out_of_memory",
}

// IsOOM reports whether err is a GPU (or ORT arena) out-of-memory failure,
// while creating a session or running a batch: the kind a sweep records as
// "oom" and answers by skipping larger batches rather than failing the
// run. It matches ErrOOM and the messages in oomMarkers, case-insensitively,
// anywhere in the error chain's text.
//
// CUBLAS_STATUS_ALLOC_FAILED is counted as out of memory because cuBLAS
// documents it as "usually caused by a cudaMalloc() failure"; mismatched
// CUDA library versions have been reported to produce it too.
func IsOOM(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrOOM) {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, m := range oomMarkers {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}
