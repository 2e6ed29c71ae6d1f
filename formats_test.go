package main

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"workbench/bench"
	"workbench/datasource/s3test"
	"workbench/vision"
)

// hfRow is the Hugging Face datasets image layout, written by parquet-go:
// a Parquet implementation independent of the arrow-go reader under test.
type hfRow struct {
	Image struct {
		Bytes []byte `parquet:"bytes"`
		Path  string `parquet:"path"`
	} `parquet:"image"`
	Label int64 `parquet:"label"`
}

// plainRow holds the bytes in a plain binary column (--image-column jpg).
type plainRow struct {
	Key string `parquet:"key"`
	Jpg []byte `parquet:"jpg"`
}

// sample is one synthetic image with its class folder's index.
type sample struct {
	name  string // base name, unique across classes
	body  []byte
	label int
}

func samplesOf(t *testing.T, dir string) []sample {
	t.Helper()
	files, err := vision.ListImages(dir)
	if err != nil {
		t.Fatal(err)
	}
	var classes []string
	for _, f := range files {
		if c := filepath.Base(filepath.Dir(f)); !slices.Contains(classes, c) {
			classes = append(classes, c)
		}
	}
	slices.Sort(classes)
	var out []sample
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sample{name: filepath.Base(f), body: b, label: slices.Index(classes, filepath.Base(filepath.Dir(f)))})
	}
	return out
}

