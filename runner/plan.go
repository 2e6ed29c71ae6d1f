package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

	"workbench/bench"
	"workbench/classify"
	"workbench/datasource"
	"workbench/model"
	"workbench/nvml"
	"workbench/pipeline"
	"workbench/scenarios"
	"workbench/vision"
)

// Plan is a Config resolved against this machine: the scenario with every
// layer applied, the auto values decided, the image listing made, and the
// job the engine will run. Nothing has run yet.
type Plan struct {
	Config   Config
	Scenario *scenarios.Scenario
	// Asked is every knob as the layers left it ("auto" stays "auto");
	// Effective the same knobs with auto values replaced by what they mean
	// here. The record keeps both.
	Asked, Effective scenarios.Knobs
	// Sources says which layer gave each knob its value.
	Sources map[string]Layer
	// Device is where the model runs, resolved.
	Device model.Device
	// GPUs is the GPU count the engine may use.
	GPUs int
	// Files is the listing when it is held whole: given by the caller
	// (Config.Files), or a folder small enough that reading ahead reached
	// its end. Otherwise Files is nil and Streams is set: each execution
	// lists Config.Data as it reads (classify.ImageSource), so memory does
	// not grow with the folder's size.
	Files   []string
	Streams bool
	// listedBytes is the counted folder's size, for blocks default.
	listedBytes int64
	// Images is the number of images the run will read, or 0 while it is
	// not known (a streamed listing, until the run has listed it).
	Images int
	// Source is the datasource when --data is not a plain local folder
	// (an object store, a glob, @list, Parquet, shards) or its folders
	// label the rows; Files is then nil and Images its known row count.
	Source *datasource.Source
	// Job is the engine's job, ready for classify.NewJob.
	Job classify.JobConfig
	// Format is the output's (parquet, json or csv) and TakeAll whether
	// every result is materialised before writing.
	Format  string
	TakeAll bool
	// Notes say things the reader must know, such as "identical to
	// optimized on this machine".
	Notes []string
	// BatchProbe is batch_size: auto's measurement and pick, nil when the
	// batch size was given.
	BatchProbe *bench.BatchProbe
}

// Ext is the output file extension the plan writes.
func (p *Plan) Ext() string {
	switch p.Format {
	case "json":
		return ".jsonl"
	case "csv":
		return ".csv"
	}
	return ".parquet"
}

// KnobValues renders knobs as a name → value map, in a record's words.
func KnobValues(k *scenarios.Knobs) map[string]string {
	out := map[string]string{}
	for _, n := range scenarios.KnobNames() {
		out[n] = k.Format(n)
	}
	return out
}

var library = sync.OnceValue(scenarios.Builtin)

// Library is the built-in scenario library every front end shares.
func Library() *scenarios.Library { return library() }

// LoadScenario resolves cfg's scenario and applies its --set and flag
// layers, in that order, reporting every problem at once as a
// *ConfigError. It needs no runtime: front ends call it to check their
// arguments before any work starts.
func LoadScenario(cfg Config) (*scenarios.Scenario, map[string]Layer, error) {
	s, err := Library().Load(cfg.scenario())
	if err != nil {
		return nil, nil, &ConfigError{Problems: []error{fmt.Errorf("--scenario: %w", err)}}
	}
	sources := map[string]Layer{}
	for _, n := range scenarios.KnobNames() {
		sources[n] = LayerDefault
	}
	for _, n := range scenarioSetKnobs(s) {
		sources[n] = LayerScenario
	}
	var errs []error
	apply := func(layer Layer, settings []Setting) {
		for _, st := range settings {
			if err := s.Set(st.Knob, st.Value); err != nil {
				if st.Flag != "" {
					// Say it in the flag's words: "--batch 0: ..."
					why := strings.TrimPrefix(err.Error(), st.Knob+"="+st.Value+": ")
					err = fmt.Errorf("%s %s: %s", st.Flag, st.Value, why)
				}
				errs = append(errs, err)
				continue
			}
			sources[st.Knob] = layer
		}
	}
	apply(LayerSet, cfg.Set)
	apply(LayerFlag, cfg.Flags)
	errs = append(errs, s.Validate()...)
	if len(errs) > 0 {
		return nil, nil, &ConfigError{Problems: errs}
	}
	return s, sources, nil
}

