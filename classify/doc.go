// Package classify is the image-classification job that workbench runs, built
// on the domain-free engine in package pipeline as a Ray Data user builds a
// job on Ray Data: ReadImages (a binary-file datasource over the image
// listing) → Preprocess (decode, resize, normalise into a tensor column) →
// Inference (an ONNX Runtime session per actor) → Write.
//
// It owns what is specific to images and models: the one image lister, the
// preprocess and inference UDFs, the tensor pool that batch tensors are
// assembled in, and the tutorial's mistake switches (JobConfig's booleans),
// each of which changes how a UDF or pool behaves, never what it computes.
package classify
