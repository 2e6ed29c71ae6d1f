package datasource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"workbench/datasource/gcstest"
)

// TestGCSStore drives every request of the GCS store against a real server
// (fake-gcs-server), with objects written through its XML API: listing is
// paged through the page token, keys that need escaping survive each
// request, ranged GETs return the range, a missing object is ErrNotFound,
// and Put, Copy and Delete (missing or not) do what --out relies on.
func TestGCSStore(t *testing.T) {
	srv := gcstest.Start(t)
	srv.Bucket(t, "st")
	body := []byte("0123456789abcdef")
	var want []Object
	for i := range 23 {
		k := fmt.Sprintf("p/%03d.jpg", i)
		srv.Put(t, "st", k, body[:i%len(body)+1])
		want = append(want, Object{Key: k, Size: int64(i%len(body) + 1)})
	}
	odd := "p/z dir/a+b ü%.jpg" // a space, a plus, a non-ASCII letter, a percent
	srv.Put(t, "st", odd, body)
	want = append(want, Object{Key: odd, Size: int64(len(body))})
	srv.Put(t, "st", "q/other.jpg", body) // outside the prefix
	listPageSize = 5
	t.Cleanup(func() { listPageSize = 1000 })
	ctx := context.Background()

	for _, anonymous := range []bool{false, true} {
		st, err := NewGCS(ctx, "st", anonymous)
		if err != nil {
			t.Fatalf("anonymous=%v: %v", anonymous, err)
		}
		var got []Object
		var pages []int
		token := ""
		for {
			objs, next, err := st.ListPage(ctx, "p/", token)
			if err != nil {
				t.Fatal(err)
			}
			got, pages = append(got, objs...), append(pages, len(objs))
			if next == "" {
				break
			}
			token = next
		}
		if !slices.Equal(got, want) || !slices.Equal(pages, []int{5, 5, 5, 5, 4}) {
			t.Errorf("anonymous=%v: listed %v in pages %v; want %v in pages of 5", anonymous, got, pages, want)
		}
	}

	st, err := NewGCS(ctx, "st", false)
	if err != nil {
		t.Fatal(err)
	}
	gets := []struct {
		name   string
		key    string
		off, n int64
		want   string
		err    error
	}{
		{"whole", odd, 0, -1, string(body), nil},
		{"range", odd, 2, 3, "234", nil},
		{"tail", odd, 10, -1, "abcdef", nil},
		{"missing", "p/none.jpg", 0, -1, "", ErrNotFound},
		{"no bucket", "p/000.jpg", 0, -1, "", ErrNotFound},
	}
	for _, c := range gets {
		t.Run("get "+c.name, func(t *testing.T) {
			s := st
			if c.name == "no bucket" {
				s, _ = NewGCS(ctx, "no-such-bucket", false)
			}
			b, err := s.Get(ctx, c.key, c.off, c.n)
			if !errors.Is(err, c.err) || string(b) != c.want {
				t.Errorf("Get(%q, %d, %d) = %q, %v; want %q, %v", c.key, c.off, c.n, b, err, c.want, c.err)
			}
		})
	}

	rc, err := st.Open(ctx, odd)
	if err != nil {
		t.Fatal(err)
	}
	streamed, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(streamed, body) {
		t.Errorf("Open streamed %q, %v; want %q", streamed, err, body)
	}

	// What --out does: Put under a temporary prefix, Copy into place,
	// Delete the temporary object; deleting it twice is not an error.
	steps := []struct {
		name string
		do   func() error
	}{
		{"put", func() error { return st.Put(ctx, "tmp/part 1.parquet", []byte("PAR1")) }},
		{"copy", func() error { return st.Copy(ctx, "tmp/part 1.parquet", "out/part 1.parquet") }},
		{"delete", func() error { return st.Delete(ctx, "tmp/part 1.parquet") }},
		{"delete again", func() error { return st.Delete(ctx, "tmp/part 1.parquet") }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if keys := srv.Keys(t, "st", ""); slices.Contains(keys, "tmp/part 1.parquet") || !slices.Contains(keys, "out/part 1.parquet") {
		t.Errorf("after put, copy, delete: keys %v", keys)
	}
	if b, err := st.Get(ctx, "out/part 1.parquet", 0, -1); err != nil || string(b) != "PAR1" {
		t.Errorf("the copy reads %q, %v", b, err)
	}
}

// TestGCSCredentials: without an emulator, a signed gs:// needs
// Application Default Credentials and says how to read a public bucket
// without them; gs://anonymous@ needs none.
func TestGCSCredentials(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "none.json"))
	cases := []struct {
		anonymous bool
		wantErr   string
	}{
		{false, "gs://anonymous@b/"},
		{true, ""},
	}
	for _, c := range cases {
		_, err := NewGCS(context.Background(), "b", c.anonymous)
		if (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("anonymous=%v: error %v, want one naming %q", c.anonymous, err, c.wantErr)
		}
	}
}

