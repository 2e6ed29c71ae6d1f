//go:build !(cgo && (amd64 || arm64))

package vision

// nativeResample reports whether resampleNative is compiled in: here it is
// not, and the fused path resamples in Go.
const nativeResample = false

func (p *Preprocessor) resampleNative(g *resamplePlan, src []byte, stride, ox, oy int, dst []float32) {
	p.resampleGo(g, src, stride, ox, oy, dst)
}

func forceScalarResample(bool) {}
