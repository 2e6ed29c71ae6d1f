package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"workbench/pipeline/outfile"
)

// WriteOptions configure WriteParquet and WriteJSON.
type WriteOptions struct {
	// Schema is the output schema. Blocks are conformed to it: missing
	// columns become nulls (rows that failed early lack predictions) and
	// extra columns are dropped. Nil takes the first block's schema.
	Schema *arrow.Schema
	// Metadata is written into the file's key-value metadata (Parquet).
	Metadata map[string]string
	// Materialize collects every block in memory and writes them only once
	// the input is exhausted, as `ds.take_all()` followed by a write does.
	// Peak memory then grows with the dataset: the take-all mistake.
	Materialize bool
	// RowGroupBytes bounds a Parquet row group: the writer holds the
	// current row group's pages in memory and flushes them to the file once
	// they reach this many bytes (or RowGroupRows rows), so it holds at most
	// one row group per file whatever the dataset's size. 0 means
	// DefaultRowGroupBytes.
	RowGroupBytes int64
	// RowGroupRows caps a row group's rows; 0 means DefaultRowGroupRows.
	RowGroupRows int64
	// Checkpoint, when set, commits every block written, with the ids it
	// holds, before the next is taken; the output starts with the rows
	// earlier runs committed (Checkpoint.Replay). The checkpoint is closed
	// when the write ends: deleted once the output is published, kept
	// otherwise for a rerun to resume.
	Checkpoint *Checkpoint
}

// Row-group bounds when WriteOptions sets none. The writer holds the current
// row group's encoded pages in memory, so its size is memory that grows with
// the run until the first flush: at 16 Ki rows a prediction row group holds
// about 1.5 MiB (64 Ki rows made a 200k-image run peak 8 MiB above a 2k one,
// issue 22), while readers still get few, columnar row groups. 32 MiB keeps a
// wide row (a tensor column) from making a row group of gigabytes.
const (
	DefaultRowGroupBytes = 32 << 20
	DefaultRowGroupRows  = 16 * 1024
	// DataPageBytes is a Parquet data page's target size.
	DataPageBytes = 64 << 10
)

// WriteParquet executes the plan and writes one Snappy-compressed Parquet
// file (pyarrow's default codec, which Ray Data's write_parquet inherits;
// zstd's 8 MiB window made 16 MiB heap spikes at each flush). path may be
// a file, or an existing directory, in which case the file
// is DIR/part-00000.parquet. The file appears only when the run succeeds: it
// is written under a temporary name and renamed at the end.
func (d *Dataset) WriteParquet(ctx context.Context, path string, o WriteOptions) error {
	return d.write(ctx, resolveOut(path, ".parquet"), o, newParquetSink)
}

// WriteJSON is WriteParquet for JSON lines: one object per row.
func (d *Dataset) WriteJSON(ctx context.Context, path string, o WriteOptions) error {
	return d.write(ctx, resolveOut(path, ".jsonl"), o, newJSONSink)
}

func resolveOut(path, ext string) string {
	if st, err := os.Stat(path); (err == nil && st.IsDir()) || strings.HasSuffix(path, "/") {
		return filepath.Join(path, "part-00000"+ext)
	}
	return path
}

type sinkFactory func(f *os.File, o WriteOptions, schema *arrow.Schema) (blockWriter, error)

type blockWriter interface {
	write(b Block) error
	close() error
}

func (d *Dataset) write(ctx context.Context, path string, o WriteOptions, factory sinkFactory) error {
	sink := &fileSink{path: path, opts: o, factory: factory}
	if ck := o.Checkpoint; ck != nil && d.err == nil && d.empty() {
		// A checkpoint finished every row: nothing runs, its rows are
		// published.
		sink.Finish(ctx, ck.Restored() > 0 && ctx.Err() == nil)
		if sink.err == nil && ctx.Err() != nil {
			return ctx.Err()
		}
		return sink.err
	}
	op := MapOptions{
		Name:          "Write",
		Compute:       ActorPool{MinSize: 1, MaxSize: 1, MaxTasksInFlightPerActor: 2},
		FnConstructor: func(context.Context) (UDF, error) { return sink, nil },
	}
	err := d.execute(ctx, op)
	if sink.err != nil && err == nil {
		err = sink.err
	}
	return err
}

