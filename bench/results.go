package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// A Format is one of the forms a results file can take. All three hold the
// same records and read back to the same records (see DecodeRecords).
type Format string

// The results formats. JSON is the canonical one: a document
// {"schema_version": 1, "records": [...]}. CSV and Parquet hold one row per
// record with one column per scalar field; nested fields (ops, windows,
// telemetry, warnings, knobs, params) are JSON text in their column, so an
// analyst can still load the table with pandas or DuckDB and the round trip
// stays exact.
const (
	FormatJSON    Format = "json"
	FormatCSV     Format = "csv"
	FormatParquet Format = "parquet"
)

// FormatForPath picks the results format from a file name's extension
// (.json, .csv, .parquet), or fails naming the ones it knows.
func FormatForPath(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return FormatJSON, nil
	case ".csv":
		return FormatCSV, nil
	case ".parquet", ".pq":
		return FormatParquet, nil
	}
	return "", fmt.Errorf("%s: unknown results format; name the file .json, .csv or .parquet", path)
}

// WriteRecordsFile writes records to path in the format its extension names,
// atomically (a reader never sees half a file).
func WriteRecordsFile(path string, recs []*Record) error {
	f, err := FormatForPath(path)
	if err != nil {
		return err
	}
	return writeAtomic(path, func(w io.Writer) error { return EncodeRecords(w, f, recs) })
}

// EncodeRecords writes records to w in format f.
func EncodeRecords(w io.Writer, f Format, recs []*Record) error {
	switch f {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(resultsDoc{SchemaVersion, recs})
	case FormatCSV:
		return encodeCSV(w, recs)
	case FormatParquet:
		return encodeParquet(w, recs)
	}
	return fmt.Errorf("unknown results format %q", f)
}

type resultsDoc struct {
	SchemaVersion int       `json:"schema_version"`
	Records       []*Record `json:"records"`
}

// ReadRecordsFile reads a results file in any format ("-" reads standard
// input). See DecodeRecords.
func ReadRecordsFile(path string) ([]*Record, error) {
	var (
		b   []byte
		err error
	)
	if path == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	recs, err := DecodeRecords(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}

// DecodeRecords reads records written in any format, recognising it by
// content rather than by name, as vegeta's report does with its attack
// output: Parquet by its PAR1 magic, JSON by a leading '{' or '['
// (a results document, a bare array of records, a single record, or JSON
// lines of records), and CSV otherwise. Records with a schema_version newer
// than this build understands are refused rather than misread.
func DecodeRecords(r io.Reader) ([]*Record, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var recs []*Record
	trimmed := bytes.TrimLeft(b, " \t\r\n\ufeff")
	switch {
	case bytes.HasPrefix(b, []byte("PAR1")):
		recs, err = decodeParquet(b)
	case len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '['):
		recs, err = decodeJSON(trimmed)
	case len(trimmed) == 0:
		return nil, errors.New("empty results file")
	default:
		recs, err = decodeCSV(b)
	}
	if err != nil {
		return nil, err
	}
	for i, rec := range recs {
		if rec == nil {
			return nil, fmt.Errorf("record %d is null", i+1)
		}
		if rec.SchemaVersion > SchemaVersion {
			return nil, fmt.Errorf("record %d has schema_version %d; this workbench reads up to %d, so upgrade it",
				i+1, rec.SchemaVersion, SchemaVersion)
		}
	}
	return recs, nil
}

func decodeJSON(b []byte) ([]*Record, error) {
	if b[0] == '[' {
		var recs []*Record
		if err := json.Unmarshal(b, &recs); err != nil {
			return nil, fmt.Errorf("JSON array of records: %w", err)
		}
		return recs, nil
	}
	var recs []*Record
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("JSON: %w", err)
		}
		var probe struct {
			Records json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, fmt.Errorf("JSON: %w", err)
		}
		if probe.Records != nil {
			var doc resultsDoc
			if err := json.Unmarshal(raw, &doc); err != nil {
				return nil, fmt.Errorf("results document: %w", err)
			}
			recs = append(recs, doc.Records...)
			continue
		}
		rec := new(Record)
		if err := json.Unmarshal(raw, rec); err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// A column is one flattened field of Record: a scalar at some path inside
