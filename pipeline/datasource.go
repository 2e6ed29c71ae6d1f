package pipeline

import "context"

// LabelColumn holds a row's ground-truth class index (int32) when the
// datasource carries one; a datasource without labels leaves it out.
const LabelColumn = "label"

// Datasource is Ray's Datasource: where a read's rows come from and how
// the read splits into read tasks. The engine never learns what a row
// means; it cuts the datasource's units of work into read tasks
// (override_num_blocks, as ReadBinaryFiles cuts a file listing) and calls
// Read once per task.
type Datasource interface {
	// Name names the read operator in stats and events (ReadImages,
	// ReadParquet, ReadWebDataset).
	Name() string
	// Units lists the units of work in a stable order: an object's URI,
	// a Parquet row group, a tar shard. Read tasks take contiguous runs.
	Units() []string
	// Read runs one read task. Its input block's PathColumn holds the
	// task's units; it returns rows with PathColumn (each row's key),
	// DataColumn (its bytes), ErrorColumn (null when fine) and, when the
	// source has labels, LabelColumn, as a Block or Columns. A unit that
	// cannot be read becomes an error row, never a failed task; a unit may
	// yield many rows (a shard) or none.
	Read(ctx context.Context, task Block) (any, error)
}

// StreamingDatasource is a Datasource that may list its units as the read
// goes rather than hold them: an object store prefix of a million images
// yields its first rows while its listing is still being paged.
type StreamingDatasource interface {
	Datasource
	// Listing returns a fresh pass over the units, in the stable order
	// Units would give, or nil when Units holds them all. It may do no
	// I/O until its first Next; each execution takes its own pass.
	Listing() PathSource
}

// ReadDatasource plans a read of src, one read task per block: the
// override, or one per unit when OverrideNumBlocks is 0 (the datasource's
// units are already block-sized: a row group, a shard, or an object GET).
// Limit and MaxFileBytes are the datasource's business and are ignored.
//
// A StreamingDatasource whose units stream is read as ReadBinaryFilesFrom
// reads a folder that streams: each read task takes RowsPerBlock units as
// the listing yields them (Limit/OverrideNumBlocks when the caller counted
// Limit units first), Limit caps the units taken, and the total arrives
// when the listing ends.
func ReadDatasource(src Datasource, o ReadOptions) *Dataset {
	if o.Name == "" {
		o.Name = src.Name()
	}
	if sd, ok := src.(StreamingDatasource); ok && sd.Listing() != nil {
		d := ReadBinaryFilesFrom(nil, o)
		d.listing, d.reader = sd.Listing, src.Read
		return d
	}
	units := src.Units()
	if o.OverrideNumBlocks <= 0 {
		o.OverrideNumBlocks = max(len(units), 1)
	}
	o.Limit = 0
	d := ReadBinaryFiles(units, o)
	d.reader = src.Read
	return d
}

// ReadLocalFile is the read task's rules for one local file, for
// datasources that mix local paths with other units: it refuses, without
// blocking or reading, what is not a regular file or is larger than
// maxBytes (ErrFileTooLarge).
func ReadLocalFile(path string, maxBytes int64) ([]byte, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxFileBytes
	}
	return readFile(path, maxBytes)
}
