package datasource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"golang.org/x/oauth2/google"
)

// gcsStore is one GCS bucket through the JSON API: a handful of plain
// HTTP requests, so no gRPC client is linked for it.
type gcsStore struct {
	bucket, endpoint string
	hc               *http.Client
}

// NewGCS opens bucket with Application Default Credentials, or unsigned
// when anonymous (public buckets). STORAGE_EMULATOR_HOST, as Google's own
// clients honour it, points it at an emulator.
func NewGCS(ctx context.Context, bucket string, anonymous bool) (Store, error) {
	ep := "https://storage.googleapis.com"
	if h := os.Getenv("STORAGE_EMULATOR_HOST"); h != "" {
		ep = h
		if !strings.Contains(h, "://") {
			ep = "http://" + h
		}
		anonymous = true
	}
	hc := http.DefaultClient
	if !anonymous {
		c, err := google.DefaultClient(ctx, "https://www.googleapis.com/auth/devstorage.read_write")
		if err != nil {
			return nil, fmt.Errorf("gs: no Application Default Credentials (%v); for a public bucket use gs://anonymous@%s/", err, bucket)
		}
		hc = c
	}
	return &gcsStore{bucket: bucket, endpoint: strings.TrimRight(ep, "/"), hc: hc}, nil
}

func (g *gcsStore) Scheme() string { return "gs" }
func (g *gcsStore) Bucket() string { return g.bucket }

func (g *gcsStore) do(ctx context.Context, method, u string, body []byte) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		se := &StatusError{Status: resp.StatusCode, Err: fmt.Errorf("gs %s %s: %s", method, g.bucket, strings.TrimSpace(string(msg)))}
		if resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%w: %v", ErrNotFound, se)
		}
		return nil, se
	}
	return resp, nil
}

func (g *gcsStore) object(key string) string {
	return g.endpoint + "/storage/v1/b/" + url.PathEscape(g.bucket) + "/o/" + url.PathEscape(key)
}

func (g *gcsStore) ListPage(ctx context.Context, prefix, token string) ([]Object, string, error) {
	// listPageSize (s3.go) serves both stores: 1,000 is each one's maximum.
	q := url.Values{"prefix": {prefix}, "maxResults": {strconv.Itoa(int(listPageSize))}, "fields": {"items(name,size),nextPageToken"}}
	if token != "" {
		q.Set("pageToken", token)
	}
	resp, err := g.do(ctx, http.MethodGet, g.endpoint+"/storage/v1/b/"+url.PathEscape(g.bucket)+"/o?"+q.Encode(), nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	var page struct {
		Items []struct {
			Name string `json:"name"`
			Size int64  `json:"size,string"`
		} `json:"items"`
		NextPageToken string `json:"nextPageToken"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, "", fmt.Errorf("gs: listing %s: %w", g.bucket, err)
	}
	objs := make([]Object, len(page.Items))
	for i, it := range page.Items {
		objs[i] = Object{Key: it.Name, Size: it.Size}
	}
	return objs, page.NextPageToken, nil
}

func (g *gcsStore) Get(ctx context.Context, key string, off, n int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.object(key)+"?alt=media", nil)
	if err != nil {
		return nil, err
	}
	if r := rangeHeader(off, n); r != "" {
		req.Header.Set("Range", r)
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		se := &StatusError{Status: resp.StatusCode, Err: fmt.Errorf("gs GET %s/%s", g.bucket, key)}
		if resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%w: %v", ErrNotFound, se)
		}
		return nil, se
	}
	buf := bytes.NewBuffer(make([]byte, 0, max(resp.ContentLength, 0)+1))
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (g *gcsStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	resp, err := g.do(ctx, http.MethodGet, g.object(key)+"?alt=media", nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (g *gcsStore) Put(ctx context.Context, key string, body []byte) error {
	u := g.endpoint + "/upload/storage/v1/b/" + url.PathEscape(g.bucket) + "/o?uploadType=media&name=" + url.QueryEscape(key)
	resp, err := g.do(ctx, http.MethodPost, u, body)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Copy rewrites src to dst. GCS may answer a large or cross-location
// rewrite with done: false and a token, each call copying part of the
// object; the copy is finished only when a call says done, so Copy calls
// again with the token until then.
func (g *gcsStore) Copy(ctx context.Context, src, dst string) error {
	base := g.object(src) + "/rewriteTo/b/" + url.PathEscape(g.bucket) + "/o/" + url.PathEscape(dst)
	token := ""
	for range maxRewriteCalls {
		u := base
		if token != "" {
			u += "?rewriteToken=" + url.QueryEscape(token)
		}
		resp, err := g.do(ctx, http.MethodPost, u, []byte("{}"))
		if err != nil {
			return err
		}
		var r struct {
			Done         bool   `json:"done"`
			RewriteToken string `json:"rewriteToken"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r)
		resp.Body.Close()
		switch {
		case err != nil:
			return fmt.Errorf("gs rewrite %s → %s: unreadable reply: %w", src, dst, err)
		case r.Done:
			return nil
		case r.RewriteToken == "":
			return fmt.Errorf("gs rewrite %s → %s: not done and no rewriteToken to continue with", src, dst)
		}
		token = r.RewriteToken
	}
	return fmt.Errorf("gs rewrite %s → %s: still not done after %d calls", src, dst, maxRewriteCalls)
}

// maxRewriteCalls bounds Copy's calls: GCS copies at least 1 GiB a call
// (maxBytesRewrittenPerCall's floor), so a result file never needs more
// than a few.
const maxRewriteCalls = 1000

func (g *gcsStore) Delete(ctx context.Context, key string) error {
	resp, err := g.do(ctx, http.MethodDelete, g.object(key), nil)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	return resp.Body.Close()
}
