package model

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"workbench/vision"
)

// Device kinds.
const (
	DeviceCPU  = "cpu"
	DeviceCUDA = "cuda"
	// DeviceAuto asks the caller to pick CUDA when a GPU and a CUDA-capable
	// library are present, else CPU. NewSession refuses it: resolve it first.
	DeviceAuto = "auto"
)

// Device is where a session runs: Kind is DeviceCPU, DeviceCUDA or
// DeviceAuto; ID is the CUDA device ordinal (0 otherwise).
type Device struct {
	Kind string
	ID   int
}

// ParseDevice accepts "cpu", "cuda", "cuda:N" and "auto" (case-insensitive).
func ParseDevice(s string) (Device, error) {
	switch v := strings.ToLower(strings.TrimSpace(s)); {
	case v == DeviceCPU, v == DeviceAuto, v == DeviceCUDA:
		return Device{Kind: v}, nil
	case strings.HasPrefix(v, DeviceCUDA+":"):
		id, err := strconv.Atoi(v[len(DeviceCUDA)+1:])
		if err != nil || id < 0 {
			return Device{}, fmt.Errorf("device %q: the CUDA ordinal must be a number ≥ 0, as in cuda:1", s)
		}
		return Device{Kind: DeviceCUDA, ID: id}, nil
	}
	return Device{}, fmt.Errorf("device %q: want cpu, cuda, cuda:N or auto", s)
}

// String is the form ParseDevice reads: "cpu", "auto" or "cuda:N".
func (d Device) String() string {
	if d.Kind == DeviceCUDA {
		return fmt.Sprintf("cuda:%d", d.ID)
	}
	if d.Kind == "" {
		return DeviceCPU
	}
	return d.Kind
}

// CUDAOptions tunes the CUDA execution provider. The zero value is the
// tuned default: exhaustive cuDNN algorithm search, power-of-two arena
// growth, copies on the compute stream and TF32 matmuls. The fields are
// phrased so that each departure from that default is explicit, which is
// what the "mistake" scenarios flip.
type CUDAOptions struct {
	// ConvAlgoSearch is cudnn_conv_algo_search: "EXHAUSTIVE" (default when
	// empty), "HEURISTIC" or "DEFAULT".
	ConvAlgoSearch string
	// ArenaExtendStrategy is arena_extend_strategy: "kNextPowerOfTwo"
	// (default when empty) or "kSameAsRequested".
	ArenaExtendStrategy string
	// SeparateCopyStream sets do_copy_in_default_stream=0.
	SeparateCopyStream bool
	// DisableTF32 sets use_tf32=0.
	DisableTF32 bool
}

// ProviderOptions is the key/value map handed to ORT's CUDA provider.
func (c CUDAOptions) ProviderOptions(deviceID int) map[string]string {
	algo := c.ConvAlgoSearch
	if algo == "" {
		algo = "EXHAUSTIVE"
	}
	arena := c.ArenaExtendStrategy
	if arena == "" {
		arena = "kNextPowerOfTwo"
	}
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	return map[string]string{
		"device_id":                 strconv.Itoa(deviceID),
		"cudnn_conv_algo_search":    algo,
		"arena_extend_strategy":     arena,
		"do_copy_in_default_stream": b(!c.SeparateCopyStream),
		"use_tf32":                  b(!c.DisableTF32),
	}
}

// Graph optimisation levels accepted by SessionOptions.GraphOptimization.
var graphOptLevels = map[string]ort.GraphOptimizationLevel{
	"disabled": ort.GraphOptimizationLevelDisableAll,
	"basic":    ort.GraphOptimizationLevelEnableBasic,
	"extended": ort.GraphOptimizationLevelEnableExtended,
	"all":      ort.GraphOptimizationLevelEnableAll,
}

// SessionOptions configures one ORT session.
type SessionOptions struct {
	// IntraOpThreads is the size of the session's operator thread pool.
	// 0 means ORT's own default, one thread per physical core, regardless
	// of how many other sessions the process runs; that is how
	// oversubscription happens, so the meaning is kept rather than
	// replaced.
	IntraOpThreads int
	// InterOpThreads only matters for parallel execution mode, which
	// workbench does not use; 0 means ORT's default.
	InterOpThreads int
	// DisableSpinning stops idle intra-op threads from busy-waiting for
	// work (session.intra_op.allow_spinning=0). Spinning lowers latency for
	// one session and wastes cores when several share a machine.
	DisableSpinning bool
	// GraphOptimization is "disabled", "basic", "extended" or "all"; empty
	// means "all".
	GraphOptimization string
	// Device selects the execution provider; the zero value is CPU.
	Device Device
	// CUDA tunes the CUDA provider when Device.Kind is DeviceCUDA.
	CUDA CUDAOptions
}

