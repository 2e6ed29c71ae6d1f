package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// CheckpointStore holds a checkpoint's files. It is deliberately small, so
// an object store can stand behind it as well as a local folder
// (DirStore): names are flat, and Put is the only write.
type CheckpointStore interface {
	// Put stores data under name atomically: after a crash, a kill or a
	// power cut, name holds all of data or does not exist.
	Put(name string, data []byte) error
	// Get returns name's data; an error wrapping fs.ErrNotExist when
	// there is none.
	Get(name string) ([]byte, error)
	// List returns every stored name, sorted.
	List() ([]string, error)
	// Remove deletes name; a missing name is not an error.
	Remove(name string) error
	// Destroy removes the store itself once its names are removed.
	Destroy() error
	// String names the store for messages, e.g. "out.parquet.checkpoint".
	String() string
}

// CheckpointLocker is a CheckpointStore that can keep a second run off it
// while one holds it. The lock must end with the process that took it, so
// a killed run never leaves it behind.
type CheckpointLocker interface {
	Lock() (unlock func(), err error)
}

// DirStore is a CheckpointStore in a local folder. Put writes a temporary
// file, syncs it, renames it into place and syncs the folder, so a name
// survives a power cut once Put returns.
type DirStore struct{ Dir string }

// String implements CheckpointStore.
func (d DirStore) String() string { return d.Dir }

// tmpPrefix marks files Put has not renamed yet; List skips them and Lock
// removes those a killed run left.
const tmpPrefix = ".tmp-"

// Put implements CheckpointStore.
func (d DirStore) Put(name string, data []byte) (err error) {
	f, err := os.CreateTemp(d.Dir, tmpPrefix+name+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), filepath.Join(d.Dir, name)); err != nil {
		return err
	}
	return syncDir(d.Dir)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// Get implements CheckpointStore.
func (d DirStore) Get(name string) ([]byte, error) { return os.ReadFile(filepath.Join(d.Dir, name)) }

// List implements CheckpointStore.
func (d DirStore) List() ([]string, error) {
	ents, err := os.ReadDir(d.Dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); !strings.HasPrefix(n, ".") && e.Type().IsRegular() {
			out = append(out, n)
		}
	}
	return out, nil
}

