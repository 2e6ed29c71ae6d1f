package vision

import (
	"fmt"
	"strings"
)

// DecoderNames lists the names ParseDecoder and SelectDecoder accept, for
// flag help and scenario validation:
//
//	auto            turbo when libjpeg-turbo loads, else go
//	go              the standard library (image/jpeg, image/png)
//	turbo           libjpeg-turbo with DCT-domain scaling; an error if it is absent
//	turbo-full      libjpeg-turbo at full size (no DCT scaling), for accuracy studies
//	turbo-anyscale  libjpeg-turbo with every n/8 factor, SIMD or not (see TurboOptions)
var DecoderNames = []string{"auto", "go", "turbo", "turbo-full", "turbo-anyscale"}

// ParseDecoder returns the decoder a --decoder value names, loading
// libjpeg-turbo from its default place when needed. "auto" (or "") falls
// back to GoDecoder when the library is absent; "turbo" and "turbo-full"
// then fail with an error wrapping ErrTurboUnavailable.
func ParseDecoder(name string) (Decoder, error) {
	d, _, err := SelectDecoder(name, TurboOptions{})
	return d, err
}

// SelectDecoder is ParseDecoder with the library location given in o
// (o.FullSize and o.AnyScale are ignored: the name decides them). It also returns a one-line
// note saying what was chosen and why, e.g. "turbo: /usr/lib/…/libturbojpeg.so.0.2.0
// (TurboJPEG 2.x API)" or, for auto without the library, "go: libjpeg-turbo
// unavailable: …", for doctor and run logs.
func SelectDecoder(name string, o TurboOptions) (d Decoder, note string, err error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "go":
		return GoDecoder{}, "go: standard library image/jpeg", nil
	case "turbo", "turbo-full", "turbo-anyscale":
		n := strings.ToLower(strings.TrimSpace(name))
		o.FullSize, o.AnyScale = n == "turbo-full", n == "turbo-anyscale"
		td, err := NewTurboDecoder(o)
		if err != nil {
			return nil, "", err
		}
		return td, td.Name() + ": " + td.Library(), nil
	case "", "auto":
		o.FullSize, o.AnyScale = false, false
		td, err := NewTurboDecoder(o)
		if err != nil {
			return GoDecoder{}, "go (auto): " + err.Error(), nil
		}
		return td, "turbo (auto): " + td.Library(), nil
	}
	return nil, "", fmt.Errorf("unknown decoder %q (want one of %s)", name, strings.Join(DecoderNames, ", "))
}
