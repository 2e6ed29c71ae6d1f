package backend

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"workbench/bench"
)

// TestRayJobsResultFiles: the files offered to compare a finished job with
// are the results files holding a completed local run, newest first.
func TestRayJobsResultFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	local := func(status string) []*bench.Record {
		return []*bench.Record{{SchemaVersion: bench.SchemaVersion, Kind: bench.KindRun, Scenario: "optimized", Status: status, Throughput: 100}}
	}
	cluster := []*bench.Record{{SchemaVersion: bench.SchemaVersion, Kind: bench.KindCluster, Status: bench.StatusOK, Throughput: 100}}
	write := func(name string, recs []*bench.Record, age time.Duration) {
		p := filepath.Join(dir, name)
		if recs == nil {
			if err := os.WriteFile(p, []byte(`{"not": "records"}`), 0o644); err != nil {
				t.Fatal(err)
			}
		} else if err := bench.WriteRecordsFile(p, recs); err != nil {
			t.Fatal(err)
		}
		when := time.Now().Add(-age)
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
	write("old-sweep.json", local(bench.StatusOK), 2*time.Hour)
	write("tune.csv", local(bench.StatusOK), time.Hour)
	write("race.parquet", local(bench.StatusOK), 3*time.Hour)
	write("cluster.json", cluster, 0)                  // no local run in it
	write("failed.json", local(bench.StatusFailed), 0) // none completed
	write("package.json", nil, 0)                      // not a results file
	write("notes.txt", nil, 0)                         // not a results file's name
	r := &RayJobs{Dir: dir}
	got, err := r.ResultFiles()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, filepath.Base(p))
	}
	if strings.Join(names, " ") != "tune.csv old-sweep.json race.parquet" {
		t.Errorf("offered %v, want tune.csv old-sweep.json race.parquet", names)
	}
	if recs, err := r.ReadRecords(got[0]); err != nil || len(recs) != 1 {
		t.Errorf("ReadRecords(%s) = %d records, %v", got[0], len(recs), err)
	}
	if _, err := r.ReadRecords("-"); err == nil {
		t.Error("ReadRecords(-) read standard input under the TUI")
	}
}
