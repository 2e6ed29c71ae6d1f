package scenarios

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"

	"workbench/bench"
	"workbench/classify"
	"workbench/model"
	"workbench/pipeline"
	"workbench/vision"
)

// Env is what a plan needs from outside the scenario: the machine, the
// model and data the user picked, and where the run's side output goes.
type Env struct {
	Cores int // logical CPUs; 0 = runtime.NumCPU()
	GPUs  int // visible GPUs (NVML, or a --gpus override)

	Model  string   // zoo name or .onnx path
	Data   string   // folder of images
	Files  []string // explicit files instead of Data
	Images int      // use the first N images; 0 = all

	MaxPixels int64 // 0 = vision.DefaultMaxPixels
	// Log is the run's log: hot-path logging writes here (io.Discard when
	// nil).
	Log io.Writer
	// Bus receives the pipeline's snapshots for progress output.
	Bus *pipeline.EventBus
	// Warnf receives engine warnings (oversubscription and such).
	Warnf func(format string, args ...any)
}

func (e Env) cores() int {
	if e.Cores > 0 {
		return e.Cores
	}
	return runtime.NumCPU()
}

// Plan is a scenario mapped onto the engine: the job configuration, how
// bench.Run should write and label it, and notes for the reader.
type Plan struct {
	Scenario *Scenario
	Job      classify.JobConfig
	Run      bench.RunOptions // Out and Version are the caller's
	// Effective holds every knob with auto values replaced by what they
	// mean on this machine.
	Effective Knobs
	// Images is the number of images the run reads.
	Images int
	// Notes say things the reader must know, such as "identical to
	// optimized on this machine".
	Notes []string
}

// Ext is the output file extension the plan writes.
func (p *Plan) Ext() string {
	if p.Run.JSON {
		return ".jsonl"
	}
	return ".parquet"
}

// decoderFor returns the decoder a knob value names; auto picks
// libjpeg-turbo when it loads, else Go's decoder.
func decoderFor(name string) (vision.Decoder, error) {
	return vision.ParseDecoder(name)
}

// effective resolves auto values against the environment.
func (s *Scenario) effective(env Env, images int) (Knobs, []string) {
	k := s.Knobs
	var notes []string
	if k.Device == "auto" {
		k.Device = "cpu"
		if env.GPUs > 0 {
			k.Device = "cuda"
		}
	}
	if k.NumGPUs == Auto {
		k.NumGPUs = 0
		if k.Device == "cuda" {
			k.NumGPUs = 1
		}
	}
	if k.Concurrency.Max == 0 {
		n := 1
		if k.Device == "cuda" && k.NumGPUs > 0 {
			n = max(1, int(float64(env.GPUs)/k.NumGPUs))
		}
		k.Concurrency.Min, k.Concurrency.Max = n, n
	}
	if k.IntraOpThreads == Auto {
		k.IntraOpThreads = max(1, env.cores()/k.Concurrency.Max)
	}
	switch k.Blocks {
	case Auto:
		perBatch := (images + k.BatchSize - 1) / k.BatchSize
		k.Blocks = max(1, min(images, max(2*env.cores(), perBatch)))
	case BlocksPerImage:
		k.Blocks = max(images, 1)
	}
	if k.CPUs == CPUsFit {
		need := float64(k.Concurrency.Max)
		if k.NumGPUs > 0 {
			need = 0 // GPU actors hold no CPU
		}
		k.CPUs = float64(env.cores()) + need
	}
	if k.Decoder == "auto" {
		if d, err := decoderFor("auto"); err == nil {
			k.Decoder = d.Name()
		}
	}
	if k.Precision == "fp16" && !isZoo(env.Model) {
		notes = append(notes, fmt.Sprintf("precision fp16 picks a zoo model's -fp16 variant; %s is a file, so it runs as it is", env.Model))
		k.Precision = "fp32"
	}
	if k.Strict && !k.RowObjects {
		k.Strict = false
	}
	if !k.HotPathLogging {
		k.LogEvery = DefaultKnobs().LogEvery
	}
	return k, notes
}

// CUDAOptions maps the CUDA knobs onto the provider's options.
func (k *Knobs) CUDAOptions() model.CUDAOptions {
	return model.CUDAOptions{
		ConvAlgoSearch: k.CUDNNConvAlgoSearch, ArenaExtendStrategy: k.ArenaExtendStrategy,
		SeparateCopyStream: !k.DoCopyInDefaultStream, DisableTF32: !k.UseTF32,
	}
}

func isZoo(name string) bool { return slices.Contains(model.ZooNames(), name) }

// modelName is the model the plan loads: the zoo's -fp16 sibling when
// precision is fp16.
func modelName(env Env, k *Knobs) string {
	if k.Precision == "fp16" && !strings.HasSuffix(env.Model, "-fp16") && isZoo(env.Model+"-fp16") {
		return env.Model + "-fp16"
	}
	return env.Model
}

// countImages lists the images the run will read.
func countImages(env Env) (int, error) {
	n := len(env.Files)
	if env.Files == nil {
		files, err := vision.ListImages(env.Data)
		if err != nil {
			return 0, err
		}
		n = len(files)
	}
	if env.Images > 0 && env.Images < n {
		n = env.Images
	}
	if n == 0 {
		return 0, fmt.Errorf("no images (.jpg, .jpeg, .png) under %s", env.Data)
	}
	return n, nil
}

