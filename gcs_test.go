package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"workbench/datasource/gcstest"
	"workbench/datasource/s3test"
)

// TestRunGCS is issue 15's acceptance test for gs:// against a real GCS
// server (fake-gcs-server), as TestRunS3 is for s3://: the same 30 images
// and 4 broken files read from a local folder and from gs:// (signed and
// anonymous@) give the same key → prediction, every row accounted for and
// the broken files as error rows; a Parquet table and tar shards under
// gs:// read as they do locally; --out gs:// commits from a temporary
// prefix, and an interrupted run leaves nothing under the final one.
func TestRunGCS(t *testing.T) {
	srv := gcstest.Start(t)
	srv.Bucket(t, "imgs")
	broken := brokenFiles(t)
	dir := synthData(t, 30, broken)
	if n := srv.UploadDir(t, dir, "imgs", "train/"); n != 34 {
		t.Fatalf("uploaded %d files, want 34", n)
	}
	localOut := filepath.Join(t.TempDir(), "local.parquet")
	runRecord(t, "--data", dir, "--blocks", "4", "--out", localOut)
	local := keyed(t, readResults(t, localOut), dir)
	if len(local) != 34 {
		t.Fatalf("local rows %d, want 34", len(local))
	}

	for _, data := range []string{"gs://imgs/train/", "gs://anonymous@imgs/train/"} {
		t.Run(data, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "gs.parquet")
			rec, summary := runRecord(t, "--data", data, "--blocks", "4", "--get-concurrency", "4", "--out", out)
			remote := keyed(t, readResults(t, out), strings.TrimSuffix(data, "/"))
			if len(remote) != 34 {
				t.Fatalf("rows %d, want 34: every object accounted for", len(remote))
			}
			for k, l := range local {
				r, ok := remote[k]
				switch {
				case !ok:
					t.Errorf("%s: missing from the gs run", k)
				case r.valid != l.valid || r.class != l.class || (r.err == "") != (l.err == ""):
					t.Errorf("%s: local %+v, gs %+v", k, l, r)
				}
			}
			for k := range broken {
				if r := remote[k]; r.valid || r.err == "" {
					t.Errorf("broken %s: %+v, want an error row", k, r)
				}
			}
			if !strings.Contains(rec.Source, data) || !strings.Contains(summary, data) {
				t.Errorf("record source %q; summary must name %s:\n%s", rec.Source, data, summary)
			}
			if rd := rec.Ops[0].Read; rd == nil || rd.Gets != 34 || rd.Bytes == 0 || rd.Retries != 0 {
				t.Errorf("read stats = %+v, want 34 GETs, bytes, no retries", rd)
			}
		})
	}

	t.Run("formats", func(t *testing.T) {
		samples := samplesOf(t, synthData(t, 12, nil))
		var hf []hfRow
		for _, s := range samples {
			var r hfRow
			r.Image.Bytes, r.Image.Path, r.Label = s.body, s.name, int64(s.label)
			hf = append(hf, r)
		}
		tables, shards := t.TempDir(), t.TempDir()
		writeParquet(t, filepath.Join(tables, "part-0.parquet"), hf, 5)
		writeShards(t, shards, samples, 5)
		srv.UploadDir(t, tables, "imgs", "tables/")
		srv.UploadDir(t, shards, "imgs", "shards/")
		cases := []struct{ name, local, remote, op string }{
			{"parquet", tables, "gs://imgs/tables/", "ReadParquet"},
			{"tar shards", shards, "gs://imgs/shards/", "ReadWebDataset"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				lo, ro := filepath.Join(t.TempDir(), "l.parquet"), filepath.Join(t.TempDir(), "r.parquet")
				lrec, _ := runRecord(t, "--data", c.local, "--out", lo)
				rrec, _ := runRecord(t, "--data", c.remote, "--out", ro)
				want, got := byBase(readResults(t, lo)), byBase(readResults(t, ro))
				if len(want) != len(samples) || len(got) != len(want) {
					t.Fatalf("rows: local %d, gs %d, want %d", len(want), len(got), len(samples))
				}
				for k, w := range want {
					if g, ok := got[k]; !ok || g.class != w.class || g.valid != w.valid || g.err != "" {
						t.Errorf("%s: gs %+v, local %+v", k, g, w)
					}
				}
				if rrec.Ops[0].Name != c.op || rrec.Accuracy == nil || lrec.Accuracy == nil || *rrec.Accuracy != *lrec.Accuracy {
					t.Errorf("gs: operator %s, accuracy %+v; want %s and the local run's %+v", rrec.Ops[0].Name, rrec.Accuracy, c.op, lrec.Accuracy)
				}
			})
		}
	})

	t.Run("out", func(t *testing.T) {
		runRecord(t, "--data", dir, "--images", "6", "--out", "gs://imgs/results/")
		var parts []string
		for _, k := range srv.Keys(t, "imgs", "") {
			if strings.HasPrefix(k, "results/part-") {
				parts = append(parts, k)
			}
			if strings.Contains(k, "_temporary") {
				t.Errorf("%s: a temporary object left after the commit", k)
			}
		}
		if len(parts) != 1 {
			t.Fatalf("parts under results/: %v, want one", parts)
		}
		part := filepath.Join(t.TempDir(), "part.parquet")
		must(t, os.WriteFile(part, srv.Get(t, "imgs", parts[0]), 0o644))
		if rows := readResults(t, part); len(rows) != 6 {
			t.Errorf("the committed part holds %d rows, want 6", len(rows))
		}
		// Interrupted: cancelled mid-run (50 ms a request through a
		// delaying proxy, GETs one at a time, so the read alone takes
		// 1.7 s), nothing reaches the final prefix.
		px := s3test.StartProxy(t, srv.Endpoint, &s3test.Proxy{Delay: 50 * time.Millisecond})
		gcstest.Env(t, px.URL)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		var so, se strings.Builder
		err := run(ctx, &so, &se, []string{"run", "--data", "gs://imgs/train/", "--model", "tiny", "--get-concurrency", "1", "--blocks", "1",
			"--sample-hz", "0", "--ceiling=false", "--out", "gs://imgs/interrupted/"})
		if err == nil {
			t.Fatal("the run finished before the cancel; the interruption is not exercised")
		}
		if px.Requests.Load() == 0 {
			t.Error("the interrupted run sent nothing through the proxy")
		}
		if k := srv.Keys(t, "imgs", "interrupted/"); len(k) != 0 {
			t.Errorf("an interrupted run left %v under the final prefix", k)
		}
	})
}
