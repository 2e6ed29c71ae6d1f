package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Block is the unit of data the engine moves: an Arrow record batch. Every
// block carries an ErrorColumn; a row whose error is non-null bypasses later
// UDFs and reaches the output with its error text, so every input row is
// accounted for.
type Block = arrow.RecordBatch

// Column names the engine itself relies on.
const (
	PathColumn  = "path"
	ErrorColumn = "error"
	// TensorShapeKey is the field metadata key holding a tensor column's
	// per-row shape, e.g. "3,224,224".
	TensorShapeKey = "tensor_shape"
)

// RefBundle is a group of blocks handed from one operator to the next, with
// their row and byte counts cached. Seq orders bundles for PreserveOrder.
type RefBundle struct {
	Blocks []Block
	Rows   int
	Bytes  int64
	Seq    int64
}

func newBundle(seq int64, blocks ...Block) RefBundle {
	b := RefBundle{Blocks: blocks, Seq: seq}
	for _, blk := range blocks {
		b.Rows += int(blk.NumRows())
		b.Bytes += BlockBytes(blk)
	}
	return b
}

// Release drops the bundle's references to its blocks.
func (b RefBundle) Release() {
	for _, blk := range b.Blocks {
		blk.Release()
	}
}

// BlockBytes estimates the memory a block pins. A slice shares its parent's
// buffers, so it is charged in proportion to the rows it covers; this keeps
// the memory budget honest when a large block is cut into batches.
func BlockBytes(b Block) int64 {
	var n int64
	for _, col := range b.Columns() {
		n += arrayBytes(col.Data())
	}
	return n
}

func arrayBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, buf := range d.Buffers() {
		if buf != nil {
			n += int64(buf.Len())
		}
	}
	for _, c := range d.Children() {
		n += arrayBytes(c)
	}
	// A slice of length len at offset off within a buffer sized for the
	// parent: charge only the covered fraction.
	if full := bufferRows(d); full > 0 && d.Len() < full {
		n = n * int64(d.Len()) / int64(full)
	}
	return n
}

// bufferRows guesses how many rows the first data buffer holds, for slices.
func bufferRows(d arrow.ArrayData) int {
	switch d.DataType().ID() {
	case arrow.FIXED_SIZE_LIST:
		child := d.Children()[0]
		size := d.DataType().(*arrow.FixedSizeListType).Len()
		if size == 0 {
			return 0
		}
		return (child.Offset() + child.Len()) / int(size)
	case arrow.INT32, arrow.FLOAT32:
		if bufs := d.Buffers(); len(bufs) > 1 && bufs[1] != nil {
			return bufs[1].Len() / 4
		}
	}
	return 0
}

// TensorType returns the Arrow type of a tensor column holding one float32
// tensor of the given shape per row.
func TensorType(shape ...int) *arrow.FixedSizeListType {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return arrow.FixedSizeListOf(int32(n), arrow.PrimitiveTypes.Float32)
}

// TensorField returns a tensor column's field, with its shape in metadata.
func TensorField(name string, shape ...int) arrow.Field {
	parts := make([]string, len(shape))
	for i, s := range shape {
		parts[i] = strconv.Itoa(s)
	}
	return arrow.Field{
		Name:     name,
		Type:     TensorType(shape...),
		Nullable: true,
		Metadata: arrow.NewMetadata([]string{TensorShapeKey}, []string{strings.Join(parts, ",")}),
	}
}

// TensorValues returns the contiguous float32 values of rows [0, col.Len())
// of a tensor column, without copying: the slice aliases the Arrow buffer, so
// it can be handed to ONNX Runtime directly.
func TensorValues(col arrow.Array) ([]float32, int, error) {
	fsl, ok := col.(*array.FixedSizeList)
	if !ok {
		return nil, 0, fmt.Errorf("tensor column has type %s, want fixed_size_list<float32>", col.DataType())
	}
	size := int(fsl.DataType().(*arrow.FixedSizeListType).Len())
	vals, ok := fsl.ListValues().(*array.Float32)
	if !ok {
		return nil, 0, fmt.Errorf("tensor column holds %s, want float32", fsl.ListValues().DataType())
	}
	all := vals.Float32Values()
	off := fsl.Offset()
	return all[off*size : (off+fsl.Len())*size], size, nil
}

// NewTensorArray wraps values (rows×size float32, row-major) as a tensor
// column without copying. The array keeps values alive.
func NewTensorArray(values []float32, size int, valid []bool) arrow.Array {
	return NewTensorArrayFromBuffer(memory.NewBufferBytes(arrow.Float32Traits.CastToBytes(values)), size, valid)
}

