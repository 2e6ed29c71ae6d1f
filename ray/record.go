package ray

// A watched job becomes a record in the same versioned schema as local runs
// (bench.Record, Kind "cluster"), so `workbench report local.json
// cluster.json` can put the prediction beside the reality.

import (
	"fmt"
	"strings"
	"time"
	"workbench/bench"
)

// NewClusterRecord turns the last snapshot of a watched job into a record.
// It picks the dataset export named (metadata workbench_dataset, matched by
// DatasetInfo.Named), else the newest. address is shown as is, so pass
// it redacted. It fails when the job ran no dataset the dashboard reported.
func NewClusterRecord(s Snapshot, address string) (*bench.Record, error) {
	if len(s.Datasets) == 0 {
		why := s.DataNote
		if why == "" {
			why = "the job ran no dataset"
		}
		return nil, fmt.Errorf("no cluster record for job %s: %s", s.Job.ID(), why)
	}
	meta := s.Job.Metadata
	d := s.Datasets[0]
	for _, v := range s.Datasets {
		if v.Named(meta[MetaDataset]) {
			d = v
			break
		}
	}
	wall := d.Wall(s.At).Seconds()
	localFile, localLabel := TunedFromFile(meta)
	ci := &bench.ClusterInfo{Address: address, SubmissionID: s.Job.SubmissionID, JobID: s.Job.JobID, JobStatus: string(s.Job.Status),
		Dataset: d.Dataset, TunedFrom: meta[MetaTunedFrom], TunedFromFile: localFile, TunedFromLabel: localLabel,
		PeakCPUCores: d.PeakCPU, PeakGPUCores: d.PeakGPU, MeanCPUCores: d.MeanCPU, MeanGPUCores: d.MeanGPU}
	r := &bench.Record{SchemaVersion: bench.SchemaVersion, Kind: bench.KindCluster, Scenario: meta[MetaScenario], Label: "ray cluster", Repeat: 1,
		Status: bench.StatusOK, WallSeconds: wall, Bottleneck: d.Usual.String(), Cluster: ci}
	r.Config.Device = "ray cluster"
	r.Fingerprint.Time = time.Unix(0, int64(d.StartTime*1e9)).UTC()
	if s.Job.Status != StatusSucceeded {
		r.Status, r.Reason = bench.StatusFailed, strings.TrimSpace(string(s.Job.Status)+": "+s.Job.Message)
	}
	switch {
	case d.OutputRows.HasMax:
		r.Images = int(d.OutputRows.Max)
	case d.State == DataFinished && d.TotalRows > 0:
		// Without Prometheus the stats actor's row count is all there is;
		// for a finished dataset it is the rows produced.
		r.Images = int(d.TotalRows)
	default:
		ci.Missing = append(ci.Missing, "rows")
	}
	if wall > 0 {
		r.Throughput = float64(r.Images) / wall
		r.SteadyTput = r.Throughput
	}
	if !d.HasCPU {
		ci.Missing = append(ci.Missing, "cpu cores")
	}
	if !d.HasGPU {
		ci.Missing = append(ci.Missing, "gpu cores")
	}
	if !d.CurrentBytes.HasMax {
		ci.Missing = append(ci.Missing, "object store bytes")
	}
	// Peaks over all the polls, where the watch kept them: a finished
	// operator's gauges may have fallen back by the last poll.
	seen := map[string]OpView{}
	for _, o := range d.Ops {
		seen[o.Operator] = o
	}
	for _, o := range d.Operators {
		if o.Operator == "Input_0" || o.Label() == "Input" {
			continue // the input buffer does no work
		}
		p := seen[o.Operator]
		co := bench.ClusterOp{Name: o.Label(), State: o.State, Progress: o.Progress, Total: o.Total, Rows: o.OutputRows.Max,
			PeakCPUCores: max(o.CPUCores.Max, o.CPUCores.Value, p.PeakCPU), PeakGPUCores: max(o.GPUCores.Max, o.GPUCores.Value, p.PeakGPU),
			PeakBytes: max(o.CurrentBytes.Max, p.PeakBytes), SpilledBytes: o.SpilledBytes.Max}
		ci.Ops = append(ci.Ops, co)
		r.Ops = append(r.Ops, bench.OpRecord{Name: co.Name, Tasks: co.Progress, RowsOut: int64(co.Rows), WallSeconds: wall,
			PeakQueuedBytes: int64(co.PeakBytes)})
	}
	if len(ci.Missing) > 0 {
		r.Warnings = append(r.Warnings, "the cluster left these empty (no Prometheus?): "+strings.Join(ci.Missing, ", ")+
			"; they are not zeros")
	}
	return r, nil
}