// scenarioSetKnobs lists the knobs any file in s's extends chain sets.
func scenarioSetKnobs(s *scenarios.Scenario) []string {
	var out []string
	for _, name := range s.Chain {
		if f, ok := Library().Get(name); ok {
			out = append(out, f.Knobs.SetKnobs()...)
		}
	}
	return append(out, s.Knobs.SetKnobs()...)
}

// machine is what resolution needs from outside: cores, GPUs, and the CUDA
// probe. Tests replace it.
type machine struct {
	cores  int
	gpus   int
	reason string // why no GPU is visible
	probe  func(deviceID int) error
}

var probeOnce = sync.OnceValue(nvml.Probe)

func (c *Config) machine() machine {
	inv := probeOnce()
	m := machine{cores: runtime.NumCPU(), gpus: len(inv.GPUs), reason: inv.NVMLReason, probe: model.ProbeCUDA}
	if c.GPUs >= 0 {
		m.gpus = int(c.GPUs)
	}
	return m
}

// Resolve plans cfg: scenario and layers (LoadScenario), ONNX Runtime
// loaded, auto values decided, the folder listed once, the model resolved.
// Problems with the user's inputs are a *ConfigError or a *DataError.
func Resolve(cfg Config) (*Plan, error) {
	if cfg.GPUs > 0 && cfg.GPUs != float64(int(cfg.GPUs)) {
		return nil, &ConfigError{Problems: []error{fmt.Errorf("--gpus %g: it counts whole GPUs; to share one, keep --gpus 1 and set num_gpus: 0.5 in the scenario (or --set num_gpus=0.5)", cfg.GPUs)}}
	}
	s, sources, err := LoadScenario(cfg)
	if err != nil {
		return nil, err
	}
	return resolve(cfg, s, sources, cfg.machine())
}

// ResolveModel is Resolve without the data: the model, session and pool as
// a run would have them, for measurements that feed the model tensors
// from memory (bench ceiling). Plan.Files is nil and Images 0.
func ResolveModel(cfg Config) (*Plan, error) {
	cfg.Files = []string{}
	return Resolve(cfg)
}

func resolve(cfg Config, s *scenarios.Scenario, sources map[string]Layer, m machine) (*Plan, error) {
	p := &Plan{Config: cfg, Scenario: s, Asked: s.Knobs, Sources: sources, GPUs: m.gpus}
	dev, err := model.ParseDevice(s.Knobs.Device)
	if err != nil {
		return nil, &ConfigError{Problems: []error{err}}
	}
	if errs := checkEnv(s, dev, m.gpus); len(errs) > 0 {
		return nil, &ConfigError{Problems: errs}
	}
	preferGPU := dev.Kind == model.DeviceCUDA || (dev.Kind == model.DeviceAuto && m.gpus > 0)
	if _, err := model.InitFor(cfg.ORTLib, preferGPU); err != nil {
		return nil, err
	}
	p.Device = resolveDevice(dev, m, cfg.warnf)
	if err := p.list(cfg, s.Knobs, m); err != nil {
		return nil, err
	}
	k := s.Knobs
	if k.BatchSize == scenarios.Auto {
		probe, err := p.probeBatch(k, m)
		k.BatchSize, p.BatchProbe = probe.Picked, probe
		if err != nil {
			// A session that cannot be made here fails the run itself,
			// with its own error; the probe only falls back.
			k.BatchSize = scenarios.DefaultKnobs().BatchSize
			cfg.warnf("batch_size auto: %v; using %d", err, k.BatchSize)
		}
	}
	p.Effective, p.Notes = effective(k, p.Device, m, p.count(), cfg.Model)
	if err := p.job(m); err != nil {
		return nil, err
	}

	p.Notes = append(p.Notes, sameAsParent(s, p, m)...)
	return p, nil
}

// probes remembers batch_size: auto's answer per model, session and pool
// for the process, so a race's repeats and a sweep's cells share one probe.
var probes sync.Map // string → *bench.BatchProbe

