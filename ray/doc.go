// Package ray carries a workbench job to a real Ray cluster. It does not run a
// cluster itself; it owns two things:
//
//   - Export writes a job folder (main.py, requirements.txt, README.md and,
//     when the model is a local file, the .onnx) whose main.py is an idiomatic
//     Ray Data script doing what `workbench run` does: read_images →
//     map_batches(preprocess) → map_batches(Predictor) → write_parquet, with
//     the same preprocessing recipe and the same output columns. Each tuned
//     value carries its provenance as a comment, and a scenario's mistakes are
//     reproduced for real and marked "# MISTAKE (id): … Fix: …" so a workshop
//     can show the same mistakes on a cluster.
//   - Client speaks the Ray Jobs REST API on the dashboard port (8265):
//     submit (uploading a local working_dir as a gcs:// package the way
//     `ray job submit` does), status, logs, stop, list and Follow. GETs are
//     retried with bounded exponential backoff; POSTs never are. Header values
//     (tokens) are secrets and never appear in errors, logs or String output.
//
// Errors are typed so the CLI can exit non-zero with a clear message:
// *HTTPError (4xx/5xx; errors.Is(err, ErrNotFound) for 404), *NetworkError,
// *TimeoutError, and *JobError for a job that ended FAILED or STOPPED.
package ray