// fileSink writes blocks to a temporary file and renames it into place on
// success, so an interrupted run leaves no half-written output.
type fileSink struct {
	path    string
	opts    WriteOptions
	factory sinkFactory
	mu      sync.Mutex
	f       *os.File
	w       blockWriter
	held    []Block
	// heldBytes is the bytes of held: Materialize's collected blocks.
	heldBytes int64
	err       error
}

// HeldBytes implements Holder: the results a Materialize sink has collected
// and not yet written. A streaming sink hands every block to the file's
// writer as it comes and holds none; the writer's open row group, bounded
// by RowGroupBytes and RowGroupRows, is the file's buffer, not rows held.
func (s *fileSink) HeldBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heldBytes
}

func (s *fileSink) Call(_ context.Context, b Block) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Schema == nil {
		s.opts.Schema = b.Schema()
	}
	if s.opts.Materialize {
		if ck := s.opts.Checkpoint; ck != nil {
			c, err := conform(b, s.opts.Schema)
			if err != nil {
				return nil, err
			}
			defer c.Release()
			if err := ck.Commit(c); err != nil {
				return nil, err
			}
		}
		b.Retain()
		s.held = append(s.held, b)
		s.heldBytes += BlockBytes(b)
		return nil, nil
	}
	return nil, s.writeLocked(b, true)
}

// open creates the temporary output and its writer, and starts it with
// the rows a checkpoint restored.
func (s *fileSink) open() error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return err
	}
	pattern := "." + filepath.Base(s.path) + ".*.partial"
	if s.opts.Checkpoint != nil {
		// The checkpoint's lock says no other run writes this output, so
		// partial files here are a killed run's: remove them.
		stale, _ := filepath.Glob(filepath.Join(filepath.Dir(s.path), pattern))
		for _, p := range stale {
			os.Remove(p)
		}
	}
	f, err := outfile.CreateTemp(filepath.Dir(s.path), pattern)
	if err != nil {
		return err
	}
	s.f = f
	if s.w, err = s.factory(f, s.opts, s.opts.Schema); err != nil {
		return err
	}
	if ck := s.opts.Checkpoint; ck != nil {
		return ck.Replay(func(b Block) error { return s.writeLocked(b, false) })
	}
	return nil
}

// writeLocked writes b to the output and, when commit is set and the sink
// has a checkpoint, commits it there.
func (s *fileSink) writeLocked(b Block, commit bool) error {
	if s.w == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	c, err := conform(b, s.opts.Schema)
	if err != nil {
		return err
	}
	defer c.Release()
	if err := s.w.write(c); err != nil {
		return err
	}
	if ck := s.opts.Checkpoint; ck != nil && commit && !s.opts.Materialize {
		return ck.Commit(c)
	}
	return nil
}

// Finish implements Finisher: commit on success, discard otherwise.
func (s *fileSink) Finish(_ context.Context, ok bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	ck := s.opts.Checkpoint
	if ok && s.w == nil && ck != nil && ck.Restored() > 0 {
		// Every row came from the checkpoint: publish them.
		if s.opts.Schema == nil {
			s.opts.Schema = ck.Schema()
		}
		err = s.open()
	}
	if ok && s.opts.Materialize {
		for _, b := range s.held {
			if err == nil {
				err = s.writeLocked(b, false)
			}
		}
	}
	for _, b := range s.held {
		b.Release()
	}
	s.held, s.heldBytes = nil, 0
	if s.w != nil {
		if cerr := s.w.close(); err == nil {
			err = cerr
		}
	}
	if s.f != nil {
		s.f.Close()
		if ok && err == nil {
			err = os.Rename(s.f.Name(), s.path)
		}
		if !ok || err != nil {
			os.Remove(s.f.Name())
		}
	}
	if ck != nil {
		if cerr := ck.Close(ok && err == nil && s.f != nil); err == nil && cerr != nil {
			err = fmt.Errorf("the output is published, but its checkpoint could not be deleted: %w", cerr)
		}
	}
	s.err = err
	return err
}

