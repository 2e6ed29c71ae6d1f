package pipeline

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// slicePaths is a PathSource over a slice that can hold back its last path
// until release is closed, so a test can look at the run while the listing
// is still going.
type slicePaths struct {
	paths   []string
	i       int
	release chan struct{}
}

func (s *slicePaths) Next() (string, error) {
	if s.i == len(s.paths) {
		return "", io.EOF
	}
	if s.release != nil && s.i == len(s.paths)-1 {
		<-s.release
	}
	s.i++
	return s.paths[s.i-1], nil
}

// TestReadBinaryFilesFrom: a listing that streams reads the same rows, in
// the same order, as the same listing given whole; Limit takes the first
// N in the source's order.
func TestReadBinaryFilesFrom(t *testing.T) {
	t.Parallel()
	files := makeFiles(t, 50)
	cases := []struct{ limit, perBlock, blocks int }{
		{0, 0, 0}, {0, 3, 0}, {7, 0, 0}, {20, 0, 6}, {0, 1, 0}, {60, 4, 0},
	}
	for _, c := range cases {
		src := &slicePaths{paths: files}
		out := filepath.Join(t.TempDir(), "o.parquet")
		ds := ReadBinaryFilesFrom(src, ReadOptions{Limit: c.limit, RowsPerBlock: c.perBlock, OverrideNumBlocks: c.blocks}).
			MapBatches(MapOptions{Name: "Len", Fn: lengths, BatchSize: 4}).
			WithExecutionOptions(ExecutionOptions{PreserveOrder: true})
		if err := ds.WriteParquet(context.Background(), out, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		want := files
		if c.limit > 0 && c.limit < len(files) {
			want = files[:c.limit]
		}
		tbl := readTable(t, out)
		var got []string
		tr := array.NewTableReader(tbl, -1)
		for tr.Next() {
			p := Column(tr.RecordBatch(), PathColumn).(*array.String)
			for i := range p.Len() {
				got = append(got, p.Value(i))
			}
		}
		tr.Release()
		tbl.Release()
		if len(got) != len(want) {
			t.Errorf("%+v: %d rows, want %d", c, len(got), len(want))
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%+v: row %d is %s, want %s", c, i, got[i], want[i])
				break
			}
		}
	}
}

// TestRowsTotalArrivesLate: while a streamed listing is still going, the
// snapshots say RowsTotal 0 ("counting…"); once it ends, the total.
func TestRowsTotalArrivesLate(t *testing.T) {
	t.Parallel()
	files := makeFiles(t, 20)
	src := &slicePaths{paths: files, release: make(chan struct{})}
	obs := observe(1024)
	ds := ReadBinaryFilesFrom(src, ReadOptions{RowsPerBlock: 2}).
		WithExecutionOptions(ExecutionOptions{Bus: obs.bus, SnapshotInterval: time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- ds.IterBatches(context.Background(), func(Block) error { return nil }) }()
	// Hold the last path back until a snapshot has been published.
	for {
		obs.mu.Lock()
		n := len(obs.snap)
		obs.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(src.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	snaps := obs.close()
	if snaps[0].RowsTotal != 0 {
		t.Errorf("first snapshot RowsTotal %d while listing, want 0", snaps[0].RowsTotal)
	}
	if last := snaps[len(snaps)-1]; !last.Done || last.RowsTotal != 20 || last.RowsDone != 20 {
		t.Errorf("last snapshot: done %v, RowsTotal %d, RowsDone %d; want done, 20, 20", last.Done, last.RowsTotal, last.RowsDone)
	}
}