// DefaultSessionOptions is one session using every logical core, full graph
// optimisation, on the CPU.
func DefaultSessionOptions() SessionOptions {
	return SessionOptions{
		IntraOpThreads:    runtime.NumCPU(),
		InterOpThreads:    1,
		GraphOptimization: "all",
		Device:            Device{Kind: DeviceCPU},
	}
}

// Validate reports every problem with the options, not just the first.
func (o SessionOptions) Validate() []error {
	var errs []error
	if o.IntraOpThreads < 0 {
		errs = append(errs, fmt.Errorf("intra-op threads %d: must be ≥ 0 (0 = ORT default)", o.IntraOpThreads))
	}
	if o.InterOpThreads < 0 {
		errs = append(errs, fmt.Errorf("inter-op threads %d: must be ≥ 0 (0 = ORT default)", o.InterOpThreads))
	}
	if _, ok := graphOptLevels[o.graphOpt()]; !ok {
		errs = append(errs, fmt.Errorf("graph optimisation %q: want disabled, basic, extended or all", o.GraphOptimization))
	}
	switch o.Device.Kind {
	case "", DeviceCPU, DeviceCUDA:
	case DeviceAuto:
		errs = append(errs, errors.New("device auto must be resolved to cpu or cuda before a session is created"))
	default:
		errs = append(errs, fmt.Errorf("device kind %q: want cpu or cuda", o.Device.Kind))
	}
	return errs
}

func (o SessionOptions) graphOpt() string {
	if o.GraphOptimization == "" {
		return "all"
	}
	return o.GraphOptimization
}

// String summarises the options for run summaries, e.g.
// "intra-op 2, inter-op 1, graph opt all, provider CPU".
func (o SessionOptions) String() string {
	threads := func(n int) string {
		if n == 0 {
			return "ORT default"
		}
		return strconv.Itoa(n)
	}
	s := fmt.Sprintf("intra-op %s, inter-op %s", threads(o.IntraOpThreads), threads(o.InterOpThreads))
	if o.DisableSpinning {
		s += ", no spinning"
	}
	s += ", graph opt " + o.graphOpt()
	if o.Device.Kind == DeviceCUDA {
		p := o.CUDA.ProviderOptions(o.Device.ID)
		s += fmt.Sprintf(", provider CUDA:%d (conv algo %s, tf32 %s)", o.Device.ID,
			p["cudnn_conv_algo_search"], map[string]string{"1": "on", "0": "off"}[p["use_tf32"]])
		return s
	}
	return s + ", provider " + strings.ToUpper(o.Device.String())
}

// ortOptions builds the binding's SessionOptions; the caller destroys them.
func (o SessionOptions) ortOptions() (*ort.SessionOptions, error) {
	if errs := o.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	fail := func(what string, err error) (*ort.SessionOptions, error) {
		so.Destroy()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if o.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(o.IntraOpThreads); err != nil {
			return fail("intra-op threads", err)
		}
	}
	if o.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(o.InterOpThreads); err != nil {
			return fail("inter-op threads", err)
		}
	}
	if o.DisableSpinning {
		for _, k := range []string{"session.intra_op.allow_spinning", "session.inter_op.allow_spinning"} {
			if err := so.AddSessionConfigEntry(k, "0"); err != nil {
				return fail(k, err)
			}
		}
	}
	if err := so.SetGraphOptimizationLevel(graphOptLevels[o.graphOpt()]); err != nil {
		return fail("graph optimisation", err)
	}
	if o.Device.Kind == DeviceCUDA {
		if err := appendCUDA(so, o.Device.ID, o.CUDA); err != nil {
			so.Destroy()
			return nil, err
		}
	}
	return so, nil
}

