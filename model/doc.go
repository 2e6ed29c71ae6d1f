// Package model owns everything between a model name and a batch of logits:
//
//   - finding and loading the ONNX Runtime shared library (runtime.go),
//   - the built-in model zoo, whose graphs are written in Go through the
//     onnxpb protobuf types (zoo.go, builder.go, resnet.go),
//   - resolving a zoo name or a user's .onnx file into a validated Model
//     (resolve.go),
//   - ONNX Runtime sessions with their execution provider and threading
//     options (session.go), including the CUDA provider of a core library
//     built without CUDA, attached as a plugin execution provider
//     (cudaplugin.go),
//   - GPU decisions that need no GPU to test: resolving --device auto,
//     recognising out-of-memory errors, and naming the CUDA libraries the
//     provider needs (gpu.go, cudaplugin.go),
//   - inputs and outputs as users' files come (io.go): NCHW or NHWC,
//     float32, float16 or uint8, fixed or dynamic batch and size, a named
//     or the only [N,K] output, and the preprocessing recipe recorded under
//     RecipeMetadataKey; Session.Run converts to the input's type
//     (convert.go),
//   - multiply-adds of any graph through the shapes ONNX Runtime infers
//     (flops.go) and a GEMM compute-peak probe cached per machine (peak.go),
//   - turning logits (or probabilities) into a prediction, a confidence and a
//     top-k list (classify.go), and class names (labels.go).
//
// The zoo models carry seeded, untrained weights: their throughput is that of
// the real architecture, their labels mean nothing. Every output that names a
// zoo model must say so with UntrainedNotice.
package model
