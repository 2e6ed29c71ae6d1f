// Package vision owns everything between a file on disk and a model-ready
// tensor: listing image files (ListImages), decoding them to RGB with EXIF
// orientation, a pixel limit and classified errors (Decode, Decoder), the
// torchvision "classic" preprocessing recipe (Recipe, Preprocessor), and the
// deterministic synthetic ImageNet-like dataset (Synthesize).
//
// The preprocessing follows torchvision's PIL path exactly where it matters
// for accuracy:
//
//	Resize(256, bilinear, antialias) → CenterCrop(224) → ToTensor → Normalize
//
// The resize reproduces Pillow's two-pass fixed-point resampler (triangle
// filter widened by the downscale factor, 8-bit intermediate), so the tensors
// match what a Python ImageNet pipeline feeds a model to within a rounding
// step. Only the crop window is computed.
//
// Decoding is pure Go (image/jpeg, image/png) behind the Decoder interface,
// so a faster decoder (libjpeg-turbo with DCT scaling) can be slotted in
// without touching callers.
package vision
