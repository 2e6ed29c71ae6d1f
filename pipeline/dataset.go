package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"syscall"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
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
	// RowsPerBlock is the rows of one read task when the listing streams
	// (ReadBinaryFilesFrom, ReadRange) and OverrideNumBlocks cannot be
	// applied because the total is not known up front; 0 means
	// DefaultRowsPerBlock.
	RowsPerBlock int
	// MaxFileBytes refuses, as an error row, a file larger than this
	// without reading it, so one hostile multi-gigabyte file cannot exhaust
	// memory; 0 means DefaultMaxFileBytes.
	MaxFileBytes int64
}

// DefaultRowsPerBlock is a streamed read task's rows when nothing else
// decides them: small enough that a read task of 100 KB images stays near
// Ray's 1–128 MiB block sizes, large enough that per-task overhead is noise.
const DefaultRowsPerBlock = 256

// PathSource yields a listing one path at a time, in a stable order, so a
// read never holds the whole listing: an ordered directory walk, or an
// object store's listing page by page. Next returns io.EOF after the last
// path; any other error ends the run.
type PathSource interface {
	Next() (string, error)
}

// ContextPathSource is a PathSource whose next path may wait on the
// network (an object store's next listing page): the read calls
// NextContext with the execution's context instead of Next, so a run that
// ends does not wait for a page nobody will read.
type ContextPathSource interface {
	PathSource
	NextContext(ctx context.Context) (string, error)
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
	files []string   // a listing given whole (ReadBinaryFiles)
	paths PathSource // or one that streams (ReadBinaryFilesFrom)
	// listing, when set, makes a fresh streamed listing per execution
	// (a StreamingDatasource's pass over its units) in place of paths.
	listing func() PathSource
	rng     *rangeSpec // or rows generated in memory (ReadRange)
	read    ReadOptions
	stages  []MapOptions
	exec    ExecutionOptions
	target  int64
	err     error
	last    *StreamingExecutor
	// reader, when set, is a Datasource's read task (ReadDatasource).
	reader func(context.Context, Block) (any, error)
	read1  *readTotals // what the last execution's read did
}

// readTotals is what a read saw, counted by its tasks.
type readTotals struct {
	files, bytes atomic.Int64
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

// ReadBinaryFilesFrom is ReadBinaryFiles over a listing that streams: the
// executor pulls paths only as the read operator needs them, so memory
// grows with the listing's largest page (directory), not with the dataset.
// Each read task takes RowsPerBlock paths, or Limit/OverrideNumBlocks when
// both are set; the total becomes known, for progress, when paths runs out.
// Limit still takes the first Limit paths in the source's order.
func ReadBinaryFilesFrom(paths PathSource, o ReadOptions) *Dataset {
	if o.Name == "" {
		o.Name = "ReadBinaryFiles"
	}
	return &Dataset{paths: paths, read: o, target: DefaultTargetMaxBlockSize}
}

// rangeSpec is ReadRange's plan.
type rangeSpec struct{ rows, rowBytes int }

// ReadRange plans a synthetic, in-memory datasource, as Ray's
// ray.data.range: rows with an "id" column (0…rows-1) and, when rowBytes >
// 0, a DataColumn of rowBytes generated bytes each, standing in for a
// file's contents. No file is listed or read, so a run over it measures
// the engine alone.
func ReadRange(rows, rowBytes int, o ReadOptions) *Dataset {
	if o.Name == "" {
		o.Name = "ReadRange"
	}
	if o.Limit > 0 && o.Limit < rows {
		rows = o.Limit
	}
	return &Dataset{rng: &rangeSpec{rows: rows, rowBytes: rowBytes}, read: o, target: DefaultTargetMaxBlockSize}
}

// IDColumn is ReadRange's row number column.
const IDColumn = "id"

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
	c.last, c.read1 = nil, nil
	return &c
}

// Files returns the files the plan reads when its listing was given whole
// (ReadBinaryFiles); nil for a listing that streams or a ReadRange.
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
// override, or Ray's default (see DefaultNumBlocks), never more blocks than
// files.
func (d *Dataset) NumBlocks() int {
	if d.files == nil {
		return d.streamBlocks()
	}
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
	return DefaultNumBlocks(total, len(d.files), cpus)
}

// DefaultMinParallelism is Ray's DEFAULT_MIN_PARALLELISM: reads aim for at
// least this many blocks (and at least 2× the CPUs) unless that would make
// blocks smaller than 1 MiB.
const DefaultMinParallelism = 200

// DefaultNumBlocks is Ray's _autodetect_parallelism: as many blocks as
// max(200, 2×CPUs), but no block under 1 MiB and none over 128 MiB. Blocks
// therefore stay about the same size however large the dataset, which keeps
// memory flat as it grows.
func DefaultNumBlocks(totalBytes int64, files, cpus int) int {
	maxReasonable := int(max(1, totalBytes/DefaultTargetMinBlockSize))
	minSafe := int((totalBytes + DefaultTargetMaxBlockSize - 1) / DefaultTargetMaxBlockSize)
	n := max(min(max(DefaultMinParallelism, 2*cpus), maxReasonable), minSafe, 1)
	return max(min(n, files), 1)
}

