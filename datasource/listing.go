package datasource

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync/atomic"

	"workbench/pipeline"
)

// remoteListing is an object store prefix of images listed as the read
// goes. Open fetched its first page, to tell what the prefix holds; each
// pass replays that page and then pages on from its token, one page in
// hand at a time, yielding image keys in the store's key order (S3 lists
// in UTF-8 binary order, GCS in lexicographic order: the same for every
// pass). Its store is Retrying, so a page that fails is retried from its
// own token, under the same policy as a GET.
type remoteListing struct {
	st     Store
	u      uri
	prefix string
	first  []Object
	next   string       // the token after first; "" when first was the last page
	limit  int          // images to yield at most; 0 = all
	listed atomic.Int64 // images the latest read pass has yielded
}

var _ pipeline.StreamingDatasource = (*Source)(nil)

// Streams reports whether the source lists its units as the read goes
// (an object store prefix of images): Units is then nil, Rows 0, and each
// execution takes a fresh Listing.
func (s *Source) Streams() bool { return s.stream != nil }

// Listing returns a fresh pass over the image keys when the source
// streams, or nil when Units holds them all: see
// pipeline.StreamingDatasource. It makes no request until its first Next
// past the page Open fetched. Each key's listed size is kept until its
// GET, so an object larger than MaxObjectBytes is still refused unread,
// and no longer, so memory follows the keys in flight, not the prefix.
func (s *Source) Listing() pipeline.PathSource {
	if s.stream == nil {
		return nil
	}
	return &pager{l: s.stream, note: s.noteSize, spec: s.Spec}
}

// Count lists the source once, holding nothing, for a read that must know
// its row count before it starts (a fixed block count splits that many
// rows): the images it will read (at most Limit) and their listed bytes.
// A source that does not stream answers from what Open listed.
func (s *Source) Count(ctx context.Context) (n int, bytes int64, err error) {
	if s.stream == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, u := range s.units {
			bytes += s.sizes[u]
		}
		return s.Rows(), bytes, nil
	}
	p := &pager{l: s.stream, spec: s.Spec}
	for {
		_, err := p.NextContext(ctx)
		if err == io.EOF {
			return p.n, p.bytes, nil
		}
		if err != nil {
			return 0, 0, err
		}
	}
}

// pager is one pass over a remoteListing.
type pager struct {
	l    *remoteListing
	note func(name string, size int64) // nil: keep no sizes (Count)
	spec string

	page          []Object
	i             int
	token         string
	started, done bool
	n             int   // images yielded
	bytes         int64 // their listed sizes
}

var _ pipeline.ContextPathSource = (*pager)(nil)

// Next is NextContext without a deadline.
func (p *pager) Next() (string, error) { return p.NextContext(context.Background()) }

// NextContext yields the next image key's URI, fetching the next page
// when this one is spent; io.EOF after the last image (or the limit'th).
func (p *pager) NextContext(ctx context.Context) (string, error) {
	for {
		if p.done || (p.l.limit > 0 && p.n >= p.l.limit) {
			return p.end()
		}
		for p.i < len(p.page) {
			ob := p.page[p.i]
			p.i++
			if formatOf(ob.Key) != FormatImages {
				continue
			}
			name := p.l.u.with(ob.Key)
			p.n++
			if p.note != nil {
				p.note(name, ob.Size)
				p.l.listed.Store(int64(p.n))
			}
			p.bytes += ob.Size
			return name, nil
		}
		switch {
		case !p.started:
			p.started = true
			p.page, p.i, p.token = p.l.first, 0, p.l.next
		case p.token == "":
			return p.end()
		default:
			objs, next, err := p.l.st.ListPage(ctx, p.l.prefix, p.token)
			if err != nil {
				return "", fmt.Errorf("listing %s: %w", p.spec, err)
			}
			// The page is replaced, not appended to: one page in hand.
			p.page, p.i, p.token = slices.Clip(objs), 0, next
		}
	}
}

func (p *pager) end() (string, error) {
	p.done = true
	return "", io.EOF
}

// noteSize keeps a streamed key's listed size until its GET.
func (s *Source) noteSize(name string, size int64) {
	s.mu.Lock()
	s.sizes[name] = size
	s.mu.Unlock()
}

// listedSize is the size the listing gave name. A streamed listing's
// sizes are dropped once asked for, so they never outgrow the keys in
// flight; a listing held whole keeps them for every execution.
func (s *Source) listedSize(name string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sz, ok := s.sizes[name]
	if ok && s.stream != nil {
		delete(s.sizes, name)
	}
	return sz, ok
}
