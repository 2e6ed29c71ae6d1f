package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"workbench/pipeline"
	"workbench/vision"
)

// ResumeError is a run that failed or was interrupted after its checkpoint
// had taken rows: rerunning the same command resumes from them.
type ResumeError struct {
	Err        error
	Checkpoint string // the checkpoint's folder
	Rows       int    // rows it holds
}

func (e *ResumeError) Error() string { return e.Err.Error() + "; " + e.Hint() }

// Unwrap returns the run's error, so errors.Is(err, context.Canceled) holds.
func (e *ResumeError) Unwrap() error { return e.Err }

// Hint says what the user does next, naming the checkpoint.
func (e *ResumeError) Hint() string {
	if errors.Is(e.Err, syscall.ENOSPC) {
		return fmt.Sprintf("free some space, then rerun the same command: it resumes from the %d rows kept in the checkpoint %s", e.Rows, e.Checkpoint)
	}
	return fmt.Sprintf("%d rows are kept in the checkpoint %s: rerun the same command to resume", e.Rows, e.Checkpoint)
}

// checkWritable creates and removes a file in dir, so a run that could not
// publish its output fails before any work, naming the folder.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s cannot be created: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".workbench-write-check-*")
	if err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// openCheckpoint opens (or starts) the plan's checkpoint, refusing one made
// with settings that change results.
func openCheckpoint(p *Plan) (*pipeline.Checkpoint, error) {
	fp, err := resultFingerprint(p)
	if err != nil {
		return nil, err
	}
	ck, err := pipeline.OpenCheckpoint(pipeline.CheckpointConfig{
		Store: pipeline.DirStore{Dir: p.Config.Checkpoint}, IDColumn: pipeline.PathColumn,
		Fingerprint: fp, KeepFailed: p.Config.KeepFailed,
	})
	if err != nil {
		return nil, &DataError{What: "checkpoint", Err: err}
	}
	return ck, nil
}

// resultFingerprint names everything that changes a row's result: the model
// file's bytes and the output read from it, the preprocessing recipe, the
// precision, the device class, the pixel limit (which images fail) and the
// labels. Threads, batch size, blocks and the decoder change only speed.
func resultFingerprint(p *Plan) (map[string]string, error) {
	j := p.Job
	sum, err := fileSHA256(j.Model.Path)
	if err != nil {
		return nil, &DataError{What: "model", Err: err}
	}
	maxPixels := j.MaxPixels
	if maxPixels == 0 {
		maxPixels = vision.DefaultMaxPixels
	}
	fp := map[string]string{
		"model_sha256": sum,
		"model_output": j.Model.OutputName,
		"recipe":       j.Recipe.String(),
		"precision":    p.Effective.Precision,
		"device":       p.Device.Kind,
		"max_pixels":   strconv.FormatInt(maxPixels, 10),
	}
	if p.Config.Labels != "" {
		if fp["labels_sha256"], err = fileSHA256(p.Config.Labels); err != nil {
			return nil, &DataError{What: "labels", Err: err}
		}
	}
	return fp, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// DefaultCheckpoint is the checkpoint folder beside an output: OUT.checkpoint.
func DefaultCheckpoint(out string) string {
	return filepath.Join(filepath.Dir(out), filepath.Base(out)+".checkpoint")
}
