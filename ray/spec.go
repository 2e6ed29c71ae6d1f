package ray

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// JobSpec describes one batch-inference job to export as a Ray Data script.
// The zero value is not valid; Validate lists every problem at once.
type JobSpec struct {
	// Name is the scenario's short name ("optimized", "slow"); Title is its
	// one-line description. Both appear in the script header and README.
	Name  string
	Title string

	// Data is the image folder: s3://bucket/prefix, gs://…, or a path that
	// exists on every node of the cluster.
	Data string
	// Reader is the Ray Data reader for Data: "images" (read_images, the
	// default), "parquet" (read_parquet, image bytes in a table) or
	// "webdataset" (read_webdataset, tar shards); ImageColumn names a
	// Parquet table's plain binary column ("" = the Hugging Face layout).
	Reader, ImageColumn string

	// Model is the model's display name (a zoo name such as "resnet18").
	// ModelPath is where the ONNX file is: a local .onnx file is copied into
	// the job folder and loaded from there; anything else (an s3:// or gs://
	// URI, or an absolute path on the cluster's nodes) is referenced as is.
	Model     string
	ModelPath string
	// ModelURI, when set, is where main.py loads the model from instead:
	// remote storage (s3://…, gs://…) or an absolute path on every node.
	// Nothing is copied into the job folder then. It is how a model larger
	// than Ray's working_dir limit (MaxPackageSize) reaches the cluster;
	// ModelPath still names a local copy for reading the input size.
	ModelURI string

	// InputH and InputW are the model's input size, which is also the centre
	// crop. Recipe is the preprocessing; its zero value means ImageNetRecipe().
	InputH, InputW int
	Recipe         Recipe

	// BatchSize is the rows per map_batches call for both stages (required).
	BatchSize int
	// Concurrency sizes the inference worker pool (required).
	Concurrency Concurrency
	// NumGPUs is the GPUs per inference worker; fractions share a GPU, 0 runs
	// inference on CPU. NumCPUs is the CPUs per inference worker, 0 = Ray's
	// default.
	NumGPUs float64
	NumCPUs float64
	// OverrideNumBlocks is read_images' override_num_blocks; 0 = unset (Ray
	// Data picks).
	OverrideNumBlocks int
	// PreserveOrder keeps output rows in input order
	// (DataContext.execution_options.preserve_order).
	PreserveOrder bool

	// CUDAOptions are ONNX Runtime's CUDA provider options (the tuned
	// cudnn_conv_algo_search, arena_extend_strategy, …), passed to
	// CUDAExecutionProvider when NumGPUs > 0. device_id is left to Ray,
	// which gives each worker its GPUs through CUDA_VISIBLE_DEVICES.
	CUDAOptions map[string]string
	// MaxTasksInFlightPerActor is ActorPoolStrategy's
	// max_tasks_in_flight_per_actor (batches queued on each worker); 0 =
	// Ray's default. Emitted with the compute= idiom (Ray ≥ 2.51).
	MaxTasksInFlightPerActor int

	// Output is the output folder (s3://… or a cluster path). Format is
	// FormatParquet (default) or FormatJSON.
	Output string
	Format Format
	// Checkpoint, when set, is Ray Data's CheckpointConfig checkpoint_path
	// (s3://… or a path every node sees): the job commits the ids (image
	// paths) of each written block there and a rerun skips them, as
	// workbench run --checkpoint does locally. Needs Ray 2.51 or later.
	Checkpoint string

	// Mistakes are the deliberate anti-patterns this scenario carries; each
	// is reproduced in the script, not only mentioned. IDs must be in
	// KnownMistakes().
	Mistakes []Mistake

	// Provenance says where each tuned value came from, keyed by the knob's
	// Ray name: "batch_size", "concurrency", "num_gpus", "num_cpus",
	// "override_num_blocks", "preserve_order", "model", "data" (other keys
	// are listed in the header only). Example value: "from sweep
	// sweep-2026-11-25.json, best of 12 cells, 1840 img/s ± 2%".
	Provenance map[string]string

	// RayVersion is the cluster's Ray version ("2.51", "2.46.0"); "" means
	// the current API (2.51 and later). It picks the map_batches sizing
	// idiom: Ray 2.9–2.50 take concurrency=, while 2.51 deprecated that in
	// favour of compute=ray.data.ActorPoolStrategy(…). Older than 2.10 is
	// refused (read_images has no override_num_blocks there).
	RayVersion string

	// TunedFrom names the local results the tuned values come from (the
	// --from file and its best cell), carried to the cluster record.
	TunedFrom string
	// TunedFromFile is the --from file's absolute path and TunedFromLabel
	// its best cell's label, by which a watch finds the local run again to
	// compare the cluster's with.
	TunedFromFile, TunedFromLabel string
}

