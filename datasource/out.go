package datasource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"strings"
)

// Output is a run's output in an object store, committed as a whole: the
// parts are uploaded under a temporary prefix beside the final one and
// copied into place only by Commit, so an interrupted run leaves nothing
// under the final prefix (at most its temporary prefix, which Abort
// removes), as Hadoop's and Ray's file committers do.
type Output struct {
	dest  uri
	final string // the final prefix ("results/") or object key
	tmp   string // the temporary prefix, ending in /
	st    Store
	parts []string // uploaded part keys under tmp
	Stats *Stats
}

// NewOutput prepares writing to dest: a prefix ending in "/" (parts are
// named part-00000.EXT under it) or one object's key.
func NewOutput(ctx context.Context, dest string) (*Output, error) {
	u, err := parseURI(dest)
	if err != nil {
		return nil, err
	}
	st, err := OpenStore(ctx, u.scheme, u.bucket, u.user == Anonymous)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 6)
	rand.Read(id)
	dir := strings.TrimSuffix(u.key, "/")
	tmp := path.Join(path.Dir(dir), "_temporary-"+path.Base(dir)+"-"+hex.EncodeToString(id)) + "/"
	if path.Dir(dir) == "." {
		tmp = strings.TrimPrefix(tmp, "./")
	}
	stats := &Stats{}
	return &Output{dest: u, final: u.key, tmp: tmp, st: &Retrying{Store: st, Policy: DefaultRetry, Stats: stats}, Stats: stats}, nil
}

// firstKey is the first object under the final prefix, "" when none.
func (o *Output) firstKey(ctx context.Context) (string, error) {
	objs, _, err := o.st.ListPage(ctx, o.final, "")
	if err != nil || len(objs) == 0 {
		return "", err
	}
	return objs[0].Key, nil
}

// Upload puts a finished local part under the temporary prefix.
func (o *Output) Upload(ctx context.Context, local string) error {
	b, err := os.ReadFile(local)
	if err != nil {
		return err
	}
	return o.Put(ctx, b, path.Ext(local))
}

// Put uploads the next part, part-NNNNN followed by ext, from memory
// under the temporary prefix.
func (o *Output) Put(ctx context.Context, b []byte, ext string) error {
	key := o.tmp + fmt.Sprintf("part-%05d%s", len(o.parts), ext)
	if err := o.st.Put(ctx, key, b); err != nil {
		return fmt.Errorf("%s: uploading %s: %w", o.dest.with(o.final), key, err)
	}
	o.parts = append(o.parts, key)
	return nil
}

// Commit copies the parts to the final prefix (or the one final object)
// and removes the temporary prefix. It returns the final URIs.
func (o *Output) Commit(ctx context.Context) ([]string, error) {
	var out []string
	for _, k := range o.parts {
		dst := o.final
		if o.final == "" || strings.HasSuffix(o.final, "/") || len(o.parts) > 1 {
			dst = strings.TrimSuffix(o.final, "/") + "/" + path.Base(k)
			dst = strings.TrimPrefix(dst, "/")
		}
		if err := o.st.Copy(ctx, k, dst); err != nil {
			return out, fmt.Errorf("committing %s: %w", o.dest.with(dst), err)
		}
		out = append(out, o.dest.with(dst))
	}
	return out, o.Abort(context.WithoutCancel(ctx))
}

// Abort removes whatever was uploaded under the temporary prefix.
func (o *Output) Abort(ctx context.Context) error {
	var first error
	for _, k := range o.parts {
		if err := o.st.Delete(ctx, k); err != nil && first == nil {
			first = err
		}
	}
	o.parts = nil
	return first
}
