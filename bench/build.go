package bench

import (
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
)

// BuildInfo is what this binary was built from, read from the Go build
// information (module version and VCS stamp), never typed in.
type BuildInfo struct {
	// Version is the main module's version: a release tag when installed
	// with go install MODULE@vX, "devel" for a build from a checkout.
	Version string `json:"version"`
	// Revision is the VCS commit (12 hex digits), "" when the build had
	// no VCS stamp (go test, go run, -buildvcs=false).
	Revision string `json:"revision,omitempty"`
	// Modified says the working tree had uncommitted changes.
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
}

// Build reads the build information once per process.
var Build = sync.OnceValue(func() BuildInfo {
	b := BuildInfo{Version: "devel"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.GoVersion = info.GoVersion
	if v := info.Main.Version; v != "" && v != "(devel)" {
		b.Version = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
})

// String is the one way a version is printed, in --version, records'
// summaries and file headers: "devel 845a385c1d2e (modified) go1.26.7".
func (b BuildInfo) String() string {
	parts := []string{b.Version}
	// Go 1.24+ derives a pseudo-version from the VCS stamp, which already
	// names the revision (and +dirty): say it once.
	if b.Revision != "" && !strings.Contains(b.Version, b.Revision) {
		parts = append(parts, b.Revision)
	}
	if b.Modified && !strings.HasSuffix(b.Version, "+dirty") {
		parts = append(parts, "(modified)")
	}
	if b.GoVersion != "" {
		parts = append(parts, b.GoVersion)
	}
	return strings.Join(parts, " ")
}

// WithORT appends the ONNX Runtime version, when one is loaded.
func (b BuildInfo) WithORT(ort string) string {
	if ort == "" {
		return b.String()
	}
	return fmt.Sprintf("%s, ONNX Runtime %s", b, ort)
}
