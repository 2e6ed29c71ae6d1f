package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"syscall"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Ray's block-size bounds: reads aim for blocks between these sizes.
const (
	DefaultTargetMinBlockSize = 1 << 20   // 1 MiB
	DefaultTargetMaxBlockSize = 128 << 20 // 128 MiB
)

// ReadOptions configure a ReadBinaryFiles datasource.
type ReadOptions struct {
	// Name is the read operator's name in stats and events, as Ray names
	// ReadImages or ReadParquet after its datasource; default
	// "ReadBinaryFiles".
	Name string
	// OverrideNumBlocks sets the number of read tasks (and so blocks), as
	// Ray's override_num_blocks. 0 picks a default by Ray's rule.
	OverrideNumBlocks int
	// Limit reads only the first Limit files in listing order; 0 reads all.
	Limit int
	// MaxFileBytes refuses, as an error row, a file larger than this
	// without reading it, so one hostile multi-gigabyte file cannot exhaust
	// memory; 0 means DefaultMaxFileBytes.
	MaxFileBytes int64
}

// DefaultMaxFileBytes bounds a file's size when the caller sets none.
const DefaultMaxFileBytes = 1 << 30

// ErrFileTooLarge marks a file refused, unread, for exceeding
// ReadOptions.MaxFileBytes.
var ErrFileTooLarge = errors.New("file too large")

// Dataset is a lazy plan: a read followed by MapBatches stages, executed only
// by a write or an iteration. Methods return new Datasets and never modify the
// receiver, so a plan can be branched. Stats and Metrics describe the most
// recent execution of this very value.
type Dataset struct {
	files  []string
	read   ReadOptions
	stages []MapOptions
	exec   ExecutionOptions
	target int64
	err    error
	last   *StreamingExecutor
	// reader, when set, is a Datasource's read task (ReadDatasource).
	reader func(context.Context, Block) (any, error)
}

// ReadBinaryFiles plans a read of the given files, in the given order, as
// Ray's read_binary_files: each row has the file's path, its bytes
// (DataColumn) and an error column for a file that cannot be read. What the
// bytes mean is the next stage's business.
func ReadBinaryFiles(files []string, o ReadOptions) *Dataset {
	if o.Limit > 0 && o.Limit < len(files) {
		files = files[:o.Limit]
	}
	if o.Name == "" {
		o.Name = "ReadBinaryFiles"
	}
	return &Dataset{files: files, read: o, target: DefaultTargetMaxBlockSize}
}

// WithErr returns a copy of d that fails with err when executed: a
// datasource that could not be planned (an empty folder) reports it where
// the plan runs.
func (d *Dataset) WithErr(err error) *Dataset {
	c := d.clone()
	c.err = err
	return c
}

func (d *Dataset) clone() *Dataset {
	c := *d
	c.stages = slices.Clone(d.stages)
	c.last = nil
	return &c
}

// Files returns the files the plan reads.
func (d *Dataset) Files() []string { return d.files }

// Err returns the first planning error, if any.
func (d *Dataset) Err() error { return d.err }

// MapBatches appends a map_batches stage.
func (d *Dataset) MapBatches(o MapOptions) *Dataset {
	c := d.clone()
	c.stages = append(c.stages, o)
	return c
}

// WithExecutionOptions sets resource limits, backpressure, ordering and the
// event bus for the execution.
func (d *Dataset) WithExecutionOptions(o ExecutionOptions) *Dataset {
	c := d.clone()
	c.exec = o
	return c
}

// WithTargetMaxBlockSize splits blocks larger than n bytes, as Ray's
// DataContext.target_max_block_size does.
func (d *Dataset) WithTargetMaxBlockSize(n int64) *Dataset {
	c := d.clone()
	c.target = n
	return c
}

// NumBlocks returns the number of read blocks the plan will produce: the
// override, or Ray's default (see defaultNumBlocks), never more blocks than
// files.
func (d *Dataset) NumBlocks() int {
	if n := d.read.OverrideNumBlocks; n > 0 {
		return min(n, max(len(d.files), 1))
	}
	var total int64
	for _, f := range d.files {
		if st, err := os.Stat(f); err == nil {
			total += st.Size()
		}
	}
	cpus := int(d.exec.Limits.CPU)
	if cpus == 0 {
		cpus = runtime.NumCPU()
	}
	return defaultNumBlocks(total, len(d.files), cpus)
}

// DefaultMinParallelism is Ray's DEFAULT_MIN_PARALLELISM: reads aim for at
// least this many blocks (and at least 2× the CPUs) unless that would make
// blocks smaller than 1 MiB.
const DefaultMinParallelism = 200

// defaultNumBlocks is Ray's _autodetect_parallelism: as many blocks as
// max(200, 2×CPUs), but no block under 1 MiB and none over 128 MiB. Blocks
// therefore stay about the same size however large the dataset, which keeps
// memory flat as it grows.
func defaultNumBlocks(totalBytes int64, files, cpus int) int {
	maxReasonable := int(max(1, totalBytes/DefaultTargetMinBlockSize))
	minSafe := int((totalBytes + DefaultTargetMaxBlockSize - 1) / DefaultTargetMaxBlockSize)
	n := max(min(max(DefaultMinParallelism, 2*cpus), maxReasonable), minSafe, 1)
	return max(min(n, files), 1)
}