// it, or a nested value stored as JSON text.
type column struct {
	name  string
	index []int // reflect field index path from Record
	kind  colKind
}

type colKind int

const (
	colString colKind = iota
	colInt
	colFloat
	colBool
	colTime // time.Time as RFC 3339 with nanoseconds and zone
	colJSON // anything else, as JSON text; "" for a nil value
)

var timeType = reflect.TypeFor[time.Time]()

// recordColumns is Record flattened by reflection, so a field added to
// Record reaches CSV and Parquet without anyone remembering to; the round
// trip test fills every field to prove it.
var recordColumns = flattenColumns(reflect.TypeFor[Record](), "", nil)

func flattenColumns(t reflect.Type, prefix string, index []int) []column {
	var cols []column
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		name := prefix + tag
		idx := append(append([]int(nil), index...), i)
		switch {
		case f.Type == timeType:
			cols = append(cols, column{name, idx, colTime})
		case f.Type.Kind() == reflect.Struct:
			cols = append(cols, flattenColumns(f.Type, name+"_", idx)...)
		case f.Type.Kind() == reflect.String:
			cols = append(cols, column{name, idx, colString})
		case f.Type.Kind() == reflect.Int || f.Type.Kind() == reflect.Int64:
			cols = append(cols, column{name, idx, colInt})
		case f.Type.Kind() == reflect.Float64:
			cols = append(cols, column{name, idx, colFloat})
		case f.Type.Kind() == reflect.Bool:
			cols = append(cols, column{name, idx, colBool})
		default:
			cols = append(cols, column{name, idx, colJSON})
		}
	}
	return cols
}

// text renders the column's value in rec for CSV.
func (c column) text(rec *Record) (string, error) {
	v := reflect.ValueOf(rec).Elem().FieldByIndex(c.index)
	switch c.kind {
	case colString:
		return v.String(), nil
	case colInt:
		return strconv.FormatInt(v.Int(), 10), nil
	case colFloat:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64), nil
	case colBool:
		return strconv.FormatBool(v.Bool()), nil
	case colTime:
		b, err := v.Interface().(time.Time).MarshalText()
		return string(b), err
	}
	if isNil(v) {
		return "", nil
	}
	b, err := json.Marshal(v.Interface())
	return string(b), err
}

