package datasource

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"workbench/pipeline"
	"workbench/vision"
)

// Kind says where the data lives, as detected from --data.
type Kind string

// The kinds of --data.
const (
	KindFolder Kind = "folder" // a local folder, listed by vision.ListImages' rules
	KindGlob   Kind = "glob"   // a local glob pattern
	KindList   Kind = "list"   // @list.txt: one path or URI per line
	KindFile   Kind = "file"   // one local file (a Parquet table or a tar shard)
	KindS3     Kind = "s3"     // s3://[anonymous@]bucket/prefix
	KindGCS    Kind = "gs"     // gs://[anonymous@]bucket/prefix
)

// Format says what the units hold.
type Format string

// The formats a source can hold.
const (
	FormatImages     Format = "images"     // one image per object or file
	FormatParquet    Format = "parquet"    // image bytes in a Parquet column
	FormatWebDataset Format = "webdataset" // KEY.jpg (+ KEY.cls) members of tar shards
)

// LabelsFromFolders is Options.LabelFrom for class subfolders.
const LabelsFromFolders = "folders"

// Options configure Open.
type Options struct {
	// ImageColumn names a plain binary column of image bytes in Parquet;
	// "" looks for the Hugging Face layout (image: struct<bytes, path>).
	ImageColumn string
	// LabelFrom is "" (labels only where the format carries them: a
	// Parquet label column, a WebDataset .cls) or LabelsFromFolders.
	LabelFrom string
	// ClassNames, when set, maps a class folder's name to its line index;
	// otherwise folders are numbered in sorted order, as torchvision's
	// ImageFolder does.
	ClassNames []string
	// Limit reads only the first Limit images in listing order; 0 = all.
	Limit int
	// GetConcurrency is the object GETs in flight per read task; 0 = 1.
	GetConcurrency int
	// MaxObjectBytes refuses a larger object or member unread, as an
	// error row; 0 = pipeline.DefaultMaxFileBytes.
	MaxObjectBytes int64
	// Retry bounds retries; the zero value means DefaultRetry.
	Retry RetryPolicy
}

// Source is an opened --data: a pipeline.Datasource whose units are
// objects, row groups or shards.
type Source struct {
	Spec   string
	Kind   Kind
	Format Format

	opts     Options
	units    []string
	stream   *remoteListing   // set when the units are listed as the read goes
	classIdx map[string]int32 // class folder → index, with LabelFrom folders
	pq       *parquetPlan
	stats    *Stats

	mu sync.Mutex
	// sizes are listed object sizes, to refuse large ones unread; a
	// streamed listing's are dropped once read.
	sizes  map[string]int64
	stores map[string]Store // by scheme://[user@]bucket
	left   limitBudget      // rows still allowed, for shards
}

var _ pipeline.Datasource = (*Source)(nil)

// IsRemote reports whether spec names an object store (s3:// or gs://).
func IsRemote(spec string) bool {
	return strings.HasPrefix(spec, "s3://") || strings.HasPrefix(spec, "gs://")
}

// IsFolder reports whether spec is a plain local folder, which the run
// path lists itself, as it always has.
func IsFolder(spec string) bool {
	if IsRemote(spec) || strings.HasPrefix(spec, "@") || hasGlobMeta(spec) {
		return false
	}
	fi, err := os.Stat(spec)
	return err == nil && fi.IsDir()
}

func hasGlobMeta(s string) bool { return strings.ContainsAny(s, "*?[") }

// Open detects what spec names and lists it: every image, Parquet row
// group or tar shard becomes a unit. The listing is paged (object stores
// return 1,000 keys a page) and stops early once Limit images are found.
//
// A prefix of images in an object store is not listed whole: Open reads
// its first page, and the read then pages on as it goes (Listing), so a
// million objects produce their first rows before their listing ends.
// Parquet and tar prefixes, whose units are few and whose footers Open
// reads, are listed whole first.
func Open(ctx context.Context, spec string, o Options) (*Source, error) {
	if o.GetConcurrency <= 0 {
		o.GetConcurrency = 1
	}
	if o.MaxObjectBytes <= 0 {
		o.MaxObjectBytes = pipeline.DefaultMaxFileBytes
	}
	if o.Retry.Attempts == 0 {
		o.Retry = DefaultRetry
	}
	s := &Source{Spec: spec, opts: o, sizes: map[string]int64{}, stats: &Stats{}, stores: map[string]Store{}}
	var names []string
	var err error
	switch {
	case strings.HasPrefix(spec, "@"):
		s.Kind = KindList
		names, err = readList(spec[1:])
	case IsRemote(spec):
		s.Kind = Kind(spec[:2])
		names, err = s.listRemote(ctx, spec)
	case hasGlobMeta(spec):
		s.Kind = KindGlob
		names, err = filepath.Glob(spec)
		if err == nil && len(names) == 0 {
			err = fmt.Errorf("the pattern %s matches nothing", spec)
		}
	default:
		names, err = s.listLocal(spec)
	}
	if err != nil {
		return nil, err
	}
	if s.stream != nil {
		return s, nil // images, listed as the read goes
	}
	if err := s.plan(ctx, names); err != nil {
		return nil, err
	}
	return s, nil
}