// appendCUDA adds the CUDA provider. A core library built with CUDA (such as
// Microsoft's onnxruntime-linux-x64-gpu tarball) takes it through
// AppendExecutionProviderCUDA. One built without it (the asus4 1.29.0 core
// that make setup-gpu fetches, whose CUDA provider ships separately) answers
// "not enabled in this build", and then the provider beside it is attached
// as a plugin execution provider instead. Either failure (no provider
// library, CUDA or cuDNN missing, no device) is an error in words, with
// ORT's reason.
func appendCUDA(so *ort.SessionOptions, id int, c CUDAOptions) error {
	err := appendCUDALegacy(so, id, c)
	if notEnabled(err) {
		err = appendCUDAPlugin(so, id, c)
	}
	if err != nil {
		return &CUDAError{DeviceID: id, Library: LoadedLibrary(), Err: err}
	}
	return nil
}

// CUDAError is why the CUDA provider could not be attached: Err is ONNX
// Runtime's (or the loader's) reason, and Error adds what to do about it.
type CUDAError struct {
	DeviceID int
	Library  string // the loaded core library
	Err      error
}

func (e *CUDAError) Error() string {
	return fmt.Sprintf("device cuda:%d: this ONNX Runtime library (%s) cannot use CUDA: %v; "+
		"use --device cpu, or run make setup-gpu (ONNX Runtime %s with its CUDA 13 provider) "+
		"with CUDA 13 and cuDNN 9 installed; workbench doctor names what is missing",
		e.DeviceID, e.Library, e.Err, GPUORTVersion)
}

// Unwrap returns ORT's reason.
func (e *CUDAError) Unwrap() error { return e.Err }

// appendCUDALegacy is the CUDA provider of a core library built with CUDA.
func appendCUDALegacy(so *ort.SessionOptions, id int, c CUDAOptions) error {
	co, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer co.Destroy()
	if err := co.Update(c.ProviderOptions(id)); err != nil {
		return err
	}
	return so.AppendExecutionProviderCUDA(co)
}

// ProbeCUDA reports whether the loaded ONNX Runtime library can attach the
// CUDA execution provider for the given device, without loading a model: nil
// means it can (a session may still fail later if the device is busy or
// lacks memory); an error says why not, in NewSession's words. Callers use it
// to resolve DeviceAuto.
func ProbeCUDA(deviceID int) error {
	if !initialised() {
		return errNotInitialised
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return err
	}
	defer so.Destroy()
	return appendCUDA(so, deviceID, CUDAOptions{})
}

// Session is one loaded model ready to run batches. A Session must be used
// by one goroutine at a time (an actor owns one): Run reuses a padding
// buffer. Distinct Sessions may run concurrently.
type Session struct {
	model    *Model
	opts     SessionOptions
	sess     *ort.DynamicAdvancedSession
	loadTime time.Duration
	pad      []float32 // FixedBatch-sized input for a short last chunk
	padOut   []float32
	half     []uint16 // float16 input, converted
	bytes    []uint8  // uint8 input, converted
	halfOut  []uint16 // float16 output, before widening
}

// NewSession loads m into a new ORT session. Init must have succeeded first.
func NewSession(m *Model, opts SessionOptions) (*Session, error) {
	if !initialised() {
		return nil, errNotInitialised
	}
	start := time.Now()
	so, err := opts.ortOptions()
	if err != nil {
		return nil, fmt.Errorf("session for %s: %w", m.Name, err)
	}
	defer so.Destroy()
	if m.Path == "" {
		return nil, fmt.Errorf("session for %s: the model has no file", m.Name)
	}
	s, err := ort.NewDynamicAdvancedSession(m.Path, []string{m.InputName}, []string{m.OutputName}, so)
	if err != nil {
		return nil, fmt.Errorf("session for %s (%s): %w", m.Name, m.Path, err)
	}
	return &Session{model: m, opts: opts, sess: s, loadTime: time.Since(start)}, nil
}

// Model is the model the session runs.
func (s *Session) Model() *Model { return s.model }

// Options are the options the session was created with.
func (s *Session) Options() SessionOptions { return s.opts }

// LoadTime is how long NewSession took: option setup, graph parsing,
// optimisation and, on CUDA, weight upload.
func (s *Session) LoadTime() time.Duration { return s.loadTime }

