package scenarios

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"workbench/model"
	"workbench/vision"
)

// Sentinels for knobs whose value may be "auto" or another word. They are
// negative so no valid number collides with them; a negative number written
// in a file is rejected by the knob's parser before it could be mistaken for
// one.
const (
	// Auto asks Plan to derive the value from the machine.
	Auto = -1
	// Unlimited is max_restarts: infinite, Ray's -1.
	Unlimited = -1
	// BlocksDefault is Ray's default block count rule (override_num_blocks
	// unset).
	BlocksDefault = -2
	// BlocksPerImage is one block per image.
	BlocksPerImage = -3
	// CPUsFit raises the CPU limit to the machine's cores plus what the
	// inference pool asks for, so an oversized pool is admitted rather than
	// left pending.
	CPUsFit = -1
)

// Knobs is every setting a scenario can change. Unset is distinct from zero:
// a knob counts as set only when a file or Set gave it a value, so `extends`
// overlays exactly what the child wrote. Read a resolved scenario's Knobs
// for effective values; DefaultKnobs holds the values nobody set.
type Knobs struct {
	BatchSize int
	// Concurrency is the inference pool's (min, max); zero means auto: one
	// actor per GPU on CUDA, one actor on CPU.
	Concurrency struct{ Min, Max int }
	// Blocks is override_num_blocks, or Auto (one block per batch, at least
	// 2× cores), BlocksDefault or BlocksPerImage.
	Blocks                int
	PreprocessConcurrency int // 0 = as many as CPUs allow
	// IntraOpThreads is ORT's intra-op pool per session: Auto = cores ÷
	// actors, 0 = ORT's default (all cores, in every session).
	IntraOpThreads    int
	InterOpThreads    int
	Device            string  // cpu, cuda or auto
	NumGPUs           float64 // per inference actor; Auto = 1 on CUDA, 0 on CPU
	Compute           string  // actors or tasks
	ModelPerBatch     bool
	PerImageForward   bool
	TransformPerBatch bool
	PreprocessInActor bool
	HotPathLogging    bool
	LogEvery          int
	RowObjects        bool
	Strict            bool
	OutputFormat      string // parquet or json
	TakeAll           bool
	Backpressure      bool
	MemoryBudget      int64 // bytes; 0 = the engine's default (25% of RAM)
	// RowGroupBytes bounds a Parquet row group, which the writer holds
	// until it is flushed; 0 = the engine's default
	// (pipeline.DefaultRowGroupBytes, 32 MiB).
	RowGroupBytes     int64
	PreserveOrder     bool
	Precision         string // fp32 or fp16
	Decoder           string // a vision.DecoderNames value
	GraphOptimization string // disabled, basic, extended or all
	// CUDA provider options (device: cuda only), named as ORT names them.
	CUDNNConvAlgoSearch   string // EXHAUSTIVE, HEURISTIC or DEFAULT
	ArenaExtendStrategy   string // kNextPowerOfTwo or kSameAsRequested
	DoCopyInDefaultStream bool
	UseTF32               bool
	// TensorPool assembles batch tensors in reused, off-heap buffers,
	// pinned with cudaHostRegister on CUDA.
	TensorPool bool
	// InFlightPerActor is Ray's max_tasks_in_flight_per_actor: batches
	// queued, already assembled, on each inference actor.
	InFlightPerActor int
	// CPUs overrides the resource manager's CPU limit: 0 = the machine's
	// cores, CPUsFit = cores plus the inference pool's request.
	CPUs float64
	// MaxRestarts bounds inference actors replaced after a failure
	// (Unlimited = no bound); MaxTaskRetries is how often a batch runs
	// again after its actor failed; InjectActorFailureEvery makes each
	// actor fail its every Nth batch (0 = never), to show what that costs.
	MaxRestarts             int
	MaxTaskRetries          int
	InjectActorFailureEvery int
	// Recipe holds the preprocessing recipe knobs set (preset, resize,
	// crop, interpolation, channels, scale, mean, std, layout, dtype), as
	// written; a key that is absent is auto: the model's own recipe (its
	// metadata, else the default preset). Never written in place: a copy
	// of Knobs may share it.
	Recipe map[string]string
	// GetConcurrency is the object GETs in flight per read task when the
	// data lives in an object store (or is read from a list of files).
	GetConcurrency int

	set map[string]bool
}

