package pipeline

import (
	"bufio"
	"context"
	"encoding/csv"
	"os"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// WriteCSV is WriteParquet for CSV, as Ray's write_csv: a header row of
// column names, then one record per row. A null is an empty field; a list
// is one field of its elements separated by spaces ("1 7 3"), so a reader
// that knows nothing of lists still gets one column per column; strings
// are quoted as RFC 4180 requires.
func (d *Dataset) WriteCSV(ctx context.Context, path string, o WriteOptions) error {
	return d.write(ctx, resolveOut(path, ".csv"), o, newCSVSink)
}

type csvWriter struct {
	f      *os.File
	buf    *bufio.Writer
	w      *csv.Writer
	row    []string
	header bool // written
}

func newCSVSink(f *os.File, _ WriteOptions, schema *arrow.Schema) (blockWriter, error) {
	buf := bufio.NewWriterSize(f, 1<<16)
	c := &csvWriter{f: f, buf: buf, w: csv.NewWriter(buf)}
	if schema != nil {
		if err := c.writeHeader(schema); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// writeHeader writes the column names: the output schema's, or without one
// the first block's.
func (c *csvWriter) writeHeader(schema *arrow.Schema) error {
	names := make([]string, schema.NumFields())
	for i, fl := range schema.Fields() {
		names[i] = fl.Name
	}
	c.header = true
	return c.w.Write(names)
}

func (c *csvWriter) write(b Block) error {
	if !c.header {
		if err := c.writeHeader(b.Schema()); err != nil {
			return err
		}
	}
	cols := b.Columns()
	c.row = c.row[:0]
	for range cols {
		c.row = append(c.row, "")
	}
	for i := range int(b.NumRows()) {
		for j, col := range cols {
			c.row[j] = csvField(col, i)
		}
		if err := c.w.Write(c.row); err != nil {
			return err
		}
	}
	return nil
}

func (c *csvWriter) close() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	if err := c.buf.Flush(); err != nil {
		return err
	}
	return c.f.Sync()
}

// csvField renders row i of col as one CSV field.
func csvField(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return ""
	}
	switch a := col.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Float32:
		return strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 32)
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'g', -1, 64)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	case array.ListLike:
		lo, hi := a.ValueOffsets(i)
		vals := a.ListValues()
		parts := make([]string, 0, hi-lo)
		for k := lo; k < hi; k++ {
			parts = append(parts, csvField(vals, int(k)))
		}
		return strings.Join(parts, " ")
	}
	return col.ValueStr(i)
}
