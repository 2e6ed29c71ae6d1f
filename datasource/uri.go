package datasource

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
)

// uri is a parsed s3:// or gs:// name.
type uri struct {
	scheme, user, bucket, key string
}

func parseURI(s string) (uri, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "s3" && scheme != "gs") {
		return uri{}, fmt.Errorf("%q is not an s3:// or gs:// URI", s)
	}
	var u uri
	u.scheme = scheme
	if at := strings.Index(rest, "@"); at >= 0 && at < strings.IndexByte(rest+"/", '/') {
		u.user, rest = rest[:at], rest[at+1:]
		if u.user != Anonymous {
			return uri{}, fmt.Errorf("%s: the only user a URI may name is %q (unsigned requests); credentials come from the environment", s, Anonymous)
		}
	}
	u.bucket, u.key, _ = strings.Cut(rest, "/")
	if u.bucket == "" {
		return uri{}, fmt.Errorf("%s names no bucket", s)
	}
	return u, nil
}

// with is the URI of another key in the same bucket, as the user wrote
// the bucket (anonymous@ kept, so a read is signed as the listing was).
func (u uri) with(key string) string {
	user := ""
	if u.user != "" {
		user = u.user + "@"
	}
	return u.scheme + "://" + user + u.bucket + "/" + key
}

// store returns the bucket's Store, retrying and counted, made once.
func (s *Source) store(ctx context.Context, u uri) (Store, error) {
	id := u.scheme + "://" + u.user + "@" + u.bucket
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stores[id]; ok {
		return st, nil
	}
	st, err := OpenStore(ctx, u.scheme, u.bucket, u.user == Anonymous)
	if err != nil {
		return nil, err
	}
	r := &Retrying{Store: st, Policy: s.opts.Retry, Stats: s.stats}
	s.stores[id] = r
	return r, nil
}

// OpenStore opens one bucket of the scheme's store (s3 or gs).
func OpenStore(ctx context.Context, scheme, bucket string, anonymous bool) (Store, error) {
	switch scheme {
	case "s3":
		return NewS3(ctx, bucket, anonymous)
	case "gs":
		return NewGCS(ctx, bucket, anonymous)
	}
	return nil, fmt.Errorf("no store for %s://", scheme)
}

// limitBudget hands out at most n rows across concurrent read tasks; a
// zero budget is unlimited.
type limitBudget struct{ left *atomic.Int64 }

func newLimitBudget(n int) limitBudget {
	if n <= 0 {
		return limitBudget{}
	}
	var a atomic.Int64
	a.Store(int64(n))
	return limitBudget{left: &a}
}

// take reports whether one more row may be read.
func (b limitBudget) take() bool { return b.left == nil || b.left.Add(-1) >= 0 }
