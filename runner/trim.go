package runner

/*
#include <malloc.h>
*/
import "C"

// trimCHeap returns memory that C code (ONNX Runtime's arenas, freed when an
// earlier run's sessions closed) gave back to glibc but glibc kept. Without
// it, a run measured after another in the same process would report the
// earlier run's memory as its own peak RSS.
func trimCHeap() { C.malloc_trim(0) }