// probeBatch resolves batch_size: auto: the plan is made once with a
// provisional batch (the default) to get the model, session and pool as
// the run will have them, and the ceiling is probed at AutoBatchSizes up
// to the image count.
func (p *Plan) probeBatch(k scenarios.Knobs, m machine) (*bench.BatchProbe, error) {
	k.BatchSize = scenarios.DefaultKnobs().BatchSize
	p.Effective, _ = effective(k, p.Device, m, p.count(), p.Config.Model)
	if err := p.job(m); err != nil {
		return &bench.BatchProbe{}, err
	}
	j := p.Job
	var sizes []int
	for _, b := range bench.AutoBatchSizes {
		if p.Images <= 0 || b <= max(p.Images, bench.AutoBatchSizes[0]) {
			sizes = append(sizes, b)
		}
	}
	key := fmt.Sprint(j.Model.Path, j.Model.Name, j.Session.String(), j.Concurrency.Max, sizes)
	if v, ok := probes.Load(key); ok {
		return v.(*bench.BatchProbe), nil
	}
	// Resolve takes no context; the probe is a few seconds of forward
	// passes, bounded by its rounds.
	probe, err := bench.ProbeBatch(context.Background(), bench.CeilingOptions{Model: j.Model, Session: j.Session, Sessions: j.Concurrency.Max},
		sizes, 0, 9)
	if err != nil {
		return &probe, err
	}
	probes.Store(key, &probe)
	return &probe, nil
}

// list decides how the run lists its images. A listing the caller gave is
// used as it is. A folder is read ahead by 2 × cores × batch paths, the
// most that blocks auto can use to decide (see effective): a folder that
// ends within them is held whole, as it was always listed; a larger one
// streams. A fixed block count (blocks N or default) splits the rows it
// reads into that many blocks, which needs the count first: it is counted
// by a walk that holds nothing, then streamed too.
func (p *Plan) list(cfg Config, k scenarios.Knobs, m machine) error {
	if usesSource(cfg) {
		src, err := openSource(cfg, &k)
		if err != nil {
			return err
		}
		p.Source, p.Images = src, src.Rows()
		return nil
	}
	if cfg.Files != nil {
		p.Files = cfg.Files
		if cfg.Images > 0 && cfg.Images < len(p.Files) {
			p.Files = p.Files[:cfg.Images]
		}
		p.Images = len(p.Files)
		return nil
	}
	bs := k.BatchSize
	if bs <= 0 { // batch_size: auto, not yet probed
		bs = scenarios.DefaultKnobs().BatchSize
	}
	ahead := 2 * max(m.cores, 1) * bs
	if cfg.Cycle {
		// The protocol cycles a dataset too small for its windows, which
		// needs the whole listing in hand: read ahead as far as the
		// largest batch the probe may pick would need, so a folder that
		// ends within that is held whole and cycled, and a larger one
		// needs no cycling and streams.
		proto := bench.DefaultProtocol
		if cfg.Protocol != nil {
			proto = cfg.Protocol.WithDefaults()
		}
		most := bs
		if k.BatchSize <= 0 {
			most = max(most, slices.Max(bench.AutoBatchSizes))
		}
		ahead = max(ahead, proto.RowsNeeded(most, max(k.Concurrency.Max, m.cores)))
	}
	if cfg.Images > 0 {
		ahead = min(ahead, cfg.Images)
	}
	head, complete, err := classify.ListImagesAhead(cfg.Data, ahead)
	if err == nil && len(head) == 0 && complete {
		err = fmt.Errorf("no images (.jpg, .jpeg, .png) under %s", cfg.Data)
	}
	if err != nil {
		// A folder of Parquet tables or tar shards holds no images
		// itself: the datasource takes it.
		if src, serr := openSource(cfg, &k); serr == nil {
			p.Source, p.Images = src, src.Rows()
			return nil
		}
		return &DataError{What: "data", Err: err}
	}
	if complete || len(head) == cfg.Images {
		p.Files, p.Images = head, len(head)
		return nil
	}
	p.Streams = true
	if k.Blocks >= 0 || k.Blocks == scenarios.BlocksDefault {
		if p.Images, p.listedBytes, err = classify.CountImages(cfg.Data, cfg.Images); err != nil {
			return &DataError{What: "data", Err: err}
		}
	}
	return nil
}

