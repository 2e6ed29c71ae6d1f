package datasource

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"workbench/datasource/s3test"
	"workbench/pipeline"
)

func TestShardsBeside(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"s3://b/train/": "s3://b/train-shards/", "gs://b/p": "gs://b/p-shards",
		"data/synth": "data/synth-shards", "data/synth/": "data/synth-shards/",
	} {
		if got := ShardsBeside(in); got != want {
			t.Errorf("ShardsBeside(%q) = %q, want %q", in, got, want)
		}
	}
}

// row is one read row: its bytes and label (-1 for none).
type row struct {
	data  []byte
	label int32
	err   string
}

// readRows reads src through the engine, keyed by the name after "#"
// (a shard member) or relative to root (an object or file).
func readRows(t *testing.T, src *Source, root string) map[string]row {
	t.Helper()
	out := map[string]row{}
	err := pipeline.ReadDatasource(src, pipeline.ReadOptions{}).IterBatches(context.Background(), func(b pipeline.Block) error {
		p := pipeline.Column(b, pipeline.PathColumn).(*array.String)
		d := pipeline.Column(b, pipeline.DataColumn).(*array.Binary)
		e := pipeline.Column(b, pipeline.ErrorColumn).(*array.String)
		var l *array.Int32
		if c := pipeline.Column(b, pipeline.LabelColumn); c != nil {
			l = c.(*array.Int32)
		}
		for i := range p.Len() {
			k := p.Value(i)
			if _, m, ok := strings.Cut(k, "#"); ok {
				k = m
			} else {
				k = strings.TrimPrefix(strings.TrimPrefix(filepath.ToSlash(k), root), "/")
			}
			r := row{data: bytes.Clone(d.Value(i)), label: -1}
			if e.IsValid(i) {
				r.err = e.Value(i)
			}
			if l != nil && l.IsValid(i) {
				r.label = l.Value(i)
			}
			out[k] = r
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWriteShardsLocal packs a folder with class subfolders into shards of
// two and reads them back: every image once, its bytes unchanged, its
// class as KEY.cls, a dotted stem made a key; the same images give the
// same shards; a folder that is not empty is refused.
func TestWriteShardsLocal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{"cat/a.jpg": "A", "cat/b.v2.jpg": "B", "dog/c.png": "C", "dog/d.jpg": "D", "dog/e.JPEG": "E"}
	for name, body := range files {
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(body), 0o644))
	}
	must(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("no image"), 0o644))
	ctx := context.Background()
	dest := filepath.Join(t.TempDir(), "shards")
	o := ShardOptions{Size: 2, Open: Options{LabelFrom: LabelsFromFolders}}
	st, err := WriteShards(ctx, dir, dest, o)
	if err != nil {
		t.Fatal(err)
	}
	if st.Images != 5 || st.Shards != 3 || st.Bytes != 5 || !st.Labelled {
		t.Errorf("stats %+v, want 5 images, 3 shards, 5 bytes, labelled", st)
	}
	src, err := Open(ctx, dest, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := readRows(t, src, "")
	want := map[string]row{"cat/a.jpg": {[]byte("A"), 0, ""}, "cat/b_v2.jpg": {[]byte("B"), 0, ""}, "dog/c.png": {[]byte("C"), 1, ""},
		"dog/d.jpg": {[]byte("D"), 1, ""}, "dog/e.JPEG": {[]byte("E"), 1, ""}}
	if len(got) != len(want) {
		t.Errorf("rows %v, want %d", got, len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !bytes.Equal(g.data, w.data) || g.label != w.label || g.err != "" {
			t.Errorf("%s: %+v, want %+v", k, g, w)
		}
	}
	again := filepath.Join(t.TempDir(), "again")
	if _, err := WriteShards(ctx, dir, again, o); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		a, _ := os.ReadFile(filepath.Join(dest, fmt.Sprintf("part-%05d.tar", i)))
		b, _ := os.ReadFile(filepath.Join(again, fmt.Sprintf("part-%05d.tar", i)))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("shard %d differs between two writes of the same images", i)
		}
	}
	if _, err := WriteShards(ctx, dir, dest, o); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("writing into a full folder: %v, want a refusal", err)
	}
	if _, err := WriteShards(ctx, dest, filepath.Join(t.TempDir(), "x"), o); err == nil || !strings.Contains(err.Error(), "webdataset") {
		t.Errorf("sharding shards: %v, want a refusal naming the format", err)
	}
}

// TestWriteShardsS3 against a real server: a prefix listed as it is read
// (five keys a page) is packed into shards committed beside it, which
// read back as the same objects; an object that cannot be read fails the
// command, naming it, and leaves nothing at the destination.
func TestWriteShardsS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "shd")
	for i := range 23 {
		srv.Put(t, "shd", fmt.Sprintf("p/%02d/img_%03d.jpg", i%3, i), []byte(fmt.Sprintf("body %d", i)))
	}
	px := s3test.StartProxy(t, srv.Endpoint, &s3test.Proxy{MaxKeys: 5})
	s3test.Env(t, px.URL)
	ctx := context.Background()
	dest := ShardsBeside("s3://shd/p/")
	st, err := WriteShards(ctx, "s3://shd/p/", dest, ShardOptions{Size: 10, Open: Options{GetConcurrency: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Images != 23 || st.Shards != 3 || st.Labelled {
		t.Errorf("stats %+v, want 23 images in 3 shards, unlabelled", st)
	}
	if keys := srv.Keys(t, "shd", "p-shards/"); strings.Join(keys, ",") != "p-shards/part-00000.tar,p-shards/part-00001.tar,p-shards/part-00002.tar" {
		t.Errorf("keys under the destination: %v", keys)
	}
	if keys := srv.Keys(t, "shd", "_temporary"); len(keys) != 0 {
		t.Errorf("temporary objects left: %v", keys)
	}
	objects, err := Open(ctx, "s3://shd/p/", Options{})
	if err != nil {
		t.Fatal(err)
	}
	shards, err := Open(ctx, dest, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := readRows(t, objects, "s3://shd/p"), readRows(t, shards, "")
	if len(a) != 23 || len(b) != 23 {
		t.Fatalf("%d object rows, %d shard rows; want 23 each", len(a), len(b))
	}
	for k, r := range a {
		if !bytes.Equal(b[k].data, r.data) {
			t.Errorf("%s: shard %q, object %q", k, b[k].data, r.data)
		}
	}

	t.Run("failed object", func(t *testing.T) {
		px := s3test.StartProxy(t, srv.Endpoint, &s3test.Proxy{FailKey: "img_011"})
		s3test.Env(t, px.URL)
		_, err := WriteShards(ctx, "s3://shd/p/", "s3://shd/failed/", ShardOptions{Size: 10,
			Open: Options{Retry: RetryPolicy{Attempts: 2, Base: 1, Cap: 1, MaxElapsed: 1e9}}})
		if err == nil || !strings.Contains(err.Error(), "img_011") {
			t.Errorf("err %v, want one naming img_011", err)
		}
		if keys := srv.Keys(t, "shd", "failed/"); len(keys) != 0 {
			t.Errorf("a failed command left %v", keys)
		}
		if keys := srv.Keys(t, "shd", "_temporary"); len(keys) != 0 {
			t.Errorf("a failed command left temporary objects %v", keys)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
