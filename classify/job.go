package classify

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"workbench/model"
	"workbench/pipeline"
	"workbench/vision"
)

// ImageColumn is the preprocessed tensor column: FixedSizeList<float32> of
// C×H×W values per row, its shape in the field metadata.
const ImageColumn = "image"

// OutputSchema is the schema `workbench run` writes.
var OutputSchema = arrow.NewSchema([]arrow.Field{
	{Name: pipeline.PathColumn, Type: arrow.BinaryTypes.String},
	{Name: "predicted_class", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "confidence", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "top5", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
	{Name: pipeline.ErrorColumn, Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// JobConfig is the image-classification job: ReadImages → Preprocess →
// Inference → Write. Every knob maps onto an engine option or a UDF
// behaviour; the scenarios package sets them, and nothing here knows a
// scenario by name.
type JobConfig struct {
	Data  string   // folder of images, listed by ListImages
	Files []string // the listing, when the caller has it: Data is then not walked again
	// Listing, when set and Files is nil, is a listing that streams
	// (ImageSource): the read pulls paths as it needs them, so memory does
	// not grow with the folder's size, and the total is known at the end.
	Listing pipeline.PathSource
	// Source, when set, is where rows come from instead of Data, Files or
	// Listing: an object store prefix, Parquet tables or tar shards
	// (package datasource). Its rows may carry a pipeline.LabelColumn,
	// which the output keeps and accuracy is scored against.
	Source pipeline.Datasource
	Images int // use the first N images; 0 = all
	// RowsPerBlock is a streamed read task's rows when Blocks cannot split
	// a known count (pipeline.ReadOptions.RowsPerBlock); 0 is the engine's
	// default.
	RowsPerBlock int
	Model        *model.Model
	// Session holds ORT's options: intra/inter-op threads, graph
	// optimisation, device.
	Session model.SessionOptions

	BatchSize int
	// Blocks is override_num_blocks for the read; 0 uses Ray's default.
	Blocks int
	// Concurrency sizes the inference stage's pool.
	Concurrency pipeline.Concurrency
	// PreprocessConcurrency caps preprocessing tasks; 0 leaves it to CPUs.
	PreprocessConcurrency int
	// NumGPUs per inference actor (fractional allowed).
	NumGPUs float64
	// PinDevice keeps every actor on Session.Device's GPU (the user asked
	// for cuda:N); otherwise each actor takes the GPU the engine assigns.
	PinDevice bool
	// InferenceTasks runs inference in a task pool (constructor per task)
	// instead of an actor pool: the tasks-not-actors mistake.
	InferenceTasks bool
	// ModelPerBatch loads the model inside the batch function, every call.
	ModelPerBatch bool
	// PerImageForward runs a loop of batch-1 forward passes per batch.
	PerImageForward bool
	// TransformPerBatch rebuilds preprocessing state (resize kernels,
	// normalisation tables, buffers) for every batch.
	TransformPerBatch bool
	// PreprocessInActor decodes and resizes inside the inference actor, so
	// the model waits on the CPU.
	PreprocessInActor bool
	// RowObjects returns per-row objects from the inference UDF; Strict then
	// rejects them as Ray ≥ 2.5 does.
	RowObjects, Strict bool
	// HotPathLog, when set, receives a log line every LogEvery images.
	HotPathLog io.Writer
	LogEvery   int

	MaxPixels int64
	Decoder   vision.Decoder
	// Recipe is the preprocessing recipe; the zero value takes the model's
	// (Model.Recipe, else the default for its input size).
	Recipe vision.Recipe
	// Labels names the classes; with it the output gains a
	// predicted_label column.
	Labels model.Labels
	// TensorPool assembles batch tensors in a TensorPool (reused, off the
	// Go heap, pinned when Session runs on CUDA) rather than in a fresh
	// slice per batch. The job closes the pool when it finishes writing.
	TensorPool bool
	// FaultTolerance is how the inference actor pool survives actors that
	// fail: replacements, batch retries, fault injection. The zero value
	// replaces none and retries nothing.
	FaultTolerance pipeline.FaultTolerance
	// InFlightPerActor is Ray's max_tasks_in_flight_per_actor for the
	// inference pool: how many batches wait, assembled, on each actor while
	// it runs one. 0 keeps the engine's default (2).
	InFlightPerActor int

	// RowGroupBytes bounds a Parquet row group, flushed when full
	// (pipeline.WriteOptions.RowGroupBytes); 0 is the engine's default.
	RowGroupBytes int64

	Exec pipeline.ExecutionOptions

	// Checkpoint, when set, makes the run resumable: the listing skips the
	// paths it has finished (the path column is the id), and the write
	// commits every block to it and starts with its rows.
	Checkpoint *pipeline.Checkpoint
}

// Counters are live counts a job exposes beyond operator metrics.
type Counters struct {
	// ModelLoads counts sessions created, wherever that happens: the
	// record's model_loads. It rises only once a load has finished.
	ModelLoads atomic.Int64
	// ModelLoadsStarted counts loads begun, published as the Stat
	// StatModelLoadsStarted when it rises, so a live view sees a slow
	// pipeline's loads climb while they happen; at the end it exceeds
	// ModelLoads only by loads that failed.
	ModelLoadsStarted atomic.Int64
	ForwardPasses     atomic.Int64 // Session.Run calls
	ImagesInferred    atomic.Int64
	// Preprocessors counts preprocessing states built (resize kernels,
	// tables, buffers): a few per run when reused, one per batch when
	// TransformPerBatch rebuilds them.
	Preprocessors atomic.Int64
	logged        atomic.Int64 // images seen by hot-path logging
	// labelled, top1 and top5 score predictions against the source's
	// labels (Accuracy).
	labelled, top1, top5 atomic.Int64

	mu      sync.Mutex
	start   time.Time
	batches []BatchEvent // coalesced beyond maxBatchLog
	count   int64
	first   time.Duration
	lat     []time.Duration // uniform reservoir of maxBatchLog latencies
	rng     *rand.Rand
}

// maxBatchLog bounds the batch log and the latency reservoir, so a job's
// bookkeeping costs the same whatever the dataset's size (a few hundred
// KiB), where one entry per batch grew with it.
const maxBatchLog = 4096

// BatchEvent is one finished inference batch: when it finished (since the
// job started), its rows, and how long the forward pass(es) took. Once the
// log is full, an event stands for consecutive batches (see Batches).
type BatchEvent struct {
	At      time.Duration
	Rows    int
	Latency time.Duration
}

func (c *Counters) begin() {
	c.mu.Lock()
	c.start = time.Now()
	c.batches, c.lat, c.count, c.first = c.batches[:0], c.lat[:0], 0, 0
	c.rng = rand.New(rand.NewPCG(1, 2))
	c.mu.Unlock()
}

func (c *Counters) batchDone(rows int, latency time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := time.Since(c.start)
	if c.count == 0 {
		c.first = at
	}
	c.count++
	if len(c.lat) < maxBatchLog {
		c.lat = append(c.lat, latency)
	} else if i := c.rng.Int64N(c.count); i < maxBatchLog {
		c.lat[i] = latency // Algorithm R: every batch equally likely kept
	}
	c.batches = append(c.batches, BatchEvent{At: at, Rows: rows, Latency: latency})
	if len(c.batches) == maxBatchLog {
		// Merge neighbours: the rows-over-time curve keeps its shape at
		// half the resolution.
		for i := range maxBatchLog / 2 {
			a, b := c.batches[2*i], c.batches[2*i+1]
			c.batches[i] = BatchEvent{At: b.At, Rows: a.Rows + b.Rows, Latency: max(a.Latency, b.Latency)}
		}
		c.batches = c.batches[:maxBatchLog/2]
	}
}

// Batches returns a copy of the inference batch log: one event per batch
// for up to maxBatchLog batches; beyond that, neighbouring events are
// merged (rows summed, the later time, the larger latency) so the log
// stays bounded while the rows-over-time curve keeps its shape.
func (c *Counters) Batches() []BatchEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.batches)
}

// BatchStats returns the number of inference batches, when the first
// finished (time to first result), and a uniform sample of at most
// maxBatchLog of their latencies, for percentiles.
func (c *Counters) BatchStats() (count int64, first time.Duration, latencies []time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count, c.first, slices.Clone(c.lat)
}

// Job is a planned classification run.
type Job struct {
	Config   JobConfig
	Dataset  *pipeline.Dataset
	Counters *Counters
	recipe   vision.Recipe
	tensors  *TensorPool // nil unless Config.TensorPool
}

// NewJob plans the job. It validates the configuration but runs nothing.
func NewJob(c JobConfig) (*Job, error) {
	if c.Model == nil {
		return nil, fmt.Errorf("no model: pass --model NAME|FILE.onnx")
	}
	if c.BatchSize <= 0 {
		return nil, fmt.Errorf("batch size %d must be at least 1 (--batch)", c.BatchSize)
	}
	if c.MaxPixels == 0 {
		c.MaxPixels = vision.DefaultMaxPixels
	}
	if c.LogEvery == 0 {
		c.LogEvery = 10
	}
	if !c.Concurrency.IsSet() {
		c.Concurrency = pipeline.Fixed(1)
	}
	j := &Job{Config: c, Counters: &Counters{}, recipe: c.Recipe}
	if j.recipe.CropH == 0 {
		j.recipe = c.Model.Recipe
	}
	if j.recipe.CropH == 0 {
		j.recipe = vision.RecipeFor(c.Model.InputH, c.Model.InputW)
	}
	if c.TensorPool {
		j.tensors = jobTensorPool(c.Session.Device.Kind)
	}
	ro := pipeline.ReadOptions{OverrideNumBlocks: c.Blocks, Limit: c.Images, RowsPerBlock: c.RowsPerBlock, MaxFileBytes: MaxFileBytes(c.MaxPixels)}
	var ds *pipeline.Dataset
	switch {
	case c.Source != nil:
		// A datasource (object store, Parquet, shards): its units are the
		// read tasks' input; checkpoints do not reach it yet. Images and
		// RowsPerBlock size the read tasks of one that streams, as for a
		// folder that streams; one holding its units applies its own limit.
		ds = pipeline.ReadDatasource(c.Source, pipeline.ReadOptions{OverrideNumBlocks: c.Blocks, Limit: c.Images, RowsPerBlock: c.RowsPerBlock})
	case c.Files == nil && c.Listing != nil:
		src := c.Listing
		if c.Checkpoint != nil {
			// The first N of the listing, then those not finished.
			src = &unfinished{src: src, ck: c.Checkpoint, limit: ro.Limit}
			ro.Limit = 0
		}
		ds = ReadImagesFrom(src, ro)
	default:
		files := c.Files
		if files == nil {
			var err error
			if files, err = ListImages(c.Data, c.Images); err != nil {
				return nil, err
			}
		}
		if c.Images > 0 && c.Images < len(files) {
			files = files[:c.Images]
		}
		if c.Checkpoint != nil {
			files = slices.DeleteFunc(slices.Clone(files), c.Checkpoint.Done)
		}
		ds = ReadImages(files, ro)
	}
	if !c.PreprocessInActor {
		ds = ds.MapBatches(j.preprocessStage())
	}
	ds = ds.MapBatches(j.inferenceStage())
	j.Dataset = ds.WithExecutionOptions(c.Exec)
	return j, nil
}

// jobTensorPool makes a job's tensor pool, pinning its buffers when the
// model runs on CUDA. Without a CUDA runtime to pin with, the pool records
// why (its stats reach the run's summary) and the run goes on pageable.
func jobTensorPool(device string) *TensorPool {
	if device != model.DeviceCUDA {
		return NewTensorPool(0, nil)
	}
	pin, err := model.SharedCUDAPinner()
	if err != nil {
		p := NewTensorPool(0, nil)
		p.stats.PinError = err.Error()
		return p
	}
	return NewTensorPool(0, pin)
}

// Write executes the job into a Parquet (or, with json, JSON lines) file.
func (j *Job) Write(ctx context.Context, out, format string, takeAll bool) error {
	j.Counters.begin()
	j.publish(StatBatchSize, int64(j.Config.BatchSize))
	if j.tensors != nil {
		defer j.tensors.Close()
	}
	o := pipeline.WriteOptions{Schema: j.Schema(), Materialize: takeAll, Checkpoint: j.Config.Checkpoint, RowGroupBytes: j.Config.RowGroupBytes}
	if n := j.Config.Model.Notice(); n != "" {
		o.Metadata = map[string]string{"workbench.notice": n, "workbench.model": j.Config.Model.Name}
	}
	switch format {
	case "json":
		return j.Dataset.WriteJSON(ctx, out, o)
	case "csv":
		return j.Dataset.WriteCSV(ctx, out, o)
	}
	return j.Dataset.WriteParquet(ctx, out, o)
}

// Stats the job publishes on its event bus (pipeline.Stat).
const (
	// StatModelLoadsStarted is Counters.ModelLoadsStarted, published as
	// each load begins.
	StatModelLoadsStarted = "model_loads_started"
	// StatBatchSize is the inference batch size, published once when the
	// job starts writing, so a view can count batches planned.
	StatBatchSize = "batch_size"
)

// publish puts a Stat on the job's bus, when it has one.
func (j *Job) publish(name string, v int64) {
	if b := j.Config.Exec.Bus; b != nil {
		b.Publish(pipeline.Event{Payload: pipeline.Stat{Name: name, Value: v}})
	}
}

// unfinished is a streamed listing's first limit paths (0 = all) less
// those a checkpoint has finished.
type unfinished struct {
	src         pipeline.PathSource
	ck          *pipeline.Checkpoint
	limit, seen int
}

func (u *unfinished) Next() (string, error) {
	for u.limit <= 0 || u.seen < u.limit {
		p, err := u.src.Next()
		if err != nil {
			return "", err
		}
		u.seen++
		if !u.ck.Done(p) {
			return p, nil
		}
	}
	return "", io.EOF
}

// LabelColumn holds each prediction's class name when the job has Labels.
const LabelColumn = "predicted_label"

// Schema is the schema the job writes: OutputSchema, plus predicted_label
// when the job names its classes, and the source's label (int32, null
// where a row has none) when the source carries labels.
func (j *Job) Schema() *arrow.Schema {
	fields := slices.Clone(OutputSchema.Fields())
	if j.Config.Labels != nil {
		fields = slices.Insert(fields, 2, arrow.Field{Name: LabelColumn, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	if j.labelled() {
		// The source's own label (ground truth), for accuracy.
		fields = append(fields, arrow.Field{Name: pipeline.LabelColumn, Type: arrow.PrimitiveTypes.Int32, Nullable: true})
	}
	return arrow.NewSchema(fields, nil)
}

// Recipe is the preprocessing recipe the job applies.
func (j *Job) Recipe() vision.Recipe { return j.recipe }

// preprocessPool hands each task a Preprocessor whose caches survive across
// tasks: the right way to keep transform state in a stateless task pool.
type preprocessPool struct {
	pool sync.Pool
}

func (j *Job) newPreprocessor() *vision.Preprocessor {
	j.Counters.Preprocessors.Add(1)
	p := vision.NewPreprocessor(j.recipe, j.Config.MaxPixels)
	if j.Config.Decoder != nil {
		p.SetDecoder(j.Config.Decoder)
	}
	return p
}

func (j *Job) preprocessStage() pipeline.MapOptions {
	pp := &preprocessPool{}
	pp.pool.New = func() any { return j.newPreprocessor() }
	fn := pipeline.UDFFunc(func(ctx context.Context, b pipeline.Block) (any, error) {
		var p *vision.Preprocessor
		if j.Config.TransformPerBatch {
			p = j.newPreprocessor()
		} else {
			p = pp.pool.Get().(*vision.Preprocessor)
			defer pp.pool.Put(p)
		}
		return j.preprocess(p, b)
	})
	return pipeline.MapOptions{
		Name: "Preprocess", Fn: fn, BatchSize: j.Config.BatchSize,
		Concurrency: pipeline.Fixed(j.Config.PreprocessConcurrency), NumCPUs: 1,
	}
}

// preprocess decodes each row's bytes into its slot of one tensor buffer.
// A row that fails carries its error and a null tensor.
func (j *Job) preprocess(p *vision.Preprocessor, b pipeline.Block) (any, error) {
	data := pipeline.Column(b, pipeline.DataColumn).(*array.Binary)
	n := data.Len()
	elems := j.recipe.OutputLen()
	var values []float32
	var buf *memory.Buffer
	if j.tensors != nil {
		var err error
		if values, buf, err = j.tensors.Floats(n * elems); err != nil {
			return nil, err
		}
	} else {
		values = make([]float32, n*elems)
		buf = memory.NewBufferBytes(arrow.Float32Traits.CastToBytes(values))
	}
	var valid []bool // nil while every row succeeds
	errs := array.NewStringBuilder(memory.DefaultAllocator)
	defer errs.Release()
	errs.Reserve(n)
	for i := range n {
		err := p.Process(data.Value(i), values[i*elems:(i+1)*elems])
		if err == nil {
			errs.AppendNull()
			continue
		}
		if valid == nil {
			valid = make([]bool, n)
			for k := range i {
				valid[k] = true
			}
		}
		errs.Append(err.Error())
	}
	if valid != nil {
		for i := range n {
			valid[i] = errs.IsNull(i)
		}
	}
	img := pipeline.NewTensorArrayFromBuffer(buf, elems, valid)
	defer img.Release()
	errArr := errs.NewArray()
	defer errArr.Release()
	shape := j.recipe.Shape()
	paths := pipeline.Column(b, pipeline.PathColumn)
	fields := []arrow.Field{
		{Name: pipeline.PathColumn, Type: paths.DataType()}, pipeline.TensorField(ImageColumn, shape[:]...),
		{Name: pipeline.ErrorColumn, Type: arrow.BinaryTypes.String, Nullable: true},
	}
	cols := []arrow.Array{paths, img, errArr}
	if lab := pipeline.Column(b, pipeline.LabelColumn); lab != nil {
		fields = append(fields, arrow.Field{Name: pipeline.LabelColumn, Type: lab.DataType(), Nullable: true})
		cols = append(cols, lab)
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(n)), nil
}

func (j *Job) inferenceStage() pipeline.MapOptions {
	o := pipeline.MapOptions{
		Name: "Inference", BatchSize: j.Config.BatchSize, Concurrency: j.Config.Concurrency,
		NumCPUs: 1, NumGPUs: j.Config.NumGPUs, Strict: j.Config.Strict,
	}
	if j.Config.NumGPUs > 0 {
		o.NumCPUs = 0
	}
	if j.Config.ModelPerBatch {
		// The mistake: a plain function that loads the model on every call.
		o.Fn = pipeline.UDFFunc(func(ctx context.Context, b pipeline.Block) (any, error) {
			u, err := j.newInferer(ctx)
			if err != nil {
				return nil, err
			}
			defer u.Close()
			return u.Call(ctx, b)
		})
		o.Compute = pipeline.ActorPool{MinSize: j.Config.Concurrency.Min, MaxSize: j.Config.Concurrency.Max}
		o.FaultTolerance = &j.Config.FaultTolerance
		return o
	}
	o.FnConstructor = func(ctx context.Context) (pipeline.UDF, error) { return j.newInferer(ctx) }
	if j.Config.InferenceTasks {
		o.Compute = pipeline.TaskPool{Size: j.Config.Concurrency.Max}
	} else {
		o.FaultTolerance = &j.Config.FaultTolerance
		if j.Config.InFlightPerActor > 0 {
			o.Compute = pipeline.ActorPool{MaxTasksInFlightPerActor: j.Config.InFlightPerActor}
		}
	}
	return o
}

// inferer is the inference UDF: one ORT session, reused for every batch.
type inferer struct {
	j      *Job
	sess   *model.Session
	logits []float32
	top    [5]int32
	pre    *vision.Preprocessor // only for preprocess-in-actor
}

func (j *Job) newInferer(ctx context.Context) (*inferer, error) {
	opts := j.Config.Session
	if a, ok := pipeline.ActorFromContext(ctx); ok && a.GPU >= 0 && opts.Device.Kind == model.DeviceCUDA && !j.Config.PinDevice {
		opts.Device.ID = a.GPU
	}
	j.publish(StatModelLoadsStarted, j.Counters.ModelLoadsStarted.Add(1))
	s, err := model.NewSession(j.Config.Model, opts)
	if err != nil {
		return nil, err
	}
	j.Counters.ModelLoads.Add(1)
	u := &inferer{j: j, sess: s}
	if j.Config.PreprocessInActor {
		u.pre = j.newPreprocessor()
	}
	return u, nil
}

func (u *inferer) Close() error { return u.sess.Close() }

func (u *inferer) Call(ctx context.Context, b pipeline.Block) (any, error) {
	m := u.j.Config.Model
	n := int(b.NumRows())
	var failed arrow.Array // preprocess-in-actor only: rows that failed here
	if u.pre != nil {
		// preprocess-in-actor: decode and resize here, on the actor's time.
		res, _ := u.j.preprocess(u.pre, b)
		rb := res.(arrow.RecordBatch)
		defer rb.Release()
		if ec := pipeline.Column(rb, pipeline.ErrorColumn); ec.NullN() != ec.Len() {
			failed = ec
		}
		b = rb
	}
	col := pipeline.Column(b, ImageColumn)
	if col == nil {
		return nil, fmt.Errorf("inference input has no %q column", ImageColumn)
	}
	input, size, err := pipeline.TensorValues(col)
	if err != nil {
		return nil, err
	}
	if size != m.ImageElems() {
		return nil, fmt.Errorf("tensor has %d values per image, model %s wants %d (%d×%d×%d)", size, m.Name, m.ImageElems(), m.InputC, m.InputH, m.InputW)
	}
	k := m.NumClasses
	t0 := time.Now()
	if cap(u.logits) < n*k {
		u.logits = make([]float32, n*k)
	}
	logits := u.logits[:n*k]
	if u.j.Config.PerImageForward {
		for i := range n {
			if err := u.forward(ctx, input[i*size:(i+1)*size], 1, logits[i*k:(i+1)*k]); err != nil {
				return nil, err
			}
		}
	} else if err := u.forward(ctx, input, n, logits); err != nil {
		return nil, err
	}
	u.j.Counters.batchDone(n, time.Since(t0))
	u.log(b, n)
	if u.j.Config.RowObjects {
		return u.rows(logits, n, k), nil
	}
	return u.columns(logits, n, k, failed, pipeline.Column(b, pipeline.LabelColumn)), nil
}

// columns builds the output batch straight into Arrow builders: no per-row
// Go objects. Rows that failed preprocessing get null predictions.
func (u *inferer) columns(logits []float32, n, k int, failed, labels arrow.Array) pipeline.Block {
	mem := memory.DefaultAllocator
	pred := array.NewInt32Builder(mem)
	conf := array.NewFloat32Builder(mem)
	top := array.NewListBuilder(mem, arrow.PrimitiveTypes.Int32)
	topv := top.ValueBuilder().(*array.Int32Builder)
	defer pred.Release()
	defer conf.Release()
	defer top.Release()
	var names *array.StringBuilder
	if u.j.Config.Labels != nil {
		names = array.NewStringBuilder(mem)
		defer names.Release()
	}
	pred.Reserve(n)
	conf.Reserve(n)
	top.Reserve(n)
	topv.Reserve(n * len(u.top))
	for i := range n {
		if failed != nil && failed.IsValid(i) {
			pred.AppendNull()
			conf.AppendNull()
			top.AppendNull()
			if names != nil {
				names.AppendNull()
			}
			continue
		}
		p, c, t := model.Classify(logits[i*k:(i+1)*k], u.top[:])
		if names != nil {
			names.Append(u.j.Config.Labels.Name(p))
		}
		pred.Append(p)
		conf.Append(c)
		top.Append(true)
		topv.AppendValues(t, nil)
		if labels != nil && labels.IsValid(i) {
			u.j.Counters.score(labels.(*array.Int32).Value(i), t)
		}
	}
	cols := []arrow.Array{pred.NewArray(), conf.NewArray(), top.NewArray()}
	fields := []arrow.Field{
		{Name: "predicted_class", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "confidence", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "top5", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
	}
	if names != nil {
		cols = append(cols, names.NewArray())
		fields = append(fields, arrow.Field{Name: LabelColumn, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	if failed != nil {
		failed.Retain()
		cols = append(cols, failed)
		fields = append(fields, arrow.Field{Name: pipeline.ErrorColumn, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	if labels != nil {
		labels.Retain()
		cols = append(cols, labels)
		fields = append(fields, arrow.Field{Name: pipeline.LabelColumn, Type: labels.DataType(), Nullable: true})
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return out
}

// rows is the row-objects mistake: one map per row, as people write
// `[{"class": ..., "score": ...} for ...]`.
func (u *inferer) rows(logits []float32, n, k int) pipeline.Rows {
	rows := make(pipeline.Rows, n)
	for i := range n {
		p, c, t := model.Classify(logits[i*k:(i+1)*k], u.top[:])
		rows[i] = map[string]any{"predicted_class": p, "confidence": c, "top5": slices.Clone(t)}
	}
	return rows
}

func (u *inferer) forward(ctx context.Context, in []float32, n int, logits []float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u.j.Counters.ForwardPasses.Add(1)
	if err := u.sess.Run(in, n, logits); err != nil {
		return err
	}
	u.j.Counters.ImagesInferred.Add(int64(n))
	return nil
}

// log writes the hot-path-logging mistake's line every LogEvery images.
func (u *inferer) log(b pipeline.Block, n int) {
	w := u.j.Config.HotPathLog
	if w == nil {
		return
	}
	paths := pipeline.Column(b, pipeline.PathColumn).(*array.String)
	for i := range n {
		// Counted job-wide, not per inferer: with a model loaded per batch
		// each inferer lives for one batch and would never reach LogEvery.
		seen := u.j.Counters.logged.Add(1)
		if seen%int64(u.j.Config.LogEvery) == 0 {
			fmt.Fprintf(w, "inference: processed %d images, last %s\n", seen, paths.Value(i))
		}
	}
}

// TensorStats reports what the tensor pool did; ok is false when the job
// ran without one.
func (j *Job) TensorStats() (s TensorPoolStats, ok bool) {
	if j.tensors == nil {
		return s, false
	}
	return j.tensors.Stats(), true
}

// Errors counts output rows that carry an error.
func (j *Job) Errors() int {
	// Failed rows pass through every later stage, so the last stage before
	// the writer has seen them all.
	ops := j.Dataset.Metrics()
	if len(ops) < 2 {
		return 0
	}
	return int(ops[len(ops)-2].Metrics.ErrorRows)
}