// streamBlocks is NumBlocks for a listing that streams or a range: known
// up front when the row count is (a range, or a Limit); otherwise the
// blocks the last execution read, 0 before one.
func (d *Dataset) streamBlocks() int {
	rows := d.read.Limit
	if d.rng != nil {
		rows = d.rng.rows
	}
	if rows <= 0 {
		if ops := d.Metrics(); len(ops) > 0 {
			return int(ops[0].Metrics.BlocksIn)
		}
		return 0
	}
	per := d.rowsPerBlock(rows)
	return (rows + per - 1) / per
}

// rowsPerBlock is a streamed read task's rows: total/OverrideNumBlocks when
// both are known, else RowsPerBlock.
func (d *Dataset) rowsPerBlock(total int) int {
	if n := d.read.OverrideNumBlocks; n > 0 && total > 0 {
		return max((total+n-1)/n, 1)
	}
	if d.read.RowsPerBlock > 0 {
		return d.read.RowsPerBlock
	}
	return DefaultRowsPerBlock
}

// pathBundle is one read task's input: a block of paths and null errors.
func pathBundle(seq int64, paths []string) RefBundle {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	b.AppendValues(paths, nil)
	col := b.NewArray()
	b.Release()
	errs := array.MakeArrayOfNull(memory.DefaultAllocator, arrow.BinaryTypes.String, len(paths))
	schema := arrow.NewSchema([]arrow.Field{
		{Name: PathColumn, Type: arrow.BinaryTypes.String},
		{Name: ErrorColumn, Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{col, errs}, int64(len(paths)))
	col.Release()
	errs.Release()
	return newBundle(seq, rec)
}

// source returns the read operator's input, built one read task at a time.
func (d *Dataset) source() Source {
	var seq int64
	switch {
	case d.files != nil:
		// n contiguous partitions of the listing, as before it streamed.
		n, i := d.NumBlocks(), 0
		return Source{Total: int64(len(d.files)), Next: func(context.Context) (RefBundle, error) {
			for ; i < n; i++ {
				lo, hi := i*len(d.files)/n, (i+1)*len(d.files)/n
				if lo < hi {
					i++
					seq++
					return pathBundle(seq-1, d.files[lo:hi]), nil
				}
			}
			return RefBundle{}, io.EOF
		}}
	case d.rng != nil:
		per, next := d.rowsPerBlock(d.rng.rows), 0
		return Source{Total: int64(d.rng.rows), Next: func(context.Context) (RefBundle, error) {
			if next >= d.rng.rows {
				return RefBundle{}, io.EOF
			}
			hi := min(next+per, d.rng.rows)
			ids := array.NewInt64Builder(memory.DefaultAllocator)
			for id := next; id < hi; id++ {
				ids.Append(int64(id))
			}
			col := ids.NewArray()
			ids.Release()
			rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: IDColumn, Type: arrow.PrimitiveTypes.Int64}}, nil),
				[]arrow.Array{col}, int64(hi-next))
			col.Release()
			next = hi
			seq++
			return newBundle(seq-1, rec), nil
		}}
	}
	per := d.rowsPerBlock(d.read.Limit)
	listed := 0
	buf := make([]string, 0, per)
	paths := d.paths
	if d.listing != nil {
		paths = d.listing()
	}
	next := func(context.Context) (string, error) { return paths.Next() }
	if cp, ok := paths.(ContextPathSource); ok {
		next = cp.NextContext
	}
	return Source{Total: -1, Next: func(ctx context.Context) (RefBundle, error) {
		buf = buf[:0]
		for len(buf) < per && (d.read.Limit <= 0 || listed < d.read.Limit) {
			p, err := next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				return RefBundle{}, err
			}
			buf = append(buf, p)
			listed++
		}
		if len(buf) == 0 {
			return RefBundle{}, io.EOF
		}
		seq++
		return pathBundle(seq-1, buf), nil
	}}
}

// empty reports whether the plan has nothing to read: no listing, whole
// or streamed, and no range.
func (d *Dataset) empty() bool {
	return d.paths == nil && d.listing == nil && d.rng == nil && len(d.files) == 0
}

// readRange is ReadRange's read task: it generates each row's bytes.
func readRange(b Block, rowBytes int) (any, error) {
	ids := Column(b, IDColumn)
	ids.Retain()
	cols := Columns{IDColumn: ids}
	if rowBytes > 0 {
		data := array.NewBinaryBuilder(memory.DefaultAllocator, arrow.BinaryTypes.Binary)
		defer data.Release()
		row := make([]byte, rowBytes)
		for i := range ids.Len() {
			row[0] = byte(i) // not all equal, so no encoder can cheat
			data.Append(row)
		}
		cols[DataColumn] = data.NewArray()
	}
	return cols, nil
}