// DatasetName is the name main.py gives its dataset (Dataset.set_name), by
// which a watch finds it among a job's datasets: "workbench_" and the
// scenario name, with anything but letters, digits and '-' made '-'.
func (s JobSpec) DatasetName() string {
	return "workbench_" + strings.Map(func(r rune) rune {
		if r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '-'
	}, s.Name)
}

// Format is the output file format.
type Format string

// Output formats.
const (
	FormatParquet Format = "parquet"
	FormatJSON    Format = "json"
)

// Recipe is the preprocessing shared with the Go engine: resize the shorter
// side to ResizeShorter (bilinear, antialiased), centre-crop to the model's
// input size, scale to [0,1], normalise with Mean and Std, lay out as CHW
// float32.
type Recipe struct {
	ResizeShorter int
	Mean, Std     [3]float64
}

// ImageNetRecipe is the standard torchvision ImageNet evaluation recipe:
// resize 256, crop 224 (the crop comes from InputH/W), ImageNet mean and std.
func ImageNetRecipe() Recipe {
	return Recipe{
		ResizeShorter: 256,
		Mean:          [3]float64{0.485, 0.456, 0.406},
		Std:           [3]float64{0.229, 0.224, 0.225},
	}
}

// Concurrency sizes a worker pool: a fixed size when Min == Max, else an
// autoscaling range. The zero value is unset.
type Concurrency struct {
	Min, Max int
}

// Fixed returns a pool of exactly n workers.
func Fixed(n int) Concurrency { return Concurrency{Min: n, Max: n} }

// Autoscale returns a pool that scales between min and max workers.
func Autoscale(min, max int) Concurrency { return Concurrency{Min: min, Max: max} }

// IsFixed reports whether the pool has one size.
func (c Concurrency) IsFixed() bool { return c.Min == c.Max }

// String renders the value the way Ray's concurrency= argument spells it:
// "4" or "(2, 8)".
func (c Concurrency) String() string {
	if c.IsFixed() {
		return strconv.Itoa(c.Max)
	}
	return fmt.Sprintf("(%d, %d)", c.Min, c.Max)
}

// Mistake is one deliberate anti-pattern active in a scenario. Comment is a
// one-line description for the script; empty uses the built-in one.
type Mistake struct {
	ID      string
	Comment string
}

// mistakeInfo is the built-in description of a mistake and its fix.
type mistakeInfo struct{ what, fix string }

// mistakeCatalog is every mistake the template knows how to reproduce. A
// scenario naming another ID is refused rather than exported unfaithfully.
var mistakeCatalog = map[string]mistakeInfo{
	"model-per-batch":     {"the ONNX session is created inside the batch function, so the model loads on every batch", "load it once in an actor's __init__"},
	"per-image-forward":   {"the model runs once per image (a loop of batch-1 calls) instead of once per batch", "stack the batch and call session.run once"},
	"tiny-batch":          {"the batch size is tiny, so per-call overhead dominates and the accelerator idles", "use the batch size a sweep picked"},
	"tasks-not-actors":    {"inference runs as stateless Ray tasks, so every task loads the model again", "use a callable class: Ray Data runs it on actors that load the model once"},
	"transform-per-batch": {"the preprocessing transform (its normalisation table) is rebuilt on every batch", "build it once and reuse it"},
	"hot-path-logging":    {"a log line per image in the inference hot path, each one forwarded to the driver", "log per batch at most; read Dataset.stats() for throughput"},
	"row-objects":         {"preprocessing runs row by row with Dataset.map, one Python dict per image", "use map_batches with batch_format=\"numpy\""},
	"json-output":         {"results are written as JSON text", "write Parquet with write_parquet"},
	"take-all":            {"take_all() pulls every result row to the driver before writing", "write straight from the Dataset"},
	"tiny-blocks":         {"override_num_blocks makes many tiny blocks, so per-block overhead dominates", "leave override_num_blocks unset or use a swept value"},
	"one-block":           {"override_num_blocks=1 reads the whole dataset as one block, so one task does all the reading", "leave override_num_blocks unset so Ray Data picks the block count"},
	"preprocess-in-actor": {"resize/crop/normalise runs inside the inference stage, so the accelerator waits on CPU work", "preprocess in a separate CPU map_batches stage"},
	"no-backpressure":     {"materialize() before inference breaks streaming: the whole dataset sits in the object store (and spills) before inference starts", "let the stages stream; Ray Data's backpressure bounds memory"},
	"oversubscribed":      {"the inference pool asks for more workers than the cluster can place, so they contend or wait for resources", "size the pool to the GPUs (or CPUs) the cluster has"},
	"cpu-only":            {"inference runs on CPU (num_gpus=0) although GPUs are available", "set num_gpus and install onnxruntime-gpu"},
}