// sourceBundles cuts the file list into n contiguous read partitions.
func (d *Dataset) sourceBundles(n int) []RefBundle {
	var out []RefBundle
	for i := range n {
		lo, hi := i*len(d.files)/n, (i+1)*len(d.files)/n
		if lo == hi {
			continue
		}
		b := array.NewStringBuilder(memory.DefaultAllocator)
		b.AppendValues(d.files[lo:hi], nil)
		paths := b.NewArray()
		b.Release()
		errs := array.MakeArrayOfNull(memory.DefaultAllocator, arrow.BinaryTypes.String, hi-lo)
		schema := arrow.NewSchema([]arrow.Field{
			{Name: PathColumn, Type: arrow.BinaryTypes.String},
			{Name: ErrorColumn, Type: arrow.BinaryTypes.String, Nullable: true},
		}, nil)
		rec := array.NewRecordBatch(schema, []arrow.Array{paths, errs}, int64(hi-lo))
		paths.Release()
		errs.Release()
		out = append(out, newBundle(int64(len(out)), rec))
	}
	return out
}

// execute builds the operators (read, the stages, then sink) and runs them.
func (d *Dataset) execute(ctx context.Context, sink MapOptions) error {
	if d.err != nil {
		return d.err
	}
	if len(d.files) == 0 {
		return errors.New("nothing to read: the dataset has no files")
	}
	maxBytes := d.read.MaxFileBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxFileBytes
	}
	read := MapOptions{Name: d.read.Name, Fn: UDFFunc(func(ctx context.Context, b Block) (any, error) {
		return readFiles(ctx, b, maxBytes)
	}), NumCPUs: 1}
	if d.reader != nil {
		read.Fn = UDFFunc(d.reader)
	}
	var ops []*MapOperator
	for _, o := range append(append([]MapOptions{read}, d.stages...), sink) {
		op, err := newMapOperator(o)
		if err != nil {
			return err
		}
		op.target = d.target
		ops = append(ops, op)
	}
	// The sink holds no resources: it must never take a CPU slot from the
	// stages doing the work, nor be the reason they cannot start.
	ops[len(ops)-1].sink = true
	ops[len(ops)-1].resource = ExecutionResources{}
	ex := newExecutor(ops, d.exec)
	d.last = ex
	return ex.Execute(ctx, d.sourceBundles(d.NumBlocks()))
}

// readFile opens path without blocking (a named pipe would otherwise wait
// for a writer), then checks on the open file that it is a regular file
// within maxBytes before reading it: one open and one fstat, as
// os.ReadFile does, and no window between the check and the read.
func readFile(path string, maxBytes int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return nil, fmt.Errorf("read: %w", err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("read: %s is not a regular file (%s)", path, fileKind(fi.Mode()))
	case fi.Size() > maxBytes:
		return nil, fmt.Errorf("%w: the file is %s, more than the %s allowed (ReadOptions.MaxFileBytes)",
			ErrFileTooLarge, FormatBytes(fi.Size()), FormatBytes(maxBytes))
	}
	// As os.ReadFile: one buffer of the size fstat gave. A file that
	// shrank meanwhile reads short and its decoder calls it truncated.
	b := make([]byte, fi.Size())
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read: %w", err)
	}
	return b[:n], nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return m.Type().String()
}

// readFiles is the read task: it loads each file's bytes. A file that
// cannot be read becomes an error row: gone, a dangling or looping link,
// not a regular file (a named pipe would block the read forever), or
// larger than maxBytes.
func readFiles(_ context.Context, batch Block, maxBytes int64) (any, error) {
	paths := Column(batch, PathColumn).(*array.String)
	n := paths.Len()
	data := array.NewBinaryBuilder(memory.DefaultAllocator, arrow.BinaryTypes.Binary)
	defer data.Release()
	errs := array.NewStringBuilder(memory.DefaultAllocator)
	defer errs.Release()
	for i := range n {
		b, err := readFile(paths.Value(i), maxBytes)
		if err != nil {
			data.AppendNull()
			errs.Append(err.Error())
			continue
		}
		data.Append(b)
		errs.AppendNull()
	}
	// Arrays in Columns are borrowed by the engine, which retains what it
	// keeps; these two are then reclaimed by the Go allocator's GC.
	return Columns{PathColumn: paths, DataColumn: data.NewArray(), ErrorColumn: errs.NewArray()}, nil
}

// DataColumn holds each file's raw bytes after ReadBinaryFiles.
const DataColumn = "bytes"

// IterBatches executes the plan and calls fn with each output block, one at
// a time, as the blocks are produced.
func (d *Dataset) IterBatches(ctx context.Context, fn func(Block) error) error {
	sink := MapOptions{Name: "Iterate", Compute: ActorPool{MinSize: 1, MaxSize: 1},
		FnConstructor: func(context.Context) (UDF, error) {
			return UDFFunc(func(_ context.Context, b Block) (any, error) { return nil, fn(b) }), nil
		}}
	return d.execute(ctx, sink)
}

// Stats renders the last execution's per-operator statistics, like Ray's
// Dataset.stats(), ending with the bottleneck operator.
func (d *Dataset) Stats() string {
	if d.last == nil {
		return "(the dataset has not been executed)\n"
	}
	return FormatStats(d.last.Metrics())
}

// Metrics returns the last execution's per-operator metrics.
func (d *Dataset) Metrics() []OpSnapshot {
	if d.last == nil {
		return nil
	}
	return d.last.Metrics()
}

// Limits returns the resource limits the last execution ran under.
func (d *Dataset) Limits() ExecutionResources {
	if d.last == nil {
		return d.exec.Limits
	}
	return d.last.opts.Limits
}
