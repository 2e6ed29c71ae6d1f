package pipeline

import (
	"context"
	"fmt"
	"reflect"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// UDF is a map_batches function. Call receives a batch of at most BatchSize
// rows, none of which carries an error, and returns the output batch in one
// of the forms Ray accepts:
//
//   - a Block (arrow.RecordBatch), used as is;
//   - Columns, a name → column map ([]string, []int32, []float32, []int64,
//     []float64, []bool, [][]int32 or an arrow.Array), like a dict of numpy
//     arrays; arrow.Array values are borrowed: the engine retains what it
//     keeps, so a UDF must not release them before returning;
//   - Rows ([]map[string]any), one object per row. Ray ≥ 2.5 rejects this;
//     so does the engine when the stage is Strict. Otherwise it converts the
//     rows one by one, and that cost lands in the task's time.
//
// A UDF that also implements io.Closer is closed when its task (task pool)
// or actor (actor pool) ends. One that implements Finisher is told whether
// the run succeeded, so a writer can commit or discard its output.
type UDF interface {
	Call(ctx context.Context, batch Block) (any, error)
}

// UDFFunc adapts a function to UDF.
type UDFFunc func(ctx context.Context, batch Block) (any, error)

// Call implements UDF.
func (f UDFFunc) Call(ctx context.Context, b Block) (any, error) { return f(ctx, b) }

// Constructor builds a stateful UDF: a callable class in Ray's terms. In an
// actor pool it runs once per actor; in a task pool, once per task.
type Constructor func(ctx context.Context) (UDF, error)

// Finisher is implemented by UDFs that must know how the run ended, such as
// writers that rename a temporary file only on success.
type Finisher interface {
	Finish(ctx context.Context, ok bool) error
}

// Holder is implemented by a UDF that keeps rows in memory between calls:
// a sink collecting every result before it writes (ds.take_all()), an
// aggregation. HeldBytes reports the bytes it keeps now. The executor reads
// it after every task of an actor pool (a task pool's UDF ends with its
// task) into the operator's held_bytes and peak_held_bytes,
// so a stage that accumulates shows at any dataset size, where resident
// memory would hide a few hundred kilobytes in its noise. What a stage
// holds only while a call runs is not held.
type Holder interface {
	HeldBytes() int64
}

// Columns is a batch in column form.
type Columns map[string]any

// Rows is a batch as per-row objects, the form Ray ≥ 2.5 no longer accepts.
type Rows []map[string]any

// ErrRowObjects is returned, wrapped, when a Strict stage's UDF returns Rows.
// Its text follows Ray's own error so users recognise it.
var ErrRowObjects = fmt.Errorf("the `fn` you passed to `map_batches` returned a value of type list " +
	"(per-row objects). This isn't allowed -- `map_batches` expects `fn` to return a " +
	"`pyarrow.Table`, `pandas.DataFrame` or `dict[str, numpy.ndarray]`: return a named column " +
	`instead, e.g. {"results": objects}`)

// toBlock converts a UDF's return value into a block aligned with in. It
// adds in's path column when the output lacks one and has as many rows, and
// an all-null error column when the output has none. converted counts rows
// that were turned from objects into columns.
func toBlock(mem memory.Allocator, out any, in Block, strict bool) (blk Block, converted int, err error) {
	switch v := out.(type) {
	case arrow.RecordBatch:
		v.Retain()
		blk = v
	case Columns:
		blk, err = columnsToBlock(mem, v)
	case map[string]any:
		blk, err = columnsToBlock(mem, Columns(v))
	case Rows:
		if strict {
			return nil, 0, ErrRowObjects
		}
		cols, cerr := rowsToColumns(v)
		if cerr != nil {
			return nil, 0, cerr
		}
		converted = len(v)
		blk, err = columnsToBlock(mem, cols)
	case nil:
		return nil, 0, fmt.Errorf("map_batches fn returned nil; return a batch, e.g. Columns{...}")
	default:
		return nil, 0, fmt.Errorf("map_batches fn returned %T; want a Block, Columns or Rows", out)
	}
	if err != nil {
		return nil, 0, err
	}
	return withBookkeeping(mem, blk, in), converted, nil
}

func withBookkeeping(mem memory.Allocator, blk, in Block) Block {
	rows := blk.NumRows()
	hasPath := Column(blk, PathColumn) != nil
	hasErr := Column(blk, ErrorColumn) != nil
	inPath := Column(in, PathColumn)
	addPath := !hasPath && inPath != nil && int64(inPath.Len()) == rows
	if hasErr && !addPath {
		return blk
	}
	fields := blk.Schema().Fields()
	cols := blk.Columns()
	var added []arrow.Array
	if addPath {
		fields = append([]arrow.Field{{Name: PathColumn, Type: inPath.DataType(), Nullable: true}}, fields...)
		cols = append([]arrow.Array{inPath}, cols...)
	}
	if !hasErr {
		e := array.MakeArrayOfNull(mem, arrow.BinaryTypes.String, int(rows))
		added = append(added, e)
		fields = append(fields, arrow.Field{Name: ErrorColumn, Type: arrow.BinaryTypes.String, Nullable: true})
		cols = append(cols, e)
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rows)
	for _, a := range added {
		a.Release()
	}
	blk.Release()
	return out
}

// failRows fails the rows of a batch that could not be computed, keeping
// its path column: each row keeps the error it already had, or gets msg.
func failRows(mem memory.Allocator, in Block, msg string) Block {
	old := Column(in, ErrorColumn)
	rows := int(in.NumRows())
	b := array.NewStringBuilder(mem)
	defer b.Release()
	for i := range rows {
		if old != nil && old.IsValid(i) {
			b.Append(old.(*array.String).Value(i))
		} else {
			b.Append(msg)
		}
	}
	errs := b.NewArray()
	defer errs.Release()
	fields := []arrow.Field{{Name: ErrorColumn, Type: arrow.BinaryTypes.String, Nullable: true}}
	cols := []arrow.Array{errs}
	if p := Column(in, PathColumn); p != nil {
		fields = append([]arrow.Field{{Name: PathColumn, Type: p.DataType(), Nullable: true}}, fields...)
		cols = append([]arrow.Array{p}, cols...)
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(rows))
}

// passthrough keeps only the path and error columns of rows that already
// failed, so they skip the UDF but still reach the output.
func passthrough(in Block) Block {
	var fields []arrow.Field
	var cols []arrow.Array
	for i, f := range in.Schema().Fields() {
		if f.Name == PathColumn || f.Name == ErrorColumn {
			fields = append(fields, f)
			cols = append(cols, in.Column(i))
		}
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, in.NumRows())
}

// failedRun is a run of rows that had already failed, kept aside while the
// good rows around it go through the UDF. at is the number of good rows
// that precede it in the task's input, which is where it goes back.
type failedRun struct {
	at  int
	blk Block
}

// splitErrors cuts b into runs of good rows, as zero-copy slices, and runs
// of failed rows, each placed after the good rows that precede it; before
// counts the good rows of earlier blocks in the same task.
func splitErrors(b Block, before int) (good []Block, bad []failedRun) {
	col := Column(b, ErrorColumn)
	if col == nil || col.NullN() == col.Len() {
		// No row failed (a null error is a good row).
		b.Retain()
		return []Block{b}, nil
	}
	n := col.Len()
	start := 0
	for i := 1; i <= n; i++ {
		if i < n && col.IsNull(i) == col.IsNull(start) {
			continue
		}
		s := sliceBlock(b, int64(start), int64(i))
		if col.IsNull(start) {
			good = append(good, s)
			before += i - start
		} else {
			p := passthrough(s)
			s.Release()
			bad = append(bad, failedRun{at: before, blk: p})
		}
		start = i
	}
	return good, bad
}

// interleave puts failed runs back among a batch's output rows so a task's
// output keeps its input's order. out came from the good rows [lo, lo+n) of
// the task; runs at or before lo go first. A run inside the batch is cut
// into the output when the UDF kept one row per input row (every map the
// engine runs); otherwise the batch's rows have no input position and the
// run follows the output. It returns the blocks in order and the runs not
// yet placed.
func interleave(out Block, lo, n int, runs []failedRun) ([]Block, []failedRun) {
	var blocks []Block
	for len(runs) > 0 && runs[0].at <= lo {
		blocks = append(blocks, runs[0].blk)
		runs = runs[1:]
	}
	if out == nil {
		return blocks, runs
	}
	if int(out.NumRows()) != n {
		out.Retain()
		blocks = append(blocks, out)
		for len(runs) > 0 && runs[0].at < lo+n {
			blocks = append(blocks, runs[0].blk)
			runs = runs[1:]
		}
		return blocks, runs
	}
	cut := 0
	for len(runs) > 0 && runs[0].at < lo+n {
		// at > cut but for two runs with no good row between them (the end
		// of one block and the start of the next).
		if at := runs[0].at - lo; at > cut {
			blocks = append(blocks, sliceBlock(out, int64(cut), int64(at)))
			cut = at
		}
		blocks = append(blocks, runs[0].blk)
		runs = runs[1:]
	}
	if cut == 0 {
		out.Retain()
		blocks = append(blocks, out)
	} else {
		blocks = append(blocks, sliceBlock(out, int64(cut), int64(n)))
	}
	return blocks, runs
}

func columnsToBlock(mem memory.Allocator, cols Columns) (Block, error) {
	names := make([]string, 0, len(cols))
	for k := range cols {
		names = append(names, k)
	}
	sort.Strings(names)
	// Keep the engine's columns in their usual places: path first, error last.
	sort.SliceStable(names, func(i, j int) bool { return rank(names[i]) < rank(names[j]) })
	fields := make([]arrow.Field, 0, len(names))
	arrs := make([]arrow.Array, 0, len(names))
	defer func() {
		for _, a := range arrs {
			a.Release()
		}
	}()
	rows := -1
	for _, name := range names {
		a, err := toArray(mem, cols[name])
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", name, err)
		}
		if rows >= 0 && a.Len() != rows {
			a.Release()
			return nil, fmt.Errorf("column %q has %d rows, others have %d", name, a.Len(), rows)
		}
		rows = a.Len()
		arrs = append(arrs, a)
		fields = append(fields, arrow.Field{Name: name, Type: a.DataType(), Nullable: true})
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(max(rows, 0))), nil
}