// KnownMistakes returns the mistake IDs Export can reproduce, sorted.
func KnownMistakes() []string {
	ids := make([]string, 0, len(mistakeCatalog))
	for id := range mistakeCatalog {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// minRay is the oldest Ray whose read_images takes override_num_blocks
// (Ray 2.10, ray-project/ray#43113); computeSince is the release that
// deprecated map_batches(concurrency=) for compute= (Ray 2.51,
// ray-project/ray#57035).
var (
	minRay       = rayVersion{2, 10}
	computeSince = rayVersion{2, 51}
)

// rayVersion is a Ray major.minor version.
type rayVersion struct{ major, minor int }

func (v rayVersion) less(o rayVersion) bool {
	return v.major < o.major || v.major == o.major && v.minor < o.minor
}

var versionRE = regexp.MustCompile(`^(\d+)\.(\d+)(?:\.\d+)?$`)

// parseRayVersion parses "2.51" or "2.51.0"; "" means computeSince.
func parseRayVersion(s string) (rayVersion, error) {
	if s == "" {
		return computeSince, nil
	}
	m := versionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return rayVersion{}, fmt.Errorf("RayVersion %q: want MAJOR.MINOR[.PATCH]", s)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return rayVersion{major, minor}, nil
}

// Validate returns every problem with s; nil means Export can render it.
func (s JobSpec) Validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Name == "" {
		add("Name is empty")
	}
	if s.Data == "" {
		add("Data is empty: give an s3:// URI or a path on the cluster")
	}
	if s.ModelPath == "" {
		add("ModelPath is empty: give a local .onnx file (copied into the job) or a cluster path/URI")
	} else if !isURI(s.ModelPath) && !strings.HasSuffix(strings.ToLower(s.ModelPath), ".onnx") {
		add("ModelPath %q is not an .onnx file", s.ModelPath)
	}
	if u := s.ModelURI; u != "" && !isURI(u) && !filepath.IsAbs(u) {
		add("ModelURI %q: want remote storage (s3://…, gs://…) or an absolute path on the cluster's nodes", u)
	}
	if s.Output == "" {
		add("Output is empty")
	}
	if s.InputH <= 0 || s.InputW <= 0 {
		add("InputH×InputW = %d×%d: both must be positive", s.InputH, s.InputW)
	}
	r := s.recipe()
	if r.ResizeShorter < max(s.InputH, s.InputW) {
		add("Recipe.ResizeShorter = %d is smaller than the %d×%d crop", r.ResizeShorter, s.InputH, s.InputW)
	}
	for i, sd := range r.Std {
		if sd <= 0 {
			add("Recipe.Std[%d] = %g: must be positive", i, sd)
		}
	}
	if s.BatchSize <= 0 {
		add("BatchSize = %d: must be positive (Ray requires batch_size when num_gpus > 0)", s.BatchSize)
	}
	if c := s.Concurrency; c.Min <= 0 || c.Max < c.Min {
		add("Concurrency = %v: want 1 <= Min <= Max", c)
	}
	if s.NumGPUs < 0 || math.IsNaN(s.NumGPUs) || math.IsInf(s.NumGPUs, 0) {
		add("NumGPUs = %g: must be >= 0", s.NumGPUs)
	}
	if s.NumGPUs > 1 && s.NumGPUs != math.Trunc(s.NumGPUs) {
		add("NumGPUs = %g: Ray allows fractions only below 1", s.NumGPUs)
	}
	if s.NumCPUs < 0 || math.IsNaN(s.NumCPUs) || math.IsInf(s.NumCPUs, 0) {
		add("NumCPUs = %g: must be >= 0", s.NumCPUs)
	}
	switch s.Reader {
	case "", "images", "parquet", "webdataset":
	default:
		add("Reader = %q: want images, parquet or webdataset", s.Reader)
	}
	if s.OverrideNumBlocks < 0 {
		add("OverrideNumBlocks = %d: 0 means unset, else positive", s.OverrideNumBlocks)
	}
	switch s.Format {
	case "", FormatParquet, FormatJSON:
	default:
		add("Format %q: want parquet or json", s.Format)
	}
	if v, err := parseRayVersion(s.RayVersion); err != nil {
		errs = append(errs, err)
	} else if v.less(minRay) {
		add("RayVersion %s: need Ray 2.10 or later (read_images override_num_blocks)", s.RayVersion)
	}
	if s.Checkpoint != "" {
		if v, err := parseRayVersion(s.RayVersion); err == nil && v.less(computeSince) {
			add("Checkpoint: Ray Data's CheckpointConfig needs Ray %d.%d or later, not %s", computeSince.major, computeSince.minor, s.RayVersion)
		}
		if !isURI(s.Checkpoint) && !filepath.IsAbs(s.Checkpoint) {
			add("Checkpoint %q: want object storage (s3://…, gs://…) or an absolute path every node sees", s.Checkpoint)
		}
	}
	seen := map[string]bool{}
	for _, m := range s.Mistakes {
		if _, ok := mistakeCatalog[m.ID]; !ok {
			add("mistake %q is not one Export can reproduce (known: %s)", m.ID, strings.Join(KnownMistakes(), ", "))
		}
		if seen[m.ID] {
			add("mistake %q listed twice", m.ID)
		}
		seen[m.ID] = true
		if strings.ContainsAny(m.Comment, "\r\n") {
			add("mistake %q: comment must be one line", m.ID)
		}
	}
	// Value mistakes are reproduced by the spec's own numbers, so those
	// numbers must actually show the mistake.
	if seen["one-block"] && s.OverrideNumBlocks != 1 {
		add("mistake one-block needs OverrideNumBlocks = 1, have %d", s.OverrideNumBlocks)
	}
	if seen["tiny-blocks"] && s.OverrideNumBlocks == 0 {
		add("mistake tiny-blocks needs OverrideNumBlocks set")
	}
	if seen["cpu-only"] && s.NumGPUs != 0 {
		add("mistake cpu-only needs NumGPUs = 0, have %g", s.NumGPUs)
	}
	if seen["row-objects"] && seen["preprocess-in-actor"] {
		add("mistakes row-objects and preprocess-in-actor exclude each other: row-objects is a separate Dataset.map preprocessing stage, which preprocess-in-actor removes")
	}
	if seen["json-output"] && s.Format == FormatParquet {
		add("mistake json-output contradicts Format parquet")
	}
	return errs
}

// recipe returns s.Recipe, or ImageNetRecipe when it is unset.
func (s JobSpec) recipe() Recipe {
	if s.Recipe == (Recipe{}) {
		return ImageNetRecipe()
	}
	return s.Recipe
}

// has reports whether mistake id is active.
func (s JobSpec) has(id string) bool {
	for _, m := range s.Mistakes {
		if m.ID == id {
			return true
		}
	}
	return false
}

// format returns the effective output format.
func (s JobSpec) format() Format {
	if s.Format == FormatJSON || s.has("json-output") {
		return FormatJSON
	}
	return FormatParquet
}

// isURI reports whether p names remote storage rather than a file path.
func isURI(p string) bool { return strings.Contains(p, "://") }

// localModel reports whether ModelPath is a local file to copy into the job
// folder: a path that is not a URI and exists here. An absolute path that does
// not exist here is taken to be a path on the cluster's nodes.
func (s JobSpec) localModel(stat func(string) bool) bool {
	return s.ModelURI == "" && !isURI(s.ModelPath) && stat(s.ModelPath)
}

// modelRef is the path main.py loads the model from.
func (s JobSpec) modelRef(local bool) string {
	switch {
	case s.ModelURI != "":
		return s.ModelURI
	case local:
		return filepath.Base(s.ModelPath)
	}
	return s.ModelPath
}

// joinErrs folds Validate's list into one error.
func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("ray: invalid job spec: %w", errors.Join(errs...))
}

// ReaderName is Reader with its default: "images" when unset.
func (s JobSpec) ReaderName() string {
	if s.Reader == "" {
		return "images"
	}
	return s.Reader
}

// ReaderFor picks the Ray Data reader for data from its name: a .parquet
// or .pq file (or any data with an image column named) reads with
// read_parquet, a .tar shard or a glob of them with read_webdataset, and
// everything else with read_images. A local folder's contents can say more
// (the caller's datasource detection wins when it knows).
func ReaderFor(data, imageColumn string) string {
	lower := strings.ToLower(strings.TrimSuffix(data, "/"))
	switch {
	case imageColumn != "" || strings.HasSuffix(lower, ".parquet") || strings.HasSuffix(lower, ".pq"):
		return "parquet"
	case strings.HasSuffix(lower, ".tar"):
		return "webdataset"
	}
	return "images"
}
