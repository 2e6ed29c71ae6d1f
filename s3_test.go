package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"workbench/bench"
	"workbench/datasource/s3test"
)

// keyed maps each result row to its key relative to the data's root.
func keyed(t *testing.T, rows []resultRow, root string) map[string]resultRow {
	t.Helper()
	out := map[string]resultRow{}
	for _, r := range rows {
		k := strings.TrimPrefix(strings.TrimPrefix(r.path, root), "/")
		if _, dup := out[k]; dup {
			t.Errorf("%s appears twice", k)
		}
		out[k] = r
	}
	return out
}

func runRecord(t testing.TB, args ...string) (*bench.Record, string) {
	t.Helper()
	js := filepath.Join(t.TempDir(), "rec.json")
	var stdout, stderr bytes.Buffer
	args = append(append([]string{"run"}, args...), "--model", "tiny", "--batch", "8", "--sample-hz", "0", "--ceiling=false", "--json", js)
	if err := run(context.Background(), &stdout, &stderr, args); err != nil {
		t.Fatalf("run %v: %v\nstderr: %s", args, err, stderr.String())
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Records []*bench.Record }
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Records[0], stdout.String()
}

// TestRunS3 is issue 15's acceptance test against a real S3 server
// (versitygw): the same 30 images and 4 broken files read from a local
// folder and from s3://, key → prediction equal; then through a proxy that
// throttles every 4th GET and always refuses one object, every row is
// still accounted for; then --out s3:// commits from a temporary prefix.
func TestRunS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "imgs")
	dir := synthData(t, 30, brokenFiles(t))
	if n := srv.UploadDir(t, dir, "imgs", "train/"); n != 34 {
		t.Fatalf("uploaded %d files, want 34", n)
	}
	localOut := filepath.Join(t.TempDir(), "local.parquet")
	runRecord(t, "--data", dir, "--blocks", "4", "--out", localOut)
	local := keyed(t, readResults(t, localOut), dir)

	s3Out := filepath.Join(t.TempDir(), "s3.parquet")
	rec, summary := runRecord(t, "--data", "s3://imgs/train/", "--blocks", "4", "--get-concurrency", "4", "--out", s3Out)
	remote := keyed(t, readResults(t, s3Out), "s3://imgs/train")
	if len(remote) != 34 || len(local) != 34 {
		t.Fatalf("rows: local %d, s3 %d, want 34 each", len(local), len(remote))
	}
	for k, l := range local {
		r, ok := remote[k]
		switch {
		case !ok:
			t.Errorf("%s: missing from the s3 run", k)
		case r.valid != l.valid || r.class != l.class || (r.err == "") != (l.err == ""):
			t.Errorf("%s: local %+v, s3 %+v", k, l, r)
		}
	}
	if rec.Source == "" || !strings.Contains(rec.Source, "s3://imgs/train/") || !strings.Contains(summary, "s3://imgs/train/") {
		t.Errorf("record source %q; summary must name it:\n%s", rec.Source, summary)
	}
	rd := rec.Ops[0].Read
	if rd == nil || rd.Gets != 34 || rd.Bytes == 0 || rd.GetP50 <= 0 || rd.Retries != 0 {
		t.Errorf("read stats = %+v, want 34 GETs, bytes, latency, no retries", rd)
	}

	t.Run("streamed", func(t *testing.T) {
		// Seven keys a page (the proxy lowers max-keys): the listing
		// outlasts its first page, so the run reads the prefix as it
		// lists it; a fixed block count lists it once more to count.
		px := s3test.StartProxy(t, srv.Endpoint, &s3test.Proxy{MaxKeys: 7})
		s3test.Env(t, px.URL)
		for _, c := range []struct {
			blocks string
			lists  int64
		}{{"auto", 5}, {"4", 9}} {
			out := filepath.Join(t.TempDir(), "streamed.parquet")
			before := px.Lists.Load()
			rec, _ := runRecord(t, "--data", "s3://imgs/train/", "--blocks", c.blocks, "--get-concurrency", "4", "--out", out)
			rows := keyed(t, readResults(t, out), "s3://imgs/train")
			if len(rows) != 34 {
				t.Fatalf("--blocks %s: %d rows, want 34", c.blocks, len(rows))
			}
			for k, l := range local {
				if r := rows[k]; r.valid != l.valid || r.class != l.class || (r.err == "") != (l.err == "") {
					t.Errorf("--blocks %s: %s: local %+v, streamed %+v", c.blocks, k, l, r)
				}
			}
			if lists := px.Lists.Load() - before; lists != c.lists || !strings.Contains(rec.Source, "34 objects, listed as read") {
				t.Errorf("--blocks %s: %d list requests (want %d), source %q", c.blocks, lists, c.lists, rec.Source)
			}
			if c.blocks == "4" && rec.Config.Blocks != 4 {
				t.Errorf("--blocks 4 over a counted stream read %d blocks", rec.Config.Blocks)
			}
		}
	})

	t.Run("throttled", func(t *testing.T) {
		px := s3test.StartProxy(t, srv.Endpoint, &s3test.Proxy{ThrottleEvery: 4, FailKey: "a/bad.jpg"})
		srv.Put(t, "imgs", "train/a/bad.jpg", []byte("never served"))
		s3test.Env(t, px.URL)
		out := filepath.Join(t.TempDir(), "throttled.parquet")
		rec, _ := runRecord(t, "--data", "s3://imgs/train/", "--blocks", "3", "--out", out)
		rows := keyed(t, readResults(t, out), "s3://imgs/train")
		if len(rows) != 35 {
			t.Fatalf("rows = %d, want 35: every object accounted for", len(rows))
		}
		if bad := rows["a/bad.jpg"]; bad.err == "" || !strings.Contains(bad.err, "503") {
			t.Errorf("the always-throttled object: %+v, want an error row naming the 503", bad)
		}
		for k, l := range local {
			if r := rows[k]; r.valid != l.valid || r.class != l.class {
				t.Errorf("%s: local %+v, throttled %+v", k, l, r)
			}
		}
		if rd := rec.Ops[0].Read; rd == nil || rd.Retries == 0 || rd.Failures != 1 || px.Throttled.Load() == 0 {
			t.Errorf("read stats %+v, proxy throttled %d: want retries and one failure", rd, px.Throttled.Load())
		}
	})

	t.Run("ablate", func(t *testing.T) {
		for _, c := range []struct{ data, want, not string }{
			{dir, "skipped: few-read-blocks needs data in object storage", "\nfew-read-blocks"},
			{"s3://imgs/train/", "few-read-blocks", "skipped"},
		} {
			var so, se bytes.Buffer
			err := run(context.Background(), &so, &se, []string{"ablate", "--only", "few-read-blocks", "--data", c.data, "--model", "tiny",
				"--images", "12", "--repeat", "1", "--warmup", "0", "--sample-hz", "0"})
			if err != nil {
				t.Fatalf("ablate --data %s: %v\n%s", c.data, err, se.String())
			}
			if !strings.Contains(so.String(), c.want) || strings.Contains(so.String(), c.not) {
				t.Errorf("ablate --data %s: want %q and no %q:\n%s", c.data, c.want, c.not, so.String())
			}
		}
	})

	t.Run("out", func(t *testing.T) {
		runRecord(t, "--data", dir, "--images", "6", "--out", "s3://imgs/results/")
		keys := srv.Keys(t, "imgs", "")
		var parts, temp int
		for _, k := range keys {
			if strings.HasPrefix(k, "results/part-") {
				parts++
			}
			if strings.Contains(k, "_temporary") {
				temp++
			}
		}
		if parts != 1 || temp != 0 {
			t.Errorf("keys %v: want one part under results/ and no temporary objects", keys)
		}
		// Interrupted: cancelled mid-run (50 ms a request, GETs one at a
		// time, so the read alone takes 1.7 s), nothing reaches the final
		// prefix.
		px := s3test.StartProxy(t, srv.Endpoint, &s3test.Proxy{Delay: 50 * time.Millisecond})
		s3test.Env(t, px.URL)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		var so, se bytes.Buffer
		err := run(ctx, &so, &se, []string{"run", "--data", "s3://imgs/train/", "--model", "tiny", "--get-concurrency", "1", "--blocks", "1",
			"--sample-hz", "0", "--ceiling=false", "--out", "s3://imgs/interrupted/"})
		if err == nil {
			t.Fatal("the run finished before the cancel; the interruption is not exercised")
		}
		if k := srv.Keys(t, "imgs", "interrupted/"); len(k) != 0 {
			t.Errorf("an interrupted run left %v under the final prefix", k)
		}
	})
}