// listRemote lists the prefix. Its first page decides how: a prefix of
// images with more pages to come streams (see streams) and returns no
// names; anything else is paged through here, keeping what a source can
// hold, and stops early once Limit images are found.
func (s *Source) listRemote(ctx context.Context, spec string) ([]string, error) {
	u, err := parseURI(spec)
	if err != nil {
		return nil, err
	}
	st, err := s.store(ctx, u)
	if err != nil {
		return nil, err
	}
	prefix := u.key
	if prefix != "" && !strings.HasSuffix(prefix, "/") && formatOf(prefix) == "" {
		prefix += "/" // a folder, not every key that starts with its name
	}
	// The first page that names a unit: a prefix may start with others.
	var page []Object
	token := ""
	for {
		objs, next, err := st.ListPage(ctx, prefix, token)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", spec, err)
		}
		page, token = objs, next
		if next == "" || slices.ContainsFunc(objs, func(o Object) bool { return formatOf(o.Key) != "" }) {
			break
		}
	}
	if s.streams(page, token) {
		s.Format = FormatImages
		s.stream = &remoteListing{st: st, u: u, prefix: prefix, first: page, next: token, limit: s.opts.Limit}
		if s.opts.LabelFrom == LabelsFromFolders {
			s.classIdx = classIndex(s.opts.ClassNames)
		}
		return nil, nil
	}
	var names []string
	images := 0
	take := func(objs []Object) (enough bool) {
		for _, ob := range objs {
			f := formatOf(ob.Key)
			if f == "" {
				continue
			}
			name := u.with(ob.Key)
			names = append(names, name)
			s.sizes[name] = ob.Size
			if f == FormatImages {
				images++
			}
		}
		return s.opts.Limit > 0 && images >= s.opts.Limit && s.opts.LabelFrom == ""
	}
	for enough := take(page); token != "" && !enough; enough = take(page) {
		if page, token, err = st.ListPage(ctx, prefix, token); err != nil {
			return nil, fmt.Errorf("listing %s: %w", spec, err)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no images (.jpg, .jpeg, .png), .parquet or .tar under %s", spec)
	}
	return names, nil
}

// streams decides whether a remote prefix is read as it is listed: its
// first page holds images and more pages follow, and nothing needs the
// whole listing first. When --images N is met on that page, the page is
// all there is to read; class folders numbered in sorted order need every
// folder's name first (a --labels file numbers them without).
func (s *Source) streams(first []Object, token string) bool {
	if token == "" || (s.opts.LabelFrom == LabelsFromFolders && len(s.opts.ClassNames) == 0) {
		return false
	}
	images := 0
	for _, o := range first {
		if formatOf(o.Key) == FormatImages {
			images++
		}
	}
	return images > 0 && (s.opts.Limit <= 0 || images < s.opts.Limit)
}

// listLocal lists a folder (images, else Parquet files or tar shards in
// it) or takes one file, detected by its magic bytes.
func (s *Source) listLocal(spec string) ([]string, error) {
	fi, err := os.Stat(spec)
	if err != nil {
		return nil, fmt.Errorf("data %q: %w", spec, err)
	}
	if !fi.IsDir() {
		s.Kind = KindFile
		return []string{spec}, nil
	}
	s.Kind = KindFolder
	files, err := vision.ListImages(spec)
	if err != nil {
		return nil, err
	}
	if len(files) > 0 {
		return files, nil
	}
	err = filepath.WalkDir(spec, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && formatOf(p) != "" {
			files = append(files, p)
		}
		return err
	})
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no images (.jpg, .jpeg, .png), .parquet or .tar under %s", spec)
	}
	return files, err
}