// TestGCSListingStreams against a real server (fake-gcs-server), five
// keys a page: a gs:// prefix of images streams as an s3:// one does,
// every key once, in key order, --images N ending the listing.
func TestGCSListingStreams(t *testing.T) {
	srv := gcstest.Start(t)
	srv.Bucket(t, "gst")
	var want []string
	for i := range 23 {
		k := fmt.Sprintf("p/%03d.jpg", i)
		srv.Put(t, "gst", k, []byte(k))
		want = append(want, "gs://gst/"+k)
	}
	listPageSize = 5
	t.Cleanup(func() { listPageSize = 1000 })
	ctx := context.Background()
	for _, limit := range []int{0, 12} {
		src, err := Open(ctx, "gs://gst/p/", Options{Limit: limit, GetConcurrency: 3})
		if err != nil {
			t.Fatal(err)
		}
		paths, errs := readAll(t, src, 4, nil, func() {})
		w := want
		if limit > 0 {
			w = want[:limit]
		}
		if !src.Streams() || !slices.Equal(paths, w) || len(errs) != 0 {
			t.Errorf("--images %d: streams %v, %d rows (want %d in key order), errors %v", limit, src.Streams(), len(paths), len(w), errs)
		}
		if pages := src.Stats().Requests.Load() - int64(len(paths)); pages != int64((len(w)+4)/5) {
			t.Errorf("--images %d: %d listing pages, want %d", limit, pages, (len(w)+4)/5)
		}
	}
}

// TestGCSCopyFollowsRewriteToken: GCS may finish a rewrite over several
// calls, each answering done: false with a token for the next. The
// emulator always finishes in one, so this unit test of Copy's loop
// answers from an in-process handler: the token is passed back, and a
// reply that is neither done nor continuable is an error, not a copy.
func TestGCSCopyFollowsRewriteToken(t *testing.T) {
	cases := []struct {
		name    string
		replies []string
		wantErr string
	}{
		{"done at once", []string{`{"done":true}`}, ""},
		{"three calls", []string{`{"done":false,"rewriteToken":"t1"}`, `{"done":false,"rewriteToken":"t2"}`, `{"done":true}`}, ""},
		{"no token", []string{`{"done":false}`}, "no rewriteToken"},
		{"not JSON", []string{`<html>`}, "unreadable reply"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tokens []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/o/a/rewriteTo/b/bkt/o/b") {
					http.Error(w, "wrong path "+r.URL.Path, http.StatusBadRequest)
					return
				}
				tokens = append(tokens, r.URL.Query().Get("rewriteToken"))
				fmt.Fprint(w, c.replies[len(tokens)-1])
			}))
			defer srv.Close()
			g := &gcsStore{bucket: "bkt", endpoint: srv.URL, hc: srv.Client()}
			err := g.Copy(context.Background(), "a", "b")
			if (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("Copy: %v, want error %q", err, c.wantErr)
			}
			want := []string{""}
			for i := 1; i < len(c.replies); i++ {
				want = append(want, fmt.Sprintf("t%d", i))
			}
			if !slices.Equal(tokens, want) {
				t.Errorf("tokens sent %q, want %q", tokens, want)
			}
		})
	}
}
