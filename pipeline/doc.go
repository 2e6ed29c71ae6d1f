// Package pipeline is workbench's streaming engine. It borrows Ray Data's
// execution model and vocabulary so that a Ray user can read it at a glance:
//
//   - A Dataset is a lazy plan: ReadImages → MapBatches … → WriteParquet.
//     Nothing runs until a write or an iteration.
//   - A block is an Arrow record batch. Preprocessed images travel as a
//     FixedSizeList<float32> tensor column, so no per-row Go objects exist.
//   - Each MapBatches stage becomes a physical MapOperator backed by a task
//     pool (stateless; the constructor runs per task) or an actor pool (the
//     constructor, which is where a model loads, runs once per actor).
//   - A single scheduling loop, the StreamingExecutor, repeatedly collects
//     finished tasks, picks the operator to run, and dispatches its next task
//     when both the resource manager (ExecutionResources budgets) and every
//     backpressure policy allow it.
//   - Each operator keeps one OpMetrics value, changed only through On…
//     callbacks. Dataset.Stats renders them like Ray's ds.stats() and names the
//     bottleneck operator; Snapshots publishes them on an event stream.
//
// The image-classification job that the CLI runs is assembled from these
// parts in classify.go.
package pipeline