// DefaultKnobs returns the value of every knob nobody set: the right way,
// which optimized.yaml then states explicitly so a reader sees it.
func DefaultKnobs() Knobs {
	k := Knobs{
		BatchSize: 32, Blocks: Auto, IntraOpThreads: Auto, InterOpThreads: 1,
		Device: "auto", NumGPUs: Auto, Compute: "actors", LogEvery: 10,
		OutputFormat: "parquet", Backpressure: true, Precision: "fp32",
		Decoder: "auto", GraphOptimization: "all", TensorPool: true, InFlightPerActor: 2, GetConcurrency: 8,
		CUDNNConvAlgoSearch: "EXHAUSTIVE", ArenaExtendStrategy: "kNextPowerOfTwo",
		DoCopyInDefaultStream: true, UseTF32: true,
		MaxRestarts: 10, MaxTaskRetries: 3,
	}
	return k
}

// IsSet reports whether a file or Set gave knob name a value.
func (k *Knobs) IsSet(name string) bool { return k.set[name] }

// SetKnobs lists the knobs given a value, in KnobNames order.
func (k *Knobs) SetKnobs() []string {
	var out []string
	for _, d := range knobDefs {
		if k.set[d.name] {
			out = append(out, d.name)
		}
	}
	return out
}

func (k *Knobs) mark(name string) {
	if k.set == nil {
		k.set = map[string]bool{}
	}
	k.set[name] = true
}

// overlay copies every knob set in o onto k.
func (k *Knobs) overlay(o *Knobs) {
	for _, d := range knobDefs {
		if o.set[d.name] {
			d.copy(k, o)
			k.mark(d.name)
		}
	}
}

// Format renders knob name's value as a file would write it.
func (k *Knobs) Format(name string) string {
	for _, d := range knobDefs {
		if d.name == name {
			return d.format(k)
		}
	}
	return ""
}

// KnobInfo describes one knob for help texts and sweeps.
type KnobInfo struct {
	Name string
	Help string
}

// KnobNames lists every knob's name, in the order `scenarios show` prints
// them. Sweeps accept the same names in --set key=value.
func KnobNames() []string {
	out := make([]string, len(knobDefs))
	for i, d := range knobDefs {
		out[i] = d.name
	}
	return out
}

// Knobs lists every knob with its help text.
func KnobList() []KnobInfo {
	out := make([]KnobInfo, len(knobDefs))
	for i, d := range knobDefs {
		out[i] = KnobInfo{d.name, d.help}
	}
	return out
}

// knobDef is one knob: its parser from a YAML node (a scalar or, for
// concurrency, a [min, max] sequence), its formatter and its copier.
type knobDef struct {
	name string
	// flag is the knob's command-line flag; "" is its name with dashes
	// (preserve_order → --preserve-order).
	flag string
	help string
	// values are the words the knob takes, for completion; nil for a
	// number or size.
	values []string
	parse  func(k *Knobs, n *node) error
	// format and copy reach the same field parse writes.
	format func(k *Knobs) string
	copy   func(dst, src *Knobs)
}

func findKnob(name string) *knobDef {
	for i := range knobDefs {
		if knobDefs[i].name == name {
			return &knobDefs[i]
		}
	}
	return nil
}

// scalar returns n's value, refusing sequences and maps.
func scalar(n *node) (string, error) {
	if n.kind != scalarNode {
		return "", fmt.Errorf("want a single value, not a %s", kindName(n.kind))
	}
	return strings.TrimSpace(n.value), nil
}