// readList reads @list.txt: one path or URI a line; blank lines and lines
// starting with # are skipped.
func readList(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("@%s: %w", name, err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("@%s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("@%s lists nothing", name)
	}
	return out, nil
}

// formatOf tells a unit's format from its name: "" for anything else.
func formatOf(name string) Format {
	switch strings.ToLower(path.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return FormatImages
	case ".parquet", ".pq":
		return FormatParquet
	case ".tar":
		return FormatWebDataset
	}
	return ""
}

// sniff tells a local file's format from its magic bytes: PAR1 at the
// start for Parquet, "ustar" at 257 for tar; otherwise from its name.
func sniff(name string) Format {
	f, err := os.Open(name)
	if err != nil {
		return formatOf(name)
	}
	defer f.Close()
	var b [262]byte
	n, _ := io.ReadFull(f, b[:])
	switch {
	case n >= 4 && string(b[:4]) == "PAR1":
		return FormatParquet
	case n >= 262 && string(b[257:262]) == "ustar":
		return FormatWebDataset
	}
	return formatOf(name)
}

// plan picks the format (images win; then Parquet; then shards) and turns
// the names into units.
func (s *Source) plan(ctx context.Context, names []string) error {
	by := map[Format][]string{}
	for _, n := range names {
		f := formatOf(n)
		if !IsRemote(n) && (s.Kind == KindFile || s.Kind == KindGlob || s.Kind == KindList) {
			if g := sniff(n); g != "" && (f == "" || g != FormatImages) {
				f = g
			}
		}
		if f == "" && s.Kind == KindList {
			f = FormatImages // a listed name is meant; its decoder judges it
		}
		if f != "" {
			by[f] = append(by[f], n)
		}
	}
	switch {
	case len(by[FormatImages]) > 0:
		s.Format, s.units = FormatImages, by[FormatImages]
		if s.opts.LabelFrom == LabelsFromFolders {
			s.folderLabels()
		}
		if s.opts.Limit > 0 && s.opts.Limit < len(s.units) {
			s.units = s.units[:s.opts.Limit]
		}
	case len(by[FormatParquet]) > 0:
		s.Format = FormatParquet
		return s.planParquet(ctx, by[FormatParquet])
	case len(by[FormatWebDataset]) > 0:
		s.Format, s.units = FormatWebDataset, by[FormatWebDataset]
		s.left = newLimitBudget(s.opts.Limit)
	default:
		return fmt.Errorf("%s holds no images (.jpg, .jpeg, .png), Parquet tables or tar shards", s.Spec)
	}
	if s.opts.LabelFrom == LabelsFromFolders && s.Format != FormatImages {
		return fmt.Errorf("--label-from folders needs image files in class subfolders; %s holds %s", s.Spec, s.Format)
	}
	return nil
}

// folderLabels numbers the images' parent folders: by ClassNames when
// given, else in sorted order (torchvision's ImageFolder rule).
func (s *Source) folderLabels() {
	classes := s.opts.ClassNames
	if len(classes) == 0 {
		seen := map[string]bool{}
		for _, u := range s.units {
			if c := classOf(u); !seen[c] {
				seen[c] = true
				classes = append(classes, c)
			}
		}
		slices.Sort(classes)
	}
	s.classIdx = classIndex(classes)
}

// classIndex maps each class name to its line index.
func classIndex(classes []string) map[string]int32 {
	idx := map[string]int32{}
	for i, c := range classes {
		idx[strings.TrimSpace(c)] = int32(i)
	}
	return idx
}

// classOf is an image's class folder: its parent's name.
func classOf(unit string) string { return path.Base(path.Dir(filepath.ToSlash(unit))) }

// labelOf is an image's class index, when its folder names a class.
func (s *Source) labelOf(unit string) (int32, bool) {
	i, ok := s.classIdx[classOf(unit)]
	return i, ok
}

// Name names the read operator after the format, as Ray does.
func (s *Source) Name() string {
	switch s.Format {
	case FormatParquet:
		return "ReadParquet"
	case FormatWebDataset:
		return "ReadWebDataset"
	}
	return "ReadImages"
}

// Units are the source's units of work in listing order; nil when they
// stream (Listing).
func (s *Source) Units() []string { return s.units }

// Labelled reports whether rows carry a LabelColumn.
func (s *Source) Labelled() bool {
	switch s.Format {
	case FormatParquet:
		return s.pq.label != ""
	case FormatWebDataset:
		return true // a .cls member, null where a sample has none
	}
	return s.classIdx != nil
}

// Stats returns the storage counters the read has accumulated.
func (s *Source) Stats() *Stats { return s.stats }

// Describe names the source for the summary and the record, e.g.
// "s3://bucket/imgs/ (s3, images, 40 objects)".
func (s *Source) Describe() string {
	n := fmt.Sprintf("%d files", len(s.units))
	switch {
	case s.Format == FormatParquet:
		n = fmt.Sprintf("%d row groups, %d rows", len(s.units), s.pq.rows)
	case s.Format == FormatWebDataset:
		n = fmt.Sprintf("%d shards", len(s.units))
	case s.stream != nil:
		n = "listed as read"
		if l := s.stream.listed.Load(); l > 0 {
			n = fmt.Sprintf("%d objects, listed as read", l)
		}
	case IsRemote(s.Spec):
		n = fmt.Sprintf("%d objects", len(s.units))
	}
	lab := ""
	if s.Labelled() {
		lab = ", labelled"
	}
	return fmt.Sprintf("%s (%s, %s, %s%s)", s.Spec, s.Kind, s.Format, n, lab)
}

// Read runs one read task: see pipeline.Datasource.
func (s *Source) Read(ctx context.Context, task pipeline.Block) (any, error) {
	units := pipeline.Column(task, pipeline.PathColumn).(*array.String)
	switch s.Format {
	case FormatParquet:
		return s.readParquet(ctx, units)
	case FormatWebDataset:
		return s.readShards(ctx, units)
	}
	return s.readImages(ctx, units)
}

// readImages GETs the task's objects, GetConcurrency at a time, into one
// binary column in unit order.
func (s *Source) readImages(ctx context.Context, units *array.String) (any, error) {
	n := units.Len()
	data := make([][]byte, n)
	errs := make([]error, n)
	sem := make(chan struct{}, s.opts.GetConcurrency)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			data[i], errs[i] = s.readObject(ctx, units.Value(i))
		})
	}
	wg.Wait()
	rows := newRowBuilder(s.classIdx != nil)
	defer rows.release()
	for i := range n {
		u := units.Value(i)
		lab, ok := s.labelOf(u)
		rows.add(u, data[i], errs[i], lab, ok)
	}
	return rows.columns(), nil
}

