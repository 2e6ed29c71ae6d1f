package datasource

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"workbench/pipeline"
)

// parquetPlan is what Open learnt from the Parquet footers: the columns
// that hold the image bytes, the key and the label, and each file's
// metadata, so a read task never reads a footer again.
type parquetPlan struct {
	bytesCol, pathCol, label string // leaf column paths; pathCol, label may be ""
	meta                     map[string]*metadata.FileMetaData
	sizes                    map[string]int64
	rows                     int64
}

// planParquet reads every file's footer and makes one unit per row group
// ("FILE#rg=N", with ";n=K" when Limit cuts it short).
func (s *Source) planParquet(ctx context.Context, names []string) error {
	p := &parquetPlan{meta: map[string]*metadata.FileMetaData{}, sizes: map[string]int64{}}
	s.pq = p
	left := int64(s.opts.Limit)
	for _, name := range names {
		ra, size, closeFn, err := s.openAt(ctx, name)
		if err != nil {
			return err
		}
		r, err := file.NewParquetReader(ra)
		closeFn()
		if err != nil {
			return fmt.Errorf("%s: not a readable Parquet file: %w", name, err)
		}
		md := r.MetaData()
		if err := p.pickColumns(md, s.opts.ImageColumn, name); err != nil {
			return err
		}
		p.meta[name], p.sizes[name] = md, size
		for rg := range md.NumRowGroups() {
			n := md.RowGroup(rg).NumRows()
			unit := fmt.Sprintf("%s#rg=%d", name, rg)
			if s.opts.Limit > 0 {
				if left <= 0 {
					break
				}
				if n > left {
					unit += ";n=" + strconv.FormatInt(left, 10)
					n = left
				}
				left -= n
			}
			s.units = append(s.units, unit)
			p.rows += n
		}
	}
	if len(s.units) == 0 {
		return fmt.Errorf("%s: the Parquet files hold no rows", s.Spec)
	}
	return nil
}

// pickColumns finds the image bytes: the named binary column, else the
// Hugging Face layout's image.bytes (with image.path for keys), else a
// lone binary column called image or bytes. A label column is used when
// it holds integers.
func (p *parquetPlan) pickColumns(md *metadata.FileMetaData, imageColumn, name string) error {
	sc := md.Schema
	var bytesCol, pathCol string
	switch {
	case imageColumn != "":
		for _, c := range []string{imageColumn, imageColumn + ".bytes"} {
			if i := sc.ColumnIndexByName(c); i >= 0 && sc.Column(i).PhysicalType() == parquet.Types.ByteArray {
				bytesCol = c
				break
			}
		}
		if bytesCol == "" {
			return fmt.Errorf("%s: no binary column %q (--image-column)", name, imageColumn)
		}
	case sc.ColumnIndexByName("image.bytes") >= 0:
		bytesCol = "image.bytes"
		if sc.ColumnIndexByName("image.path") >= 0 {
			pathCol = "image.path"
		}
	default:
		for _, c := range []string{"image", "bytes"} {
			if i := sc.ColumnIndexByName(c); i >= 0 && sc.Column(i).PhysicalType() == parquet.Types.ByteArray {
				bytesCol = c
				break
			}
		}
		if bytesCol == "" {
			return fmt.Errorf("%s: no image bytes: want the Hugging Face layout (image: struct<bytes, path>) or a binary column named with --image-column", name)
		}
	}
	label := ""
	if i := sc.ColumnIndexByName("label"); i >= 0 {
		switch sc.Column(i).PhysicalType() {
		case parquet.Types.Int32, parquet.Types.Int64:
			label = "label"
		}
	}
	if p.bytesCol != "" && (p.bytesCol != bytesCol || p.label != label) {
		return fmt.Errorf("%s: its columns differ from the other Parquet files' (%s, label %q)", name, p.bytesCol, p.label)
	}
	p.bytesCol, p.pathCol, p.label = bytesCol, pathCol, label
	return nil
}

// openAt opens a local or remote file for random access: remote reads
// are ranged GETs, one per column chunk the reader asks for.
func (s *Source) openAt(ctx context.Context, name string) (parquet.ReaderAtSeeker, int64, func(), error) {
	if !IsRemote(name) {
		f, err := os.Open(name)
		if err != nil {
			return nil, 0, nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, nil, err
		}
		return f, fi.Size(), func() { f.Close() }, nil
	}
	u, err := parseURI(name)
	if err != nil {
		return nil, 0, nil, err
	}
	st, err := s.store(ctx, u)
	if err != nil {
		return nil, 0, nil, err
	}
	size, ok := s.sizes[name]
	if !ok && s.pq != nil {
		size, ok = s.pq.sizes[name]
	}
	if !ok {
		return nil, 0, nil, fmt.Errorf("%s: size unknown (not listed)", name)
	}
	return &rangeReader{ctx: ctx, st: st, key: u.key, size: size}, size, func() {}, nil
}