// count is the image count effective decides with: Images, or -1 while a
// streamed listing has not been counted.
func (p *Plan) count() int {
	if p.Streams && p.Images == 0 {
		return -1
	}
	return p.Images
}

// checkEnv is Scenario.CheckEnv with the device as parsed here, so a
// cuda:N beyond the visible GPUs is caught too.
func checkEnv(s *scenarios.Scenario, dev model.Device, gpus int) []error {
	errs := s.CheckEnv(gpus)
	if dev.Kind == model.DeviceCUDA && gpus > 0 && dev.ID >= gpus {
		errs = append(errs, fmt.Errorf("%s: device %s, but this machine has %d GPU(s) (cuda:0 to cuda:%d)", s.Name, dev, gpus, gpus-1))
	}
	return errs
}

// resolvedDevices remembers auto's answer per process: the probe loads the
// CUDA provider, and the user is told once.
var resolvedDevices sync.Map // machine gpus → model.Device

func resolveDevice(dev model.Device, m machine, warnf func(string, ...any)) model.Device {
	if dev.Kind != model.DeviceAuto {
		return dev
	}
	if d, ok := resolvedDevices.Load(m.gpus); ok {
		return d.(model.Device)
	}
	d, why := model.ResolveDevice(dev, m.gpus, m.reason, m.probe)
	if _, loaded := resolvedDevices.LoadOrStore(m.gpus, d); !loaded && why != "" && d.Kind == model.DeviceCPU && m.gpus > 0 {
		warnf("%s", why)
	}
	return d
}

// effective resolves auto values: the one place they are decided.
func effective(k scenarios.Knobs, dev model.Device, m machine, images int, modelName string) (scenarios.Knobs, []string) {
	var notes []string
	k.Device = dev.String()
	cuda := dev.Kind == model.DeviceCUDA
	if k.NumGPUs == scenarios.Auto {
		k.NumGPUs = 0
		if cuda {
			k.NumGPUs = 1
		}
	}
	if !cuda {
		// A CPU session holds no GPU, whatever the scenario asked for one
		// when a GPU might have been there (auto).
		k.NumGPUs = 0
	}
	if k.Concurrency.Max == 0 {
		n := 1
		if cuda && k.NumGPUs > 0 {
			n = max(1, int(float64(m.gpus)/k.NumGPUs))
		}
		k.Concurrency.Min, k.Concurrency.Max = n, n
	}
	if k.IntraOpThreads == scenarios.Auto {
		// Right-size ORT's thread pool: actors × threads = cores.
		k.IntraOpThreads = max(1, m.cores/k.Concurrency.Max)
	}
	// blocks auto is a block per batch, but at least 2 × cores blocks so
	// every core has work, and never more blocks than images. Beyond
	// 2 × cores × batch images the first term always wins, so a listing
	// that streams (images < 0, not yet counted) needs no count: it reads
	// batch_size rows per block (Plan.job) and the record gives the blocks
	// the run read.
	switch {
	case images < 0:
	case k.Blocks == scenarios.Auto:
		// An unresolved batch_size: auto (a parent compared in
		// sameAsParent) counts as the default for the block count.
		bs := k.BatchSize
		if bs <= 0 {
			bs = scenarios.DefaultKnobs().BatchSize
		}
		perBatch := (images + bs - 1) / bs
		k.Blocks = max(1, min(images, max(2*m.cores, perBatch)))
	case k.Blocks == scenarios.BlocksPerImage:
		k.Blocks = max(images, 1)
	}
	if k.CPUs == scenarios.CPUsFit {
		need := float64(k.Concurrency.Max)
		if k.NumGPUs > 0 {
			need = 0 // GPU actors hold no CPU
		}
		k.CPUs = float64(m.cores) + need
	}
	if k.Decoder == "auto" {
		if d, err := vision.ParseDecoder("auto"); err == nil {
			k.Decoder = d.Name()
		}
	}
	if k.Precision == "fp16" && !strings.HasSuffix(modelName, "-fp16") && !isZoo(modelName+"-fp16") {
		what := "is a file"
		if isZoo(modelName) {
			what = "has no -fp16 variant in the zoo"
		}
		notes = append(notes, fmt.Sprintf("precision fp16 picks a zoo model's -fp16 variant; %s %s, so it runs as it is (fp32)", modelName, what))
		k.Precision = "fp32"
	}
	if k.Strict && !k.RowObjects {
		k.Strict = false
	}
	if !k.HotPathLogging {
		k.LogEvery = scenarios.DefaultKnobs().LogEvery
	}
	return k, notes
}