// Run classifies n images. input holds them as n·C·H·W float32 values in
// the model's InputLayout (NCHW or NHWC), with the recipe's scale, mean and
// std applied, and logits receives n·K float32; both may be longer than
// needed. For a float32 input and output the slices are handed to ORT in
// place, without copies. A float16 input gets the values rounded to half
// precision, a uint8 input gets them rounded to the nearest integer and
// clamped to 0–255, each into a buffer the session reuses; a float16 output
// is widened into logits. A model with a FixedBatch runs in chunks of that
// size (see Model.BatchNote) and its last, short chunk is copied through a
// zero-padded buffer.
func (s *Session) Run(input []float32, n int, logits []float32) error {
	m := s.model
	per, k := m.ImageElems(), m.NumClasses
	switch {
	case s.sess == nil:
		return errors.New("model: Run on a closed session")
	case n <= 0:
		return fmt.Errorf("model: Run with %d images", n)
	case len(input) < n*per:
		return fmt.Errorf("model: Run: input has %d floats, %d images of %d×%d×%d need %d",
			len(input), n, m.InputC, m.InputH, m.InputW, n*per)
	case len(logits) < n*k:
		return fmt.Errorf("model: Run: logits has room for %d floats, %d images × %d classes need %d",
			len(logits), n, k, n*k)
	}
	if m.FixedBatch == 0 {
		return s.run(input[:n*per], n, logits[:n*k])
	}
	fb := m.FixedBatch
	for done := 0; done < n; done += fb {
		c := min(fb, n-done)
		in := input[done*per : (done+c)*per]
		out := logits[done*k : (done+c)*k]
		if c == fb {
			if err := s.run(in, fb, out); err != nil {
				return err
			}
			continue
		}
		if s.pad == nil {
			s.pad = make([]float32, fb*per)
			s.padOut = make([]float32, fb*k)
		}
		copy(s.pad, in)
		clear(s.pad[len(in):])
		if err := s.run(s.pad, fb, s.padOut); err != nil {
			return err
		}
		copy(out, s.padOut)
	}
	return nil
}

func (s *Session) run(input []float32, n int, logits []float32) error {
	m := s.model
	shape := ort.NewShape(int64(n), int64(m.InputC), int64(m.InputH), int64(m.InputW))
	if m.layout() == vision.NHWC {
		shape = ort.NewShape(int64(n), int64(m.InputH), int64(m.InputW), int64(m.InputC))
	}
	in, err := s.inputValue(shape, input)
	if err != nil {
		return fmt.Errorf("model: input tensor: %w", err)
	}
	defer in.Destroy()
	outShape := ort.NewShape(int64(n), int64(m.NumClasses))
	var out ort.Value
	if m.OutputType == vision.Float16 {
		s.halfOut = growSlice(s.halfOut, len(logits))
		out, err = ort.NewCustomDataTensor(outShape, halfBytes(s.halfOut), ort.TensorElementDataTypeFloat16)
	} else {
		out, err = ort.NewTensor(outShape, logits)
	}
	if err != nil {
		return fmt.Errorf("model: output tensor: %w", err)
	}
	defer out.Destroy()
	if err := s.sess.Run([]ort.Value{in}, []ort.Value{out}); err != nil {
		return fmt.Errorf("model %s: run batch of %d: %w", m.Name, n, err)
	}
	if m.OutputType == vision.Float16 {
		halfToFloat32s(s.halfOut, logits)
	}
	return nil
}

// inputValue wraps input for ORT in the model's input type: float32 as it
// is, without a copy; float16 and uint8 converted into a buffer the
// session keeps, so a warm session converts without allocating.
func (s *Session) inputValue(shape ort.Shape, input []float32) (ort.Value, error) {
	switch s.model.dtype() {
	case vision.Float16:
		s.half = growSlice(s.half, len(input))
		float32sToHalf(input, s.half)
		return ort.NewCustomDataTensor(shape, halfBytes(s.half), ort.TensorElementDataTypeFloat16)
	case vision.Uint8:
		s.bytes = growSlice(s.bytes, len(input))
		float32sToUint8(input, s.bytes)
		return ort.NewTensor(shape, s.bytes)
	}
	return ort.NewTensor(shape, input)
}

// Close releases the ORT session. It is safe to call more than once.
func (s *Session) Close() error {
	if s.sess == nil {
		return nil
	}
	err := s.sess.Destroy()
	s.sess = nil
	return err
}