// NewTensorArrayFromBuffer wraps the float32 values in buf as a tensor
// column. It takes over the caller's reference to buf: a pooled buffer goes
// back to its pool when the last array using it is released.
func NewTensorArrayFromBuffer(buf *memory.Buffer, size int, valid []bool) arrow.Array {
	n := buf.Len() / 4
	rows := n / size
	child := array.NewData(arrow.PrimitiveTypes.Float32, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	defer child.Release()
	var bitmap *memory.Buffer
	nulls := 0
	if valid != nil {
		bits := make([]byte, (rows+7)/8)
		for i, ok := range valid {
			if ok {
				bits[i/8] |= 1 << (i % 8)
			} else {
				nulls++
			}
		}
		bitmap = memory.NewBufferBytes(bits)
	}
	data := array.NewData(TensorType(size), rows, []*memory.Buffer{bitmap}, []arrow.ArrayData{child}, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

// Column returns the named column of b, or nil.
func Column(b Block, name string) arrow.Array {
	idx := b.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil
	}
	return b.Column(idx[0])
}

// errorRows counts rows of b whose error column is set.
func errorRows(b Block) int {
	col := Column(b, ErrorColumn)
	if col == nil {
		return 0
	}
	return col.Len() - col.NullN()
}

// sliceBlock returns rows [i, j) of b without copying.
func sliceBlock(b Block, i, j int64) Block { return b.NewSlice(i, j) }

// concatBlocks joins blocks that share a schema. This copies, which is why
// the batcher only uses it when a batch straddles a block boundary.
func concatBlocks(mem memory.Allocator, blocks []Block) (Block, error) {
	if len(blocks) == 1 {
		blocks[0].Retain()
		return blocks[0], nil
	}
	schema := blocks[0].Schema()
	cols := make([]arrow.Array, schema.NumFields())
	var rows int64
	for _, b := range blocks {
		if !b.Schema().Equal(schema) {
			return nil, fmt.Errorf("cannot batch blocks with different schemas: %s vs %s", schema, b.Schema())
		}
		rows += b.NumRows()
	}
	for i := range cols {
		parts := make([]arrow.Array, len(blocks))
		for k, b := range blocks {
			parts[k] = b.Column(i)
		}
		c, err := array.Concatenate(parts, mem)
		if err != nil {
			for _, done := range cols[:i] {
				done.Release()
			}
			return nil, err
		}
		cols[i] = c
	}
	out := array.NewRecordBatch(schema, cols, rows)
	for _, c := range cols {
		c.Release()
	}
	return out, nil
}

// batcher cuts a sequence of blocks into batches of batchSize rows, as Ray's
// map_batches does. A batch inside one block is a zero-copy slice; a batch
// that straddles blocks is concatenated, which copies, and is counted.
type batcher struct {
	mem       memory.Allocator
	size      int
	blocks    []Block
	blk, row  int // position
	copiedRow int // rows that had to be copied to straddle blocks
}

// next returns the next batch, or nil at the end. The caller releases it.
func (bt *batcher) next() (Block, error) {
	for bt.blk < len(bt.blocks) && int64(bt.row) >= bt.blocks[bt.blk].NumRows() {
		bt.blk++
		bt.row = 0
	}
	if bt.blk >= len(bt.blocks) {
		return nil, nil
	}
	cur := bt.blocks[bt.blk]
	remain := int(cur.NumRows()) - bt.row
	if bt.size <= 0 || remain >= bt.size || bt.blk == len(bt.blocks)-1 {
		n := remain
		if bt.size > 0 && n > bt.size {
			n = bt.size
		}
		out := sliceBlock(cur, int64(bt.row), int64(bt.row+n))
		bt.row += n
		return out, nil
	}
	// Straddle: gather slices until the batch is full or blocks run out.
	var parts []Block
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	need := bt.size
	for need > 0 && bt.blk < len(bt.blocks) {
		cur = bt.blocks[bt.blk]
		avail := int(cur.NumRows()) - bt.row
		if avail <= 0 {
			bt.blk++
			bt.row = 0
			continue
		}
		n := min(avail, need)
		parts = append(parts, sliceBlock(cur, int64(bt.row), int64(bt.row+n)))
		bt.row += n
		need -= n
	}
	if len(parts) > 1 {
		for _, p := range parts {
			bt.copiedRow += int(p.NumRows())
		}
	}
	return concatBlocks(bt.mem, parts)
}