func isZoo(name string) bool { return slices.Contains(model.ZooNames(), name) }

// modelName is the model the plan loads: the zoo's -fp16 sibling when
// precision is fp16.
func modelName(name string, k *scenarios.Knobs) string {
	if k.Precision == "fp16" && !strings.HasSuffix(name, "-fp16") && isZoo(name+"-fp16") {
		return name + "-fp16"
	}
	return name
}

// job maps the effective knobs onto the classification job. Nothing
// depends on the scenario's name: identical effective knobs make identical
// jobs.
func (p *Plan) job(m machine) error {
	k := &p.Effective
	cfg := p.Config
	opts, err := resolveOptions(cfg, k)
	if err != nil {
		return &ConfigError{Problems: []error{err}}
	}
	mdl, err := model.ResolveWith(modelName(cfg.Model, k), opts)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) || strings.Contains(err.Error(), "zoo") {
			return &DataError{What: "model", Err: err}
		}
		return &ConfigError{Problems: []error{err}}
	}
	// The recipe: the model's own (metadata, else the default preset),
	// then the preset and field knobs, checked against the input.
	recipe, err := vision.ApplyRecipeKnobs(mdl.Recipe, k.Recipe)
	if err != nil {
		return &ConfigError{Problems: []error{err}}
	}
	if mdl, recipe, err = mdl.WithRecipe(recipe); err != nil {
		return &ConfigError{Problems: []error{err}}
	}
	var labels model.Labels
	if cfg.Labels != "" {
		if labels, err = model.LoadLabels(cfg.Labels, mdl.NumClasses); err != nil {
			return &DataError{What: "labels", Err: err}
		}
	}
	if n := mdl.BatchNote(k.BatchSize); n != "" {
		p.Notes = append(p.Notes, n)
	}
	dec, err := vision.ParseDecoder(k.Decoder)
	if err != nil {
		return &ConfigError{Problems: []error{err}}
	}
	sess := model.SessionOptions{
		IntraOpThreads: k.IntraOpThreads, InterOpThreads: k.InterOpThreads,
		GraphOptimization: k.GraphOptimization, Device: p.Device,
	}
	if p.Device.Kind == model.DeviceCUDA {
		sess.CUDA = k.CUDAOptions()
	}
	if n := model.FP16OnCPU(mdl, sess.Device.Kind); n != "" {
		p.Notes = append(p.Notes, n)
	}
	exec := pipeline.ExecutionOptions{
		Limits:              pipeline.ExecutionResources{CPU: k.CPUs, GPU: float64(m.gpus), ObjectStoreMemory: k.MemoryBudget},
		OverrideLimits:      k.CPUs > 0,
		DisableBackpressure: !k.Backpressure,
		PreserveOrder:       k.PreserveOrder,
		Bus:                 cfg.Bus,
		Warnf:               cfg.Warnf,
		Detect:              cfg.Detect,
	}
	p.Job = classify.JobConfig{
		Data: cfg.Data, Files: p.Files, Model: mdl, Session: sess,
		BatchSize: k.BatchSize, Blocks: k.Blocks, Concurrency: pipeline.Range(k.Concurrency.Min, k.Concurrency.Max),
		PreprocessConcurrency: k.PreprocessConcurrency, NumGPUs: k.NumGPUs,
		// An asked index (cuda:1) pins every actor there; plain cuda or
		// auto spreads actors over the GPUs.
		PinDevice:      p.Device.Kind == model.DeviceCUDA && strings.Contains(p.Asked.Device, ":"),
		InferenceTasks: k.Compute == "tasks", ModelPerBatch: k.ModelPerBatch, PerImageForward: k.PerImageForward,
		TransformPerBatch: k.TransformPerBatch, PreprocessInActor: k.PreprocessInActor,
		RowObjects: k.RowObjects, Strict: k.Strict, LogEvery: k.LogEvery,
		MaxPixels: cfg.MaxPixels, Decoder: dec, Exec: exec,
		TensorPool: k.TensorPool, InFlightPerActor: k.InFlightPerActor, RowGroupBytes: k.RowGroupBytes,
		FaultTolerance: pipeline.FaultTolerance{
			MaxRestarts: k.MaxRestarts, MaxTaskRetries: k.MaxTaskRetries, InjectFailureEvery: k.InjectActorFailureEvery,
		},
		Recipe: recipe, Labels: labels,
	}
	if p.Source != nil {
		p.Job.Source = p.Source
	}
	if p.Job.Blocks == scenarios.BlocksDefault {
		p.Job.Blocks = 0
	}
	if p.Streams {
		p.Job.Files, p.Job.Images = nil, cfg.Images
		switch k.Blocks {
		case scenarios.Auto:
			p.Job.Blocks, p.Job.RowsPerBlock = 0, k.BatchSize
		case scenarios.BlocksPerImage:
			p.Job.Blocks, p.Job.RowsPerBlock = 0, 1
		case scenarios.BlocksDefault:
			cpus := int(k.CPUs)
			if cpus <= 0 {
				cpus = m.cores
			}
			p.Job.Blocks = pipeline.DefaultNumBlocks(p.listedBytes, p.Images, cpus)
		}
		if p.Images > 0 {
			// Counted: the read splits exactly these rows into Blocks.
			p.Job.Images = p.Images
		}
	}
	p.Format, p.TakeAll = k.OutputFormat, k.TakeAll
	return nil
}

