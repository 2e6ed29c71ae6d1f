// Package vision owns everything between a file on disk and a model-ready
// tensor: listing image files (ListImages), decoding them to RGB with EXIF
// orientation, a pixel limit and classified errors (Decode, Decoder), the
// preprocessing recipe (Recipe, Preprocessor) with its named presets
// (recipe.go, presets.go: torchvision's classic transform and the other
// families' variants: bicubic or nearest, other means, scales, channel
// orders and layouts), and the deterministic synthetic ImageNet-like
// dataset (Synthesize).
//
// The preprocessing follows torchvision's PIL path exactly where it matters
// for accuracy:
//
//	Resize(256, bilinear, antialias) → CenterCrop(224) → ToTensor → Normalize
//
// The resize reproduces Pillow's two-pass fixed-point resampler (triangle
// filter widened by the downscale factor, 8-bit intermediate), so the tensors
// match what a Python ImageNet pipeline feeds a model to within a rounding
// step. It is fused with the crop and the normalisation: only the source
// pixels the crop's filter taps reach are read, only the crop's outputs are
// computed, and each lands once, as a normalised float32, in its CHW slot of
// the caller's tensor buffer. Kernels, lookup tables and scratch rows live in
// the Preprocessor, so a warm one allocates nothing per image.
//
// The resampler exists twice, with the same arithmetic bit for bit
// (TestResampleNativeMatchesGo): in Go, which the pure-Go path (GoDecoder)
// uses and which is the reference, and in C (resample_cgo.go), which the
// turbo path uses where cgo is on: its horizontal pass does a pixel's three
// channels in one SSE4.1 multiply and the compiler vectorises its vertical
// pass for AVX2, about 2.2× the Go resampler's speed here. So "--decoder go"
// stays the program with no C in its hot path, the baseline the turbo path
// is measured against.
//
// # Decoders
//
// Decoding sits behind the Decoder interface; ParseDecoder maps the
// --decoder names (DecoderNames) onto implementations:
//
//   - GoDecoder: the standard library's image/jpeg and image/png. Always
//     there.
//   - TurboDecoder: libjpeg-turbo through its TurboJPEG 2.x API, opened with
//     dlopen at run time (DefaultTurboLibrary, or $WORKBENCH_TURBOJPEG), so
//     a binary without the library still starts and "auto" falls back to
//     Go; TurboAvailable says which and why. A Preprocessor holding one
//     decodes through its own TurboJPEG handle straight into its scratch
//     buffer, so the pair runs with no Go allocation per image.
//
// TurboDecoder downscales in the DCT domain: it decodes at the smallest
// scaling factor that keeps the shorter side at least the recipe's Resize
// (256), and the resampler, told the factor, keeps sampling the same scene
// positions as from a full decode (the output geometry always comes from
// the full size, as torchvision computes it). By default it uses only the
// factors libjpeg-turbo has SIMD code for, 1/2, 1/4 and 1/8: measured here
// on 500×375 photos, libjpeg-turbo 2.1.5 decodes at 7/8 and 3/4 slower than
// at full size (about 950 and 1,120 against 1,410 img/cpu-s), so a 500×375
// image is decoded whole. TurboOptions.AnyScale ("turbo-anyscale") allows
// every n/8 factor.
//
// # Accuracy of the turbo path
//
// Mean absolute difference of the final 3×224×224 tensor over the first 48
// images of the synthetic set (seed 1), in 8-bit levels (normalised units ×
// std × 255; one level is about 0.017 in tensor units); mean over images,
// then the worst image. TestTurboAgreesWithGo measures these (run it with
// -v) and bounds each image:
//
//	turbo-full     vs go          0.36   worst 0.74   chroma upsampling, IDCT rounding
//	turbo          vs turbo-full  0.10   worst 1.30   the cost of DCT scaling (1/2 … 1/8)
//	turbo-anyscale vs turbo-full  0.87   worst 1.89   the cost with every n/8 factor
//	turbo          vs go          0.43   worst 1.29
//
// libjpeg interpolates subsampled chroma (as Pillow, which uses libjpeg,
// does) where image/jpeg replicates it, so on hard colour edges the turbo
// path is the closer of the two to Pillow.
//
// # Error rows
//
// Both decoders report a bad file as the same kind (Kind): a JPEG whose
// marker structure is intact until the data stops before EOI is
// ErrTruncated whichever decoder tripped over it and however. Differences
// that remain: libjpeg-turbo decodes arithmetic-coded JPEGs (Go: ErrUnsupported)
// and 4-component JPEGs without an Adobe marker, and accepts damaged
// entropy-coded data it can recover from with a warning, as Pillow does,
// where Go fails the image. TurboJPEG 2.x writes libjpeg's messages into a
// process-wide buffer, so when two workers fail at once the text of an
// error may describe the other image; the kind never depends on it.
package vision