// intKnob accepts a whole number ≥ lo, or one of the words in words.
func intKnob(name string, field func(*Knobs) *int, lo int, fix string, words map[string]int, help string) knobDef {
	return knobDef{
		name: name, help: help, values: slices.Sorted(maps.Keys(words)),
		parse: func(k *Knobs, n *node) error {
			s, err := scalar(n)
			if err != nil {
				return err
			}
			if v, ok := words[strings.ToLower(s)]; ok {
				*field(k) = v
				return nil
			}
			v, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("%q is not a whole number%s", s, wordsHint(words))
			}
			if v < lo {
				return fmt.Errorf("%d is out of range: %s", v, fix)
			}
			*field(k) = v
			return nil
		},
		format: func(k *Knobs) string {
			v := *field(k)
			for w, x := range words {
				if x == v && v < 0 {
					return w
				}
			}
			return strconv.Itoa(v)
		},
		copy: func(dst, src *Knobs) { *field(dst) = *field(src) },
	}
}

// floatKnob is a non-negative number knob that also accepts one word
// standing for a sentinel value (num_gpus: auto, cpus: fit).
func floatKnob(name string, field func(*Knobs) *float64, word string, wordValue float64, fix, help string) knobDef {
	return knobDef{
		name: name, help: help, values: []string{word},
		parse: func(k *Knobs, n *node) error {
			s, err := scalar(n)
			if err != nil {
				return err
			}
			if strings.EqualFold(s, word) {
				*field(k) = wordValue
				return nil
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%q is not a number or %s", s, word)
			}
			if v < 0 {
				return fmt.Errorf("%g is out of range: %s", v, fix)
			}
			*field(k) = v
			return nil
		},
		format: func(k *Knobs) string {
			if *field(k) == wordValue {
				return word
			}
			return strconv.FormatFloat(*field(k), 'g', -1, 64)
		},
		copy: func(dst, src *Knobs) { *field(dst) = *field(src) },
	}
}

func wordsHint(words map[string]int) string {
	if len(words) == 0 {
		return ""
	}
	ws := make([]string, 0, len(words))
	for w := range words {
		ws = append(ws, w)
	}
	slices.Sort(ws)
	return " or one of " + strings.Join(ws, ", ")
}

// bytesKnob is a size in bytes (2GiB, 512MiB, 1000), where 0, "default"
// or "auto" leave it to the engine.
func bytesKnob(name string, field func(*Knobs) *int64, help string) knobDef {
	return knobDef{
		name: name, help: help, values: []string{"default"},
		parse: func(k *Knobs, n *node) error {
			s, err := scalar(n)
			if err != nil {
				return err
			}
			if strings.EqualFold(s, "default") || strings.EqualFold(s, "auto") {
				*field(k) = 0
				return nil
			}
			v, err := ParseBytes(s)
			if err != nil {
				return err
			}
			*field(k) = v
			return nil
		},
		format: func(k *Knobs) string {
			if *field(k) == 0 {
				return "default"
			}
			return FormatBytes(*field(k))
		},
		copy: func(dst, src *Knobs) { *field(dst) = *field(src) },
	}
}

func boolKnob(name string, field func(*Knobs) *bool, help string) knobDef {
	return knobDef{
		name: name, help: help, values: []string{"true", "false"},
		parse: func(k *Knobs, n *node) error {
			s, err := scalar(n)
			if err != nil {
				return err
			}
			switch strings.ToLower(s) {
			case "true", "yes", "on":
				*field(k) = true
			case "false", "no", "off":
				*field(k) = false
			default:
				return fmt.Errorf("%q: want true or false", s)
			}
			return nil
		},
		format: func(k *Knobs) string { return strconv.FormatBool(*field(k)) },
		copy:   func(dst, src *Knobs) { *field(dst) = *field(src) },
	}
}

func enumKnob(name string, field func(*Knobs) *string, allowed []string, help string) knobDef {
	return knobDef{
		name: name, help: help, values: allowed,
		parse: func(k *Knobs, n *node) error {
			s, err := scalar(n)
			if err != nil {
				return err
			}
			// Any case is accepted and stored in the canonical spelling
			// (ORT's option values are case-sensitive: EXHAUSTIVE).
			i := slices.IndexFunc(allowed, func(a string) bool { return strings.EqualFold(a, s) })
			if i < 0 {
				return fmt.Errorf("%q: want %s", s, orList(allowed))
			}
			*field(k) = allowed[i]
			return nil
		},
		format: func(k *Knobs) string { return *field(k) },
		copy:   func(dst, src *Knobs) { *field(dst) = *field(src) },
	}
}