// TestSmallFilesS3 is issue 15's small-files scenario against a real S3
// server: `workbench data shard` packs 30 images and 4 broken files into
// shards beside them; `ablate --only small-files` then runs optimized
// (one object per image) and small-files (the same images from the
// shards): both account for every row with the same errors, the shards
// take fewer read requests, and a run of small-files predicts what the
// local folder predicts, key for key. On a local folder ablate skips it,
// saying why.
func TestSmallFilesS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "small")
	dir := synthData(t, 30, brokenFiles(t))
	srv.UploadDir(t, dir, "small", "train/")
	ctx := context.Background()
	var so, se bytes.Buffer
	if err := run(ctx, &so, &se, []string{"data", "shard", "--data", "s3://small/train/", "--shard-size", "10"}); err != nil {
		t.Fatalf("data shard: %v\n%s", err, se.String())
	}
	if !strings.Contains(so.String(), "wrote 34 images") || !strings.Contains(so.String(), "in 4 shards of up to 10 to s3://small/train-shards/") {
		t.Errorf("data shard said: %s", so.String())
	}

	js := filepath.Join(t.TempDir(), "ablate.json")
	so.Reset()
	se.Reset()
	err := run(ctx, &so, &se, []string{"ablate", "--only", "small-files", "--data", "s3://small/train/", "--model", "tiny",
		"--batch", "8", "--repeat", "1", "--warmup", "0", "--sample-hz", "0", "--json", js})
	if err != nil {
		t.Fatalf("ablate: %v\n%s", err, se.String())
	}
	if !strings.Contains(so.String(), "\nsmall-files") || strings.Contains(so.String(), "skipped") {
		t.Errorf("ablate printed no small-files row:\n%s", so.String())
	}
	all, err := bench.ReadRecordsFile(js)
	if err != nil {
		t.Fatal(err)
	}
	recs := map[string]*bench.Record{}
	for _, r := range all {
		recs[r.Scenario] = r
	}
	opt, small := recs["optimized"], recs["small-files"]
	if opt == nil || small == nil {
		t.Fatalf("records for %v, want optimized and small-files", slices.Collect(maps.Keys(recs)))
	}
	for _, r := range []*bench.Record{opt, small} {
		if r.Images != 34 || r.Errors != 4 || r.Status != "ok" {
			t.Errorf("%s: %d rows, %d errors, %s; want all 34 rows with the 4 broken files as errors", r.Scenario, r.Images, r.Errors, r.Status)
		}
	}
	if !strings.Contains(small.Source, "train-shards/ (s3, webdataset, 4 shards") || small.Config.Knobs["data_layout"] != "shards" {
		t.Errorf("small-files read %q with data_layout %s; want the 4 shards beside the images", small.Source, small.Config.Knobs["data_layout"])
	}
	ro, rs := opt.Ops[0].Read, small.Ops[0].Read
	if ro == nil || rs == nil || rs.Requests >= ro.Requests {
		t.Errorf("read requests: objects %+v, shards %+v; want fewer from the shards", ro, rs)
	}

	out := filepath.Join(t.TempDir(), "small.parquet")
	runRecord(t, "--scenario", "small-files", "--data", "s3://small/train/", "--out", out)
	localOut := filepath.Join(t.TempDir(), "local.parquet")
	runRecord(t, "--data", dir, "--out", localOut)
	local := keyed(t, readResults(t, localOut), dir)
	shards := map[string]resultRow{}
	for _, r := range readResults(t, out) {
		_, key, _ := strings.Cut(r.path, "#")
		shards[key] = r
	}
	if len(shards) != len(local) {
		t.Errorf("%d rows from the shards, %d from the folder", len(shards), len(local))
	}
	for k, l := range local {
		if r, ok := shards[k]; !ok || r.valid != l.valid || r.class != l.class || (r.err == "") != (l.err == "") {
			t.Errorf("%s: local %+v, shards %+v (present %v)", k, l, r, ok)
		}
	}

	so.Reset()
	se.Reset()
	if err := run(ctx, &so, &se, []string{"ablate", "--only", "small-files", "--data", dir, "--model", "tiny",
		"--images", "8", "--repeat", "1", "--warmup", "0", "--sample-hz", "0"}); err != nil {
		t.Fatalf("ablate on a folder: %v\n%s", err, se.String())
	}
	if want := "skipped: small-files needs data in object storage"; !strings.Contains(so.String(), want) || strings.Contains(so.String(), "\nsmall-files") {
		t.Errorf("ablate on a folder: want %q and no small-files row:\n%s", want, so.String())
	}
}