// readObject reads one image: a local file by the engine's rules, or an
// object, refused unread when listed larger than MaxObjectBytes.
func (s *Source) readObject(ctx context.Context, name string) ([]byte, error) {
	if !IsRemote(name) {
		return pipeline.ReadLocalFile(name, s.opts.MaxObjectBytes)
	}
	if sz, ok := s.listedSize(name); ok && sz > s.opts.MaxObjectBytes {
		return nil, fmt.Errorf("%w: the object is %s, more than the %s allowed", pipeline.ErrFileTooLarge,
			pipeline.FormatBytes(sz), pipeline.FormatBytes(s.opts.MaxObjectBytes))
	}
	u, err := parseURI(name)
	if err != nil {
		return nil, err
	}
	st, err := s.store(ctx, u)
	if err != nil {
		return nil, err
	}
	b, err := st.Get(ctx, u.key, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return b, nil
}

// rowBuilder assembles a read task's output columns.
type rowBuilder struct {
	paths  *array.StringBuilder
	data   *array.BinaryBuilder
	errs   *array.StringBuilder
	labels *array.Int32Builder // nil without labels
}

func newRowBuilder(labelled bool) *rowBuilder {
	mem := memory.DefaultAllocator
	r := &rowBuilder{paths: array.NewStringBuilder(mem), data: array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary),
		errs: array.NewStringBuilder(mem)}
	if labelled {
		r.labels = array.NewInt32Builder(mem)
	}
	return r
}

func (r *rowBuilder) add(key string, b []byte, err error, label int32, hasLabel bool) {
	r.paths.Append(key)
	if err != nil {
		r.data.AppendNull()
		r.errs.Append(err.Error())
	} else {
		r.data.Append(b)
		r.errs.AppendNull()
	}
	if r.labels != nil {
		if hasLabel {
			r.labels.Append(label)
		} else {
			r.labels.AppendNull()
		}
	}
}

func (r *rowBuilder) columns() pipeline.Columns {
	c := pipeline.Columns{pipeline.PathColumn: r.paths.NewArray(), pipeline.DataColumn: r.data.NewArray(),
		pipeline.ErrorColumn: r.errs.NewArray()}
	if r.labels != nil {
		c[pipeline.LabelColumn] = r.labels.NewArray()
	}
	return c
}

func (r *rowBuilder) release() {
	r.paths.Release()
	r.data.Release()
	r.errs.Release()
	if r.labels != nil {
		r.labels.Release()
	}
}

// Rows is the number of rows the read will produce when known before it
// runs: images, or Parquet rows; for tar shards, the shard count (their
// samples are counted as they stream); 0 for a listing that streams
// (Count counts it).
func (s *Source) Rows() int {
	if s.Format == FormatParquet {
		return int(s.pq.rows)
	}
	return len(s.units)
}
