package datasource

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"workbench/datasource/s3test"
)

// TestS3Listing against a real server (versitygw): the listing is paged
// and each page reaches the caller as it arrives; --images N stops the
// listing once N images are found; s3://anonymous@ sends no signature.
func TestS3Listing(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "lst")
	for i := range 23 {
		srv.Put(t, "lst", fmt.Sprintf("p/%03d.jpg", i), []byte("x"))
	}
	srv.Put(t, "lst", "p/readme.txt", []byte("not an image"))
	listPageSize = 5
	t.Cleanup(func() { listPageSize = 1000 })
	ctx := context.Background()

	st, err := NewS3(ctx, "lst", false)
	if err != nil {
		t.Fatal(err)
	}
	var pages []int
	if err := List(ctx, st, "p/", func(objs []Object) error { pages = append(pages, len(objs)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(pages) != 5 || pages[0] != 5 {
		t.Errorf("pages %v: want 24 keys in pages of 5", pages)
	}

	px := s3test.StartProxy(t, srv.Endpoint, &s3test.Proxy{})
	s3test.Env(t, px.URL)
	src, err := Open(ctx, "s3://lst/p", Options{Limit: 7})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(src.Units()); n != 7 || px.Requests.Load() != 2 {
		t.Errorf("--images 7: %d units after %d list requests; want 7 after 2 pages of 5", n, px.Requests.Load())
	}
	if src.Units()[0] != "s3://lst/p/000.jpg" || !strings.Contains(src.Describe(), "s3, images") {
		t.Errorf("units %v, %s", src.Units()[:1], src.Describe())
	}

	before := px.Unsigned.Load()
	if _, err := Open(ctx, "s3://anonymous@lst/p/", Options{}); err == nil {
		t.Log("the server allowed an anonymous listing")
	}
	if px.Unsigned.Load() == before {
		t.Error("s3://anonymous@ sent a signed request")
	}
	signed := px.Unsigned.Load()
	if _, err := Open(ctx, "s3://lst/p/", Options{}); err != nil {
		t.Fatal(err)
	}
	if px.Unsigned.Load() != signed {
		t.Error("a plain s3:// request went unsigned")
	}
}
