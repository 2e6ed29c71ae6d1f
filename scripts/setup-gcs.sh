#!/usr/bin/env bash
# Builds fake-gcs-server, a real GCS-compatible server (JSON and XML APIs,
# filesystem backend), from the Go module proxy into the user's cache
# directory, for the datasource tests against gs://. Built once; a cached
# binary is reused.
set -euo pipefail
exec "$(dirname "$0")/go-tool.sh" fake-gcs-server github.com/fsouza/fake-gcs-server v1.56.1