func rank(name string) int {
	switch name {
	case PathColumn:
		return 0
	case ErrorColumn:
		return 2
	}
	return 1
}

func toArray(mem memory.Allocator, v any) (arrow.Array, error) {
	switch x := v.(type) {
	case arrow.Array:
		x.Retain()
		return x, nil
	case []string:
		b := array.NewStringBuilder(mem)
		defer b.Release()
		b.AppendValues(x, nil)
		return b.NewArray(), nil
	case []*string:
		b := array.NewStringBuilder(mem)
		defer b.Release()
		for _, s := range x {
			if s == nil {
				b.AppendNull()
			} else {
				b.Append(*s)
			}
		}
		return b.NewArray(), nil
	case []int32:
		b := array.NewInt32Builder(mem)
		defer b.Release()
		b.AppendValues(x, nil)
		return b.NewArray(), nil
	case []int64:
		b := array.NewInt64Builder(mem)
		defer b.Release()
		b.AppendValues(x, nil)
		return b.NewArray(), nil
	case []float32:
		b := array.NewFloat32Builder(mem)
		defer b.Release()
		b.AppendValues(x, nil)
		return b.NewArray(), nil
	case []float64:
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		b.AppendValues(x, nil)
		return b.NewArray(), nil
	case []bool:
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		b.AppendValues(x, nil)
		return b.NewArray(), nil
	case [][]int32:
		b := array.NewListBuilder(mem, arrow.PrimitiveTypes.Int32)
		defer b.Release()
		vb := b.ValueBuilder().(*array.Int32Builder)
		for _, row := range x {
			b.Append(true)
			vb.AppendValues(row, nil)
		}
		return b.NewArray(), nil
	}
	return nil, fmt.Errorf("unsupported column type %T", v)
}