func orList(xs []string) string {
	if len(xs) == 1 {
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// knobDefs is the single table of knobs: names, help, parsing, printing.
var knobDefs = []knobDef{
	intKnob("batch_size", func(k *Knobs) *int { return &k.BatchSize }, 1,
		"batch_size must be at least 1 (try 32, or auto)", map[string]int{"auto": Auto},
		"rows per inference batch (map_batches batch_size); auto probes the inference ceiling and takes the knee").withFlag("batch"),
	{
		name:   "concurrency",
		help:   "inference actors: N, [min, max] to autoscale, or auto (one per GPU; one on CPU)",
		values: []string{"auto"},
		parse: func(k *Knobs, n *node) error {
			lo, hi, err := parseConcurrency(n)
			if err != nil {
				return err
			}
			k.Concurrency.Min, k.Concurrency.Max = lo, hi
			return nil
		},
		format: func(k *Knobs) string {
			c := k.Concurrency
			switch {
			case c.Max == 0:
				return "auto"
			case c.Min == c.Max:
				return strconv.Itoa(c.Max)
			}
			return fmt.Sprintf("[%d, %d]", c.Min, c.Max)
		},
		copy: func(dst, src *Knobs) { dst.Concurrency = src.Concurrency },
	},
	intKnob("blocks", func(k *Knobs) *int { return &k.Blocks }, 1,
		"blocks must be at least 1, or auto, default or per-image",
		map[string]int{"auto": Auto, "default": BlocksDefault, "per-image": BlocksPerImage},
		"read blocks: N, auto (one per batch, at least 2× cores), default (Ray's rule) or per-image"),
	intKnob("preprocess_concurrency", func(k *Knobs) *int { return &k.PreprocessConcurrency }, 0,
		"preprocess_concurrency must be 0 (as many as CPUs allow) or more", map[string]int{"auto": 0},
		"cap on preprocessing tasks; 0 or auto = as many as CPUs allow"),
	intKnob("intra_op_threads", func(k *Knobs) *int { return &k.IntraOpThreads }, 0,
		"intra_op_threads must be auto, 0 (ORT's default: all cores) or a positive count",
		map[string]int{"auto": Auto},
		"ORT intra-op threads per session: auto (cores ÷ actors), 0 (ORT default: all cores) or N").withFlag("intra-op"),
	intKnob("inter_op_threads", func(k *Knobs) *int { return &k.InterOpThreads }, 0,
		"inter_op_threads must be 0 (ORT default) or more", nil,
		"ORT inter-op threads per session").withFlag("inter-op"),
	deviceKnob(),
	floatKnob("num_gpus", func(k *Knobs) *float64 { return &k.NumGPUs }, "auto", Auto,
		"num_gpus must be 0 or more (e.g. 1, or 0.5 to share a GPU)",
		"GPUs per inference actor (fractions share a GPU); auto = 1 on CUDA, 0 on CPU"),
	enumKnob("compute", func(k *Knobs) *string { return &k.Compute }, []string{"actors", "tasks"},
		"inference pool: actors (constructor once per actor) or tasks (constructor per task)"),
	boolKnob("model_per_batch", func(k *Knobs) *bool { return &k.ModelPerBatch },
		"load the model inside the batch function, every call"),
	boolKnob("per_image_forward", func(k *Knobs) *bool { return &k.PerImageForward },
		"loop of batch-1 forward passes inside the batch function"),
	boolKnob("transform_per_batch", func(k *Knobs) *bool { return &k.TransformPerBatch },
		"rebuild preprocessing state (kernels, tables, buffers) every batch"),
	boolKnob("preprocess_in_actor", func(k *Knobs) *bool { return &k.PreprocessInActor },
		"decode and resize inside the inference actor (no Preprocess stage)"),
	boolKnob("hot_path_logging", func(k *Knobs) *bool { return &k.HotPathLogging },
		"write a log line every log_every images from the inference function"),
	intKnob("log_every", func(k *Knobs) *int { return &k.LogEvery }, 1,
		"log_every must be at least 1", nil, "images between hot-path log lines"),
	boolKnob("row_objects", func(k *Knobs) *bool { return &k.RowObjects },
		"the batch function returns per-row objects instead of columns"),
	boolKnob("strict", func(k *Knobs) *bool { return &k.Strict },
		"reject per-row objects as Ray ≥ 2.5 does, instead of converting them"),
	enumKnob("output_format", func(k *Knobs) *string { return &k.OutputFormat }, []string{"parquet", "json", "csv"},
		"parquet (Snappy, columnar), json (JSON lines) or csv (top5 as a space-separated field)"),
	boolKnob("take_all", func(k *Knobs) *bool { return &k.TakeAll },
		"collect every result in memory, then write (ds.take_all())"),
	boolKnob("backpressure", func(k *Knobs) *bool { return &k.Backpressure },
		"bound bytes in flight by memory_budget; false = unbounded queues"),
	bytesKnob("memory_budget", func(k *Knobs) *int64 { return &k.MemoryBudget },
		"bytes of blocks in flight, e.g. 2GiB; default = 25% of RAM"),
	bytesKnob("row_group_bytes", func(k *Knobs) *int64 { return &k.RowGroupBytes },
		"bytes a Parquet row group holds before it is flushed, e.g. 8MiB; default = 32MiB"),
	boolKnob("preserve_order", func(k *Knobs) *bool { return &k.PreserveOrder },
		"write rows in input order"),
	enumKnob("precision", func(k *Knobs) *string { return &k.Precision }, []string{"fp32", "fp16"},
		"fp32, or fp16 (a zoo model's -fp16 variant)"),
	enumKnob("decoder", func(k *Knobs) *string { return &k.Decoder }, vision.DecoderNames,
		"JPEG decoder: go, turbo (libjpeg-turbo), turbo-full (no DCT scaling) or auto (turbo when it loads)"),
	enumKnob("graph_optimization", func(k *Knobs) *string { return &k.GraphOptimization },
		[]string{"disabled", "basic", "extended", "all"}, "ORT graph optimisation level").withFlag("graph-opt"),
	enumKnob("cudnn_conv_algo_search", func(k *Knobs) *string { return &k.CUDNNConvAlgoSearch },
		[]string{"EXHAUSTIVE", "HEURISTIC", "DEFAULT"},
		"CUDA: how cuDNN picks convolution algorithms (EXHAUSTIVE benchmarks them once per shape: slow start, fastest run)"),
	enumKnob("arena_extend_strategy", func(k *Knobs) *string { return &k.ArenaExtendStrategy },
		[]string{"kNextPowerOfTwo", "kSameAsRequested"},
		"CUDA: how ORT's device memory arena grows"),
	boolKnob("do_copy_in_default_stream", func(k *Knobs) *bool { return &k.DoCopyInDefaultStream },
		"CUDA: copy inputs on the compute stream (true, ORT's default) or on a separate stream"),
	boolKnob("use_tf32", func(k *Knobs) *bool { return &k.UseTF32 },
		"CUDA: let fp32 matmuls and convolutions use TF32 tensor cores (Ampere and newer)"),
	boolKnob("tensor_pool", func(k *Knobs) *bool { return &k.TensorPool },
		"assemble batch tensors in reused off-heap buffers, pinned on CUDA; false = a fresh slice per batch"),
	intKnob("max_tasks_in_flight_per_actor", func(k *Knobs) *int { return &k.InFlightPerActor }, 1,
		"max_tasks_in_flight_per_actor must be at least 1 (2 or more prefetches the next batch)", nil,
		"batches queued, already assembled, on each inference actor while it runs one (Ray's ActorPoolStrategy option)").withFlag("max-tasks-in-flight"),
	intKnob("get_concurrency", func(k *Knobs) *int { return &k.GetConcurrency }, 1,
		"get_concurrency must be at least 1 (1 reads a task's objects one after another)", nil,
		"object GETs in flight per read task (s3://, gs://, @list, globs); read tasks are the blocks"),
	floatKnob("cpus", func(k *Knobs) *float64 { return &k.CPUs }, "fit", CPUsFit,
		"cpus must be 0 (this machine), a positive number, or fit",
		"CPU limit override for the resource manager: 0 = this machine, N, or fit (cores + the inference pool)"),
	intKnob("max_restarts", func(k *Knobs) *int { return &k.MaxRestarts }, 0,
		"max_restarts must be 0 or more, or infinite", map[string]int{"infinite": Unlimited},
		"inference actors replaced after one fails (a panic, an ORT or CUDA error) before the run stops; infinite = no bound (Ray's max_restarts)"),
	intKnob("max_task_retries", func(k *Knobs) *int { return &k.MaxTaskRetries }, 0,
		"max_task_retries must be 0 or more", nil,
		"times a batch runs again on another actor after its actor failed; then its rows carry the error (Ray's max_task_retries)"),
	intKnob("inject_actor_failure_every", func(k *Knobs) *int { return &k.InjectActorFailureEvery }, 0,
		"inject_actor_failure_every must be 0 (never) or more", nil,
		"fault injection: each inference actor fails its every Nth batch (0 = never), to show what restarts and retries cost"),
}

// CUDAOptions maps the CUDA knobs onto the provider's options.
func (k *Knobs) CUDAOptions() model.CUDAOptions {
	return model.CUDAOptions{
		ConvAlgoSearch: k.CUDNNConvAlgoSearch, ArenaExtendStrategy: k.ArenaExtendStrategy,
		SeparateCopyStream: !k.DoCopyInDefaultStream, DisableTF32: !k.UseTF32,
	}
}

// withFlag names the knob's flag when its dashed name is not it: the short
// names users typed before flags were generated from this table.
func (d knobDef) withFlag(flag string) knobDef {
	d.flag = flag
	return d
}

// deviceKnob is cpu, auto, cuda or cuda:N; the index is kept, so a
// scenario run on cuda:1 runs there.
func deviceKnob() knobDef {
	return knobDef{
		name:   "device",
		help:   "where the model runs: cpu, cuda, cuda:N or auto (cuda when a GPU is visible and its provider loads)",
		values: []string{"cpu", "cuda", "auto"}, // and cuda:N
		parse: func(k *Knobs, n *node) error {
			s, err := scalar(n)
			if err != nil {
				return err
			}
			v := strings.ToLower(s)
			if v == "cpu" || v == "cuda" || v == "auto" {
				k.Device = v
				return nil
			}
			if id, ok := strings.CutPrefix(v, "cuda:"); ok {
				if i, err := strconv.Atoi(id); err == nil && i >= 0 {
					k.Device = "cuda:" + strconv.Itoa(i)
					return nil
				}
			}
			return fmt.Errorf("%q: want cpu, cuda, cuda:N (N ≥ 0) or auto", s)
		},
		format: func(k *Knobs) string { return k.Device },
		copy:   func(dst, src *Knobs) { dst.Device = src.Device },
	}
}

// KnobFlag is a knob's command-line flag: the CLI registers one flag per
// knob from this table, so no knob lacks a flag and none is declared twice.
type KnobFlag struct {
	Knob, Flag, Help string
	// Default is the built-in default, as a file would write it.
	Default string
	// Bool knobs take no value on the command line (--preserve-order).
	Bool bool
	// Values are the words the knob takes (enum values, true/false, auto,
	// cpu/cuda), for shell completion; nil where it takes only a number.
	Values []string
}

// KnobFlags lists every knob's flag, in KnobNames order.
func KnobFlags() []KnobFlag {
	def := DefaultKnobs()
	out := make([]KnobFlag, len(knobDefs))
	for i, d := range knobDefs {
		f := d.flag
		if f == "" {
			f = strings.ReplaceAll(d.name, "_", "-")
		}
		v := d.format(&def)
		out[i] = KnobFlag{Knob: d.name, Flag: f, Help: d.help, Default: v, Bool: v == "true" || v == "false", Values: slices.Clone(d.values)}
	}
	return out
}

// recipeKnob is one field of the preprocessing recipe (or the preset),
// parsed and checked by vision's own parsers; auto leaves it to the model.
func recipeKnob(key string) knobDef {
	help := "preprocessing recipe: " + vision.RecipeKeyHelp(key)
	if key == vision.PresetKey {
		help = "preprocessing recipe, " + vision.RecipeKeyHelp(key) + "; fields set beside it win"
	}
	return knobDef{
		name: key,
		help: help + "; auto = the model's (its metadata, else " + vision.DefaultPreset + ")",
		parse: func(k *Knobs, n *node) error {
			s, err := scalar(n)
			if err != nil {
				return err
			}
			r := maps.Clone(k.Recipe)
			if r == nil {
				r = map[string]string{}
			}
			if strings.EqualFold(s, "auto") {
				delete(r, key)
				k.Recipe = r
				return nil
			}
			base, _ := vision.PresetRecipe(vision.DefaultPreset, 0, 0)
			if _, err := base.Set(key, s); err != nil {
				return err
			}
			r[key] = s
			k.Recipe = r
			return nil
		},
		format: func(k *Knobs) string {
			if v, ok := k.Recipe[key]; ok {
				return v
			}
			return "auto"
		},
		copy: func(dst, src *Knobs) {
			r := maps.Clone(dst.Recipe)
			if r == nil {
				r = map[string]string{}
			}
			if v, ok := src.Recipe[key]; ok {
				r[key] = v
			} else {
				delete(r, key)
			}
			dst.Recipe = r
		},
	}
}

// recipeKnobs are the preset and each recipe field, in vision's order.
func recipeKnobs() []knobDef {
	out := []knobDef{recipeKnob(vision.PresetKey)}
	for _, key := range vision.RecipeKeys() {
		out = append(out, recipeKnob(key))
	}
	return out
}

func init() { knobDefs = append(knobDefs, recipeKnobs()...) }

// parseConcurrency reads N, auto, MIN-MAX or a [min, max] sequence.
func parseConcurrency(n *node) (lo, hi int, err error) {
	const fix = "concurrency must be at least 1 (e.g. 1), a [min, max] pair with 1 <= min <= max, or auto"
	num := func(s string) (int, error) {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number: %s", s, fix)
		}
		if v < 1 {
			return 0, fmt.Errorf("%d is out of range: %s", v, fix)
		}
		return v, nil
	}
	switch n.kind {
	case sequenceNode:
		if len(n.items) != 2 || n.items[0].kind != scalarNode || n.items[1].kind != scalarNode {
			return 0, 0, fmt.Errorf("want [min, max], got a list of %d", len(n.items))
		}
		if lo, err = num(n.items[0].value); err != nil {
			return 0, 0, err
		}
		if hi, err = num(n.items[1].value); err != nil {
			return 0, 0, err
		}
	case scalarNode:
		s := strings.TrimSpace(n.value)
		if strings.EqualFold(s, "auto") {
			return 0, 0, nil
		}
		if a, b, ok := strings.Cut(s, "-"); ok && a != "" {
			if lo, err = num(a); err != nil {
				return 0, 0, err
			}
			if hi, err = num(b); err != nil {
				return 0, 0, err
			}
		} else {
			if lo, err = num(s); err != nil {
				return 0, 0, err
			}
			hi = lo
		}
	default:
		return 0, 0, fmt.Errorf("want N, [min, max] or auto, not a %s", kindName(n.kind))
	}
	if lo > hi {
		return 0, 0, fmt.Errorf("[%d, %d] has min > max: %s", lo, hi, fix)
	}
	return lo, hi, nil
}

// ParseBytes reads sizes such as 2GiB, 512MiB, 1.5GB or 1000.
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	num, mult := s, 1.0
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a positive size; use e.g. 2GiB or 512MiB", s)
	}
	return int64(v * mult), nil
}

// FormatBytes renders n exactly when it is a whole number of KiB, MiB or
// GiB, so a budget prints as it was written.
func FormatBytes(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return fmt.Sprintf("%d%s", n/u.m, u.s)
		}
	}
	return strconv.FormatInt(n, 10)
}
