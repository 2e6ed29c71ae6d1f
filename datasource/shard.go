package datasource

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ShardsBeside is where the same images as WebDataset shards live beside
// spec, by this project's convention: spec without its trailing slash,
// plus "-shards" (s3://b/train/ → s3://b/train-shards/, data/synth →
// data/synth-shards). `workbench data shard` writes there by default and
// data_layout: shards reads there.
func ShardsBeside(spec string) string {
	slash := strings.HasSuffix(spec, "/")
	out := strings.TrimRight(spec, "/") + "-shards"
	if slash {
		out += "/"
	}
	return out
}

// DefaultShardSize is a shard's images when ShardOptions.Size is 0: about
// 100 MB of ImageNet-sized JPEGs, within WebDataset's advice of shards of
// 100 MB to 1 GB.
const DefaultShardSize = 1000

// ShardOptions configure WriteShards.
type ShardOptions struct {
	// Size is the images per shard; 0 means DefaultShardSize.
	Size int
	// Open says how the images are read: labels from class folders, the
	// first Limit images, GETs in flight.
	Open Options
}

// ShardStats says what WriteShards wrote.
type ShardStats struct {
	Images, Shards int
	Bytes          int64 // image bytes packed
	Labelled       bool  // a KEY.cls member beside each labelled image
	Elapsed        time.Duration
}

// WriteShards packs the images of a folder or an object store prefix into
// WebDataset tar shards at dest (a local folder or an s3:// or gs://
// prefix): part-NNNNN.tar, Size images each in listing order, each image
// a member named by its key relative to spec (a dot inside its base name's
// stem becomes "_", as WebDataset keys end at the first dot) and, when
// labelled, KEY.cls with its class index. The images are read as a run
// reads them (listing streamed, GETs retried) and the bytes copied
// unchanged, so a broken file stays broken. The shards appear at dest
// only once all are written: a local folder is renamed into place, an
// object store's shards are committed from a temporary prefix (Output).
// An image that cannot be read fails the whole command, naming it, as a
// shard set missing images would compare unequal sets.
func WriteShards(ctx context.Context, spec, dest string, o ShardOptions) (ShardStats, error) {
	start := time.Now()
	if o.Size <= 0 {
		o.Size = DefaultShardSize
	}
	if !IsRemote(spec) && !IsFolder(spec) {
		return ShardStats{}, fmt.Errorf("data shard: %s is not a folder or an s3:// or gs:// prefix", spec)
	}
	src, err := Open(ctx, spec, o.Open)
	if err != nil {
		return ShardStats{}, err
	}
	if src.Format != FormatImages {
		return ShardStats{}, fmt.Errorf("data shard: %s holds %s, not one image per file", spec, src.Format)
	}
	rel, err := relativeTo(spec)
	if err != nil {
		return ShardStats{}, err
	}
	sink, err := newShardSink(ctx, dest)
	if err != nil {
		return ShardStats{}, err
	}
	st := ShardStats{Labelled: src.Labelled()}
	next := listingOf(src)
	batch := make([]string, 0, o.Size)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		b, n, err := src.packShard(ctx, batch, rel)
		if err != nil {
			return err
		}
		if err := sink.put(ctx, b); err != nil {
			return err
		}
		st.Images, st.Shards, st.Bytes = st.Images+len(batch), st.Shards+1, st.Bytes+n
		batch = batch[:0]
		return nil
	}
	for {
		name, err := next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			batch = append(batch, name)
			if len(batch) == o.Size {
				err = flush()
			}
		}
		if err != nil {
			sink.abort()
			return st, err
		}
	}
	if err := flush(); err != nil {
		sink.abort()
		return st, err
	}
	if err := sink.commit(ctx); err != nil {
		return st, err
	}
	st.Elapsed = time.Since(start)
	return st, nil
}

// listingOf yields a source's images in listing order, streamed or held.
func listingOf(src *Source) func(context.Context) (string, error) {
	if l := src.Listing(); l != nil {
		return l.(*pager).NextContext
	}
	i := 0
	return func(context.Context) (string, error) {
		if i == len(src.units) {
			return "", io.EOF
		}
		i++
		return src.units[i-1], nil
	}
}

