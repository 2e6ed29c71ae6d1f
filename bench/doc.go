// Package bench owns workbench's measurement vocabulary: how repeated runs
// are summarised, compared, checked for steady state, swept over a grid,
// judged against thresholds and constraints, and ranked by an objective.
//
// The statistics are golang.org/x/perf's benchmath, the library benchstat
// itself runs, behind bench's own types (stats.go adapts them), so that
// benchstat's readers feel at home and the numbers agree with benchstat's:
//
//   - A sample of repeated measurements is summarised by its median and a
//     distribution-free confidence interval of the median taken from order
//     statistics (Summarize). It prints as "412 img/s ± 3%", where 3% is the
//     larger distance from the median to either end of the interval.
//   - Two samples are compared with a two-sided Mann-Whitney U test
//     (MannWhitney, Compare). A difference that is not significant prints as
//     "~", so a reader is never invited to read noise as a result.
//   - Too few samples produce warnings, never errors. Warnings become numbered
//     footnotes beneath a table (Footnotes).
//   - WriteBenchfmt writes records in the Go benchmark format, so benchstat
//     itself can compare two workbench runs.
//
// Steady-state throughput is measured over fixed windows after a warm-up and
// judged by Triton perf_analyzer's stability rule (Windows, Stable). Sweeps use
// Triton Model Analyzer's vocabulary: a Grid of dimensions, Constraints that a
// cell must satisfy, an Objective to rank cells by (TopN), and an early exit
// when the objective stops improving (EarlyExit). Thresholds and their exit
// codes come from k6.
//
// Metric values inside this package are always in base units: seconds for
// durations, bytes for sizes, items per second for rates. Units appear only
// when parsing user input and when formatting output.
package bench
