package vision

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSynthesize(t *testing.T) {
	t.Parallel()
	const n = 20
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	st, err := Synthesize(a, n, 42)
	if err != nil {
		t.Fatal(err)
	}
	// A different worker count must not change a byte.
	if _, err := SynthesizeContext(t.Context(), b, SynthOptions{N: n, Seed: 42, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := SynthesizeContext(t.Context(), c, SynthOptions{N: 5, Seed: 43}); err != nil {
		t.Fatal(err)
	}
	files, err := ListImages(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != n || st.Files != n || st.Classes != 10 {
		t.Fatalf("%d files listed, stats %+v", len(files), st)
	}
	var total int64
	classes := map[string]int{}
	differs := 0
	for i, f := range files {
		rel, _ := filepath.Rel(a, f)
		classes[filepath.Dir(rel)]++
		da, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		db, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || !bytes.Equal(da, db) {
			t.Fatalf("%s differs between runs with the same seed (%v)", rel, err)
		}
		if dc, _ := os.ReadFile(filepath.Join(c, rel)); !bytes.Equal(da, dc) {
			differs++
		}
		if i < 3 {
			if want, _ := SynthJPEG(42, indexOf(t, rel), 10); !bytes.Equal(da, want) {
				t.Errorf("SynthJPEG disagrees with the file %s", rel)
			}
		}
		total += int64(len(da))
		if _, err := jpeg.DecodeConfig(bytes.NewReader(da)); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
	}
	if differs < n {
		t.Errorf("seed 43 reproduced %d of seed 42's files", n-differs)
	}
	if total != st.Bytes || st.MeanBytes != float64(total)/n || st.MinBytes <= 0 || st.MaxBytes < st.MinBytes {
		t.Errorf("stats %+v disagree with %d bytes on disk", st, total)
	}
	if len(classes) != 10 {
		t.Errorf("%d class folders: %v", len(classes), classes)
	}
	for cl, k := range classes {
		if k != n/10 {
			t.Errorf("class %s has %d images, want %d", cl, k, n/10)
		}
	}
	// Photograph-like content compresses to tens of kilobytes, not a few.
	if st.MeanBytes < 25e3 || st.MeanBytes > 200e3 {
		t.Errorf("mean file size %.0f bytes", st.MeanBytes)
	}
	// No temporary files left behind.
	err = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
		if err == nil && filepath.Ext(p) == ".tmp" {
			t.Errorf("leftover %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// indexOf recovers the image index from a name like "n01440764_000012.JPEG".
func indexOf(t *testing.T, rel string) int {
	base := filepath.Base(rel)
	i, err := strconv.Atoi(strings.TrimSuffix(base[strings.LastIndex(base, "_")+1:], ".JPEG"))
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// The size and quality distribution is a property of the parameters alone,
// so it is checked over many images without rendering them.
func TestSynthDistribution(t *testing.T) {
	t.Parallel()
	const n = 4000
	landscape, portrait := 0, 0
	qualities := map[int]bool{}
	var longSum float64
	for i := range n {
		p := synthParamsFor(7, i, 10)
		switch {
		case p.w == 500 && p.h == 375:
			landscape++
		case p.w == 375 && p.h == 500:
			portrait++
		}
		long, short := max(p.w, p.h), min(p.w, p.h)
		if long < 200 || long > 1000 || short < 100 {
			t.Fatalf("image %d is %d×%d", i, p.w, p.h)
		}
		if p.quality < 75 || p.quality > 95 {
			t.Fatalf("image %d has quality %d", i, p.quality)
		}
		if p.class != i%10 {
			t.Fatalf("image %d in class %d", i, p.class)
		}
		qualities[p.quality] = true
		longSum += float64(long)
	}
	// 45% 500×375 and 15% 375×500 by construction; allow sampling noise.
	if f := float64(landscape) / n; f < 0.40 || f > 0.50 {
		t.Errorf("%.1f%% are 500×375", 100*f)
	}
	if f := float64(portrait) / n; f < 0.11 || f > 0.19 {
		t.Errorf("%.1f%% are 375×500", 100*f)
	}
	if len(qualities) != 21 {
		t.Errorf("%d distinct qualities, want all of 75–95", len(qualities))
	}
	if m := longSum / n; m < 450 || m > 600 {
		t.Errorf("mean long side %.0f px", m)
	}
}

func TestSynthSizes500x375(t *testing.T) {
	t.Parallel()
	// At 500×375 the files span the typical 30–150 KB of real photographs
	// across the quality range.
	for _, q := range []int{75, 95} {
		data, err := SynthJPEGSized(1, 500, 375, q)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(data); n < 20e3 || n > 200e3 {
			t.Errorf("quality %d: %d bytes", q, n)
		}
	}
}

func TestSynthPath(t *testing.T) {
	t.Parallel()
	if got := SynthPath(12, 10); got != filepath.Join("n01484850", "n01484850_000012.JPEG") {
		t.Errorf("SynthPath(12, 10) = %q", got)
	}
	if got := SynthClassName(12); got != "n90000012" {
		t.Errorf("SynthClassName(12) = %q", got)
	}
}