// relativeTo returns the function that names an image by its key under
// spec, with slashes.
func relativeTo(spec string) (func(string) string, error) {
	if !IsRemote(spec) {
		return func(name string) string {
			r, err := filepath.Rel(spec, name)
			if err != nil {
				return filepath.ToSlash(name)
			}
			return filepath.ToSlash(r)
		}, nil
	}
	u, err := parseURI(spec)
	if err != nil {
		return nil, err
	}
	root := u.with(strings.TrimSuffix(u.key, "/"))
	return func(name string) string { return strings.TrimPrefix(strings.TrimPrefix(name, root), "/") }, nil
}

// memberKey is an image's WebDataset key: its relative name without the
// extension, dots in the stem made "_" (a key ends at the first dot).
func memberKey(rel string) (key, ext string) {
	dir, base := path.Split(rel)
	e := path.Ext(base)
	return dir + strings.ReplaceAll(strings.TrimSuffix(base, e), ".", "_"), e
}

// packShard reads the names, GetConcurrency at a time, into one tar.
func (s *Source) packShard(ctx context.Context, names []string, rel func(string) string) ([]byte, int64, error) {
	data := make([][]byte, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, s.opts.GetConcurrency)
	var wg sync.WaitGroup
	for i, n := range names {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			data[i], errs[i] = s.readObject(ctx, n)
		})
	}
	wg.Wait()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var total int64
	add := func(name string, b []byte) error {
		// A fixed time and mode: the same images give the same shards.
		h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	for i, n := range names {
		if errs[i] != nil {
			return nil, 0, fmt.Errorf("data shard: %s: %w", n, errs[i])
		}
		key, ext := memberKey(rel(n))
		if err := add(key+ext, data[i]); err != nil {
			return nil, 0, err
		}
		total += int64(len(data[i]))
		if lab, ok := s.labelOf(n); ok && s.classIdx != nil {
			if err := add(key+".cls", []byte(strconv.Itoa(int(lab))+"\n")); err != nil {
				return nil, 0, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), total, nil
}

// shardSink is where shards go until they are committed together.
type shardSink struct {
	out       *Output // an object store prefix
	dest, tmp string  // a local folder, written in tmp and renamed
	n         int
}

func newShardSink(ctx context.Context, dest string) (*shardSink, error) {
	if IsRemote(dest) {
		if !strings.HasSuffix(dest, "/") {
			dest += "/"
		}
		o, err := NewOutput(ctx, dest)
		if err != nil {
			return nil, err
		}
		if key, err := o.firstKey(ctx); err != nil {
			return nil, fmt.Errorf("data shard: -o %s: %w", dest, err)
		} else if key != "" {
			return nil, fmt.Errorf("data shard: -o %s already holds objects (%s); remove them or pick another prefix", dest, key)
		}
		return &shardSink{out: o}, nil
	}
	if ents, err := os.ReadDir(dest); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("data shard: -o %s is not empty; remove it or pick another folder", dest)
	}
	id := make([]byte, 4)
	rand.Read(id)
	tmp := strings.TrimRight(dest, "/") + ".partial-" + hex.EncodeToString(id)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	return &shardSink{dest: dest, tmp: tmp}, nil
}

func (k *shardSink) put(ctx context.Context, b []byte) error {
	defer func() { k.n++ }()
	if k.out != nil {
		return k.out.Put(ctx, b, ".tar")
	}
	return os.WriteFile(filepath.Join(k.tmp, fmt.Sprintf("part-%05d.tar", k.n)), b, 0o644)
}

func (k *shardSink) commit(ctx context.Context) error {
	if k.out != nil {
		_, err := k.out.Commit(ctx)
		return err
	}
	os.Remove(k.dest) // an empty folder, checked above
	if err := os.Rename(k.tmp, k.dest); err != nil {
		os.RemoveAll(k.tmp)
		return err
	}
	return nil
}

func (k *shardSink) abort() {
	if k.out != nil {
		k.out.Abort(context.Background())
		return
	}
	os.RemoveAll(k.tmp)
}
