//go:build !cgo

package vision

// Without cgo there is no dlopen: the turbo decoder reports itself
// unavailable and callers fall back to GoDecoder.

type cgoTurbo struct{}

func openTurbo(path string) (*turboLib, error) {
	return nil, turboLoadError(path, "this binary was built without cgo")
}

type tjHandle struct{ lib *turboLib }

func (l *turboLib) newHandle() (*tjHandle, error) {
	return nil, turboLoadError(l.path, "this binary was built without cgo")
}

func (h *tjHandle) header([]byte) (w, ht, subsamp, cs int, err error) {
	return 0, 0, 0, 0, turboLoadError("", "built without cgo")
}

func (h *tjHandle) decompress(data, dst []byte, w, pitch, ht, pf, flags int) error {
	return turboLoadError("", "built without cgo")
}