func writeParquet[T any](t testing.TB, name string, rows []T, perGroup int64) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f, parquet.MaxRowsPerRowGroup(perGroup))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeShards writes WebDataset shards with the tar command: KEY.jpg and
// KEY.cls per sample, shardSize samples a shard.
func writeShards(t testing.TB, dir string, samples []sample, shardSize int) {
	t.Helper()
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("no tar command to write shards with")
	}
	for s := 0; s*shardSize < len(samples); s++ {
		stage := t.TempDir()
		var names []string
		for _, sm := range samples[s*shardSize : min((s+1)*shardSize, len(samples))] {
			key := strings.TrimSuffix(sm.name, path.Ext(sm.name))
			must(t, os.WriteFile(filepath.Join(stage, sm.name), sm.body, 0o644))
			must(t, os.WriteFile(filepath.Join(stage, key+".cls"), []byte(strconv.Itoa(sm.label)+"\n"), 0o644))
			names = append(names, sm.name, key+".cls")
		}
		shard := filepath.Join(dir, "shard-"+strconv.Itoa(s)+".tar")
		cmd := exec.Command("tar", append([]string{"-cf", shard, "-C", stage}, names...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tar: %v: %s", err, out)
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// byBase keys result rows by their key's base name (the shard or table
// prefix dropped).
func byBase(rows []resultRow) map[string]resultRow {
	out := map[string]resultRow{}
	for _, r := range rows {
		k := r.path
		if i := strings.LastIndexAny(k, "/#"); i >= 0 {
			k = k[i+1:]
		}
		out[k] = r
	}
	return out
}

// TestRunParquetAndShards reads the same 24 images as a folder with class
// subfolders (--label-from folders), as a Hugging Face Parquet table and a
// plain-column one (written by parquet-go), and as WebDataset shards
// (written by tar), locally and from a real S3 server: every form gives
// the same prediction per image and, where labelled, the same accuracy.
func TestRunParquetAndShards(t *testing.T) {
	dir := synthData(t, 24, nil)
	samples := samplesOf(t, dir)
	var hf []hfRow
	var plain []plainRow
	for _, s := range samples {
		var r hfRow
		r.Image.Bytes, r.Image.Path, r.Label = s.body, s.name, int64(s.label)
		hf = append(hf, r)
		plain = append(plain, plainRow{Key: s.name, Jpg: s.body})
	}
	tables := t.TempDir()
	writeParquet(t, filepath.Join(tables, "part-0.parquet"), hf[:16], 5)
	writeParquet(t, filepath.Join(tables, "part-1.parquet"), hf[16:], 5)
	plainFile := filepath.Join(t.TempDir(), "plain.bin") // no extension: detected by its magic bytes
	writeParquet(t, plainFile, plain, 7)
	shards := t.TempDir()
	writeShards(t, shards, samples, 10)

	base, _ := runRecord(t, "--data", dir, "--blocks", "3", "--out", filepath.Join(t.TempDir(), "base.parquet"), "--label-from", "folders")
	folderOut := filepath.Join(t.TempDir(), "folders.parquet")
	folderRec, summary := runRecord(t, "--data", dir, "--blocks", "3", "--out", folderOut, "--label-from", "folders")
	want := byBase(readResults(t, folderOut))
	if folderRec.Accuracy == nil || folderRec.Accuracy.Labelled != 24 || folderRec.Accuracy.Meaningless == "" ||
		!strings.Contains(summary, "accuracy is meaningless with untrained weights") {
		t.Fatalf("--label-from folders: accuracy %+v; summary:\n%s", folderRec.Accuracy, summary)
	}
	if base.Accuracy == nil || base.Accuracy.Top1 != folderRec.Accuracy.Top1 {
		t.Errorf("two runs of the same folder score differently: %+v vs %+v", base.Accuracy, folderRec.Accuracy)
	}

	srv := s3test.Start(t)
	srv.Bucket(t, "data")
	srv.UploadDir(t, tables, "data", "tables/")
	srv.UploadDir(t, shards, "data", "shards/")

	cases := []struct {
		name, data string
		extra      []string
		op         string
		labelled   bool
	}{
		{"parquet folder", tables, nil, "ReadParquet", true},
		{"parquet plain column", plainFile, []string{"--image-column", "jpg"}, "ReadParquet", false},
		{"shards glob", filepath.Join(shards, "*.tar"), nil, "ReadWebDataset", true},
		{"parquet on s3", "s3://data/tables/", nil, "ReadParquet", true},
		{"shards on s3", "s3://data/shards/", nil, "ReadWebDataset", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.parquet")
			rec, _ := runRecord(t, append([]string{"--data", c.data, "--out", out}, c.extra...)...)
			got := byBase(readResults(t, out))
			for k, r := range got {
				// A table without image paths keys rows FILE#ROW.
				if i, err := strconv.Atoi(k); err == nil {
					delete(got, k)
					got[samples[i].name] = r
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			for k, w := range want {
				if g, ok := got[k]; !ok || g.class != w.class || g.valid != w.valid || g.err != "" {
					t.Errorf("%s: got %+v, want %+v", k, g, w)
				}
			}
			if rec.Ops[0].Name != c.op {
				t.Errorf("read operator %s, want %s", rec.Ops[0].Name, c.op)
			}
			switch {
			case c.labelled && (rec.Accuracy == nil || *rec.Accuracy != *folderRec.Accuracy):
				t.Errorf("accuracy %+v, want the folder run's %+v", rec.Accuracy, folderRec.Accuracy)
			case !c.labelled && rec.Accuracy != nil:
				t.Errorf("unlabelled source scored %+v", rec.Accuracy)
			}
		})
	}
	_ = bench.SchemaVersion
}

// TestExportRayReader: export ray emits the reader matching --data, as
// workbench's datasource detects it: read_parquet for a folder of tables,
// read_webdataset for shards, read_images for a prefix of images.
func TestExportRayReader(t *testing.T) {
	dir := synthData(t, 4, nil)
	samples := samplesOf(t, dir)
	tables, shards := t.TempDir(), t.TempDir()
	var hf []hfRow
	for _, s := range samples {
		var r hfRow
		r.Image.Bytes, r.Image.Path = s.body, s.name
		hf = append(hf, r)
	}
	writeParquet(t, filepath.Join(tables, "t.parquet"), hf, 2)
	writeShards(t, shards, samples, 2)
	remote := filepath.Join(t.TempDir(), "remote.yaml")
	must(t, os.WriteFile(remote, []byte("extends: optimized\ntitle: remote\ndata: s3://bucket/from-file/\n"), 0o644))
	for _, c := range []struct{ scenario, data, want, want2 string }{
		{data: tables, want: "ray.data.read_parquet("},
		{data: shards, want: "ray.data.read_webdataset("},
		{data: "s3://anonymous@air-example-data-2/imagenette2/train/", want: "ray.data.read_images("},
		{data: "s3://bucket/shards/train-{000..009}.tar", want: "ray.data.read_webdataset("},
		// small-files reads the shards beside --data; a scenario's data:
		// is used when --data is not typed, and gives way when it is.
		{scenario: "small-files", data: "s3://bucket/train/", want: "ray.data.read_webdataset(", want2: `DATA = "s3://bucket/train-shards/"`},
		{scenario: remote, want: "ray.data.read_images(", want2: `DATA = "s3://bucket/from-file/"`},
		{scenario: remote, data: "s3://bucket/typed/", want: "ray.data.read_images(", want2: `DATA = "s3://bucket/typed/"`},
	} {
		out := t.TempDir()
		var so, se strings.Builder
		args := []string{"export", "ray", "--model", "tiny", "--output", "s3://b/out/", "--out", out}
		if c.data != "" {
			args = append(args, "--data", c.data)
		}
		if c.scenario != "" {
			args = append(args, "--scenario", c.scenario)
		}
		if err := run(t.Context(), &so, &se, args); err != nil {
			t.Fatalf("%s: %v\n%s", c.data, err, se.String())
		}
		b, err := os.ReadFile(filepath.Join(out, "main.py"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), c.want) || !strings.Contains(string(b), c.want2) {
			t.Errorf("--scenario %s --data %s: main.py lacks %s or %s", c.scenario, c.data, c.want, c.want2)
		}
	}
}
