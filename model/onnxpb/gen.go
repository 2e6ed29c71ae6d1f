// Package onnxpb holds the ONNX protobuf messages (ModelProto, GraphProto,
// NodeProto, TensorProto, ...) generated from onnx.proto, the proto3 form of
// the ONNX IR definition published by the ONNX project (Apache-2.0). The zoo
// writes its graphs through these types, so every exported model is encoded
// by the protobuf runtime rather than by a hand-rolled byte writer.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative onnx.proto