// conform returns b with exactly schema's columns, in order: missing ones are
// all null.
func conform(b Block, schema *arrow.Schema) (Block, error) {
	if b.Schema().Equal(schema) {
		b.Retain()
		return b, nil
	}
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, f := range schema.Fields() {
		src := Column(b, f.Name)
		switch {
		case src == nil:
			cols[i] = array.MakeArrayOfNull(memory.DefaultAllocator, f.Type, int(b.NumRows()))
		case !arrow.TypeEqual(src.DataType(), f.Type):
			return nil, fmt.Errorf("column %q has type %s, the output schema wants %s", f.Name, src.DataType(), f.Type)
		default:
			src.Retain()
			cols[i] = src
		}
	}
	return array.NewRecordBatch(schema, cols, b.NumRows()), nil
}

type parquetWriter struct {
	fw       *pqarrow.FileWriter
	schema   *arrow.Schema // with the file's metadata
	maxBytes int64
	buffered int64 // Arrow bytes written into the current row group
}

func newParquetSink(f *os.File, o WriteOptions, schema *arrow.Schema) (blockWriter, error) {
	rows, bytes := o.RowGroupRows, o.RowGroupBytes
	if rows <= 0 {
		rows = DefaultRowGroupRows
	}
	if bytes <= 0 {
		bytes = DefaultRowGroupBytes
	}
	opts := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithMaxRowGroupLength(rows),
		// Pages are compressed as they fill, and the open row group keeps
		// them until it is flushed: 64 KiB pages keep it compressed but
		// for one small page a column, where 1 MiB pages (the default)
		// kept up to 1 MiB a column raw, in a buffer grown by doubling.
		// A 16 Ki-row prediction row group held 2.8 MiB; now 0.9–1.6.
		parquet.WithDataPageSize(DataPageBytes),
		parquet.WithDictionaryFor(PathColumn, false),
	}
	// Dictionary encoding pays where values repeat (class ids, labels); a
	// float score almost never does, so its dictionary only grows, costing
	// memory while the row group is open and bytes in the file.
	for _, f := range schema.Fields() {
		if arrow.IsFloating(f.Type.ID()) {
			opts = append(opts, parquet.WithDictionaryFor(f.Name, false))
		}
	}
	props := parquet.NewWriterProperties(opts...)
	if len(o.Metadata) > 0 {
		keys, vals := make([]string, 0, len(o.Metadata)), make([]string, 0, len(o.Metadata))
		for k, v := range o.Metadata {
			keys = append(keys, k)
			vals = append(vals, v)
		}
		md := arrow.NewMetadata(keys, vals)
		schema = arrow.NewSchema(schema.Fields(), &md)
	}
	fw, err := pqarrow.NewFileWriter(schema, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return nil, err
	}
	return &parquetWriter{fw: fw, schema: schema, maxBytes: bytes}, nil
}

// write appends b to the current row group, which the writer keeps in
// memory, and starts a new one (flushing this one to the file) once it
// holds maxBytes; WriteBuffered itself cuts at the row cap.
func (p *parquetWriter) write(b Block) error {
	if !b.Schema().Equal(p.schema) {
		b = array.NewRecordBatch(p.schema, b.Columns(), b.NumRows())
		defer b.Release()
	}
	before, _ := p.fw.RowGroupNumRows()
	if err := p.fw.WriteBuffered(b); err != nil {
		return err
	}
	// The writer's own byte counts see only finished pages, so
	// the row group is measured by the Arrow bytes that went into it: an
	// upper bound on what its encoded, compressed pages hold.
	bytes := BlockBytes(b)
	if after, _ := p.fw.RowGroupNumRows(); after < before+int(b.NumRows()) {
		// WriteBuffered cut a row group at the row cap: only the rows
		// after the cut are in the new one.
		p.buffered = bytes * int64(after) / b.NumRows()
	} else {
		p.buffered += bytes
	}
	if p.buffered >= p.maxBytes {
		p.buffered = 0
		return p.fw.NewBufferedRowGroupChecked()
	}
	return nil
}
func (p *parquetWriter) close() error { return p.fw.Close() }

type jsonWriter struct{ f *os.File }

func newJSONSink(f *os.File, _ WriteOptions, _ *arrow.Schema) (blockWriter, error) {
	return &jsonWriter{f: f}, nil
}

func (j *jsonWriter) write(b Block) error { return array.RecordToJSON(b, j.f) }
func (j *jsonWriter) close() error        { return j.f.Sync() }
