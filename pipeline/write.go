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
}

// WriteParquet executes the plan and writes one zstd-compressed Parquet
// file. path may be a file, or an existing directory, in which case the file
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
	err     error
}

func (s *fileSink) Call(_ context.Context, b Block) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Materialize {
		b.Retain()
		s.held = append(s.held, b)
		return nil, nil
	}
	return nil, s.writeLocked(b)
}

func (s *fileSink) writeLocked(b Block) error {
	if s.w == nil {
		schema := s.opts.Schema
		if schema == nil {
			schema = b.Schema()
		}
		if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
			return err
		}
		f, err := os.CreateTemp(filepath.Dir(s.path), "."+filepath.Base(s.path)+".*.partial")
		if err != nil {
			return err
		}
		s.f = f
		if s.w, err = s.factory(f, s.opts, schema); err != nil {
			return err
		}
		s.opts.Schema = schema
	}
	c, err := conform(b, s.opts.Schema)
	if err != nil {
		return err
	}
	defer c.Release()
	return s.w.write(c)
}

// Finish implements Finisher: commit on success, discard otherwise.
func (s *fileSink) Finish(_ context.Context, ok bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if ok && s.opts.Materialize {
		for _, b := range s.held {
			if err == nil {
				err = s.writeLocked(b)
			}
		}
	}
	for _, b := range s.held {
		b.Release()
	}
	s.held = nil
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
	fw     *pqarrow.FileWriter
	schema *arrow.Schema // with the file's metadata
}

func newParquetSink(f *os.File, o WriteOptions, schema *arrow.Schema) (blockWriter, error) {
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(64*1024),
	)
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
	return &parquetWriter{fw: fw, schema: schema}, nil
}

func (p *parquetWriter) write(b Block) error {
	if !b.Schema().Equal(p.schema) {
		b = array.NewRecordBatch(p.schema, b.Columns(), b.NumRows())
		defer b.Release()
	}
	return p.fw.WriteBuffered(b)
}
func (p *parquetWriter) close() error { return p.fw.Close() }

type jsonWriter struct{ f *os.File }

func newJSONSink(f *os.File, _ WriteOptions, _ *arrow.Schema) (blockWriter, error) {
	return &jsonWriter{f: f}, nil
}

func (j *jsonWriter) write(b Block) error { return array.RecordToJSON(b, j.f) }
func (j *jsonWriter) close() error        { return j.f.Sync() }