// execute builds the operators (read, the stages, then sink) and runs them.
func (d *Dataset) execute(ctx context.Context, sink MapOptions) error {
	if d.err != nil {
		return d.err
	}
	if d.empty() {
		return errors.New("nothing to read: the dataset has no files")
	}
	maxBytes := d.read.MaxFileBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxFileBytes
	}
	totals := &readTotals{}
	d.read1 = totals
	read := MapOptions{Name: d.read.Name, Fn: UDFFunc(func(ctx context.Context, b Block) (any, error) {
		return readFiles(ctx, b, maxBytes, totals)
	}), NumCPUs: 1}
	if d.rng != nil {
		rowBytes := d.rng.rowBytes
		read.Fn = UDFFunc(func(_ context.Context, b Block) (any, error) { return readRange(b, rowBytes) })
	}
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
	return ex.Execute(ctx, d.source())
}

// readFile opens path without blocking (a named pipe would otherwise wait
// for a writer), then checks on the open file that it is a regular file
// within maxBytes before reading it: one open and one fstat, as
// os.ReadFile does, and no window between the check and the read.
func readFile(path string, maxBytes int64) ([]byte, error) {
	return appendFile(nil, path, maxBytes)
}

// appendFile appends the file's bytes to dst, as os.ReadFile reads them:
// one read of the size fstat gave, into dst's spare capacity when it has
// enough. A file that shrank meanwhile reads short and its decoder calls it
// truncated. On error dst is returned as it was.
func appendFile(dst []byte, path string, maxBytes int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return dst, fmt.Errorf("read: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return dst, fmt.Errorf("read: %w", err)
	case !fi.Mode().IsRegular():
		return dst, fmt.Errorf("read: %s is not a regular file (%s)", path, fileKind(fi.Mode()))
	case fi.Size() > maxBytes:
		return dst, fmt.Errorf("%w: the file is %s, more than the %s allowed (ReadOptions.MaxFileBytes)",
			ErrFileTooLarge, FormatBytes(fi.Size()), FormatBytes(maxBytes))
	}
	size := int(fi.Size())
	at := len(dst)
	dst = slices.Grow(dst, size)[:at+size]
	n, err := io.ReadFull(f, dst[at:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return dst[:at], fmt.Errorf("read: %w", err)
	}
	return dst[:at+n], nil
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
func readFiles(_ context.Context, batch Block, maxBytes int64, totals *readTotals) (any, error) {
	paths := Column(batch, PathColumn).(*array.String)
	n := paths.Len()
	errs := array.NewStringBuilder(memory.DefaultAllocator)
	defer errs.Release()
	// Size the column's one value buffer from a stat of every path, then
	// read each file straight into its place: one copy of the bytes. A
	// slice per file copied into a builder made twice the garbage, and a
	// builder grown by appending, three times.
	var total int64
	for i := range n {
		if fi, err := os.Stat(paths.Value(i)); err == nil && fi.Mode().IsRegular() && fi.Size() <= maxBytes {
			total += fi.Size()
		}
	}
	values := make([]byte, 0, total)
	offsets := make([]int32, n+1)
	valid := make([]byte, bitutil.BytesForBits(int64(n)))
	nulls := 0
	for i := range n {
		before := len(values)
		var err error
		if values, err = appendFile(values, paths.Value(i), maxBytes); err == nil && len(values) > math.MaxInt32 {
			values, err = values[:before], fmt.Errorf("read: the block's files pass 2 GiB, a binary column's limit; use more read blocks (override_num_blocks)")
		}
		offsets[i+1] = int32(len(values))
		if err != nil {
			errs.Append(err.Error())
			nulls++
			continue
		}
		bitutil.SetBit(valid, i)
		errs.AppendNull()
		totals.files.Add(1)
		totals.bytes.Add(int64(len(values) - before))
	}
	// The buffers are Go memory, which the Go allocator's GC reclaims
	// like the builders' was. Arrays in Columns are borrowed by the
	// engine, which retains what it keeps.
	d := array.NewData(arrow.BinaryTypes.Binary, n,
		[]*memory.Buffer{memory.NewBufferBytes(valid), memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offsets)), memory.NewBufferBytes(values)},
		nil, nulls, 0)
	data := array.NewBinaryData(d)
	d.Release()
	return Columns{PathColumn: paths, DataColumn: data, ErrorColumn: errs.NewArray()}, nil
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

// ReadTotals says what the last execution's read saw: the rows its
// listing yielded (the first Limit, when set), and the files it read and
// their bytes (files it could not read are error rows, not counted here).
// A caller that streamed its listing learns the dataset's size this way,
// after the run, without having listed or statted it beforehand.
func (d *Dataset) ReadTotals() (rows, files, bytes int64) {
	ops := d.Metrics()
	if len(ops) == 0 || d.read1 == nil {
		return 0, 0, 0
	}
	return ops[0].Metrics.RowsIn, d.read1.files.Load(), d.read1.bytes.Load()
}

// Limits returns the resource limits the last execution ran under.
func (d *Dataset) Limits() ExecutionResources {
	if d.last == nil {
		return d.exec.Limits
	}
	return d.last.opts.Limits
}