// rangeReader is an io.ReaderAt and io.Seeker over ranged GETs.
type rangeReader struct {
	ctx  context.Context
	st   Store
	key  string
	size int64
	off  int64
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), r.size-off)
	b, err := r.st.Get(r.ctx, r.key, off, n)
	if err != nil {
		return 0, err
	}
	c := copy(p, b)
	if c < len(p) {
		return c, io.EOF
	}
	return c, nil
}

func (r *rangeReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		r.off = off
	case io.SeekCurrent:
		r.off += off
	case io.SeekEnd:
		r.off = r.size + off
	}
	return r.off, nil
}

func (r *rangeReader) Read(p []byte) (int, error) {
	n, err := r.ReadAt(p, r.off)
	r.off += int64(n)
	return n, err
}

// parseUnit splits "FILE#rg=N[;n=K]".
func parseUnit(u string) (name string, rg int, limit int64, err error) {
	name, spec, ok := strings.Cut(u, "#rg=")
	if !ok {
		return "", 0, 0, fmt.Errorf("bad Parquet unit %q", u)
	}
	rgs, ns, hasN := strings.Cut(spec, ";n=")
	if rg, err = strconv.Atoi(rgs); err != nil {
		return "", 0, 0, err
	}
	limit = -1
	if hasN {
		limit, err = strconv.ParseInt(ns, 10, 64)
	}
	return name, rg, limit, err
}

// readParquet reads the task's row groups. The image bytes column is the
// one Arrow decoded from the file, handed on as it is: never copied into a
// second buffer. A row group that cannot be read becomes one error row.
func (s *Source) readParquet(ctx context.Context, units *array.String) (any, error) {
	var blocks []pipeline.Block
	for i := range units.Len() {
		b, err := s.readRowGroup(ctx, units.Value(i))
		if err != nil {
			rows := newRowBuilder(s.Labelled())
			rows.add(units.Value(i), nil, err, 0, false)
			blocks = append(blocks, columnsBlock(rows.columns()))
			rows.release()
			continue
		}
		blocks = append(blocks, b)
	}
	if len(blocks) == 1 {
		return blocks[0], nil
	}
	return concatBlocks(blocks)
}

func (s *Source) readRowGroup(ctx context.Context, unit string) (pipeline.Block, error) {
	name, rg, limit, err := parseUnit(unit)
	if err != nil {
		return nil, err
	}
	p := s.pq
	ra, _, closeFn, err := s.openAt(ctx, name)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	r, err := file.NewParquetReader(ra, file.WithMetadata(p.meta[name]))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	md := p.meta[name]
	fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{BatchSize: md.RowGroup(rg).NumRows()}, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	var cols []int
	for _, c := range []string{p.bytesCol, p.pathCol, p.label} {
		if c != "" {
			cols = append(cols, md.Schema.ColumnIndexByName(c))
		}
	}
	tbl, err := fr.ReadRowGroups(ctx, cols, []int{rg})
	if err != nil {
		return nil, fmt.Errorf("%s row group %d: %w", name, rg, err)
	}
	defer tbl.Release()
	n := tbl.NumRows()
	if limit >= 0 && limit < n {
		n = limit
	}
	var rowBase int64
	for i := range rg {
		rowBase += md.RowGroup(i).NumRows()
	}
	data, keys, labels, err := p.extract(tbl)
	if err != nil {
		return nil, fmt.Errorf("%s row group %d: %w", name, rg, err)
	}
	defer data.Release()
	// Keys: the image's own path where the table has one, else FILE#row.
	kb := array.NewStringBuilder(memory.DefaultAllocator)
	defer kb.Release()
	eb := array.NewStringBuilder(memory.DefaultAllocator)
	defer eb.Release()
	for i := range int(n) {
		if keys != nil && keys.IsValid(i) && keys.Value(i) != "" {
			kb.Append(keys.Value(i))
		} else {
			kb.Append(name + "#" + strconv.FormatInt(rowBase+int64(i), 10))
		}
		if data.IsNull(i) {
			eb.Append("read: the row has no image bytes")
		} else {
			eb.AppendNull()
		}
	}
	c := pipeline.Columns{pipeline.PathColumn: kb.NewArray(), pipeline.ErrorColumn: eb.NewArray(),
		pipeline.DataColumn: array.NewSlice(data, 0, n)}
	if labels != nil {
		c[pipeline.LabelColumn] = array.NewSlice(labels, 0, n)
		labels.Release()
	}
	return columnsBlock(c), nil
}

