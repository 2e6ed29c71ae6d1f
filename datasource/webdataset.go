package datasource

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"workbench/pipeline"
)

// readShards streams each of the task's tar shards, never extracting to
// disk: members KEY.jpg, KEY.jpeg or KEY.png become rows, paired with
// KEY.cls (a class index as text) when the shard has one. The key is the
// member's name up to the first dot of its base name, as in WebDataset.
// A shard that cannot be opened, or breaks off, adds one error row.
func (s *Source) readShards(ctx context.Context, units *array.String) (any, error) {
	rows := newRowBuilder(true)
	defer rows.release()
	for i := range units.Len() {
		shard := units.Value(i)
		if err := s.readShard(ctx, shard, rows); err != nil {
			rows.add(shard, nil, fmt.Errorf("read: shard %s: %w", shard, err), 0, false)
		}
	}
	return rows.columns(), nil
}

// sample is one WebDataset sample being assembled from its members.
type sample struct {
	key      string
	img      []byte
	imgName  string
	err      error
	label    int32
	hasLabel bool
}

func (s *Source) readShard(ctx context.Context, shard string, rows *rowBuilder) error {
	var rc io.ReadCloser
	var err error
	if IsRemote(shard) {
		u, perr := parseURI(shard)
		if perr != nil {
			return perr
		}
		st, serr := s.store(ctx, u)
		if serr != nil {
			return serr
		}
		rc, err = st.Open(ctx, u.key)
	} else {
		rc, err = os.Open(shard)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var cur *sample
	flush := func() {
		if cur == nil || (cur.img == nil && cur.err == nil) {
			return // a key with no image member (only .cls, .json, …)
		}
		if !s.left.take() {
			return
		}
		rows.add(shard+"#"+cur.imgName, cur.img, cur.err, cur.label, cur.hasLabel)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			flush()
			return nil
		}
		if err != nil {
			flush()
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		dir, base := path.Split(h.Name)
		stem, ext, _ := strings.Cut(base, ".")
		key := dir + stem
		if cur == nil || cur.key != key {
			flush()
			cur = &sample{key: key}
		}
		switch strings.ToLower(ext) {
		case "jpg", "jpeg", "png":
			if cur.img != nil || cur.err != nil {
				continue // one image per sample; the first wins
			}
			cur.imgName = h.Name
			if h.Size > s.opts.MaxObjectBytes {
				cur.err = fmt.Errorf("%w: the member is %s, more than the %s allowed", pipeline.ErrFileTooLarge,
					pipeline.FormatBytes(h.Size), pipeline.FormatBytes(s.opts.MaxObjectBytes))
				continue
			}
			b := make([]byte, h.Size)
			if _, err := io.ReadFull(tr, b); err != nil {
				cur.err = fmt.Errorf("read: %w", err)
				flush()
				return err
			}
			cur.img = b
		case "cls":
			b, err := io.ReadAll(io.LimitReader(tr, 64))
			if err != nil {
				return err
			}
			if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 32); err == nil {
				cur.label, cur.hasLabel = int32(v), true
			}
		}
	}
}