// Remove implements CheckpointStore.
func (d DirStore) Remove(name string) error {
	if err := os.Remove(filepath.Join(d.Dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Destroy implements CheckpointStore: it removes the folder with what is
// left in it (the lock file, temporary files).
func (d DirStore) Destroy() error { return os.RemoveAll(d.Dir) }

// Lock implements CheckpointLocker with flock(2) on DIR/.lock, which the
// kernel drops when the process ends however it ends. It also removes the
// temporary files of a Put that a killed run left half-written.
func (d DirStore) Lock() (func(), error) {
	if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(d.Dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("checkpoint %s is in use by another run", d.Dir)
		}
		return nil, err
	}
	if stale, _ := filepath.Glob(filepath.Join(d.Dir, tmpPrefix+"*")); len(stale) > 0 {
		for _, s := range stale {
			os.Remove(s)
		}
	}
	return func() { f.Close() }, nil
}

// CheckpointConfig is Ray's ray.data.checkpoint.CheckpointConfig for a
// write: which column identifies a row, where the checkpoint lives, and
// what it must match to be resumed.
type CheckpointConfig struct {
	// Store is where the checkpoint's files go (checkpoint_path).
	Store CheckpointStore
	// IDColumn identifies a row across runs (id_column); "" is PathColumn.
	IDColumn string
	// Fingerprint names everything that changes a row's result (a model's
	// hash, the preprocessing, the precision, the device class). A
	// checkpoint made under another fingerprint is refused, naming what
	// changed, rather than mixing results.
	Fingerprint map[string]string
	// KeepFailed keeps rows that carry an error as finished; by default
	// they are computed again on resume.
	KeepFailed bool
	// KeepOnSuccess keeps the checkpoint after the output is published;
	// by default it is deleted (delete_checkpoint_on_success).
	KeepOnSuccess bool
}

// FingerprintError is a checkpoint made under another fingerprint.
type FingerprintError struct {
	Store   string
	Changes []string // "model_sha256: abc… → def…"
}

func (e *FingerprintError) Error() string {
	return fmt.Sprintf("checkpoint %s was made with different settings, so its results cannot be mixed with this run's: %s; "+
		"run with the settings it was made with, or delete %s (or pass another --checkpoint) to start over",
		e.Store, strings.Join(e.Changes, "; "), e.Store)
}

// manifestName holds the checkpoint's fingerprint; it is written before any
// block and removed last.
const manifestName = "manifest.json"

type manifest struct {
	Version     int               `json:"version"`
	IDColumn    string            `json:"id_column"`
	Fingerprint map[string]string `json:"fingerprint"`
}

// ckptEntry is where an id's row lives among the checkpoint's files.
type ckptEntry struct {
	file, row int32
	failed    bool
}

// Checkpoint is an open checkpoint: the ids a previous run finished, and
// the commit of each block this run writes. One checkpoint file per
// written block holds the block's rows, so a resumed run republishes them
// without recomputing; the ids are the file's IDColumn. Its methods are
// safe for concurrent use.
type Checkpoint struct {
	cfg    CheckpointConfig
	unlock func()

	mu       sync.Mutex
	files    []string // block files found at open, in commit order
	ids      map[string]ckptEntry
	restored int // rows the open found finished
	failedIn int // of those, rows that carry an error (KeepFailed)
	gen      int // this run's generation: block names sort after earlier runs'
	seq      int
	written  int // rows committed by this run
	closed   bool
	schema   *arrow.Schema // of the first block found at open
}

// OpenCheckpoint opens cfg.Store, or starts a checkpoint there when it holds
// none: it takes the store's lock, checks the fingerprint (a mismatch is a
// *FingerprintError) and reads the ids already finished.
func OpenCheckpoint(cfg CheckpointConfig) (*Checkpoint, error) {
	if cfg.IDColumn == "" {
		cfg.IDColumn = PathColumn
	}
	c := &Checkpoint{cfg: cfg, ids: map[string]ckptEntry{}, unlock: func() {}}
	if l, ok := cfg.Store.(CheckpointLocker); ok {
		unlock, err := l.Lock()
		if err != nil {
			return nil, err
		}
		c.unlock = unlock
	}
	if err := c.load(); err != nil {
		c.unlock()
		return nil, err
	}
	return c, nil
}

func (c *Checkpoint) load() error {
	st := c.cfg.Store
	names, err := st.List()
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", st, err)
	}
	data, err := st.Get(manifestName)
	if errors.Is(err, fs.ErrNotExist) {
		// A new checkpoint, or one whose deletion was cut short after
		// its blocks went: nothing in it can be trusted without a
		// manifest, so start clean.
		for _, n := range names {
			if err := st.Remove(n); err != nil {
				return err
			}
		}
		m, _ := json.Marshal(manifest{Version: 1, IDColumn: c.cfg.IDColumn, Fingerprint: c.cfg.Fingerprint})
		if err := st.Put(manifestName, m); err != nil {
			return fmt.Errorf("checkpoint %s: %w", st, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", st, err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("checkpoint %s: unreadable %s (%v): delete the folder to start over", st, manifestName, err)
	}
	if changes := fingerprintChanges(m.Fingerprint, c.cfg.Fingerprint); m.IDColumn != c.cfg.IDColumn || len(changes) > 0 {
		if m.IDColumn != c.cfg.IDColumn {
			changes = append(changes, fmt.Sprintf("id_column: %s → %s", m.IDColumn, c.cfg.IDColumn))
		}
		return &FingerprintError{Store: st.String(), Changes: changes}
	}
	for _, n := range names {
		var g, s int
		if _, err := fmt.Sscanf(n, "block-%06d-%06d.arrow", &g, &s); err != nil {
			continue
		}
		c.gen = max(c.gen, g)
		if err := c.index(n); err != nil {
			return err
		}
	}
	c.gen++
	for _, e := range c.ids {
		if !e.failed || c.cfg.KeepFailed {
			c.restored++
			if e.failed {
				c.failedIn++
			}
		}
	}
	return nil
}

// index records the ids of one block file. A row without an error wins
// over one with; among rows that failed, the latest file wins.
func (c *Checkpoint) index(name string) error {
	file := int32(len(c.files))
	c.files = append(c.files, name)
	return c.each(name, func(b Block) error {
		if c.schema == nil {
			c.schema = b.Schema()
		}
		ids, ok := Column(b, c.cfg.IDColumn).(*array.String)
		if !ok {
			return fmt.Errorf("checkpoint %s: %s has no string column %q", c.cfg.Store, name, c.cfg.IDColumn)
		}
		errs := Column(b, ErrorColumn)
		for i := range ids.Len() {
			e := ckptEntry{file: file, row: int32(i), failed: errs != nil && errs.IsValid(i)}
			if old, seen := c.ids[ids.Value(i)]; seen && !old.failed && e.failed {
				continue
			}
			c.ids[ids.Value(i)] = e
		}
		return nil
	})
}

// each calls fn with the record batch a block file holds.
func (c *Checkpoint) each(name string, fn func(Block) error) error {
	data, err := c.cfg.Store.Get(name)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", c.cfg.Store, err)
	}
	r, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return fmt.Errorf("checkpoint %s: %s: %w", c.cfg.Store, name, err)
	}
	defer r.Close()
	for i := range r.NumRecords() {
		b, err := r.RecordBatch(i)
		if err != nil {
			return fmt.Errorf("checkpoint %s: %s: %w", c.cfg.Store, name, err)
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

func fingerprintChanges(was, now map[string]string) []string {
	var out []string
	keys := slices.Sorted(maps.Keys(was))
	for k := range now {
		if _, ok := was[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if was[k] != now[k] {
			out = append(out, fmt.Sprintf("%s: %s → %s", k, orNone(was[k]), orNone(now[k])))
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Done reports whether a previous run finished id, so this one skips it.
// A row that failed is not finished unless KeepFailed.
func (c *Checkpoint) Done(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.ids[id]
	return ok && (!e.failed || c.cfg.KeepFailed)
}

// Restored is the number of rows previous runs finished: what Replay writes.
// RestoredErrors counts those that carry an error (only with KeepFailed).
func (c *Checkpoint) Restored() int { return c.restored }

// RestoredErrors is the number of restored rows that carry an error.
func (c *Checkpoint) RestoredErrors() int { return c.failedIn }

// Rows is every row the checkpoint holds for the output: restored and
// committed by this run.
func (c *Checkpoint) Rows() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restored + c.written
}

// Schema is the schema of the restored rows, nil when there are none.
func (c *Checkpoint) Schema() *arrow.Schema { return c.schema }

// String names the checkpoint's store.
func (c *Checkpoint) String() string { return c.cfg.Store.String() }

// Replay hands write the restored rows, once each, file by file in commit
// order, as zero-copy slices of each file's runs of kept rows.
func (c *Checkpoint) Replay(write func(Block) error) error {
	for fi, name := range c.files {
		err := c.each(name, func(b Block) error {
			ids := Column(b, c.cfg.IDColumn).(*array.String)
			start := -1
			flush := func(end int) error {
				if start < 0 {
					return nil
				}
				s := sliceBlock(b, int64(start), int64(end))
				defer s.Release()
				start = -1
				return write(s)
			}
			for i := range ids.Len() {
				e := c.ids[ids.Value(i)]
				keep := e.file == int32(fi) && e.row == int32(i) && (!e.failed || c.cfg.KeepFailed)
				if keep && start < 0 {
					start = i
				} else if !keep {
					if err := flush(i); err != nil {
						return err
					}
				}
			}
			return flush(ids.Len())
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Commit stores one written block, with the ids it holds, as one file:
// once Commit returns, a rerun skips those ids and republishes the rows.
func (c *Checkpoint) Commit(b Block) error {
	var buf bytes.Buffer
	w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(b.Schema()), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return err
	}
	if err := w.Write(b); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	c.mu.Lock()
	c.seq++
	name := fmt.Sprintf("block-%06d-%06d.arrow", c.gen, c.seq)
	c.mu.Unlock()
	if err := c.cfg.Store.Put(name, buf.Bytes()); err != nil {
		return fmt.Errorf("checkpoint %s: %w", c.cfg.Store, err)
	}
	c.mu.Lock()
	c.written += int(b.NumRows())
	c.mu.Unlock()
	return nil
}

// Close ends this run's hold on the checkpoint. published says the output
// now holds every row: the checkpoint is deleted then (unless
// KeepOnSuccess), and also when it holds no row at all, so a run stopped
// before its first block leaves nothing behind. Otherwise it stays for the
// rerun to resume.
// Only the first Close counts.
func (c *Checkpoint) Close(published bool) error {
	c.mu.Lock()
	closed := c.closed
	c.closed = true
	c.mu.Unlock()
	if closed {
		return nil
	}
	defer c.unlock()
	if (published && !c.cfg.KeepOnSuccess) || c.Rows() == 0 {
		return c.destroy()
	}
	return nil
}

// destroy removes the blocks first and the manifest last, so an
// interrupted deletion leaves a checkpoint that resumes or one that starts
// clean, never one that mixes.
func (c *Checkpoint) destroy() error {
	st := c.cfg.Store
	names, err := st.List()
	if err != nil {
		return err
	}
	for _, n := range names {
		if n != manifestName {
			if err := st.Remove(n); err != nil {
				return err
			}
		}
	}
	if err := st.Remove(manifestName); err != nil {
		return err
	}
	return st.Destroy()
}