// rowsToColumns turns per-row objects into columns, one value at a time: the
// cost the row-objects mistake pays.
func rowsToColumns(rows Rows) (Columns, error) {
	cols := Columns{}
	if len(rows) == 0 {
		return cols, nil
	}
	for name, v0 := range rows[0] {
		switch v0.(type) {
		case string:
			cols[name] = make([]string, 0, len(rows))
		case int32:
			cols[name] = make([]int32, 0, len(rows))
		case int:
			cols[name] = make([]int64, 0, len(rows))
		case int64:
			cols[name] = make([]int64, 0, len(rows))
		case float32:
			cols[name] = make([]float32, 0, len(rows))
		case float64:
			cols[name] = make([]float64, 0, len(rows))
		case []int32:
			cols[name] = make([][]int32, 0, len(rows))
		default:
			return nil, fmt.Errorf("row field %q has unsupported type %T", name, v0)
		}
	}
	for i, r := range rows {
		for name, c := range cols {
			v, ok := r[name]
			if !ok {
				return nil, fmt.Errorf("row %d lacks field %q", i, name)
			}
			rv := reflect.ValueOf(c)
			val := reflect.ValueOf(v)
			if val.Type() != rv.Type().Elem() {
				if !val.CanConvert(rv.Type().Elem()) {
					return nil, fmt.Errorf("row %d field %q: %T does not match %s", i, name, v, rv.Type().Elem())
				}
				val = val.Convert(rv.Type().Elem())
			}
			cols[name] = reflect.Append(rv, val).Interface()
		}
	}
	return cols, nil
}
