package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// failingStore is a DirStore whose Put fails with ENOSPC after ok block
// files, as a full disk does.
type failingStore struct {
	DirStore
	ok   int32
	puts atomic.Int32
}

func (s *failingStore) Put(name string, data []byte) error {
	if strings.HasPrefix(name, "block-") && s.puts.Add(1) > s.ok {
		return &os.PathError{Op: "write", Path: filepath.Join(s.Dir, name), Err: syscall.ENOSPC}
	}
	return s.DirStore.Put(name, data)
}

// stopAfter is a UDF that cancels the run once it has seen n batches: a
// Ctrl-C in the middle.
func stopAfter(n int32, cancel func()) UDF {
	var seen atomic.Int32
	return UDFFunc(func(ctx context.Context, b Block) (any, error) {
		if seen.Add(1) > n {
			// Give the writer time to commit what came before.
			time.Sleep(100 * time.Millisecond)
			cancel()
			return nil, ctx.Err()
		}
		return lengths(ctx, b)
	})
}

// runCheckpointed writes files (those the checkpoint has not finished)
// through udf into out with a checkpoint in dir.
func runCheckpointed(ctx context.Context, t *testing.T, files []string, udf UDF, out string, cfg CheckpointConfig) (*Checkpoint, error) {
	t.Helper()
	ck, err := OpenCheckpoint(cfg)
	if err != nil {
		return nil, err
	}
	var todo []string
	for _, f := range files {
		if !ck.Done(f) {
			todo = append(todo, f)
		}
	}
	ds := ReadBinaryFiles(todo, ReadOptions{OverrideNumBlocks: 10}).MapBatches(MapOptions{Name: "Len", Fn: udf, BatchSize: 8})
	return ck, ds.WriteParquet(ctx, out, WriteOptions{Checkpoint: ck})
}

// TestCheckpointResume: a run stopped midway (Ctrl-C, a full disk) leaves
// its committed blocks; the rerun skips their ids and publishes every row
// exactly once, then deletes the checkpoint.
func TestCheckpointResume(t *testing.T) {
	t.Parallel()
	files := makeFiles(t, 120)
	fp := map[string]string{"model": "m1"}
	cases := []struct {
		name string
		// first runs the interrupted run.
		first func(t *testing.T, out, dir string) error
		want  error
	}{
		{"cancelled", func(t *testing.T, out, dir string) error {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := runCheckpointed(ctx, t, files, stopAfter(6, cancel), out, CheckpointConfig{Store: DirStore{dir}, Fingerprint: fp})
			return err
		}, context.Canceled},
		{"disk full", func(t *testing.T, out, dir string) error {
			_, err := runCheckpointed(context.Background(), t, files, lengths, out,
				CheckpointConfig{Store: &failingStore{DirStore: DirStore{dir}, ok: 4}, Fingerprint: fp})
			return err
		}, syscall.ENOSPC},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			outDir := t.TempDir()
			out := filepath.Join(outDir, "o.parquet")
			dir := out + ".checkpoint"
			if err := c.first(t, out, dir); !errors.Is(err, c.want) {
				t.Fatalf("first run: %v, want %v", err, c.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatal("an interrupted run published its output")
			}
			ck, err := runCheckpointed(context.Background(), t, files, lengths, out, CheckpointConfig{Store: DirStore{dir}, Fingerprint: fp})
			if err != nil {
				t.Fatal(err)
			}
			if ck.Restored() == 0 || ck.Restored() >= len(files) {
				t.Errorf("restored %d rows, want some of %d", ck.Restored(), len(files))
			}
			rows, paths := readParquet(t, out)
			slices.Sort(paths)
			if rows != int64(len(files)) || !slices.Equal(paths, files) {
				t.Errorf("output holds %d rows, want each of %d once", rows, len(files))
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("checkpoint not deleted on success: %v", err)
			}
			ents, _ := os.ReadDir(outDir)
			if len(ents) != 1 {
				t.Errorf("output folder holds %d entries, want only the output", len(ents))
			}
		})
	}
}

// TestCheckpointRefusesOtherFingerprint: a checkpoint made with other
// settings is refused, naming what changed.
func TestCheckpointRefusesOtherFingerprint(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ck")
	ck, err := OpenCheckpoint(CheckpointConfig{Store: DirStore{dir}, Fingerprint: map[string]string{"model_sha256": "aaa", "precision": "fp32"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := columnsToBlock(memory.DefaultAllocator, Columns{PathColumn: []string{"a.jpg"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	if err := ck.Commit(b); err != nil {
		t.Fatal(err)
	}
	ck.Close(false)
	_, err = OpenCheckpoint(CheckpointConfig{Store: DirStore{dir}, Fingerprint: map[string]string{"model_sha256": "bbb", "precision": "fp32"}})
	var fe *FingerprintError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "model_sha256: aaa → bbb") || strings.Contains(err.Error(), "precision") {
		t.Fatalf("err = %v, want a FingerprintError naming model_sha256 only", err)
	}
}

// TestCheckpointLock: a second run cannot open a checkpoint in use.
func TestCheckpointLock(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ck")
	ck, err := OpenCheckpoint(CheckpointConfig{Store: DirStore{dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close(false)
	if _, err := OpenCheckpoint(CheckpointConfig{Store: DirStore{dir}}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open: %v, want in use", err)
	}
}

// TestCheckpointFailedRows: rows that carry an error are computed again on
// resume unless KeepFailed, and a later good row wins over them.
func TestCheckpointFailedRows(t *testing.T) {
	t.Parallel()
	files := makeFiles(t, 40)
	failing := func(fail bool) UDF {
		return UDFFunc(func(ctx context.Context, b Block) (any, error) {
			paths := Column(b, PathColumn).(*array.String)
			for i := range paths.Len() {
				if fail && strings.HasSuffix(paths.Value(i), "f00008.jpg") {
					return nil, errors.New("boom")
				}
			}
			return lengths(ctx, b)
		})
	}
	for _, keep := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "ck")
		out := filepath.Join(t.TempDir(), "o.parquet")
		cfg := CheckpointConfig{Store: DirStore{dir}, KeepFailed: keep, KeepOnSuccess: true}
		if _, err := runCheckpointed(context.Background(), t, files, failing(true), out, cfg); err != nil {
			t.Fatal(err)
		}
		ck, err := runCheckpointed(context.Background(), t, files, failing(false), out, cfg)
		if err != nil {
			t.Fatal(err)
		}
		wantRestored, wantErrors := 32, int64(0)
		if keep {
			wantRestored, wantErrors = 40, 8
		}
		if ck.Restored() != wantRestored {
			t.Errorf("keep=%v: restored %d, want %d", keep, ck.Restored(), wantRestored)
		}
		tbl := readTable(t, out)
		var errs int64
		for _, c := range tbl.Column(tbl.Schema().FieldIndices(ErrorColumn)[0]).Data().Chunks() {
			errs += int64(c.Len() - c.NullN())
		}
		if tbl.NumRows() != 40 || errs != wantErrors {
			t.Errorf("keep=%v: %d rows with %d errors, want 40 with %d", keep, tbl.NumRows(), errs, wantErrors)
		}
		tbl.Release()
		// A third open sees the good rows win over the failed ones.
		ck3, err := OpenCheckpoint(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := ck3.Restored(); got != 40 {
			t.Errorf("keep=%v: third open restores %d, want 40", keep, got)
		}
		ck3.Close(false)
	}
}