// sameAsParent notes when a scenario's settings, on this machine, come to
// the same as the scenario it extends: then it measures nothing new here,
// and the reader must be told why rather than shown a ×1.00 as a finding.
func sameAsParent(s *scenarios.Scenario, p *Plan, m machine) []string {
	if s.Extends == "" {
		return nil
	}
	parent, err := Library().Load(s.Extends)
	if err != nil {
		return nil
	}
	pdev, err := model.ParseDevice(parent.Knobs.Device)
	if err != nil {
		return nil
	}
	parentKnobs := parent.Knobs
	if parentKnobs.BatchSize == scenarios.Auto && p.Asked.BatchSize == scenarios.Auto {
		// Both ask auto: on the same machine the probe answers the same.
		parentKnobs.BatchSize = p.Effective.BatchSize
	}
	pk, _ := effective(parentKnobs, resolveDevice(pdev, m, func(string, ...any) {}), m, p.count(), p.Config.Model)
	if !p.Effective.Equal(&pk) {
		return nil
	}
	var why []string
	for _, name := range s.Knobs.SetKnobs() {
		if s.Knobs.Format(name) != parent.Knobs.Format(name) {
			why = append(why, fmt.Sprintf("%s: %s and %s's %s both mean %s", name, s.Knobs.Format(name), parent.Name, parent.Knobs.Format(name), p.Effective.Format(name)))
		}
	}
	note := fmt.Sprintf("on this machine %s is identical to %s", s.Name, parent.Name)
	if len(why) > 0 {
		note += " (" + strings.Join(why, "; ") + ")"
	}
	if p.Device.Kind == model.DeviceCPU && m.gpus == 0 {
		note += ": no GPU is visible, so there is nothing to leave unused"
	}
	return []string{note}
}

// resolveOptions are what the user said about a model file that may leave
// its input or output open: the output's name, and the recipe's layout,
// dtype and crop when set.
func resolveOptions(cfg Config, k *scenarios.Knobs) (model.ResolveOptions, error) {
	o := model.ResolveOptions{Output: cfg.Output}
	var err error
	if v, ok := k.Recipe["layout"]; ok {
		if o.Layout, err = vision.ParseLayout(v); err != nil {
			return o, err
		}
	}
	if v, ok := k.Recipe["dtype"]; ok {
		if o.DType, err = vision.ParseDType(v); err != nil {
			return o, err
		}
	}
	if v, ok := k.Recipe["crop"]; ok {
		if o.CropH, o.CropW, err = vision.ParseCrop(v); err != nil {
			return o, err
		}
	}
	return o, nil
}
