package ray

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// clusterProvided are the requirements a Ray Data cluster already has. They
// stay out of the job's runtime_env pip: installing them again into the
// job's virtualenv could put a numpy or pyarrow under Ray that Ray was not
// built against, and a second Ray over the cluster's would break the job.
var clusterProvided = map[string]bool{"ray": true, "numpy": true, "pyarrow": true}

// reqName matches the distribution name at the start of a requirement line.
var reqName = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)`)

// NewSubmitRequest returns the request that runs the exported job folder dir:
// entrypoint "python main.py", dir as the working_dir (Submit uploads it),
// and as runtime_env pip the lines of dir/requirements.txt that the cluster
// does not already provide. metadata is attached to the job, together with
// the folder's ProvenanceFile when it has one (scenario, tuned-from results,
// dataset name), which a watch reads back.
func NewSubmitRequest(dir string, metadata map[string]string) (SubmitRequest, error) {
	if _, err := os.Stat(filepath.Join(dir, "main.py")); err != nil {
		return SubmitRequest{}, fmt.Errorf("ray: %s is not a job folder (no main.py); create one with `workbench export ray`", dir)
	}
	pip, err := RuntimePip(filepath.Join(dir, "requirements.txt"))
	if err != nil {
		return SubmitRequest{}, err
	}
	if metadata, err = withProvenance(dir, metadata); err != nil {
		return SubmitRequest{}, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return SubmitRequest{}, fmt.Errorf("ray: %w", err)
	}
	return SubmitRequest{
		Entrypoint: "python main.py",
		RuntimeEnv: &RuntimeEnv{WorkingDir: abs, Pip: pip},
		Metadata:   metadata,
	}, nil
}

// RuntimePip reads a requirements file and returns the requirements to send
// as runtime_env pip: every requirement line except comments, blanks, pip
// options and the packages the cluster's Ray already provides. A missing
// file means no extra packages.
func RuntimePip(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ray: %w", err)
	}
	var pip []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "-") {
			continue
		}
		m := reqName.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if clusterProvided[normalizeDist(m[1])] {
			continue
		}
		pip = append(pip, line)
	}
	return pip, sc.Err()
}

var distSeparators = regexp.MustCompile(`[-_.]+`)

// normalizeDist is PEP 503's name normalisation.
func normalizeDist(name string) string {
	return strings.ToLower(distSeparators.ReplaceAllString(name, "-"))
}

// withProvenance adds the job folder's ProvenanceFile to metadata. A folder
// from an older export has none, which is fine; a broken one is an error.
func withProvenance(dir string, metadata map[string]string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, ProvenanceFile))
	if os.IsNotExist(err) {
		return metadata, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ray: %w", err)
	}
	var prov map[string]string
	if err := json.Unmarshal(b, &prov); err != nil {
		return nil, fmt.Errorf("ray: %s: %w", filepath.Join(dir, ProvenanceFile), err)
	}
	out := make(map[string]string, len(metadata)+len(prov))
	for k, v := range prov {
		out[k] = v
	}
	for k, v := range metadata {
		out[k] = v
	}
	return out, nil
}