// extract finds the bytes, key and label arrays in a row group's table.
// The bytes array is retained for the caller.
func (p *parquetPlan) extract(tbl arrow.Table) (data *array.Binary, keys *array.String, labels arrow.Array, err error) {
	col := func(name string) (arrow.Array, error) {
		top, child, nested := strings.Cut(name, ".")
		for i := range int(tbl.NumCols()) {
			if tbl.Schema().Field(i).Name != top {
				continue
			}
			ch := tbl.Column(i).Data()
			var a arrow.Array
			if len(ch.Chunks()) == 1 {
				a = ch.Chunk(0)
				a.Retain()
			} else if a, err = array.Concatenate(ch.Chunks(), memory.DefaultAllocator); err != nil {
				return nil, err
			}
			if !nested {
				return a, nil
			}
			st, ok := a.(*array.Struct)
			if !ok {
				a.Release()
				return nil, fmt.Errorf("column %s is %s, not a struct", top, a.DataType())
			}
			defer st.Release()
			idx, ok := st.DataType().(*arrow.StructType).FieldIdx(child)
			if !ok {
				return nil, fmt.Errorf("column %s has no field %s", top, child)
			}
			f := st.Field(idx)
			if st.NullN() > 0 {
				// A null struct row has a meaningless child: null it.
				f = withNulls(f, st)
			} else {
				f.Retain()
			}
			return f, nil
		}
		return nil, fmt.Errorf("no column %s", name)
	}
	a, err := col(p.bytesCol)
	if err != nil {
		return nil, nil, nil, err
	}
	switch v := a.(type) {
	case *array.Binary:
		data = v
	default:
		a.Release()
		return nil, nil, nil, fmt.Errorf("column %s is %s; want binary", p.bytesCol, a.DataType())
	}
	if p.pathCol != "" {
		if k, err := col(p.pathCol); err == nil {
			defer k.Release()
			if s, ok := k.(*array.String); ok {
				keys = s
				keys.Retain()
				defer keys.Release()
			}
		}
	}
	if p.label != "" {
		l, err := col(p.label)
		if err != nil {
			data.Release()
			return nil, nil, nil, err
		}
		labels = toInt32(l)
		l.Release()
	}
	return data, keys, labels, nil
}

// withNulls returns child with the struct's nulls applied.
func withNulls(child arrow.Array, st *array.Struct) arrow.Array {
	d := child.Data()
	bufs := append([]*memory.Buffer(nil), d.Buffers()...)
	bufs[0] = st.Data().Buffers()[0]
	nd := array.NewData(d.DataType(), d.Len(), bufs, d.Children(), array.UnknownNullCount, d.Offset())
	defer nd.Release()
	return array.MakeFromData(nd)
}

// toInt32 converts an integer label column to int32.
func toInt32(a arrow.Array) arrow.Array {
	b := array.NewInt32Builder(memory.DefaultAllocator)
	defer b.Release()
	for i := range a.Len() {
		if a.IsNull(i) {
			b.AppendNull()
			continue
		}
		switch v := a.(type) {
		case *array.Int64:
			b.Append(int32(v.Value(i)))
		case *array.Int32:
			b.Append(v.Value(i))
		default:
			b.AppendNull()
		}
	}
	return b.NewArray()
}

// columnsBlock makes a record batch of read columns, releasing them.
func columnsBlock(c pipeline.Columns) pipeline.Block {
	order := []string{pipeline.PathColumn, pipeline.DataColumn, pipeline.ErrorColumn, pipeline.LabelColumn}
	var fields []arrow.Field
	var arrs []arrow.Array
	for _, name := range order {
		a, ok := c[name].(arrow.Array)
		if !ok {
			continue
		}
		fields = append(fields, arrow.Field{Name: name, Type: a.DataType(), Nullable: true})
		arrs = append(arrs, a)
	}
	rb := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(arrs[0].Len()))
	for _, a := range arrs {
		a.Release()
	}
	return rb
}

// concatBlocks joins a task's row groups into one block (a copy; only
// when one read task takes several row groups).
func concatBlocks(blocks []pipeline.Block) (pipeline.Block, error) {
	defer func() {
		for _, b := range blocks {
			b.Release()
		}
	}()
	var sc *arrow.Schema
	for _, b := range blocks {
		if sc == nil || b.NumCols() > int64(len(sc.Fields())) {
			sc = b.Schema()
		}
	}
	cols := make([]arrow.Array, len(sc.Fields()))
	for i, f := range sc.Fields() {
		var parts []arrow.Array
		for _, b := range blocks {
			a := pipeline.Column(b, f.Name)
			if a == nil {
				a = array.MakeArrayOfNull(memory.DefaultAllocator, f.Type, int(b.NumRows()))
				defer a.Release()
			}
			parts = append(parts, a)
		}
		c, err := array.Concatenate(parts, memory.DefaultAllocator)
		if err != nil {
			return nil, err
		}
		cols[i] = c
	}
	var rows int64
	for _, b := range blocks {
		rows += b.NumRows()
	}
	rb := array.NewRecordBatch(sc, cols, rows)
	for _, c := range cols {
		c.Release()
	}
	return rb, nil
}