// Plan maps resolved scenario s onto a job for env. It reports every
// problem at once: the scenario's own (Validate) and the machine's
// (CheckEnv). Nothing depends on the scenario's name: every knob maps onto
// a pipeline or bench option, and identical effective settings produce
// identical plans. ORT must be initialised (model.InitFromFlag) first.
func (l *Library) Plan(s *Scenario, env Env) (*Plan, error) {
	if !s.Resolved {
		r, err := l.Resolve(s)
		if err != nil {
			return nil, err
		}
		s = r
	}
	errs := append(s.Validate(), s.CheckEnv(env.GPUs)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	images, err := countImages(env)
	if err != nil {
		return nil, err
	}
	k, notes := s.effective(env, images)
	m, err := model.Resolve(modelName(env, &k))
	if err != nil {
		return nil, err
	}
	dec, err := decoderFor(k.Decoder)
	if err != nil {
		return nil, err
	}
	sess := model.SessionOptions{
		IntraOpThreads: k.IntraOpThreads, InterOpThreads: k.InterOpThreads,
		GraphOptimization: k.GraphOptimization, Device: model.Device{Kind: model.DeviceCPU},
	}
	if k.Device == "cuda" {
		sess.Device = model.Device{Kind: model.DeviceCUDA}
		sess.CUDA = k.CUDAOptions()
	}
	if n := model.FP16OnCPU(m, sess.Device.Kind); n != "" {
		notes = append(notes, n)
	}
	exec := pipeline.ExecutionOptions{
		Limits:              pipeline.ExecutionResources{CPU: k.CPUs, GPU: float64(env.GPUs), ObjectStoreMemory: k.MemoryBudget},
		OverrideLimits:      k.CPUs > 0,
		DisableBackpressure: !k.Backpressure,
		PreserveOrder:       k.PreserveOrder,
		Bus:                 env.Bus,
		Warnf:               env.Warnf,
	}
	job := classify.JobConfig{
		Data: env.Data, Files: env.Files, Images: env.Images, Model: m, Session: sess,
		BatchSize: k.BatchSize, Blocks: k.Blocks, Concurrency: pipeline.Range(k.Concurrency.Min, k.Concurrency.Max),
		PreprocessConcurrency: k.PreprocessConcurrency, NumGPUs: k.NumGPUs,
		InferenceTasks: k.Compute == "tasks", ModelPerBatch: k.ModelPerBatch, PerImageForward: k.PerImageForward,
		TransformPerBatch: k.TransformPerBatch, PreprocessInActor: k.PreprocessInActor,
		RowObjects: k.RowObjects, Strict: k.Strict, LogEvery: k.LogEvery,
		MaxPixels: env.MaxPixels, Decoder: dec, Exec: exec,
		TensorPool: k.TensorPool, InFlightPerActor: k.InFlightPerActor,
	}
	if job.Blocks == BlocksDefault {
		job.Blocks = 0
	}
	if k.HotPathLogging {
		job.HotPathLog = env.Log
		if job.HotPathLog == nil {
			job.HotPathLog = io.Discard
		}
	}
	knobs := map[string]string{}
	for _, d := range knobDefs {
		knobs[d.name] = d.format(&k)
	}
	p := &Plan{
		Scenario: s, Job: job, Effective: k, Images: images, Notes: notes,
		Run: bench.RunOptions{
			JSON: k.OutputFormat == "json", TakeAll: k.TakeAll,
			Scenario: s.Name, Label: s.Name, Knobs: knobs,
		},
	}
	p.Notes = append(p.Notes, l.sameAsParent(s, env, images, k)...)
	return p, nil
}

// sameAsParent notes when a scenario's settings, on this machine, come to
// the same as the scenario it extends: then it measures nothing new here,
// and the reader must be told why rather than shown a ×1.00 as a finding.
func (l *Library) sameAsParent(s *Scenario, env Env, images int, k Knobs) []string {
	if s.Extends == "" {
		return nil
	}
	parent, ok := l.byName[s.Extends]
	if !ok {
		return nil
	}
	pr, err := l.Resolve(parent)
	if err != nil {
		return nil
	}
	pk, _ := pr.effective(env, images)
	if !k.Equal(&pk) {
		return nil
	}
	var why []string
	for _, name := range s.Knobs.SetKnobs() {
		if s.Knobs.Format(name) != pr.Knobs.Format(name) {
			why = append(why, fmt.Sprintf("%s: %s and %s's %s both mean %s", name, s.Knobs.Format(name), pr.Name, pr.Knobs.Format(name), k.Format(name)))
		}
	}
	note := fmt.Sprintf("on this machine %s is identical to %s", s.Name, pr.Name)
	if len(why) > 0 {
		note += " (" + strings.Join(why, "; ") + ")"
	}
	if k.Device == "cpu" && env.GPUs == 0 {
		note += ": no GPU is visible, so there is nothing to leave unused"
	}
	return []string{note}
}

// OutputSize returns the size of the file at path, 0 when it is missing.
func OutputSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