func isNil(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// setText parses s into the column's field of rec.
func (c column) setText(rec *Record, s string) error {
	v := reflect.ValueOf(rec).Elem().FieldByIndex(c.index)
	switch c.kind {
	case colString:
		v.SetString(s)
	case colInt:
		if s == "" {
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case colFloat:
		if s == "" {
			return nil
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		v.SetFloat(x)
	case colBool:
		if s == "" {
			return nil
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case colTime:
		if s == "" {
			return nil
		}
		var t time.Time
		if err := t.UnmarshalText([]byte(s)); err != nil {
			return err
		}
		v.Set(reflect.ValueOf(t))
	case colJSON:
		if s == "" {
			return nil
		}
		return json.Unmarshal([]byte(s), v.Addr().Interface())
	}
	return nil
}

func encodeCSV(w io.Writer, recs []*Record) error {
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	header := make([]string, len(recordColumns))
	for i, c := range recordColumns {
		header[i] = c.name
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	row := make([]string, len(recordColumns))
	for _, rec := range recs {
		for i, c := range recordColumns {
			s, err := c.text(rec)
			if err != nil {
				return fmt.Errorf("column %s: %w", c.name, err)
			}
			row[i] = s
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// columnsByName maps a header to recordColumns; unknown headers (from a
// newer writer that added fields) are skipped, missing ones stay zero.
func columnsByName(names []string) []*column {
	byName := make(map[string]*column, len(recordColumns))
	for i := range recordColumns {
		byName[recordColumns[i].name] = &recordColumns[i]
	}
	out := make([]*column, len(names))
	for i, n := range names {
		out[i] = byName[n]
	}
	return out
}

func decodeCSV(b []byte) ([]*Record, error) {
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff"))))
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	if !slices.Contains(header, "schema_version") {
		return nil, errors.New("not a workbench results file: expected JSON, Parquet, or CSV with a schema_version column")
	}
	cols := columnsByName(header)
	var recs []*Record
	for line := 2; ; line++ {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("CSV: %w", err)
		}
		rec := new(Record)
		for i, c := range cols {
			if c == nil {
				continue
			}
			if err := c.setText(rec, row[i]); err != nil {
				return nil, fmt.Errorf("CSV line %d, column %s: %w", line, c.name, err)
			}
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

func (c column) arrowType() arrow.DataType {
	switch c.kind {
	case colInt:
		return arrow.PrimitiveTypes.Int64
	case colFloat:
		return arrow.PrimitiveTypes.Float64
	case colBool:
		return arrow.FixedWidthTypes.Boolean
	}
	return arrow.BinaryTypes.String
}

func recordSchema() *arrow.Schema {
	fields := make([]arrow.Field, len(recordColumns))
	for i, c := range recordColumns {
		fields[i] = arrow.Field{Name: c.name, Type: c.arrowType()}
	}
	md := arrow.NewMetadata([]string{"workbench.schema_version"}, []string{strconv.Itoa(SchemaVersion)})
	return arrow.NewSchema(fields, &md)
}

func encodeParquet(w io.Writer, recs []*Record) error {
	schema := recordSchema()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, rec := range recs {
		v := reflect.ValueOf(rec).Elem()
		for i, c := range recordColumns {
			fv := v.FieldByIndex(c.index)
			switch c.kind {
			case colInt:
				b.Field(i).(*array.Int64Builder).Append(fv.Int())
			case colFloat:
				b.Field(i).(*array.Float64Builder).Append(fv.Float())
			case colBool:
				b.Field(i).(*array.BooleanBuilder).Append(fv.Bool())
			default:
				s, err := c.text(rec)
				if err != nil {
					return fmt.Errorf("column %s: %w", c.name, err)
				}
				b.Field(i).(*array.StringBuilder).Append(s)
			}
		}
	}
	batch := b.NewRecordBatch()
	defer batch.Release()
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd))
	// The writer closes what it writes to when that is an io.Closer; hide
	// it, so the caller (writeAtomic) keeps ownership of its file.
	fw, err := pqarrow.NewFileWriter(schema, struct{ io.Writer }{w}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return err
	}
	if err := fw.Write(batch); err != nil {
		fw.Close()
		return err
	}
	return fw.Close()
}

func decodeParquet(b []byte) ([]*Record, error) {
	pf, err := file.NewParquetReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	defer tbl.Release()
	n := int(tbl.NumRows())
	recs := make([]*Record, n)
	for i := range recs {
		recs[i] = new(Record)
	}
	names := make([]string, tbl.NumCols())
	for i := range names {
		names[i] = tbl.Schema().Field(i).Name
	}
	for ci, c := range columnsByName(names) {
		if c == nil {
			continue
		}
		row := 0
		for _, chunk := range tbl.Column(ci).Data().Chunks() {
			for j := range chunk.Len() {
				rec := recs[row]
				row++
				if chunk.IsNull(j) {
					continue
				}
				fv := reflect.ValueOf(rec).Elem().FieldByIndex(c.index)
				var err error
				switch a := chunk.(type) {
				case *array.Int64:
					if c.kind != colInt {
						err = fmt.Errorf("is int64, want %v", c.arrowType())
					} else {
						fv.SetInt(a.Value(j))
					}
				case *array.Float64:
					if c.kind != colFloat {
						err = fmt.Errorf("is float64, want %v", c.arrowType())
					} else {
						fv.SetFloat(a.Value(j))
					}
				case *array.Boolean:
					if c.kind != colBool {
						err = fmt.Errorf("is boolean, want %v", c.arrowType())
					} else {
						fv.SetBool(a.Value(j))
					}
				case *array.String:
					err = c.setText(rec, a.Value(j))
				default:
					err = fmt.Errorf("unexpected type %v", chunk.DataType())
				}
				if err != nil {
					return nil, fmt.Errorf("parquet row %d, column %s: %w", row, c.name, err)
				}
			}
		}
	}
	return recs, nil
}
