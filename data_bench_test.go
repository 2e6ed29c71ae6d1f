package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"workbench/bench"
	"workbench/datasource"
	"workbench/datasource/s3test"
	"workbench/vision"
)

// benchImages is the dataset size of the read benchmarks: enough GETs that
// their latency, not the run's fixed costs, sets the pace.
const benchImages = 96

// readBench is a real S3 server with the same images as a local folder,
// Parquet tables and tar shards, locally and in the bucket.
type readBench struct {
	srv                    *s3test.Server
	dir, tables, shards    string
	s3Images, s3Tab, s3Tar string
}

func newReadBench(b *testing.B) *readBench {
	b.Helper()
	srv := s3test.Start(b)
	srv.Bucket(b, "bench")
	dir := b.TempDir()
	if _, err := vision.Synthesize(dir, benchImages, 3); err != nil {
		b.Fatal(err)
	}
	rb := &readBench{srv: srv, dir: dir, tables: b.TempDir(), shards: b.TempDir(),
		s3Images: "s3://bench/images/", s3Tab: "s3://bench/tables/", s3Tar: "s3://bench/shards/"}
	samples := benchSamples(b, dir)
	var hf []hfRow
	for _, s := range samples {
		var r hfRow
		r.Image.Bytes, r.Image.Path, r.Label = s.body, s.name, int64(s.label)
		hf = append(hf, r)
	}
	// Shards and row groups of 24 images: 4 of each, as a real dataset's
	// few-hundred-MB shards are few per worker.
	writeParquet(b, filepath.Join(rb.tables, "part-0.parquet"), hf, 24)
	writeShards(b, rb.shards, samples, 24)
	srv.UploadDir(b, dir, "bench", "images/")
	srv.UploadDir(b, rb.tables, "bench", "tables/")
	srv.UploadDir(b, rb.shards, "bench", "shards/")
	return rb
}

// benchRun runs workbench once and returns its throughput (img/s).
func benchRun(b *testing.B, args ...string) float64 {
	b.Helper()
	return benchRecord(b, args...).Throughput
}

// BenchmarkReadGrid: throughput against read blocks and GETs in flight per
// read task, with 20 ms added to every request by a delaying proxy in
// front of the real server (a remote store's round trip). benchstat gives
// each cell's median and spread.
func BenchmarkReadGrid(b *testing.B) {
	rb := newReadBench(b)
	px := s3test.StartProxy(b, rb.srv.Endpoint, &s3test.Proxy{Delay: 20 * time.Millisecond})
	s3test.Env(b, px.URL)
	for _, blocks := range []int{1, 4, 16} {
		for _, conc := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("blocks=%d/get_concurrency=%d", blocks, conc), func(b *testing.B) {
				var tput float64
				for b.Loop() {
					tput = benchRun(b, "--data", rb.s3Images, "--blocks", fmt.Sprint(blocks), "--get-concurrency", fmt.Sprint(conc))
				}
				b.ReportMetric(tput, "img/s")
			})
		}
	}
}

// BenchmarkSourceRatios runs the same images from a local folder, the S3
// server (one object per image), and Parquet tables and tar shards (local
// and on S3), interleaved in one loop, and reports each form's throughput
// as a ratio to the local folder's in the same iteration.
func BenchmarkSourceRatios(b *testing.B) {
	rb := newReadBench(b)
	forms := []struct{ name, data string }{
		{"folder", rb.dir}, {"s3_objects", rb.s3Images}, {"parquet", rb.tables}, {"tar", rb.shards},
		{"s3_parquet", rb.s3Tab}, {"s3_tar", rb.s3Tar},
	}
	sum := make([]float64, len(forms))
	n := 0
	for b.Loop() {
		var base float64
		for i, f := range forms {
			t := benchRun(b, "--data", f.data, "--blocks", "4", "--get-concurrency", "8")
			if i == 0 {
				base = t
			}
			sum[i] += t / base
		}
		n++
	}
	for i, f := range forms[1:] {
		b.ReportMetric(sum[i+1]/float64(n), f.name+"/folder")
	}
}

func benchSamples(b *testing.B, dir string) []sample {
	b.Helper()
	files, err := vision.ListImages(dir)
	if err != nil {
		b.Fatal(err)
	}
	var out []sample
	for i, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, sample{name: filepath.Base(f), body: body, label: i % 10})
	}
	return out
}

// BenchmarkSmallFiles is the small-files scenario as ablate runs it,
// with 20 ms added to every request by a delaying proxy in front of the
// real server: optimized over the 96 images one object each, then
// small-files over the same images packed by `workbench data shard` into
// 4 shards of 24 beside them, in one loop; it reports each throughput,
// small-files' as a ratio to optimized's in the same iteration, and the
// read requests each made.
func BenchmarkSmallFiles(b *testing.B) {
	rb := newReadBench(b)
	if _, err := datasource.WriteShards(context.Background(), rb.s3Images, datasource.ShardsBeside(rb.s3Images),
		datasource.ShardOptions{Size: 24}); err != nil {
		b.Fatal(err)
	}
	px := s3test.StartProxy(b, rb.srv.Endpoint, &s3test.Proxy{Delay: 20 * time.Millisecond})
	s3test.Env(b, px.URL)
	var objects, shards, ratio float64
	var reqObjects, reqShards int64
	for b.Loop() {
		o := benchRecord(b, "--data", rb.s3Images)
		s := benchRecord(b, "--scenario", "small-files", "--data", rb.s3Images)
		if o.Ops[0].Read == nil || s.Ops[0].Read == nil || s.Images != o.Images {
			b.Fatalf("objects read %d rows (%v), shards %d (%v)", o.Images, o.Ops[0].Read, s.Images, s.Ops[0].Read)
		}
		objects += o.Throughput
		shards += s.Throughput
		ratio += s.Throughput / o.Throughput
		reqObjects, reqShards = o.Ops[0].Read.Requests, s.Ops[0].Read.Requests
	}
	n := float64(b.N)
	b.ReportMetric(objects/n, "img/s-objects")
	b.ReportMetric(shards/n, "img/s-shards")
	b.ReportMetric(ratio/n, "shards/objects")
	b.ReportMetric(float64(reqObjects), "requests-objects")
	b.ReportMetric(float64(reqShards), "requests-shards")
}

// benchRecord runs workbench once and returns its record, failing on any
// error row.
func benchRecord(b *testing.B, args ...string) *bench.Record {
	b.Helper()
	rec, _ := runRecord(b, append(args, "--out", filepath.Join(b.TempDir(), "o.parquet"))...)
	if rec.Errors != 0 {
		b.Fatalf("%v: %d errors", args, rec.Errors)
	}
	return rec
}
