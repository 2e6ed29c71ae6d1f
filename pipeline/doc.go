// Package pipeline is workbench's streaming engine. It borrows Ray Data's
// execution model and vocabulary so that a Ray user can read it at a glance,
// and like Ray Data's executor it knows nothing about what a row means: no
// images, no models. The classification job (package classify) is built
// from its parts.
//
//   - A Dataset is a lazy plan: a datasource (ReadBinaryFiles) → MapBatches …
//     → WriteParquet. Nothing runs until a write or an iteration.
//   - A block is an Arrow record batch. Tensors travel as a
//     FixedSizeList<float32> column, so no per-row Go objects exist.
//   - Each MapBatches stage becomes a physical MapOperator backed by a task
//     pool (stateless; the constructor runs per task) or an actor pool (the
//     constructor, which is where a model loads, runs once per actor).
//   - A single scheduling loop, the StreamingExecutor, repeatedly collects
//     finished tasks, picks the operator to run, and dispatches its next task
//     when both the resource manager (ExecutionResources budgets) and every
//     backpressure policy allow it.
//   - Each operator keeps one OpMetrics value, changed only through On…
//     callbacks. Dataset.Stats renders them like Ray's ds.stats() and names the
//     bottleneck operator; the executor publishes a Snapshot of them on the
//     EventBus at a fixed interval and once more at the end.
package pipeline
