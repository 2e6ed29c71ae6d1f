package vision

import (
	"bytes"
	"image/jpeg"
	"testing"
)

// benchJPEG is a synthetic 500×375 photograph at quality 90, the median
// shape of ImageNet validation images.
func benchJPEG(b *testing.B) []byte {
	b.Helper()
	data, err := SynthJPEGSized(1, 500, 375, 90)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func reportImgPerSec(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkPreprocess is the whole per-image cost: decode, resize, crop,
// normalise into a reused tensor slot.
func BenchmarkPreprocess(b *testing.B) {
	data := benchJPEG(b)
	p := NewPreprocessor(RecipeFor(224, 224), 0)
	dst := make([]float32, p.Recipe().OutputLen())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Process(data, dst); err != nil {
			b.Fatal(err)
		}
	}
	reportImgPerSec(b)
}

// BenchmarkDecode is the decode alone (image/jpeg), header check included.
func BenchmarkDecode(b *testing.B) {
	data := benchJPEG(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(GoDecoder{}, data, 0, SizeHint{}); err != nil {
			b.Fatal(err)
		}
	}
	reportImgPerSec(b)
}

// BenchmarkPreprocessOnly is resize, crop and normalise of an already
// decoded image: BenchmarkPreprocess minus BenchmarkDecode, measured.
func BenchmarkPreprocessOnly(b *testing.B) {
	img, err := jpeg.Decode(bytes.NewReader(benchJPEG(b)))
	if err != nil {
		b.Fatal(err)
	}
	p := NewPreprocessor(RecipeFor(224, 224), 0)
	dst := make([]float32, p.Recipe().OutputLen())
	b.ReportAllocs()
	for b.Loop() {
		if err := p.ProcessImage(img, dst); err != nil {
			b.Fatal(err)
		}
	}
	reportImgPerSec(b)
}

// BenchmarkPreprocessFresh builds a new Preprocessor for every image, the
// cost a transform constructed per batch pays when batches are tiny: kernels,
// tables and scratch buffers are rebuilt each time.
func BenchmarkPreprocessFresh(b *testing.B) {
	img, err := jpeg.Decode(bytes.NewReader(benchJPEG(b)))
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, RecipeFor(224, 224).OutputLen())
	b.ReportAllocs()
	for b.Loop() {
		p := NewPreprocessor(RecipeFor(224, 224), 0)
		if err := p.ProcessImage(img, dst); err != nil {
			b.Fatal(err)
		}
	}
	reportImgPerSec(b)
}

// BenchmarkSynthesize renders and encodes one dataset image (500×375 or
// the size the seed picks), the unit of work of `workbench data synth`.
func BenchmarkSynthesize(b *testing.B) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := SynthJPEG(1, i, 10); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportImgPerSec(b)
}
